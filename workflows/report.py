"""The run report (electronic batch record): everything that happened in one run, as one JSON document.

``workflow_record`` is the record itself: what a run signature signs (its hash is the
``record_hash``). ``workflow_report`` adds what is said about the record: its signatures (each
with whether it still covers the record), whether the run counts as released, and the hash of
the whole report (``report_hash``: SHA-256 of the canonical JSON of every other key). The
document holds no clock of its own, so rebuilding it from the database gives the same bytes:
``manage.py verify_report`` relies on that.
"""

import hashlib

from django.conf import settings
from django.db.models import Prefetch

from executionlogs.chain import canonical_timestamp
from executionlogs.models import CellAnalysisResult, ExecutionLog
from workflows.choices import RunStepStatus, SignatureMeaning, WorkflowStatus
from workflows.models import RunStep, RunUnit, Workflow, WorkflowEvent, WorkflowSample
from workflows.records import canonical_json, content_hash, protocol_content_hash, signature_entry, signature_list

REPORT_FORMAT = "labcore.run-report"
REPORT_FORMAT_VERSION = 1


def _time(value):
    return canonical_timestamp(value) if value is not None else None


def _digest(payload) -> str | None:
    return None if payload is None else hashlib.sha256(canonical_json(payload)).hexdigest()


def workflow_for_report(workflow_id: int) -> Workflow:
    """The run with everything its report reads (a fixed number of queries, whatever its size)."""
    logs = ExecutionLog.objects.select_related("user").order_by("id")
    steps = RunStep.objects.select_related("action_type", "device", "resolved_by", "unit").prefetch_related(
        Prefetch("execution_logs", queryset=logs)
    )
    return (
        Workflow.objects.select_related("protocol", "created_by")
        .prefetch_related(
            Prefetch(
                "workflow_samples",
                queryset=WorkflowSample.objects.select_related("sample__plate").order_by("position"),
            ),
            Prefetch("run_steps", queryset=steps.order_by("position")),
            # Only the units that missed their window: the report's deviations.
            Prefetch(
                "units", queryset=RunUnit.objects.filter(window_missed_seconds__isnull=False).order_by("position")
            ),
            Prefetch(
                "cell_analysis_results",
                queryset=CellAnalysisResult.objects.select_related("sample").order_by("measured_at", "id"),
            ),
            Prefetch("events", queryset=WorkflowEvent.objects.select_related("run_step").order_by("id")),
        )
        .get(pk=workflow_id)
    )


def _step(step: RunStep) -> dict:
    return {
        "position": step.position,
        "step_name": step.step_name,
        "action_type": step.action_type.name,
        "device": step.device_id,
        "status": step.status,
        "attempts": step.attempt,
        "started_at": _time(step.started_at),
        "finished_at": _time(step.finished_at),
        "error": step.error,
        "actions": [
            {
                "log_entry": log.pk,  # the entry's position in the hash chain
                "entry_hash": log.entry_hash,
                "attempt": log.attempt,
                "status": log.status,
                "caused_by": log.caused_by,
                "user": log.user.username if log.user else None,
                "started_at": _time(log.started_at),
                "finished_at": _time(log.finished_at),
                "latency_ms": log.latency_ms,
                "request_sha256": _digest(log.request),
                "response_sha256": _digest(log.response),
            }
            for log in step.execution_logs.all()
        ],
    }


def _deviations(workflow: Workflow, steps: list[RunStep]) -> list[dict]:
    """Window violations, unknown outcomes (and how they were resolved), retries: in plan order."""
    deviations = [
        {
            "kind": "window_missed",
            "step_name": unit.step_name,
            "iteration": unit.iteration,
            "late_by_seconds": unit.window_missed_seconds,
            "detail": f"{unit.step_name} (iteration {unit.iteration}) started "
            f"{unit.window_missed_seconds:g} s after its window closed",
        }
        for unit in workflow.units.all()
    ]
    for step in steps:
        logs = list(step.execution_logs.all())
        unknown = step.status == RunStepStatus.UNKNOWN or any(log.status == RunStepStatus.UNKNOWN for log in logs)
        if unknown or step.resolution:
            resolved = (
                f"resolved {step.resolution} by {step.resolved_by.username if step.resolved_by else 'unknown'}"
                if step.resolution
                else "not resolved"
            )
            deviations.append(
                {
                    "kind": "unknown_outcome",
                    "step": step.position,
                    "resolution": step.resolution or None,
                    "resolved_by": step.resolved_by.username if step.resolved_by else None,
                    "resolved_at": _time(step.resolved_at),
                    "detail": f"step {step.position} {step.step_name}: outcome unknown, {resolved}",
                }
            )
        if step.attempt > 1:
            deviations.append(
                {
                    "kind": "retry",
                    "step": step.position,
                    "attempts": step.attempt,
                    "detail": f"step {step.position} {step.step_name} took {step.attempt} attempts",
                }
            )
    return deviations


def workflow_record(workflow: Workflow) -> dict:
    """The run's record (what a run signature signs). ``workflow`` must come from ``workflow_for_report``."""
    samples = [link.sample for link in workflow.workflow_samples.all()]
    plates = {sample.plate.barcode: sample.plate for sample in samples if sample.plate is not None}
    steps = list(workflow.run_steps.all())
    positions = {step.pk: step.position for step in steps}
    protocol = workflow.protocol
    return {
        "format": REPORT_FORMAT,
        "format_version": REPORT_FORMAT_VERSION,
        "workflow": {
            "id": workflow.pk,
            "name": workflow.name,
            "mode": workflow.mode,
            "status": workflow.status,
            "created_by": workflow.created_by.username if workflow.created_by else None,
            "created_at": _time(workflow.created_at),
            "started_at": _time(workflow.started_at),
            "finished_at": _time(workflow.finished_at),
        },
        "protocol": None
        if protocol is None
        else {
            "id": protocol.pk,
            "name": protocol.name,
            "version": protocol.version,
            "content_hash": protocol_content_hash(protocol),
        },
        "samples": [
            {
                "barcode": sample.barcode,
                "sample_type": sample.sample_type,
                "plate": sample.plate.barcode if sample.plate else None,
                "well": sample.well,
            }
            for sample in samples
        ],
        "plates": [{"barcode": barcode, "name": plates[barcode].name} for barcode in sorted(plates)],
        "steps": [_step(step) for step in steps],
        "cell_analysis": [
            {
                "sample": result.sample.barcode,
                "cell_count": result.cell_count,
                "confluence": result.confluence,
                "viability": result.viability,
                "measured_at": _time(result.measured_at),
                "log_entry": result.execution_log_id,
            }
            for result in workflow.cell_analysis_results.all()
        ],
        "events": [
            {
                "at": _time(event.at),
                "step": positions.get(event.run_step_id),
                "from": event.from_status,
                "to": event.to_status,
                "by": event.by,
                "reason": event.reason,
            }
            for event in workflow.events.all()
        ],
        "deviations": _deviations(workflow, steps),
    }


def workflow_record_hash(workflow: Workflow) -> str:
    return content_hash(workflow_record(workflow_for_report(workflow.pk)))


def _release(workflow: Workflow, signatures: list[dict]) -> dict:
    """Whether the run counts as released: completed, and (by policy) reviewed over its current record."""
    requires_review = settings.LABCORE_RELEASE_REQUIRES_REVIEW
    reviewed = any(s["meaning"] == SignatureMeaning.REVIEWED and s["covers_current_content"] for s in signatures)
    if workflow.status != WorkflowStatus.COMPLETED:
        detail = f"the run is {workflow.status}, not completed"
    elif requires_review and not reviewed:
        detail = "a reviewed signature over the current record is required"
    else:
        detail = "completed" + (" and reviewed" if reviewed else "")
    released = workflow.status == WorkflowStatus.COMPLETED and (reviewed or not requires_review)
    return {"released": released, "requires_review": requires_review, "detail": detail}


def report_hash(report: dict) -> str:
    """The hash of a report: over every key but ``report_hash`` itself."""
    return content_hash({key: value for key, value in report.items() if key != "report_hash"})


def workflow_report(workflow_id: int) -> dict:
    """The whole report of one run: its record, record hash, signatures, release and its own hash."""
    workflow = workflow_for_report(workflow_id)
    record = workflow_record(workflow)
    record_hash = content_hash(record)
    signatures = [signature_entry(s, record_hash) for s in signature_list(workflow_id=workflow.pk)]
    report = {
        **record,
        "record_hash": record_hash,
        "signatures": signatures,
        "release": _release(workflow, signatures),
    }
    report["report_hash"] = report_hash(report)
    return report


def workflow_is_released(workflow: Workflow) -> bool:
    return workflow_report(workflow.pk)["release"]["released"]
