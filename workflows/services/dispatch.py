"""The executor's engine: one action is claim (locked, committed) -> dispatch (nothing held) -> record.

Every path that runs an action goes through here: the Celery tasks of auto mode, the manual
``execute-step`` endpoint and crash recovery. The rules (docs/executor.md):

- Lock order is the workflow row first, then (inside the booking services) device rows in id
  order. Every write to a workflow's run-steps holds its workflow's row lock, so run-steps need
  no lock of their own and at most one action of a workflow is ever in flight.
- A claim marks the run-step ``dispatching`` with a fresh ``attempt_id`` and COMMITS before any
  hardware I/O (invariant 3); the result is recorded only if that attempt id still matches, so a
  duplicate or late delivery changes nothing.
- Long operations come back PENDING: the step waits with its operation id and a poll task is
  scheduled with a countdown, so no worker is held while the hardware works (invariant 7).
"""

import logging
import uuid

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from devices.adapters import DispatchContext, DispatchResult, DispatchStatus, adapter_for
from devices.models import Booking
from executionlogs.choices import LogStatus
from labcore.locking import lock_row
from workflows.choices import RunStepStatus, WorkflowMode, WorkflowStatus
from workflows.models import RunStep, Workflow, WorkflowSample
from workflows.services.hotpath import claim_next, row_update

logger = logging.getLogger(__name__)

IN_FLIGHT = (RunStepStatus.DISPATCHING, RunStepStatus.WAITING)
DONE = (RunStepStatus.SUCCEEDED, RunStepStatus.SKIPPED)
LOG_STATUS = {
    DispatchStatus.SUCCESS: LogStatus.SUCCESS,
    DispatchStatus.ERROR: LogStatus.ERROR,
    DispatchStatus.TIMEOUT: LogStatus.TIMEOUT,
}


class TransactionHeldDuringDispatch(RuntimeError):
    """Hardware I/O was attempted inside a transaction: a programming error (invariant 3)."""


# --- small shared helpers ------------------------------------------------------------------------


def workflow_lock(workflow_id: int) -> Workflow | None:
    """Lock one workflow row (the first lock of every executor transaction)."""
    return lock_row(Workflow.objects.filter(pk=workflow_id), what=f"workflow {workflow_id}")


def run_step_next(workflow: Workflow, *, for_dispatch: bool = False) -> RunStep | None:
    """The first run-step that is not done, in plan order (None when every step is done).

    ``for_dispatch`` also reads, in the same query, whether the workflow still holds the step's
    device and the workflow's sample barcodes (what a dispatch needs), saving two round trips
    per action.
    """
    steps = workflow.run_steps.select_related("action_type", "device").exclude(status__in=DONE)
    if for_dispatch:
        steps = steps.annotate(
            device_held=Exists(
                Booking.objects.active().filter(device_id=OuterRef("device_id"), workflow_id=OuterRef("workflow_id"))
            ),
            sample_barcodes=ArraySubquery(
                WorkflowSample.objects.filter(workflow_id=OuterRef("workflow_id"))
                .order_by("position")
                .values("sample__barcode")
            ),
        )
    return steps.order_by("position").first()


def run_step_describe(step: RunStep) -> str:
    return f"step {step.position} ({step.action_type.name} on {step.device_id})"


def retry_backoff_seconds(attempt: int) -> float:
    """Exponential backoff before retrying a safe-to-repeat action after failed attempt ``attempt``."""
    base = settings.LABCORE_EXECUTOR_RETRY_BACKOFF_SECONDS
    return min(base * (2 ** max(attempt - 1, 0)), settings.LABCORE_EXECUTOR_MAX_BACKOFF_SECONDS)


def enqueue_advance(workflow_id: int, *, countdown: float = 0) -> None:
    """Enqueue the next action of ``workflow_id`` once the current transaction commits."""
    from workflows.tasks import workflow_advance

    def send():
        if countdown > 0:
            workflow_advance.apply_async(args=[workflow_id], countdown=countdown)
        else:
            workflow_advance.delay(workflow_id)

    transaction.on_commit(send)


def enqueue_poll(run_step_id: int, attempt_id: str, *, countdown: float) -> None:
    from workflows.tasks import run_step_poll

    transaction.on_commit(lambda: run_step_poll.apply_async(args=[run_step_id, attempt_id], countdown=countdown))


def workflow_devices_free(workflow: Workflow, *, user=None, reason: str = "") -> None:
    """Release every device of a finished workflow and hand each to its queue (same transaction)."""
    from devices.services import workflow_devices_release

    workflow_devices_release(workflow=workflow, user=user, reason=reason)


def workflow_settle(workflow: Workflow, *, status: str, reason: str = "", user=None) -> None:
    """End ``workflow`` (completed, failed) and free its devices. Caller holds the workflow lock."""
    workflow.status = status
    workflow.status_reason = reason
    workflow.finished_at = timezone.now()
    workflow.save(update_fields=["status", "status_reason", "finished_at", "updated_at"])
    workflow_devices_free(workflow, user=user, reason=reason or status)


def workflow_pause_for(workflow: Workflow, reason: str) -> None:
    """Pause a running workflow for an operator. Caller holds the workflow lock."""
    workflow.status = WorkflowStatus.PAUSED
    workflow.status_reason = reason
    workflow.save(update_fields=["status", "status_reason", "updated_at"])


# --- claim ---------------------------------------------------------------------------------------


def run_step_claim(step: RunStep) -> RunStep:
    """Mark ``step`` dispatching with a fresh attempt id. Caller holds the workflow lock."""
    now = timezone.now()
    step.status = RunStepStatus.DISPATCHING
    step.attempt += 1
    step.attempt_id = uuid.uuid4()
    step.dispatched_at = now
    step.started_at = step.started_at or now
    step.retry_at = None
    step.operation_id = ""
    step.poll_due_at = None
    # A plain UPDATE rather than save(): the same row and values, less ORM work per action.
    row_update(
        step,
        ["status", "attempt", "attempt_id", "dispatched_at", "started_at", "retry_at", "operation_id", "poll_due_at"],
    )
    return step


@transaction.atomic
def action_claim(*, workflow_id: int) -> RunStep | None:
    """Claim the next action of a running auto workflow, or settle it; None when nothing to dispatch.

    Idempotent: a redelivered or duplicate task finds the step in flight (or the workflow
    paused, cancelled, finished) and returns None without side effects.
    """
    # The common case in one round trip: lock the workflow row and claim its next step if every
    # check below would let it go (hotpath.py). Otherwise decide here, under the same lock.
    workflow, claimed = claim_next(workflow_id)
    if claimed is not None:
        return claimed
    if workflow is None or workflow.status != WorkflowStatus.RUNNING or workflow.mode != WorkflowMode.AUTO:
        return None
    step = run_step_next(workflow, for_dispatch=True)
    if step is None:
        workflow_settle(workflow, status=WorkflowStatus.COMPLETED)
        return None
    if step.status in IN_FLIGHT:
        return None  # its own completion enqueues what comes next
    if step.status == RunStepStatus.UNKNOWN:
        workflow_pause_for(workflow, f"{run_step_describe(step)}: outcome unknown; resolve it, then resume")
        return None
    if step.status == RunStepStatus.FAILED:
        workflow_settle(
            workflow, status=WorkflowStatus.FAILED, reason=step.error or f"{run_step_describe(step)} failed"
        )
        return None
    if step.retry_at and step.retry_at > timezone.now():
        # A backoff is running; a resume or duplicate task must not cut it short.
        enqueue_advance(workflow_id, countdown=(step.retry_at - timezone.now()).total_seconds())
        return None
    if not step.device_held:
        # Exclusive use (invariant 1): an operator may have force-released the device. Never
        # dispatch to a device the workflow does not hold; resume books it again (or queues).
        workflow_pause_for(workflow, f"{run_step_describe(step)}: device {step.device_id} is no longer booked by it")
        return None
    return run_step_claim(step)


# --- dispatch (no transaction, no lock) ------------------------------------------------------------


def _assert_no_transaction() -> None:
    # The test runner's own wrapping transaction (TestCase) is not ours; any other is a bug.
    if any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks):
        raise TransactionHeldDuringDispatch("hardware I/O must not run inside a transaction (invariant 3)")


def dispatch_context(step: RunStep) -> DispatchContext:
    barcodes = getattr(step, "sample_barcodes", None)  # read with the claim, when it was
    if barcodes is None:
        barcodes = WorkflowSample.objects.filter(workflow_id=step.workflow_id).order_by("position")
        barcodes = barcodes.values_list("sample__barcode", flat=True)
    return DispatchContext(
        workflow_id=step.workflow_id,
        run_step_id=step.pk,
        attempt_id=str(step.attempt_id),
        attempt=step.attempt,
        sample_barcodes=tuple(barcodes),
    )


def action_dispatch(step: RunStep, *, context: DispatchContext) -> tuple[DispatchResult, object, object]:
    """Send a claimed action to its device through the adapter; returns (result, started, finished)."""
    _assert_no_transaction()
    started_at = timezone.now()
    try:
        result = adapter_for(step.device).dispatch(
            action_type=step.action_type, parameters=step.parameters, context=context
        )
    except Exception as exc:  # an adapter bug must still end as a recorded failure, not a stuck step
        logger.exception("adapter raised dispatching run-step %s", step.pk)
        result = DispatchResult(
            status=DispatchStatus.ERROR,
            request={"action_type": step.action_type.name, "parameters": step.parameters},
            error=f"adapter error: {exc}",
        )
    return result, started_at, timezone.now()


def action_poll(step: RunStep, *, context: DispatchContext) -> tuple[DispatchResult, object, object]:
    """Ask the device about a long operation (no transaction, no lock)."""
    _assert_no_transaction()
    started_at = timezone.now()
    try:
        result = adapter_for(step.device).poll(
            action_type=step.action_type, operation_id=step.operation_id, context=context
        )
    except Exception as exc:
        logger.exception("adapter raised polling run-step %s", step.pk)
        result = DispatchResult(
            status=DispatchStatus.PENDING,
            request={"operation_id": step.operation_id},
            operation_id=step.operation_id,
            error=f"adapter error while polling: {exc}",
            poll_after_seconds=settings.LABCORE_EXECUTOR_RETRY_BACKOFF_SECONDS,
        )
    return result, started_at, timezone.now()
