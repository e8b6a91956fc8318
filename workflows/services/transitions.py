"""The run state machine: the only code that changes a workflow's or run-step's status.

Every change goes through one function here and writes a ``WorkflowEvent`` (who, when, from,
to, why) in the same statement as the change (a data-modifying CTE), so the history is
complete and the executor's hot path keeps its statement budget. ``docs/architecture.md``
draws the machine; the allowed moves are ``WORKFLOW_MOVES`` and ``STEP_MOVES`` below.

Callers hold the workflow's row lock (``workflow_lock``, the first lock of every executor and
lifecycle transaction), so a run's rows change one transaction at a time and need no lock of
their own. ``workflow_next`` is the one place that decides what comes after a step settles.
"""

import uuid
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from devices.choices import BookingStatus, FailurePolicy
from devices.models import ActionType, Booking, Device
from devices.services import workflow_devices_acquire, workflow_devices_release
from labcore.exceptions import ConflictError
from labcore.locking import lock_row
from samples.models import Sample
from workflows.choices import (
    DONE_STEP_STATUSES,
    IN_FLIGHT_STEP_STATUSES,
    EventActor,
    RunStepStatus,
    WindowPolicy,
    WorkflowMode,
    WorkflowStatus,
    sql_in,
)
from workflows.models import RunStep, RunUnit, Workflow, WorkflowEvent, WorkflowSample
from workflows.schedule import start_delay_seconds
from workflows.services import units
from workflows.services.enqueue import advance_later
from workflows.services.hotpath import ACTION_TYPE_COLUMNS, DEVICE_COLUMNS, STEP_COLUMNS, lock_and_read, step_build

W = WorkflowStatus
S = RunStepStatus

# The moves each status allows. A move outside them is a bug in a caller (services check the
# state first and answer 409 with a message naming it); refusing here keeps the record honest.
WORKFLOW_MOVES: dict[str, tuple[str, ...]] = {
    "": (W.CREATED,),
    W.CREATED: (W.RUNNING, W.QUEUED, W.CANCELLED),
    W.QUEUED: (W.RUNNING, W.CANCELLED),
    # running -> queued: a protocol run whose next step is due waits for that step's devices.
    W.RUNNING: (W.PAUSED, W.QUEUED, W.COMPLETED, W.FAILED, W.CANCELLED),
    W.PAUSED: (W.RUNNING, W.QUEUED, W.FAILED, W.CANCELLED),
}
STEP_MOVES: dict[str, tuple[str, ...]] = {
    S.PENDING: (S.DISPATCHING, S.SKIPPED),
    S.DISPATCHING: (S.WAITING, S.SUCCEEDED, S.FAILED, S.PENDING, S.UNKNOWN),
    S.WAITING: (S.SUCCEEDED, S.FAILED, S.PENDING, S.UNKNOWN),
    S.FAILED: (S.PENDING,),
    S.UNKNOWN: (S.PENDING, S.SUCCEEDED, S.FAILED, S.SKIPPED),
}


@dataclass(frozen=True)
class Actor:
    """Who or what causes a transition: a user (through a token, a session, a command) or the system."""

    label: str
    user: object = None

    @classmethod
    def of(cls, user=None, *, via: str = "", system: str = EventActor.SYSTEM) -> "Actor":
        """``user`` (named with ``via``, e.g. "token ci-bot"), else the system part ``system``."""
        if user is None or not getattr(user, "is_authenticated", False):
            return cls(label=str(system))
        label = user.get_username() + (f" ({via})" if via else "")
        return cls(label=label, user=user)


EXECUTOR = Actor.of(system=EventActor.EXECUTOR)
RECOVERY = Actor.of(system=EventActor.RECOVERY)


def workflow_lock(workflow_id: int) -> Workflow | None:
    """Lock one workflow row (the first lock of every executor and lifecycle transaction)."""
    return lock_row(Workflow.objects.filter(pk=workflow_id), what=f"workflow {workflow_id}")


def run_step_describe(step: RunStep) -> str:
    return f"step {step.position} ({step.action_type.name} on {step.device_id})"


# --- writing a change and its event in one statement --------------------------------------------------

_EVENT_COLUMNS = '"workflow_id", "run_step_id", "from_status", "to_status", "by", "user_id", "reason", "at"'
_EVENT_TABLE = WorkflowEvent._meta.db_table


def _move_check(moves: dict, current: str, to: str, what: str) -> None:
    if to not in moves.get(current, ()):
        raise ConflictError(f"{what} cannot go from {current or 'nothing'} to {to}", fields={"status": [current]})


def _write(instance, fields: dict, *, workflow_id: int, run_step_id, from_status: str, by: Actor, reason: str, at):
    """UPDATE ``instance``'s ``fields`` (name -> value) and INSERT the event, as ONE statement.

    The values are prepared by each field as ``save()`` would; the instance is updated too.
    """
    meta = instance._meta
    model_fields = [meta.get_field(name) for name in fields]
    for field in model_fields:
        setattr(instance, field.name, fields[field.name])  # by name: a foreign key takes the object
    assignments = ", ".join(f'"{field.column}" = %s' for field in model_fields)
    params = [field.get_db_prep_save(getattr(instance, field.attname), connection) for field in model_fields]
    sql = (
        f'WITH changed AS (UPDATE "{meta.db_table}" SET {assignments} WHERE "{meta.pk.column}" = %s RETURNING 1) '
        f'INSERT INTO "{_EVENT_TABLE}" ({_EVENT_COLUMNS}) SELECT %s, %s, %s, %s, %s, %s, %s, %s FROM changed'
    )
    event = [workflow_id, run_step_id, from_status, fields["status"], by.label, _user_id(by), reason, at]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, instance.pk, *event])


def _user_id(by: Actor):
    return by.user.pk if by.user is not None else None


def _workflow_move(workflow: Workflow, to: str, *, by: Actor, reason: str = "", **fields) -> Workflow:
    _move_check(WORKFLOW_MOVES, workflow.status, to, f"workflow {workflow.pk}")
    now = timezone.now()
    values = {"status": to, "status_reason": reason, "updated_at": now, **fields}
    _write(
        workflow,
        values,
        workflow_id=workflow.pk,
        run_step_id=None,
        from_status=workflow.status,
        by=by,
        reason=reason,
        at=now,
    )
    return workflow


def _step_move(step: RunStep, to: str, *, by: Actor, reason: str = "", **fields) -> RunStep:
    _move_check(STEP_MOVES, step.status, to, f"step {step.position} of workflow {step.workflow_id}")
    values = {"status": to, **fields}
    _write(
        step,
        values,
        workflow_id=step.workflow_id,
        run_step_id=step.pk,
        from_status=step.status,
        by=by,
        reason=reason,
        at=timezone.now(),
    )
    return step


def _steps_move(
    workflow: Workflow, *, from_statuses, to: str, by: Actor, reason: str, extra_sql: str = "", unit_ids=None
) -> int:
    """Move every step of ``workflow`` (of ``unit_ids`` only, when given) in ``from_statuses`` to ``to``,
    one event each, in one statement."""
    for current in from_statuses:
        _move_check(STEP_MOVES, current, to, f"steps of workflow {workflow.pk}")
    table = RunStep._meta.db_table
    in_units = ' AND "unit_id" = ANY(%s)' if unit_ids is not None else ""
    sql = (
        f'WITH old AS (SELECT "id", "status" FROM "{table}" '
        f'WHERE "workflow_id" = %s AND "status" IN {sql_in(from_statuses)}{in_units}), '
        f'changed AS (UPDATE "{table}" r SET "status" = %s{extra_sql} FROM old WHERE r."id" = old."id" '
        f'RETURNING r."id", old."status") '
        f'INSERT INTO "{_EVENT_TABLE}" ({_EVENT_COLUMNS}) '
        f'SELECT %s, changed."id", changed."status", %s, %s, %s, %s, %s FROM changed'
    )
    params = [workflow.pk, *([list(unit_ids)] if unit_ids is not None else []), to]
    params += [workflow.pk, to, by.label, _user_id(by), reason, timezone.now()]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# --- workflows ---------------------------------------------------------------------------------------


def workflow_created(workflow: Workflow, *, by: Actor) -> None:
    """The first event of a run: it exists, created (by whom), with its plan."""
    WorkflowEvent.objects.create(
        workflow=workflow, from_status="", to_status=W.CREATED, by=by.label, user=by.user, reason="", at=timezone.now()
    )


def workflow_run(workflow: Workflow, *, by: Actor, reason: str = "") -> Workflow:
    """Created, queued (devices granted) or paused -> running."""
    return _workflow_move(workflow, W.RUNNING, by=by, reason=reason, started_at=workflow.started_at or timezone.now())


def workflow_queue(workflow: Workflow, *, by: Actor, reason: str) -> Workflow:
    """Created or paused -> queued: it waits for devices, holding none of them."""
    return _workflow_move(workflow, W.QUEUED, by=by, reason=reason)


def workflow_pause(workflow: Workflow, *, by: Actor, reason: str) -> Workflow:
    """Running -> paused: no next action starts until someone resumes it."""
    return _workflow_move(workflow, W.PAUSED, by=by, reason=reason)


def workflow_cancel(workflow: Workflow, *, by: Actor, reason: str) -> Workflow:
    """-> cancelled, and every step still pending is skipped. Devices are the caller's (an action may be in flight)."""
    _workflow_move(workflow, W.CANCELLED, by=by, reason=reason, finished_at=timezone.now())
    steps_skip(workflow, from_statuses=(S.PENDING,), by=by, reason=reason)
    return workflow


def workflow_finish(workflow: Workflow, *, status: str, by: Actor, reason: str = "") -> Workflow:
    """Running or paused -> completed or failed, and its devices are freed (handed on, same transaction)."""
    _workflow_move(workflow, status, by=by, reason=reason, finished_at=timezone.now())
    workflow_devices_free(workflow, by=by, reason=reason or status)
    return workflow


def workflow_reason(workflow: Workflow, reason: str) -> None:
    """Say why a workflow is in its status now, without changing it (its events keep the earlier reason)."""
    workflow.status_reason = reason
    workflow.save(update_fields=["status_reason", "updated_at"])


def workflow_devices_free(workflow: Workflow, *, by: Actor, reason: str = "") -> None:
    """Release every device of ``workflow`` and hand each to its queue (same transaction)."""
    workflow_devices_release(workflow=workflow, user=by.user, reason=reason)


# --- run-steps ---------------------------------------------------------------------------------------


def step_claim(step: RunStep, *, by: Actor, note: str = "") -> RunStep:
    """Pending -> dispatching with a fresh attempt id (the claim commits before any hardware I/O)."""
    now = timezone.now()
    return _step_move(
        step,
        S.DISPATCHING,
        by=by,
        reason=f"attempt {step.attempt + 1}" + (f"; {note}" if note else ""),
        attempt=step.attempt + 1,
        attempt_id=uuid.uuid4(),
        dispatched_at=now,
        started_at=step.started_at or now,
        retry_at=None,
        operation_id="",
        poll_due_at=None,
    )


def step_wait(step: RunStep, *, operation_id: str, pending: dict, poll_due_at, by: Actor) -> RunStep:
    """Dispatching -> waiting on a long operation (its poll is scheduled by the caller)."""
    return _step_move(
        step,
        S.WAITING,
        by=by,
        reason=f"long operation {operation_id}",
        operation_id=operation_id,
        result={"pending": pending},
        poll_due_at=poll_due_at,
    )


def step_succeed(step: RunStep, *, response, finished_at, by: Actor, reason: str = "") -> RunStep:
    """In flight -> succeeded, with the device's answer."""
    return _step_move(
        step, S.SUCCEEDED, by=by, reason=reason, result=response, error="", finished_at=finished_at, poll_due_at=None
    )


def step_retry_later(step: RunStep, *, error: str, retry_at, by: Actor) -> RunStep:
    """In flight -> pending again: a safe-to-repeat action that failed (or was lost) is tried again at ``retry_at``."""
    return _step_move(step, S.PENDING, by=by, reason=error, error=error, retry_at=retry_at, poll_due_at=None)


def step_fail(step: RunStep, *, error: str, finished_at, by: Actor) -> RunStep:
    """In flight -> failed."""
    return _step_move(step, S.FAILED, by=by, reason=error, error=error, finished_at=finished_at, poll_due_at=None)


def step_lost(step: RunStep, *, error: str, by: Actor) -> RunStep:
    """In flight -> unknown: the worker died mid-action, or the device of a long operation could not be
    reached until its time ran out, and the action is not safe to repeat (invariant 5)."""
    return _step_move(step, S.UNKNOWN, by=by, reason=error, error=error, finished_at=timezone.now())


STEP_RESOLUTIONS = {"retry": S.PENDING, "mark_succeeded": S.SUCCEEDED, "mark_failed": S.FAILED}


def step_resolve(step: RunStep, *, decision: str, by: Actor) -> RunStep:
    """Unknown -> pending (retry), succeeded or failed: the operator's decision, recorded with who took it."""
    now = timezone.now()
    to = STEP_RESOLUTIONS[decision]
    return _step_move(
        step,
        to,
        by=by,
        reason=f"resolved: {decision}",
        resolution=decision,
        resolved_by=by.user,
        resolved_at=now,
        error=f"{step.error}\nresolved by {by.label}: {decision}".strip(),
        finished_at=None if to == S.PENDING else now,
    )


def steps_skip(workflow: Workflow, *, from_statuses, by: Actor, reason: str, unit_ids=None) -> int:
    """Skip the steps of ``workflow`` (of ``unit_ids`` only, when given) in ``from_statuses``:
    cancel, manual complete, a ``run_if`` that does not hold, an ``until`` reached."""
    return _steps_move(workflow, from_statuses=from_statuses, to=S.SKIPPED, by=by, reason=reason, unit_ids=unit_ids)


def steps_retry_failed(workflow: Workflow, *, by: Actor) -> int:
    """Failed -> pending: resuming after a failure under the pause policy is the decision to try again."""
    return _steps_move(
        workflow,
        from_statuses=(S.FAILED,),
        to=S.PENDING,
        by=by,
        reason="resumed: tried again",
        extra_sql=', "retry_at" = NULL, "finished_at" = NULL',
    )


# --- the executor's claim in one round trip (the hot path) -------------------------------------------

# The claim, in the common case, as one statement: the first step not done (in plan order) is
# claimed only if everything ``action_claim`` checks lets it go ahead: the workflow (locked by
# the statement before) is running in auto mode, the step is pending, no retry backoff is
# running, and the workflow still holds the step's device. The same columns as ``step_claim``
# are set and its event is inserted by the same statement. Anything else updates no row, and
# ``action_claim`` decides with its ordinary code, still under the same lock.
_STEP_TABLE = RunStep._meta.db_table
_CLAIM_NEXT = f"""
WITH claimed AS (
UPDATE "{_STEP_TABLE}" r
SET "status" = '{S.DISPATCHING}', "attempt" = r."attempt" + 1, "attempt_id" = %s,
    "dispatched_at" = %s, "started_at" = COALESCE(r."started_at", %s), "retry_at" = NULL,
    "operation_id" = '', "poll_due_at" = NULL
FROM "{ActionType._meta.db_table}" a, "{Device._meta.db_table}" d
WHERE r."id" = (SELECT n."id" FROM "{_STEP_TABLE}" n
                WHERE n."workflow_id" = %s AND n."status" NOT IN {sql_in(DONE_STEP_STATUSES)}
                ORDER BY n."position" LIMIT 1)
  AND a."id" = r."action_type_id" AND d."id" = r."device_id"
  AND r."status" = '{S.PENDING}'
  AND (r."retry_at" IS NULL OR r."retry_at" <= %s)
  AND EXISTS (SELECT 1 FROM "{Workflow._meta.db_table}" w
              WHERE w."id" = %s AND w."status" = '{W.RUNNING}' AND w."mode" = '{WorkflowMode.AUTO}')
  AND (r."unit_id" IS NULL OR EXISTS (SELECT 1 FROM "{RunUnit._meta.db_table}" u
                                     WHERE u."id" = r."unit_id" AND u."started_at" IS NOT NULL))
  AND EXISTS (SELECT 1 FROM "{Booking._meta.db_table}" b
              WHERE b."device_id" = r."device_id" AND b."workflow_id" = r."workflow_id"
                AND b."status" = '{BookingStatus.ACTIVE}')
RETURNING {STEP_COLUMNS.sql}, {ACTION_TYPE_COLUMNS.sql}, {DEVICE_COLUMNS.sql},
    r."id" AS event_step_id, r."workflow_id" AS event_workflow_id, r."attempt" AS event_attempt,
    ARRAY(SELECT s."barcode" FROM "{WorkflowSample._meta.db_table}" ws
          JOIN "{Sample._meta.db_table}" s ON s."id" = ws."sample_id"
          WHERE ws."workflow_id" = r."workflow_id" ORDER BY ws."position")
), logged AS (
INSERT INTO "{_EVENT_TABLE}" ({_EVENT_COLUMNS})
SELECT event_workflow_id, event_step_id, '{S.PENDING}', '{S.DISPATCHING}', '{EventActor.EXECUTOR}', NULL,
       'attempt ' || event_attempt, %s
FROM claimed
)
SELECT * FROM claimed
"""


def claim_next(workflow_id: int) -> tuple[Workflow | None, RunStep | None]:
    """Lock the workflow row and, in the common case, claim its next step, in one round trip.

    Returns the locked workflow (None if there is none) and the claimed step (dispatching, with
    a fresh attempt id, ``action_type``, ``device`` and ``sample_barcodes``), or None when the
    caller must decide what to do (see _CLAIM_NEXT).
    """
    now = timezone.now()
    params = [uuid.uuid4(), now, now, workflow_id, now, workflow_id, now]  # in the order of the %s in _CLAIM_NEXT
    workflow, step_rows = lock_and_read(workflow_id, _CLAIM_NEXT, params)
    if workflow is None or not step_rows:
        return workflow, None
    step = step_build(step_rows[0])
    step.sample_barcodes = step_rows[0][-1]
    return workflow, step


# --- what comes next ---------------------------------------------------------------------------------


def workflow_next(
    workflow: Workflow,
    step: RunStep | None,
    *,
    by: Actor,
    later_left: bool | None = None,
    unit_left: bool | None = None,
) -> None:
    """The one decision of what a run does next, given ``step``: the step that just settled, or the
    first step not done (None when every step is done). Caller holds the workflow lock.

    - cancelled: nothing of it is in flight any more, so its last device is freed;
    - every step done: an auto run completes;
    - a step done with later steps left, or pending (a retry): an auto run advances (after the backoff);
    - failed: paused for an operator under the ``pause`` policy, else the run fails;
    - unknown outcome: paused until an operator resolves it (invariant 5);
    - in flight: nothing (its own result decides).
    """
    running_auto = workflow.status == W.RUNNING and workflow.mode == WorkflowMode.AUTO
    if workflow.status == W.CANCELLED:
        if step is None or step.status not in IN_FLIGHT_STEP_STATUSES:
            workflow_devices_free(workflow, by=by, reason="cancelled")
        return
    if step is not None and step.unit_id is not None and step.status in DONE_STEP_STATUSES:
        if unit_left is None:
            unit_left = (
                RunStep.objects.filter(unit_id=step.unit_id, position__gt=step.position)
                .exclude(status__in=DONE_STEP_STATUSES)
                .exists()
            )
        if not unit_left:
            unit = RunUnit.objects.get(pk=step.unit_id)
            _unit_until(workflow, unit, about=step, by=by)
            unit_after(workflow, unit, by=by)
            return
    if step is not None and step.status in DONE_STEP_STATUSES and later_left is None:
        # Steps run in plan order, so only later positions can still be left to do.
        later_left = (
            workflow.run_steps.filter(position__gt=step.position).exclude(status__in=DONE_STEP_STATUSES).exists()
        )
    if step is None or (step.status in DONE_STEP_STATUSES and not later_left):
        if running_auto:
            workflow_finish(workflow, status=W.COMPLETED, by=by)
    elif step.status in DONE_STEP_STATUSES or step.status == S.PENDING:
        if running_auto:
            wait = (step.retry_at - timezone.now()).total_seconds() if step.retry_at else 0
            advance_later(workflow.pk, countdown=max(wait, 0))
    elif step.status == S.FAILED:
        if workflow.status in (W.RUNNING, W.PAUSED):
            reason = step.error or f"{run_step_describe(step)} failed"
            if step.action_type.on_failure != FailurePolicy.PAUSE:
                workflow_finish(workflow, status=W.FAILED, by=by, reason=reason)
            elif workflow.status == W.RUNNING:
                workflow_pause(workflow, by=by, reason=f"{reason}; resume to try it again, or cancel")
            else:
                workflow_reason(workflow, f"{reason}; resume to try it again, or cancel")
    elif step.status == S.UNKNOWN and workflow.status == W.RUNNING:
        why = step.error or f"{run_step_describe(step)}: outcome unknown"
        workflow_pause(workflow, by=by, reason=f"{why}; resolve step {step.position}, then resume")


# --- booking units of protocol runs (docs/scheduling.md) ---------------------------------------------


def unit_begin(workflow: Workflow, step: RunStep, *, by: Actor) -> RunStep | None:
    """Start the unit of ``step`` (the run's next step, pending) when it is due, or say why not.

    Not due yet: the run holds nothing and an advance is scheduled for the due time (a Celery
    ETA; the recovery scan catches a lost one). ``run_if`` false: the unit's steps are skipped.
    Otherwise its group's devices are booked all at once (unpinned steps take any device of
    their kind, chosen now) or the run queues for them whole (invariant 9); once held, the unit
    starts, a start past its window is recorded (and fails the run under ``on_window_missed:
    fail``), and the step is claimed. Caller holds the workflow lock.
    """
    unit = RunUnit.objects.get(pk=step.unit_id)
    now = timezone.now()
    if unit.due_at is None:
        units.unit_due_set(unit, after=now)
    if unit.due_at > now:
        advance_later(workflow.pk, countdown=(unit.due_at - now).total_seconds())
        return None
    if unit.run_if is not None:
        evaluation = units.condition_check(workflow, unit, kind="run_if", condition=unit.run_if, about=step)
        if not evaluation.outcome:
            reason = f"run_if does not hold: {evaluation.describe(unit.run_if)}"
            steps_skip(workflow, from_statuses=(S.PENDING,), by=by, reason=reason, unit_ids=[unit.pk])
            units.unit_end_record(unit, now=now)
            unit_after(workflow, unit, by=by)
            return None
    held = units.held_device_ids(workflow)
    if not held:
        # A fresh booking: the scheduler core may hold it back so that a unit ranked ahead of it
        # (a window due soon on the same device) is not blocked by it (docs/scheduling.md).
        delay = start_delay_seconds(unit)
        if delay is not None:
            advance_later(workflow.pk, countdown=delay)
            return None
    steps = units.group_steps(units.unit_group(unit))
    choices = units.devices_choices(workflow, steps)
    chosen = next((choice for choice in choices if {d.pk for d in choice.values()} <= held), None)
    # The first device set free now is booked; if none is, the run queues whole for the best one.
    for choice in choices if chosen is None else ():
        if _group_book(workflow, unit, choice, queue=False):
            chosen = choice
            break
    if chosen is None:
        chosen = choices[0]
        if not _group_book(workflow, unit, chosen, queue=True):
            names = ", ".join(sorted({d.pk for d in chosen.values()}))
            workflow_queue(workflow, by=by, reason=f"{unit.step_name} is due; waiting for {names}")
            units.steps_device_assign(steps, chosen)
            return None
    units.steps_device_assign(steps, chosen)
    step.device = chosen[step.pk]
    late = units.window_lateness_seconds(unit, now)
    units.unit_start_record(unit, now=now, late=late)
    note = ""
    if late is not None:
        units.window_violation_log(workflow, unit, about=step, late=late, now=now)
        note = f"window missed by {late:.1f} s"
        if unit.on_window_missed == WindowPolicy.FAIL:
            workflow_finish(
                workflow, status=W.FAILED, by=by, reason=f"{unit.step_name}: {note} (on_window_missed: fail)"
            )
            return None
    return step_claim(step, by=by, note=note)


def _group_book(workflow: Workflow, unit: RunUnit, chosen: dict, *, queue: bool) -> bool:
    devices = {device.pk: device for device in chosen.values()}
    return workflow_devices_acquire(
        workflow=workflow,
        devices=[devices[pk] for pk in sorted(devices)],
        priority=workflow.priority,
        queue=queue,
        deadline=units.window_deadline(unit),
    )


def _unit_until(workflow: Workflow, unit: RunUnit, *, about: RunStep, by: Actor) -> None:
    """After an iteration of a repeating step: once ``until`` holds, its later iterations are skipped."""
    if unit.until is None:
        return
    later = list(
        RunUnit.objects.filter(
            workflow_id=workflow.pk, step_position=unit.step_position, position__gt=unit.position
        ).values_list("pk", flat=True)
    )
    if not later:
        return
    evaluation = units.condition_check(workflow, unit, kind="until", condition=unit.until, about=about)
    if evaluation.outcome:
        results = ", ".join(map(str, evaluation.result_ids))
        reason = f"stopped {unit.step_name}: {evaluation.describe(unit.until)} (results {results})"
        steps_skip(workflow, from_statuses=(S.PENDING,), by=by, reason=reason, unit_ids=later)


def unit_after(workflow: Workflow, unit: RunUnit, *, by: Actor) -> None:
    """``unit`` has ended (or was skipped): free its group's devices unless kept for the very next
    unit, make the next unit due, and advance at that time (or complete the run)."""
    now = timezone.now()
    if unit.ended_at is None:
        units.unit_end_record(unit, now=now)
    following = units.next_unit(workflow)
    kept = unit.keep_devices and following is not None and following.position == unit.position + 1
    if not kept:
        # Invariant 9: between booking units a run holds nothing; the hand-off serves the queues.
        workflow_devices_free(workflow, by=by, reason=f"{unit.step_name} ended")
    running_auto = workflow.status == W.RUNNING and workflow.mode == WorkflowMode.AUTO
    if following is None:
        if running_auto:
            workflow_finish(workflow, status=W.COMPLETED, by=by)
        return
    if following.due_at is None:
        units.unit_due_set(following, after=now)
    if running_auto:
        advance_later(workflow.pk, countdown=max((following.due_at - now).total_seconds(), 0))
