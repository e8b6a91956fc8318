"""The executor's engine: one action is claim (locked, committed) -> dispatch (nothing held) -> record.

Every path that runs an action goes through here: the Celery tasks of auto mode, the manual
``execute-step`` endpoint and crash recovery. The rules (docs/executor.md):

- Lock order is the workflow row first, then (inside the booking services) device rows in id
  order. Every write to a workflow's run-steps holds its workflow's row lock, so run-steps need
  no lock of their own and at most one action of a workflow is ever in flight.
- A claim marks the run-step ``dispatching`` with a fresh ``attempt_id`` and COMMITS before any
  hardware I/O (invariant 3); the result is recorded only if that attempt id still matches, so a
  duplicate or late delivery changes nothing.
- This module claims and dispatches; what happens to the run is decided in ``transitions``.
"""

import logging

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from devices.adapters import DispatchContext, DispatchResult, DispatchStatus, adapter_for
from devices.adapters.biology import culture_event_kind
from devices.choices import DeviceKind
from devices.models import Booking
from workflows.choices import DONE_STEP_STATUSES, RunStepStatus, WorkflowMode, WorkflowStatus
from workflows.models import RunStep, Workflow, WorkflowSample
from workflows.services import transitions
from workflows.services.transitions import EXECUTOR, claim_next, run_step_describe
from workflows.services.units import time_scale

logger = logging.getLogger(__name__)


class TransactionHeldDuringDispatch(RuntimeError):
    """Hardware I/O was attempted inside a transaction: a programming error (invariant 3)."""


def run_step_next(workflow: Workflow, *, for_dispatch: bool = False) -> RunStep | None:
    """The first run-step that is not done, in plan order (None when every step is done).

    ``for_dispatch`` also reads, in the same query, whether the workflow still holds the step's
    device and the workflow's sample barcodes (what a dispatch needs), saving two round trips
    per action.
    """
    steps = workflow.run_steps.select_related("action_type", "device", "unit").exclude(status__in=DONE_STEP_STATUSES)
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


def retry_backoff_seconds(attempt: int) -> float:
    """Exponential backoff before retrying a safe-to-repeat action after failed attempt ``attempt``."""
    base = settings.LABCORE_EXECUTOR_RETRY_BACKOFF_SECONDS
    return min(base * (2 ** max(attempt - 1, 0)), settings.LABCORE_EXECUTOR_MAX_BACKOFF_SECONDS)


# --- claim ---------------------------------------------------------------------------------------


@transaction.atomic
def action_claim(*, workflow_id: int) -> RunStep | None:
    """Claim the next action of a running auto workflow, or let the state machine settle it.

    Idempotent: a redelivered or duplicate task finds the step in flight (or the workflow
    paused, cancelled, finished) and returns None without side effects.
    """
    # The common case in one round trip: lock the workflow row and claim its next step if every
    # check below would let it go (transitions.claim_next). Otherwise decide here, under the same lock.
    workflow, claimed = claim_next(workflow_id)
    if claimed is not None:
        return claimed
    if workflow is None or workflow.status != WorkflowStatus.RUNNING or workflow.mode != WorkflowMode.AUTO:
        return None
    step = run_step_next(workflow, for_dispatch=True)
    if step is None or step.status != RunStepStatus.PENDING or (step.retry_at and step.retry_at > timezone.now()):
        # Every step done, one in flight, failed or unknown, or a backoff running: not a claim.
        transitions.workflow_next(workflow, step, by=EXECUTOR)
        return None
    if step.unit_id is not None and step.unit.started_at is None:
        # A protocol run's next booking unit: due yet? its devices? (transitions.unit_begin)
        return transitions.unit_begin(workflow, step, by=EXECUTOR)
    if not step.device_held:
        # Exclusive use (invariant 1): an operator may have force-released the device. Never
        # dispatch to a device the workflow does not hold; resume books it again (or queues).
        transitions.workflow_pause(
            workflow,
            by=EXECUTOR,
            reason=f"{run_step_describe(step)}: device {step.device_id} is no longer booked by it",
        )
        return None
    return transitions.step_claim(step, by=EXECUTOR)


# --- dispatch (no transaction, no lock) ------------------------------------------------------------


def assert_no_transaction() -> None:
    """Refuse hardware I/O inside a transaction (invariant 3)."""
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
        culture=culture_context(step) if step.action_type.device_kind == DeviceKind.VISION else None,
    )


def culture_context(step: RunStep) -> dict | None:
    """What the vision service's growth model needs of the run (docs/closed-loop.md): when it
    started, the time scale, and the passages and feeds its succeeded steps did (real epochs)."""
    started_at = Workflow.objects.filter(pk=step.workflow_id).values_list("started_at", flat=True).first()
    if started_at is None:
        return None
    done = (
        RunStep.objects.filter(workflow_id=step.workflow_id, status=RunStepStatus.SUCCEEDED, finished_at__isnull=False)
        .filter(parameters__has_key="reagent")
        .order_by("finished_at", "pk")
        .values_list("parameters", "finished_at")
    )
    events = []
    for parameters, finished_at in done:
        kind = culture_event_kind(parameters)
        if kind is not None:
            event = {"kind": kind, "at": finished_at.timestamp()}
            if parameters.get("split_ratio"):
                event["split_ratio"] = parameters["split_ratio"]
            events.append(event)
    return {"started_at": started_at.timestamp(), "time_scale": time_scale(), "events": events}


def action_dispatch(step: RunStep, *, context: DispatchContext) -> tuple[DispatchResult, object, object]:
    """Send a claimed action to its device through the adapter; returns (result, started, finished)."""
    assert_no_transaction()
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
    assert_no_transaction()
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
