"""Running workflows: start, pause, resume, cancel, complete, execute-step, and one action of auto mode.

Lifecycle services lock the workflow row first (then, inside the booking services, device rows
in id order) and raise ConflictError naming the current state when it forbids the transition;
the state changes themselves are ``transitions``'. Pause and cancel only change the workflow
row: an action in flight finishes and is recorded, and the next action boundary sees the new
state (invariant 4). ``user`` and ``via`` (e.g. "token ci-bot") name who did it in the events.
"""

import contextlib
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from devices.models import Booking, Device
from devices.services import booking_create, booking_release, workflow_devices_acquire, workflow_devices_release
from executionlogs.choices import Cause
from labcore.exceptions import ConflictError, NotFound
from workflows.choices import (
    FINISHED_WORKFLOW_STATUSES,
    IN_FLIGHT_STEP_STATUSES,
    RunStepStatus,
    WorkflowMode,
    WorkflowStatus,
)
from workflows.models import RunStep, Workflow
from workflows.services import transitions, units
from workflows.services.dispatch import action_claim, action_dispatch, action_poll, dispatch_context, run_step_next
from workflows.services.enqueue import advance_later
from workflows.services.lease import DispatchLease
from workflows.services.recording import action_record
from workflows.services.transitions import Actor, run_step_describe, workflow_lock

POLL_EARLY_TOLERANCE_SECONDS = 1.0
RECORD_ATTEMPTS = 4
RECORD_RECONNECT_FIRST_DELAY_SECONDS = 0.25
RECORD_RECONNECT_MAX_DELAY_SECONDS = 5.0
# What a database restart or a dropped connection looks like to Django (lock timeouts and
# deadlocks never get here: labcore.locking turns them into ConflictError).
DATABASE_UNREACHABLE = (OperationalError, InterfaceError)

logger = logging.getLogger(__name__)


def action_record_retrying(**kwargs) -> RunStep | None:
    """``action_record``, tried again while the workflow row is locked or the database is away.

    The device has already acted: giving up here would leave the step dispatching until the
    recovery scan marks it unknown and an operator has to decide. So a lock held past the lock
    timeout is waited out briefly (4 tries), and a database that cannot be reached (a restart,
    a failover) is tried again with a fresh connection and backoff (0.25 s doubling to 5 s) for
    up to ``LABCORE_EXECUTOR_RECORD_RETRY_SECONDS``; then the error is raised and the recovery
    scan takes over as before. Trying again is safe even if a lost COMMIT had gone through: the
    record applies only while the step carries this attempt id and is in flight.
    """
    conflicts = 0
    delay = RECORD_RECONNECT_FIRST_DELAY_SECONDS
    deadline = time.monotonic() + settings.LABCORE_EXECUTOR_RECORD_RETRY_SECONDS
    while True:
        try:
            return action_record(**kwargs)
        except ConflictError:
            conflicts += 1
            if conflicts == RECORD_ATTEMPTS:
                raise
            time.sleep(0.2 * 2 ** (conflicts - 1))
        except DATABASE_UNREACHABLE as exc:
            if time.monotonic() + delay > deadline:
                raise
            logger.warning(
                "database unreachable recording run-step %s (%s); trying again in %.2f s",
                kwargs.get("run_step_id"),
                exc,
                delay,
            )
            _connection_drop()
            time.sleep(delay)
            delay = min(delay * 2, RECORD_RECONNECT_MAX_DELAY_SECONDS)


def _connection_drop() -> None:
    """Forget a broken connection so the next try opens a new one (Django would reuse it)."""
    with contextlib.suppress(DATABASE_UNREACHABLE):  # closing a dead connection may fail too
        connection.close()


# --- auto mode: one action per Celery task ---------------------------------------------------------


def workflow_action_run(*, workflow_id: int) -> RunStep | None:
    """Run the next action of an auto workflow: claim (commit), dispatch (nothing held), record."""
    step = action_claim(workflow_id=workflow_id)
    if step is None:
        return None
    # The lease says "this worker is still on it" until the result is recorded (lease.py).
    with DispatchLease(step):
        result, started_at, finished_at = action_dispatch(step, context=dispatch_context(step))
        return action_record_retrying(
            run_step_id=step.pk,
            workflow_id=step.workflow_id,
            attempt_id=str(step.attempt_id),
            result=result,
            started_at=started_at,
            finished_at=finished_at,
        )


@transaction.atomic
def _poll_claim(*, run_step_id: int, attempt_id: str) -> RunStep | None:
    workflow_id = RunStep.objects.filter(pk=run_step_id).values_list("workflow_id", flat=True).first()
    if workflow_id is None:
        return None
    workflow_lock(workflow_id)
    step = RunStep.objects.select_related("action_type", "device", "workflow").get(pk=run_step_id)
    if step.status != RunStepStatus.WAITING or str(step.attempt_id) != str(attempt_id):
        return None  # already finished, or a newer attempt: a duplicate poll does nothing
    now = timezone.now()
    if step.poll_due_at and now < step.poll_due_at - timedelta(seconds=POLL_EARLY_TOLERANCE_SECONDS):
        # Early: a newer poll (e.g. one recovery started) has moved the due time on. Dropping
        # this one keeps a single chain of polls per operation.
        return None
    # A lease: recovery re-polls only if this poll has not answered well after it.
    step.poll_due_at = now + timedelta(seconds=settings.LABCORE_EXECUTOR_MAX_POLL_SECONDS)
    step.save(update_fields=["poll_due_at"])
    return step


def run_step_poll_run(*, run_step_id: int, attempt_id: str) -> RunStep | None:
    """Poll a long operation once and record the answer (which schedules the next poll if pending)."""
    step = _poll_claim(run_step_id=run_step_id, attempt_id=attempt_id)
    if step is None:
        return None
    result, started_at, finished_at = action_poll(step, context=dispatch_context(step))
    return action_record_retrying(
        run_step_id=step.pk,
        attempt_id=attempt_id,
        result=result,
        started_at=started_at,
        finished_at=finished_at,
        from_poll=True,
    )


# --- lifecycle ---------------------------------------------------------------------------------


def _locked(workflow: Workflow) -> Workflow:
    locked = workflow_lock(workflow.pk)
    if locked is None:
        raise NotFound(f"no workflow {workflow.pk}")
    return locked


def _conflict(workflow: Workflow, wanted: str) -> ConflictError:
    return ConflictError(
        f"workflow {workflow.pk} is {workflow.status}; {wanted}",
        fields={"status": [workflow.status]},
    )


def workflow_device_set(workflow: Workflow) -> list[Device]:
    """What the run holds while it runs, in lock (id) order: the devices of all its run-steps, or,
    for a protocol run booked unit by unit, those of the unit it is in (none between units)."""
    steps = workflow.run_steps.all()
    if workflow.units.exists():
        steps = steps.filter(unit__started_at__isnull=False, unit__ended_at__isnull=True)
    return list(Device.objects.filter(pk__in=steps.values("device_id")).order_by("pk"))


@transaction.atomic
def workflow_start(*, workflow: Workflow, user=None, via: str = "") -> Workflow:
    """Start a created workflow.

    Auto: book its whole device set at once or queue it (status ``queued``; the grant signal
    starts it later); once booked it is running and its first action is enqueued on commit.
    Manual: book its one device (409 if busy) and answer running.
    """
    workflow = _locked(workflow)
    by = Actor.of(user, via=via)
    if workflow.status != WorkflowStatus.CREATED:
        raise _conflict(workflow, "only a created workflow can be started")
    if workflow.mode == WorkflowMode.MANUAL:
        device = workflow.device or (workflow_device_set(workflow) or [None])[0]
        if device is None:
            raise ConflictError(f"workflow {workflow.pk} has no device to book", fields={"device_id": ["missing"]})
        booking_create(device=device, workflow=workflow, user=user)
        return transitions.workflow_run(workflow, by=by, reason=f"booked {device.pk}")
    first_unit = units.next_unit(workflow)
    if first_unit is not None:
        # Booked unit by unit: nothing now; the first unit is due start_after after the start.
        transitions.workflow_run(workflow, by=by, reason=f"{first_unit.step_name} is its first step")
        units.unit_due_set(first_unit, after=timezone.now())
        advance_later(workflow.pk, countdown=(first_unit.due_at - timezone.now()).total_seconds())
        return workflow
    devices = workflow_device_set(workflow)
    if workflow_devices_acquire(workflow=workflow, devices=devices, priority=workflow.priority):
        transitions.workflow_run(workflow, by=by, reason="booked " + ", ".join(device.pk for device in devices))
        advance_later(workflow.pk)
    else:
        transitions.workflow_queue(
            workflow, by=by, reason="waiting for devices: " + ", ".join(device.pk for device in devices)
        )
    return workflow


@transaction.atomic
def workflow_granted_start(*, workflow_id: int) -> Workflow | None:
    """A queued workflow got its devices (hand-off on another's release): run it. Idempotent."""
    workflow = workflow_lock(workflow_id)
    if workflow is None or workflow.status != WorkflowStatus.QUEUED:
        return None  # cancelled meanwhile, or a duplicate delivery
    transitions.workflow_run(workflow, by=transitions.EXECUTOR, reason="its devices were handed to it")
    advance_later(workflow.pk)
    return workflow


@transaction.atomic
def workflow_manual_device_lost(*, workflow_id: int, device_id: str, reason: str) -> Workflow | None:
    """A running manual workflow whose device was released from outside (a ``release`` request,
    a force-release) pauses: it can execute nothing, and ``complete`` must not pass over steps it
    could never run. ``resume`` books the device again. Auto runs pause at their next claim."""
    workflow = workflow_lock(workflow_id)
    if workflow is None or workflow.mode != WorkflowMode.MANUAL or workflow.status != WorkflowStatus.RUNNING:
        return None
    if Booking.objects.active().filter(workflow_id=workflow.pk, device_id=device_id).exists():
        return None  # booked again meanwhile
    return transitions.workflow_pause(workflow, by=Actor.of(), reason=f"lost {device_id}: {reason}")


@transaction.atomic
def workflow_pause(*, workflow: Workflow, user=None, via: str = "", reason: str = "") -> Workflow:
    """Pause a running workflow; the action in flight (if any) finishes, no next one starts."""
    workflow = _locked(workflow)
    if workflow.status != WorkflowStatus.RUNNING:
        raise _conflict(workflow, "only a running workflow can be paused")
    by = Actor.of(user, via=via)
    return transitions.workflow_pause(workflow, by=by, reason=reason or f"paused by {by.label}")


@transaction.atomic
def workflow_resume(*, workflow: Workflow, user=None, via: str = "") -> Workflow:
    """Resume a paused workflow where it stopped; a step failed under the pause policy is tried again."""
    workflow = _locked(workflow)
    if workflow.status != WorkflowStatus.PAUSED:
        raise _conflict(workflow, "only a paused workflow can be resumed")
    unknown = workflow.run_steps.filter(status=RunStepStatus.UNKNOWN).order_by("position").first()
    if unknown is not None:
        raise ConflictError(
            f"step {unknown.position} of workflow {workflow.pk} has an unknown outcome; resolve it first",
            fields={"step": [f"step {unknown.position} is unknown"]},
        )
    by = Actor.of(user, via=via)
    # The operator resuming after an on_failure=pause failure is the decision to try it again.
    transitions.steps_retry_failed(workflow, by=by)
    if workflow.mode == WorkflowMode.MANUAL:
        _manual_device_rebook(workflow, user=user)
    if workflow.mode == WorkflowMode.AUTO and not _devices_reacquire(workflow, by=by):
        # Its devices are kept while paused; only a force-release takes one away. Then it
        # waits in the queue like any other request and the grant starts it again.
        return transitions.workflow_queue(workflow, by=by, reason="resumed; waiting for its devices again")
    transitions.workflow_run(workflow, by=by, reason=f"resumed by {by.label}")
    if workflow.mode == WorkflowMode.AUTO:
        advance_later(workflow.pk)
    return workflow


def _manual_device_rebook(workflow: Workflow, *, user) -> None:
    """A manual run paused for losing its device books it again on resume (409 if it is busy, as
    at start): it resumes holding what it acts on or not at all."""
    device = workflow.device or (workflow_device_set(workflow) or [None])[0]
    if device is not None and not Booking.objects.active().filter(workflow=workflow, device=device).exists():
        booking_create(device=device, workflow=workflow, user=user)


def _devices_reacquire(workflow: Workflow, *, by: Actor) -> bool:
    """Book the workflow's whole device set again; when one is missing, hold none of them.

    Keeping the devices it still holds while it waits for the one it lost would be
    hold-and-wait: a workflow queued for those devices, and holding (or reserving) the lost one,
    would wait for it forever while it waits for them. So it gives everything back, which hands
    each device on, and waits for the whole set as one request like any other.
    """
    devices = workflow_device_set(workflow)
    if workflow_devices_acquire(workflow=workflow, devices=devices, priority=workflow.priority):
        return True
    in_flight = workflow.run_steps.filter(status__in=IN_FLIGHT_STEP_STATUSES).select_related("action_type").first()
    if in_flight is not None:
        # Giving everything back would hand on the device an action still runs on (exclusive use,
        # invariant 1); the raise rolls back the queue request just made. Resume once it is recorded.
        raise ConflictError(
            f"{run_step_describe(in_flight)} is in flight and workflow {workflow.pk} is short of a device; "
            "resume once that action is recorded",
            fields={"status": [workflow.status]},
        )
    workflow_devices_release(
        workflow=workflow, user=by.user, reason="resumed short of a device; waiting for its whole set"
    )
    return workflow_devices_acquire(workflow=workflow, devices=devices, priority=workflow.priority)


@transaction.atomic
def workflow_cancel(*, workflow: Workflow, user=None, via: str = "", reason: str = "") -> Workflow:
    """Cancel a workflow that has not finished, release or withdraw everything, hand devices on.

    An action in flight is not interrupted: the device it runs on stays booked until that
    action is recorded (then it is released too); every other device is released now.
    """
    workflow = _locked(workflow)
    if workflow.status in FINISHED_WORKFLOW_STATUSES:
        raise _conflict(workflow, "a finished workflow cannot be cancelled")
    by = Actor.of(user, via=via)
    transitions.workflow_cancel(workflow, by=by, reason=reason or f"cancelled by {by.label}")
    in_flight = workflow.run_steps.filter(status__in=IN_FLIGHT_STEP_STATUSES).first()
    if in_flight is None:
        transitions.workflow_devices_free(workflow, by=by, reason="cancelled")
        return workflow
    booked = Device.objects.filter(
        pk__in=Booking.objects.active().filter(workflow=workflow).values("device_id")
    ).exclude(pk=in_flight.device_id)
    for device in booked.order_by("pk"):
        booking_release(device=device, workflow=workflow, user=user, reason="cancelled")
    return workflow


@transaction.atomic
def workflow_complete(*, workflow: Workflow, user=None, via: str = "") -> Workflow:
    """Complete a running manual workflow (steps not run are marked skipped); release its device."""
    workflow = _locked(workflow)
    if workflow.status != WorkflowStatus.RUNNING:
        raise _conflict(workflow, "only a running workflow can be completed")
    if workflow.mode != WorkflowMode.MANUAL:
        raise ConflictError(
            f"workflow {workflow.pk} runs in auto mode and completes by itself", fields={"mode": [workflow.mode]}
        )
    in_flight = workflow.run_steps.select_related("action_type").filter(status__in=IN_FLIGHT_STEP_STATUSES).first()
    if in_flight is not None:
        raise ConflictError(f"{run_step_describe(in_flight)} is in flight; wait for it to finish")
    by = Actor.of(user, via=via)
    # Steps not run are skipped; a failed step keeps its failure in the record.
    transitions.steps_skip(
        workflow, from_statuses=(RunStepStatus.PENDING, RunStepStatus.UNKNOWN), by=by, reason="completed by hand"
    )
    return transitions.workflow_finish(
        workflow, status=WorkflowStatus.COMPLETED, by=by, reason=f"completed by {by.label}"
    )


@transaction.atomic
def _manual_claim(*, workflow: Workflow, by: Actor) -> RunStep:
    workflow = _locked(workflow)
    if workflow.mode != WorkflowMode.MANUAL:
        raise ConflictError(
            f"workflow {workflow.pk} runs in auto mode; the executor runs its steps", fields={"mode": [workflow.mode]}
        )
    if workflow.status != WorkflowStatus.RUNNING:
        raise _conflict(workflow, "start it before executing steps")
    step = run_step_next(workflow, for_dispatch=True)
    if step is None:
        raise ConflictError(f"workflow {workflow.pk} has no step left to execute; complete it")
    if step.status in IN_FLIGHT_STEP_STATUSES:
        raise ConflictError(f"{run_step_describe(step)} is in flight; wait for it to finish")
    if step.status == RunStepStatus.UNKNOWN:
        raise ConflictError(f"{run_step_describe(step)} has an unknown outcome; resolve it first")
    if not step.device_held:
        # Invariant 1: a released (or force-released) device may already be another workflow's.
        raise ConflictError(
            f"workflow {workflow.pk} no longer holds {step.device_id}; book it again before executing steps",
            fields={"device_id": [f"not held by workflow {workflow.pk}"]},
        )
    return transitions.step_claim(step, by=by)


def workflow_execute_next_step(*, workflow: Workflow, user=None, via: str = "") -> RunStep:
    """Manual mode: run the next step now, through the same claim/dispatch/record path, logged.

    Not atomic on purpose: the claim commits before the device is called, and the result is
    recorded in its own transaction (invariant 3).
    """
    step = _manual_claim(workflow=workflow, by=Actor.of(user, via=via))
    with DispatchLease(step):
        result, started_at, finished_at = action_dispatch(step, context=dispatch_context(step))
        action_record_retrying(
            run_step_id=step.pk,
            attempt_id=str(step.attempt_id),
            result=result,
            started_at=started_at,
            finished_at=finished_at,
            caused_by=Cause.MANUAL,
            user=user,
        )
    return RunStep.objects.select_related("action_type", "device", "unit").get(pk=step.pk)
