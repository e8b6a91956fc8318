from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property

from executionlogs.models import CellAnalysisResult, ExecutionLog


class EstimatedCountPaginator(Paginator):
    """Counts exactly up to a limit, then (unfiltered) uses the planner's row estimate.

    An exact ``COUNT(*)`` over ten million log entries takes seconds on every changelist view.
    """

    exact_limit = 100_000

    @cached_property
    def count(self):
        exact = self.object_list[: self.exact_limit + 1].count()
        if exact <= self.exact_limit or self.object_list.query.where:
            # A filtered list past the limit shows its first 100,000 rows' worth of pages.
            return exact
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [ExecutionLog._meta.db_table]
            )
            estimate = cursor.fetchone()[0]
        return max(exact, estimate)


@admin.register(ExecutionLog)
class ExecutionLogAdmin(admin.ModelAdmin):
    """Read-only: the execution log is append-only (invariant 6). Newest first."""

    list_display = ["id", "started_at", "device", "workflow", "action_type", "status", "latency_ms", "caused_by"]
    list_filter = ["status", "caused_by"]
    list_select_related = ["device", "workflow"]
    search_fields = ["=device__id", "=action_type"]
    ordering = ["-started_at", "-id"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    raw_id_fields = ["device", "workflow", "run_step", "user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
