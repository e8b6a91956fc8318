"""The execution log in the admin: read-only, filterable by a time range to the second, cheap to count.

At ten million entries an exact ``COUNT(*)`` takes seconds on every page view, so the changelist
counts with ``EstimatedCountPaginator``. Links to the run and the device are built from URL names:
executionlogs sits below workflows and must not import it.
"""

from datetime import datetime, timedelta

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db import connection
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.functional import cached_property
from django.utils.html import format_html

from executionlogs.models import CellAnalysisResult, ExecutionLog
from executionlogs.selectors import execution_logs_in_range
from labcore.templatetags.labcore_format import instant

INSTANT_HINT = "YYYY-MM-DD HH:MM:SS"


def table_row_estimate(table: str) -> int | None:
    """PostgreSQL's estimate of a table's rows (pg_class.reltuples, kept by ANALYZE); None if never analysed."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    # -1 (PostgreSQL 14+) means the table was never vacuumed or analysed: no estimate.
    return row[0] if row and row[0] >= 0 else None


class EstimatedCountPaginator(Paginator):
    """Counts a page list without an exact ``COUNT(*)`` over a huge table.

    - Unfiltered, when the planner estimates more than ``estimate_above`` rows: the estimate
      (one catalogue read, no scan). ``is_estimate`` is then True and the page says "about".
    - Otherwise an exact count, capped: at most ``count_cap`` + 1 rows are counted (a bounded
      index scan). ``is_capped`` is True when the cap was reached ("more than 100,000").
    """

    estimate_above = 100_000
    count_cap = 100_000

    is_estimate = False
    is_capped = False

    @property
    def count_display(self) -> str:
        return f"{self.count:,}"

    def _unfiltered(self) -> bool:
        query = getattr(self.object_list, "query", None)
        return query is not None and not query.where and query.model is not None

    @cached_property
    def count(self):
        if self._unfiltered():
            estimate = table_row_estimate(self.object_list.model._meta.db_table)
            if estimate is not None and estimate > self.estimate_above:
                self.is_estimate = True
                return estimate
        # No ORDER BY in the counting subquery: counting needs no order, and sorting would read every match.
        counted = self.object_list.order_by()[: self.count_cap + 1].count()
        if counted > self.count_cap:
            self.is_capped = True
            return self.count_cap
        return counted


def instant_parse(text: str, *, end: bool) -> datetime:
    """A typed instant in the current time zone; ``end`` stretches it to the end of what was typed.

    "2026-12-02" is the whole day, "2026-12-02 14:03" the whole minute, "2026-12-02 14:03:27" the
    whole second, so a "to" bound includes the moment the scientist read off a page. ValueError
    for anything else.
    """
    text = text.strip()
    try:
        day = parse_date(text)
        value = datetime.combine(day, datetime.min.time()) if day is not None else parse_datetime(text)
    except ValueError:  # well formed but impossible, such as 2026-02-30
        value = None
    if value is None:
        raise ValueError(f"{text!r} is not a date and time (use {INSTANT_HINT})")
    time_part = text.replace("T", " ").partition(" ")[2]
    if day is not None:
        step = timedelta(days=1)
    elif time_part.count(":") == 1:
        step = timedelta(minutes=1)
    elif "." in time_part:
        step = timedelta(microseconds=1)
    else:
        step = timedelta(seconds=1)
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value + step if end else value


class StartedAtRangeFilter(admin.ListFilter):
    """ "Started from ... to ...", to the second: two text boxes in the filter sidebar.

    A bound that cannot be read is ignored and named in a warning message (never a 500).
    """

    title = "started (time range)"
    template = "admin/executionlogs/started_at_filter.html"
    from_parameter = "started_from"
    to_parameter = "started_to"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.texts: dict[str, str] = {}
        self.bounds: dict[str, datetime] = {}
        self.errors: dict[str, str] = {}
        for parameter in (self.from_parameter, self.to_parameter):
            if parameter not in params:
                continue
            text = params.pop(parameter)[-1].strip()
            self.texts[parameter] = text
            if not text:
                continue
            self.used_parameters[parameter] = text
            try:
                self.bounds[parameter] = instant_parse(text, end=parameter == self.to_parameter)
            except ValueError as error:
                which = "from" if parameter == self.from_parameter else "to"
                self.errors[parameter] = f"{error}; ignored"
                messages.warning(request, f"Time range, '{which}': {error}; that bound is ignored.")
        start, end = self.bounds.get(self.from_parameter), self.bounds.get(self.to_parameter)
        if start is not None and end is not None and start >= end:
            self.errors[self.to_parameter] = "not after 'from'"
            messages.warning(request, "Time range: 'to' is not after 'from', so no entry can match.")

    def has_output(self):
        return True

    def expected_parameters(self):
        return [self.from_parameter, self.to_parameter]

    def queryset(self, request, queryset):
        return execution_logs_in_range(
            queryset, start=self.bounds.get(self.from_parameter), end=self.bounds.get(self.to_parameter)
        )

    def choices(self, changelist):
        # One "choice": the form, carrying the changelist's other parameters as hidden inputs.
        kept = {
            key: value
            for key, value in changelist.get_filters_params().items()
            if key not in self.expected_parameters()
        }
        hidden = [(key, item) for key, values in kept.items() for item in values]
        hidden += [(key, changelist.params[key]) for key in ("o", "q") if key in changelist.params]
        yield {
            "hidden": hidden,
            "from_name": self.from_parameter,
            "to_name": self.to_parameter,
            "from_value": self.texts.get(self.from_parameter, ""),
            "to_value": self.texts.get(self.to_parameter, ""),
            "from_error": self.errors.get(self.from_parameter, ""),
            "to_error": self.errors.get(self.to_parameter, ""),
            "hint": INSTANT_HINT,
            "clear_url": changelist.get_query_string(remove=self.expected_parameters()),
        }


def _link(url_name: str, pk, text: str) -> str:
    try:
        return format_html('<a href="{}">{}</a>', reverse(url_name, args=[pk]), text)
    except NoReverseMatch:  # the other app's admin is not installed: plain text
        return text


@admin.register(ExecutionLog)
class ExecutionLogAdmin(admin.ModelAdmin):
    """Read-only: the execution log is append-only (invariant 6). Newest first."""

    list_display = ["started", "device_link", "run_link", "action_type", "status", "latency", "cause"]
    list_filter = [StartedAtRangeFilter, "status", "caused_by"]
    list_select_related = ["device", "workflow"]
    search_fields = ["=device__id", "=action_type"]
    ordering = ["-started_at", "-id"]
    # Only the indexed order: sorting ten million rows by latency would be a full sort.
    sortable_by = ["started"]
    list_display_links = ["started"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # facet counts are exact COUNTs over the whole table
    raw_id_fields = ["device", "workflow", "run_step", "user"]
    fields = [
        "id",
        "started",
        "finished",
        "device_link",
        "run_link",
        "run_step",
        "action_type",
        "operation",
        "status",
        "latency",
        "attempt",
        "caused_by",
        "user",
        "request",
        "response",
        "created_at",
        "previous_hash",
        "entry_hash",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="started", ordering="started_at")
    def started(self, entry):
        return instant(entry.started_at)

    @admin.display(description="finished")
    def finished(self, entry):
        return instant(entry.finished_at) or "-"

    @admin.display(description="latency")
    def latency(self, entry):
        if entry.latency_ms is None:
            return "-"
        return f"{entry.latency_ms:,.1f} ms" if entry.latency_ms < 100 else f"{entry.latency_ms:,.0f} ms"

    @admin.display(description="caused by")
    def cause(self, entry):
        # The short code ("worker"), its meaning on hover: the labels are a sentence each.
        return format_html('<span title="{}">{}</span>', entry.get_caused_by_display(), entry.caused_by)

    @admin.display(description="device")
    def device_link(self, entry):
        return _link("admin:devices_device_change", entry.device_id, entry.device_id)

    @admin.display(description="run")
    def run_link(self, entry):
        if entry.workflow_id is None:
            return "-"
        return _link("admin:workflows_workflow_change", entry.workflow_id, str(entry.workflow))


@admin.register(CellAnalysisResult)
class CellAnalysisResultAdmin(admin.ModelAdmin):
    """Read-only view of cell-analysis results (written by the executor's vision step)."""

    list_display = ["sample", "workflow", "cell_count", "confluence", "viability", "measured_at"]
    list_select_related = ["sample", "workflow"]
    raw_id_fields = ["execution_log", "sample", "workflow"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
