"""A sample's chain of custody: every run it was in, every action of those runs and every result on it, in time order.

A run's actions act on all of its samples (a plate moved, imaged, passaged), so a sample's
actions are the execution-log entries of its runs; its results are the cell-analysis results
keyed to it, each from one log entry. Reads only, for the sample's admin page, in a fixed
number of queries however many runs, actions and results there are (four; the entries are
capped at ``ENTRY_LIMIT``, the latest kept, so one very long culture cannot make the page huge).
"""

from dataclasses import dataclass, replace
from datetime import datetime

from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.urls import reverse

from executionlogs.models import CellAnalysisResult, ExecutionLog
from samples.models import Sample
from workflows.models import Workflow, WorkflowEvent, WorkflowSample
from workflows.services.units import time_scale

ENTRY_LIMIT = 500

RUN, ACTION, RESULT = "run", "action", "result"
# Rows at the same instant: the run's status change first, then the action, then its results.
KIND_ORDER = {RUN: 0, ACTION: 1, RESULT: 2}


@dataclass(frozen=True)
class HistoryRow:
    """One line of the history: when, what kind, which run, what happened, and the record it links to."""

    at: datetime
    kind: str  # RUN, ACTION or RESULT
    run_id: int | None
    run_name: str
    what: str
    detail: str
    status: str
    device: str
    log_id: int | None
    order: int  # ties at the same instant: stable by the record's id
    hours: float | None = None  # time in culture: simulated hours since the run started (as the growth charts)

    @property
    def run_url(self) -> str | None:
        return reverse("admin:workflows_workflow_change", args=[self.run_id]) if self.run_id else None

    @property
    def log_url(self) -> str | None:
        return reverse("admin:executionlogs_executionlog_change", args=[self.log_id]) if self.log_id else None


@dataclass(frozen=True)
class SampleHistory:
    rows: list[HistoryRow]
    runs: int
    entries_shown: int
    entries_cut: bool  # True: only the latest ENTRY_LIMIT entries of the runs are listed


def _percent(value: float) -> str:
    return f"{value:.1f} %"


def _culture_hours(started_at, at) -> float | None:
    """Hours in culture at ``at``: real seconds since the run started over the time scale (``workflows.growth``)."""
    if started_at is None or at is None or at < started_at:
        return None
    return (at - started_at).total_seconds() / time_scale() / 3600.0


def _action_detail(barcode: str, *, latency, summary, value) -> str:
    """A closed-loop decision: its rule and outcome with this sample's value (not every sample's); else the latency."""
    if isinstance(summary, str):
        rule = summary.split(":", 1)[0]
        return f"{rule}; {barcode}: {value}" if value is not None else rule
    return f"{latency:.0f} ms" if latency is not None else ""


def sample_history(sample: Sample, *, entry_limit: int = ENTRY_LIMIT) -> SampleHistory:
    """The sample's runs, their status changes and actions, and its results, oldest first. Four queries."""
    runs = {
        link.workflow_id: link.workflow
        for link in WorkflowSample.objects.filter(sample=sample).select_related("workflow").order_by("workflow_id")
    }
    ids = list(runs)
    rows: list[HistoryRow] = []
    events = (
        WorkflowEvent.objects.filter(workflow_id__in=ids, run_step__isnull=True)
        .order_by("at", "id")
        .values_list("id", "workflow_id", "from_status", "to_status", "by", "reason", "at")
    )
    for event_id, workflow_id, from_status, to_status, by, reason, at in events:
        what = f"run {to_status}" if from_status else "run created"
        rows.append(
            HistoryRow(at, RUN, workflow_id, runs[workflow_id].name, what, reason, to_status, by, None, event_id)
        )
    # The latest entries first, so the cap drops the oldest; shown oldest first below.
    entries = list(
        ExecutionLog.objects.filter(workflow_id__in=ids)
        .annotate(sample_value=KeyTextTransform(sample.barcode, KeyTransform("values", "response")))
        .order_by("-started_at", "-id")
        .values_list(
            "id",
            "workflow_id",
            "action_type",
            "run_step__step_name",
            "device_id",
            "status",
            "started_at",
            "latency_ms",
            "response__summary",
            "sample_value",
        )[: entry_limit + 1]
    )
    cut = len(entries) > entry_limit
    for entry in entries[:entry_limit]:
        log_id, workflow_id, action_type, step, device, status, started_at, latency, summary, value = entry
        detail = _action_detail(sample.barcode, latency=latency, summary=summary, value=value)
        what = f"{step}: {action_type}" if step else action_type
        rows.append(
            HistoryRow(
                started_at, ACTION, workflow_id, runs[workflow_id].name, what, detail, status, device, log_id, log_id
            )
        )
    results = list(
        CellAnalysisResult.objects.filter(sample=sample).values_list(
            "id", "workflow_id", "execution_log_id", "measured_at", "cell_count", "confluence", "viability"
        )
    )
    names = {pk: run.name for pk, run in runs.items()}
    missing = {row[1] for row in results} - set(names) - {None}
    if missing:  # a result from a run the sample is not linked to (not made by LabCore's services)
        names |= dict(Workflow.objects.filter(pk__in=missing).values_list("pk", "name"))
    for result_id, workflow_id, log_id, measured_at, cell_count, confluence, viability in results:
        what = "cell analysis"
        detail = f"confluence {_percent(confluence)}, viability {_percent(viability)}, {cell_count:,} cells"
        rows.append(
            HistoryRow(
                measured_at, RESULT, workflow_id, names.get(workflow_id, ""), what, detail, "", "", log_id, result_id
            )
        )
    starts = {pk: run.started_at for pk, run in runs.items()}
    rows = [replace(row, hours=_culture_hours(starts.get(row.run_id), row.at)) for row in rows]
    rows.sort(key=lambda row: (row.at, KIND_ORDER[row.kind], row.order))
    return SampleHistory(rows=rows, runs=len(ids), entries_shown=min(len(entries), entry_limit), entries_cut=cut)
