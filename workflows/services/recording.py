"""Recording an action's outcome: the run-step, the execution log, cell analysis, and what comes next.

Each function here runs in its own transaction that starts with the workflow row lock, and
applies a result only if the run-step still carries the attempt id that was dispatched: a
duplicate, late or superseded delivery changes nothing (it is still logged, as the forensic
record of a dispatch that happened).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from devices.adapters import DispatchResult, DispatchStatus
from executionlogs.cell_analysis import cell_analysis_results_create
from executionlogs.choices import Cause, LogStatus
from executionlogs.services import execution_log_create
from workflows.choices import IN_FLIGHT_STEP_STATUSES, RunStepStatus
from workflows.models import RunStep
from workflows.services import transitions
from workflows.services.dispatch import retry_backoff_seconds
from workflows.services.enqueue import poll_later
from workflows.services.hotpath import record_read
from workflows.services.transitions import EXECUTOR, Actor, run_step_describe

LOG_STATUS = {
    DispatchStatus.SUCCESS: LogStatus.SUCCESS,
    DispatchStatus.ERROR: LogStatus.ERROR,
    DispatchStatus.TIMEOUT: LogStatus.TIMEOUT,
}

logger = logging.getLogger(__name__)


def _milliseconds(start, end) -> float:
    return round((end - start).total_seconds() * 1000, 3)


def poll_delay_seconds(result: DispatchResult) -> float:
    """When to poll again: what the device asked for, capped below the broker's visibility timeout."""
    asked = result.poll_after_seconds or settings.LABCORE_EXECUTOR_DEFAULT_POLL_SECONDS
    return max(0.05, min(asked, settings.LABCORE_EXECUTOR_MAX_POLL_SECONDS))


@transaction.atomic
def action_record(
    *,
    run_step_id: int,
    attempt_id: str,
    result: DispatchResult,
    started_at,
    finished_at,
    caused_by: str = Cause.WORKER,
    user=None,
    from_poll: bool = False,
    workflow_id: int | None = None,
) -> RunStep | None:
    """Apply one dispatch (or poll) result to its run-step; None when it no longer applies."""
    if workflow_id is None:
        workflow_id = RunStep.objects.filter(pk=run_step_id).values_list("workflow_id", flat=True).first()
        if workflow_id is None:
            return None
    # The workflow lock, then the step with its ActionType and Device and whether later steps
    # are left to do (for what comes next), in one round trip (hotpath.py says why).
    workflow, step = record_read(workflow_id, run_step_id)
    current = str(step.attempt_id) == str(attempt_id) and step.status in IN_FLIGHT_STEP_STATUSES
    if not current:
        if not from_poll and result.is_final:
            # A real dispatch whose claim was superseded (recovery gave up on it): keep the record.
            _log(step, workflow, result, started_at, finished_at, caused_by, user, note="late result, not applied")
        logger.info("run-step %s: result for attempt %s not applied (step is %s)", step.pk, attempt_id, step.status)
        return None

    if not result.is_final:
        timeout_at = step.dispatched_at + timedelta(seconds=step.action_type.timeout_seconds)
        if timezone.now() < timeout_at:
            return _record_pending(step, result, started_at)
        unreachable = bool(result.extra.get("poll_failed"))
        what = "could not be asked about after" if unreachable else "still running after"
        result = DispatchResult(
            status=DispatchStatus.TIMEOUT,
            request=result.request,
            response=result.response,
            error=f"long operation {step.operation_id or result.operation_id} {what} "
            f"{step.action_type.timeout_seconds:g} s" + (f" ({result.error})" if unreachable and result.error else ""),
            extra={"poll_failed": unreachable},
        )

    if step.status == RunStepStatus.WAITING:
        # One log entry per dispatch attempt: the request that started it, the final answer.
        pending = (step.result or {}).get("pending", {})
        request = pending.get("request", result.request)
        started_at = step.dispatched_at
        latency_ms = _milliseconds(started_at, finished_at)
    else:
        request, latency_ms = result.request, result.latency_ms or _milliseconds(started_at, finished_at)
    log = execution_log_create(
        device=step.device,
        workflow=workflow,
        run_step=step,
        action_type=step.action_type.name,
        request=request,
        response=result.response,
        status=LOG_STATUS[result.status],
        latency_ms=latency_ms,
        started_at=started_at,
        finished_at=finished_at,
        attempt=step.attempt,
        caused_by=caused_by,
        user=user,
    )
    by = Actor.of(user, system=EXECUTOR.label)
    if result.status == DispatchStatus.SUCCESS:
        transitions.step_succeed(step, response=result.response, finished_at=finished_at, by=by)
        # Per-sample analysis (vision.analyse and any type answering the same shape).
        cell_analysis_results_create(execution_log=log, workflow=workflow, response=result.response)
    else:
        _record_failure(step, result, finished_at, by=by)
    transitions.workflow_next(workflow, step, by=by, later_left=step.later_left, unit_left=step.unit_left)
    return step


def _log(step, workflow, result, started_at, finished_at, caused_by, user, *, note: str):
    response = dict(result.response or {})
    response["labcore_note"] = note
    return execution_log_create(
        device=step.device,
        workflow=workflow,
        run_step=step,
        action_type=step.action_type.name,
        request=result.request,
        response=response,
        status=LOG_STATUS.get(result.status, LogStatus.UNKNOWN),
        latency_ms=result.latency_ms,
        started_at=started_at,
        finished_at=finished_at,
        attempt=step.attempt,
        caused_by=caused_by,
        user=user,
    )


def _record_pending(step: RunStep, result: DispatchResult, started_at) -> RunStep:
    delay = poll_delay_seconds(result)
    poll_due_at = timezone.now() + timedelta(seconds=delay)
    if step.status == RunStepStatus.DISPATCHING:
        pending = {"request": result.request, "response": result.response, "started_at": started_at.isoformat()}
        transitions.step_wait(
            step, operation_id=result.operation_id, pending=pending, poll_due_at=poll_due_at, by=EXECUTOR
        )
    else:
        # Still waiting: only the next poll's due time moves (no status change, no event).
        step.poll_due_at = poll_due_at
        step.save(update_fields=["poll_due_at"])
    poll_later(step.pk, str(step.attempt_id), countdown=delay)
    return step


def _record_failure(step: RunStep, result: DispatchResult, finished_at, *, by) -> None:
    action_type = step.action_type
    reason = f"{run_step_describe(step)} attempt {step.attempt}: {result.status}: {result.error or 'no detail'}"
    if action_type.safe_to_repeat and step.attempt <= action_type.max_retries:
        # Only an action declared safe to repeat is tried again, after a growing pause.
        retry_at = timezone.now() + timedelta(seconds=retry_backoff_seconds(step.attempt))
        transitions.step_retry_later(step, error=reason, retry_at=retry_at, by=by)
    elif step.status == RunStepStatus.WAITING and result.extra.get("poll_failed"):
        # The device took the long operation and then could not be reached until its time ran
        # out (it stopped, the network went): nobody knows whether it finished. Like a worker
        # lost mid-action (invariant 5), an operator decides; it is never failed or repeated silently.
        transitions.step_lost(step, error=f"{reason}; outcome unknown: an operator must resolve it", by=by)
    else:
        transitions.step_fail(step, error=reason, finished_at=finished_at, by=by)
