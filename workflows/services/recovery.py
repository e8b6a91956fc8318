"""Crash safety: run-steps left in flight by a dead worker, and the operator's decision on them.

A step still ``dispatching`` after its lease ran out (the worker dispatching it renews the lease,
lease.py), or well past its ActionType timeout (the backstop), means the worker that claimed it
died (or hung) mid-action: nobody knows whether the device did it. An action declared safe to
repeat is simply tried again; any other is marked ``unknown`` and its workflow paused, never
dispatched again silently (invariant 5), until ``workflow_resolve`` records what the operator
decided. The scan runs from Celery beat and at worker start-up; it is idempotent.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from devices.models import Booking, QueueEntry
from devices.services import booking_release
from executionlogs.choices import Cause, LogStatus
from executionlogs.services import execution_log_create
from labcore.exceptions import ApplicationError, ConflictError, NotFound
from workflows.choices import (
    DONE_STEP_STATUSES,
    FINISHED_WORKFLOW_STATUSES,
    IN_FLIGHT_STEP_STATUSES,
    RunStepStatus,
    WorkflowMode,
    WorkflowStatus,
)
from workflows.models import RunStep, RunUnit, Workflow
from workflows.services import transitions
from workflows.services.enqueue import RUN_STEP_POLL, WORKFLOW_ADVANCE, WORKFLOW_GRANTED, send_now
from workflows.services.lease import lease_end, lease_length
from workflows.services.transitions import RECOVERY, Actor, run_step_describe, workflow_lock

logger = logging.getLogger(__name__)

RESOLVE_DECISIONS = tuple(transitions.STEP_RESOLUTIONS)


def _margin() -> timedelta:
    return timedelta(seconds=settings.LABCORE_EXECUTOR_STALE_MARGIN_SECONDS)


def _lost(*, dispatched_at, lease_expires_at, timeout_seconds, now, leases_count: bool = True) -> bool:
    """Whether a dispatch lost its worker: its lease ran out, or (backstop) its timeout plus the margin passed."""
    if dispatched_at + timedelta(seconds=timeout_seconds) + _margin() < now:
        return True
    return leases_count and lease_end(dispatched_at=dispatched_at, lease_expires_at=lease_expires_at) < now


def _leases_count() -> bool:
    """False while the database has been up for less than a lease: a renewer could not write
    during a restart, so a lease that ran out then says nothing about its worker yet."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT now() - pg_postmaster_start_time()")
        (up_for,) = cursor.fetchone()
    return up_for >= lease_length()


def stale_dispatching_steps(*, now=None) -> list[tuple[int, str]]:
    """(run-step id, attempt id) of dispatching steps whose worker is lost (``_lost``)."""
    now = now or timezone.now()
    candidates = RunStep.objects.filter(status=RunStepStatus.DISPATCHING).filter(
        Q(lease_expires_at__lt=now)
        | Q(lease_expires_at__isnull=True, dispatched_at__lt=now - lease_length())
        | Q(dispatched_at__lt=now - _margin())
    )
    rows = list(
        candidates.values_list(
            "pk", "attempt_id", "dispatched_at", "lease_expires_at", "action_type__timeout_seconds"
        ).order_by("pk")
    )
    leases_count = bool(rows) and _leases_count()
    return [
        (pk, str(attempt_id))
        for pk, attempt_id, dispatched_at, lease_expires_at, timeout in rows
        if _lost(
            dispatched_at=dispatched_at,
            lease_expires_at=lease_expires_at,
            timeout_seconds=timeout,
            now=now,
            leases_count=leases_count,
        )
    ]


@transaction.atomic
def run_step_recover(*, run_step_id: int, attempt_id: str, now=None) -> RunStep | None:
    """Settle one step whose worker was lost mid-dispatch: repeat it if safe, else mark it unknown."""
    now = now or timezone.now()
    workflow_id = RunStep.objects.filter(pk=run_step_id).values_list("workflow_id", flat=True).first()
    if workflow_id is None:
        return None
    workflow = workflow_lock(workflow_id)
    step = RunStep.objects.select_related("action_type", "device").get(pk=run_step_id)
    if step.status != RunStepStatus.DISPATCHING or str(step.attempt_id) != attempt_id:
        return None  # it finished meanwhile, or another scan got it first
    action_type = step.action_type
    if not _lost(
        dispatched_at=step.dispatched_at,
        lease_expires_at=step.lease_expires_at,
        timeout_seconds=action_type.timeout_seconds,
        now=now,
    ):
        return None  # its worker renewed the lease since the scan read it: alive after all
    execution_log_create(
        device=step.device,
        workflow=workflow,
        run_step=step,
        action_type=action_type.name,
        request={"action_type": action_type.name, "parameters": step.parameters, "attempt_id": attempt_id},
        response={"labcore_note": "no result recorded: the worker was lost during the dispatch"},
        status=LogStatus.UNKNOWN,
        latency_ms=None,
        started_at=step.dispatched_at,
        finished_at=None,
        attempt=step.attempt,
        caused_by=Cause.SYSTEM,
    )
    lost = f"{run_step_describe(step)} attempt {step.attempt}: worker lost during dispatch"
    if action_type.safe_to_repeat and step.attempt <= action_type.max_retries:
        transitions.step_retry_later(step, error=f"{lost}; repeated (safe to repeat)", retry_at=None, by=RECOVERY)
        logger.warning("%s; repeating it", lost)
    else:
        transitions.step_lost(
            step, error=f"{lost}; outcome unknown, not repeated: an operator must resolve it", by=RECOVERY
        )
        logger.warning("%s; marked unknown, workflow %s paused", lost, workflow.pk)
    transitions.workflow_next(workflow, step, by=RECOVERY)
    return step


def executor_recover(*, now=None) -> dict:
    """The periodic scan: settle lost dispatches, re-poll forgotten long operations, restart stalls."""
    now = now or timezone.now()
    recovered = [
        run_step_recover(run_step_id=pk, attempt_id=attempt, now=now)
        for pk, attempt in stale_dispatching_steps(now=now)
    ]
    # A poll task lost with its worker: polls never repeat the physical action, so just poll again.
    overdue_polls = list(
        RunStep.objects.filter(status=RunStepStatus.WAITING, poll_due_at__lt=now - _margin()).values_list(
            "pk", "attempt_id"
        )
    )
    for pk, attempt_id in overdue_polls:
        send_now(RUN_STEP_POLL, pk, str(attempt_id))
    # A running auto workflow with nothing in flight and no news for a while lost its next task
    # (e.g. the worker died between commit and enqueue). Advancing is idempotent.
    # Last news: its own last change, or the last dispatch or outcome of one of its steps.
    stalled = list(
        Workflow.objects.filter(status=WorkflowStatus.RUNNING, mode=WorkflowMode.AUTO)
        .annotate(
            last_news=Greatest(
                "updated_at",
                Coalesce(Max("run_steps__finished_at"), "updated_at"),
                Coalesce(Max("run_steps__dispatched_at"), "updated_at"),
            )
        )
        .filter(last_news__lt=now - _margin())
        .exclude(run_steps__status__in=IN_FLIGHT_STEP_STATUSES)
        .exclude(run_steps__retry_at__gt=now)  # waiting out a retry backoff: its task is scheduled
        # Waiting for its next step's due time: its task is scheduled (a Celery ETA) for then.
        .exclude(Exists(RunUnit.objects.filter(workflow_id=OuterRef("pk"), started_at__isnull=True, due_at__gt=now)))
        .values_list("pk", flat=True)
    )
    for workflow_id in stalled:
        send_now(WORKFLOW_ADVANCE, workflow_id)
    granted = queued_workflows_granted(now=now)
    for workflow_id in granted:
        send_now(WORKFLOW_GRANTED, workflow_id)
    given_back = unstarted_holders_release(now=now)
    return {
        "recovered": sum(1 for step in recovered if step is not None),
        "repolled": len(overdue_polls),
        "advanced": len(stalled),
        "granted": len(granted),
        "given_back": given_back,
    }


def unstarted_holders_release(*, now) -> int:
    """Give back devices held by workflows never started within ``LABCORE_UNSTARTED_BOOKING_SECONDS``.

    A hand-off (or a direct ``book``) can give a device to a workflow that is still ``created``
    (a manual run queued through the original API): nothing runs, and without a limit it would
    hold the device for ever while others wait. Past the limit its booking is released, with the
    reason, and the device handed on; starting it later books again (or answers 409). 0 turns it off.
    """
    limit = settings.LABCORE_UNSTARTED_BOOKING_SECONDS
    if not limit:
        return 0
    stale = (
        Booking.objects.active()
        .filter(workflow__status=WorkflowStatus.CREATED, booked_at__lt=now - timedelta(seconds=limit))
        .select_related("device", "workflow")
        .order_by("device_id")
    )
    released = 0
    for booking in stale:
        try:
            booking_release(
                device=booking.device,
                workflow=booking.workflow,
                reason=f"workflow {booking.workflow_id} was not started within {limit:g} s; handed on",
            )
            released += 1
        except ConflictError:  # released or started meanwhile, or its lock is busy: next scan
            continue
    return released


def queued_workflows_granted(*, now) -> list[int]:
    """Queued workflows handed their devices a while ago that never started (their grant task was lost).

    The hand-off commits the bookings, then enqueues ``workflow_granted`` on commit: a broker
    hiccup there, or a task that gave up its lock retries, would leave the workflow queued and
    holding its devices forever. Granted means: no queue entry still waiting, and an active
    booking of every device of its run-steps, the newest one older than the margin.
    """
    waiting = QueueEntry.objects.waiting().filter(workflow_id=OuterRef("pk"))
    held = Booking.objects.active().filter(workflow_id=OuterRef("workflow_id"), device_id=OuterRef("device_id"))
    # The devices it waits for: every step's, or for a protocol run booked unit by unit, those of
    # the unit that is due (the only one with a due time and no end).
    current = Q(unit__isnull=True) | Q(unit__due_at__isnull=False, unit__ended_at__isnull=True)
    not_held = (
        RunStep.objects.filter(current, workflow_id=OuterRef("pk"))
        .exclude(status__in=DONE_STEP_STATUSES)
        .exclude(Exists(held))
    )
    fresh = Booking.objects.active().filter(workflow_id=OuterRef("pk"), booked_at__gte=now - _margin())
    return list(
        Workflow.objects.filter(status=WorkflowStatus.QUEUED)
        .filter(Exists(Booking.objects.active().filter(workflow_id=OuterRef("pk"))))
        .exclude(Exists(waiting))
        .exclude(Exists(not_held))
        .exclude(Exists(fresh))
        .values_list("pk", flat=True)
    )


@transaction.atomic
def workflow_resolve(*, workflow: Workflow, step: int, decision: str, user=None, via: str = "") -> Workflow:
    """Record an operator's decision on a step whose outcome is unknown.

    ``retry`` dispatches it again on resume, ``mark_succeeded`` goes on after it,
    ``mark_failed`` fails the workflow (and frees its devices).
    """
    if decision not in RESOLVE_DECISIONS:
        raise ApplicationError(
            f"decision must be one of {', '.join(RESOLVE_DECISIONS)}",
            fields={"decision": [f"must be one of: {', '.join(RESOLVE_DECISIONS)}"]},
        )
    locked = workflow_lock(workflow.pk)
    if locked is None:
        raise NotFound(f"no workflow {workflow.pk}")
    workflow = locked
    if workflow.status in FINISHED_WORKFLOW_STATUSES:
        raise ConflictError(f"workflow {workflow.pk} is {workflow.status}", fields={"status": [workflow.status]})
    run_step = workflow.run_steps.select_related("action_type").filter(position=step).first()
    if run_step is None:
        raise ApplicationError(f"workflow {workflow.pk} has no step {step}", fields={"step": [f"no step {step}"]})
    if run_step.status != RunStepStatus.UNKNOWN:
        raise ConflictError(
            f"step {step} is {run_step.status}, not unknown: there is nothing to resolve",
            fields={"step": [f"step {step} is {run_step.status}"]},
        )
    by = Actor.of(user, via=via)
    transitions.step_resolve(run_step, decision=decision, by=by)
    if decision == "mark_failed":
        transitions.workflow_finish(
            workflow,
            status=WorkflowStatus.FAILED,
            by=by,
            reason=f"{run_step_describe(run_step)} marked failed by {by.label}",
        )
    elif workflow.status == WorkflowStatus.PAUSED:
        transitions.workflow_reason(workflow, f"step {step} resolved by {by.label} ({decision}); resume to go on")
    return workflow
