"""The lab's schedule: what ran, runs and is planned on each device, from the database and the
scheduler core's forward plan (``workflows.scheduling``).

Reads only. The plan is computed on request from the current state: every active protocol run's
pending booking units with their estimated durations (median measured latency of each action on
its device, else the type's estimate, scaled like the mock latencies), the bookings held now
with their predicted ends, and each device's capacity. ``GET /api/schedule``, the wait-time
estimate and the admin's per-device schedule read it, so they agree.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Prefetch
from django.utils import timezone

from devices.choices import DeviceStatus
from devices.models import Booking, Device
from devices.wait_time import estimated_action_seconds
from workflows.choices import DONE_STEP_STATUSES, IN_FLIGHT_STEP_STATUSES, WorkflowMode, WorkflowStatus
from workflows.growth import run_forecast_hours, runs_growth
from workflows.models import RunStep, RunUnit, Workflow
from workflows.remaining_work import measured_medians, remaining_work_seconds
from workflows.scheduling import Booking as CoreBooking
from workflows.scheduling import Device as CoreDevice
from workflows.scheduling import Requirement, Run, State, Unit, decide, plan
from workflows.services.units import scaled_seconds

PLANNED_STATUSES = (WorkflowStatus.RUNNING, WorkflowStatus.QUEUED)
# How far ahead a schedule is planned when the caller gives no end (the replay stops there).
DEFAULT_HORIZON = timedelta(days=8)
# A unit held back for another's window looks again no sooner than this.
MINIMUM_START_DELAY_SECONDS = 0.05


@dataclass(frozen=True)
class Slot:
    """One entry of the schedule: a run's step on a device, done, running or planned."""

    device: str
    workflow: int
    step: str
    start: datetime
    end: datetime | None
    state: str  # done | running | planned


def _step_seconds(steps: list[RunStep], medians: dict) -> float:
    """Estimated seconds of ``steps``: measured medians (already real time), else the estimates
    scaled as the mock hardware scales its latency (the same rule as the wait-time estimate)."""
    total = 0.0
    for step in steps:
        measured = medians.get((step.action_type.name, step.device_id))
        total += measured if measured is not None else estimated_action_seconds(step.action_type)
    return total


def _requirements(steps: list[RunStep]) -> tuple[Requirement, ...]:
    """One slot per device a unit books: its pinned devices, and one device per unpinned kind."""
    pinned = sorted({step.device_id for step in steps if step.pinned})
    kinds = sorted({step.action_type.device_kind for step in steps if not step.pinned})
    return tuple(Requirement.pinned(d) for d in pinned) + tuple(Requirement.any_of(k) for k in kinds)


def _active_runs():
    # A lab's pending steps number in the thousands and share a dozen action types: each type is
    # loaded once (not joined to every step, its JSON schema parsed per row), and the steps'
    # own JSON (parameters, result), which planning never reads, is not loaded.
    todo = (
        RunStep.objects.exclude(status__in=DONE_STEP_STATUSES)
        .defer("parameters", "result")
        .prefetch_related("action_type")
        .order_by("position")
    )
    return list(
        Workflow.objects.filter(status__in=PLANNED_STATUSES, mode=WorkflowMode.AUTO, units__isnull=False)
        .distinct()
        .prefetch_related(
            Prefetch("units", queryset=RunUnit.objects.filter(ended_at__isnull=True).order_by("position")),
            Prefetch("run_steps", queryset=todo, to_attr="todo_steps"),
        )
        .order_by("pk")
    )


FORECAST_OPS = (">=", ">")


def _forecastable(unit: RunUnit) -> bool:
    """An ``until`` the growth forecast can answer: confluence reaching a value from below."""
    until = unit.until or {}
    return until.get("metric") == "confluence" and until.get("op") in FORECAST_OPS


def _forecast_seconds(runs, now) -> dict[int, float]:
    """Per run whose next pending units are a confluence ``until`` loop: seconds from now until
    its samples reach the loop's value (workflows.growth), for the runs that have a forecast."""
    looping = {}
    for run in runs:
        first = next((unit for unit in run.units.all() if unit.started_at is None), None)
        if first is not None and _forecastable(first):
            looping[run.pk] = (run, first.until)
    forecasts = {}
    by_target: dict[float, list] = {}
    for run, until in looping.values():
        by_target.setdefault(float(until["value"]), []).append(run)
    for target, target_runs in by_target.items():
        if not 0 < target < 100:
            continue
        growth = runs_growth(target_runs, target=target)
        for run in target_runs:
            hours = run_forecast_hours(growth.get(run.pk, {}), quantifier=looping[run.pk][1].get("samples", "all"))
            if hours is not None:
                at = run.started_at + timedelta(seconds=hours * 3600.0 * scaled_seconds(1.0))
                forecasts[run.pk] = (at - now).total_seconds()
    return forecasts


def _expected_iterations(pending, *, ready_at: float, forecast: float | None) -> list:
    """The pending units the plan assumes run: with a forecast, a leading ``until`` loop's
    iterations up to the first one that starts at or after the forecast crossing (that one
    measures the target and ends the loop); the later ones are assumed skipped."""
    if forecast is None or not pending or not _forecastable(pending[0]):
        return pending
    loop = [unit for unit in pending if unit.step_position == pending[0].step_position]
    rest = pending[len(loop) :]
    start, keep = ready_at, 0
    for unit in loop:
        start += scaled_seconds(unit.start_after_seconds)
        keep += 1
        if start >= forecast:
            break
    return loop[:keep] + rest


def schedule_state(*, now) -> State:
    """The scheduler core's view of the lab at ``now`` (times in seconds after ``now``)."""
    runs = _active_runs()
    steps_of_unit: dict[int, list[RunStep]] = {}
    for run in runs:
        for step in run.todo_steps:
            steps_of_unit.setdefault(step.unit_id, []).append(step)
    medians = measured_medians(
        {(step.action_type.name, step.device_id) for steps in steps_of_unit.values() for step in steps}
    )
    forecasts = _forecast_seconds(runs, now)
    core_runs = []
    for run in runs:
        current = next((unit for unit in run.units.all() if unit.started_at is not None), None)
        pending = [unit for unit in run.units.all() if unit.started_at is None and steps_of_unit.get(unit.pk)]
        if not pending:
            continue
        if current is not None:
            left = _step_seconds(steps_of_unit.get(current.pk, []), medians)
            in_flight = [s for s in steps_of_unit.get(current.pk, []) if s.status in IN_FLIGHT_STEP_STATUSES]
            elapsed = (now - in_flight[0].dispatched_at).total_seconds() if in_flight else 0.0
            ready_at = max(left - elapsed, 0.0)
        elif pending[0].due_at is not None:
            ready_at = (pending[0].due_at - now).total_seconds() - scaled_seconds(pending[0].start_after_seconds)
        else:
            ready_at = 0.0
        pending = _expected_iterations(pending, ready_at=ready_at, forecast=forecasts.get(run.pk))
        units = tuple(
            Unit(
                id=str(unit.pk),
                duration=max(_step_seconds(steps_of_unit[unit.pk], medians), 0.001),
                requirements=_requirements(steps_of_unit[unit.pk]),
                start_after=scaled_seconds(unit.start_after_seconds),
                window=scaled_seconds(unit.window_seconds) if unit.window_seconds is not None else None,
            )
            for unit in pending
        )
        core_runs.append(
            Run(
                id=str(run.pk),
                units=units,
                ready_at=ready_at,
                priority=run.priority,
                arrival=run.pk,
                in_progress=current is not None,
            )
        )
    devices = tuple(
        CoreDevice(id=d.pk, kind=d.kind, capacity=d.capacity)
        for d in Device.objects.exclude(status__in=(DeviceStatus.MAINTENANCE, DeviceStatus.OFFLINE)).order_by("pk")
    )
    active = list(Booking.objects.active().values_list("device_id", "workflow_id"))
    left = remaining_work_seconds([workflow_id for _, workflow_id in active]) if active else {}
    bookings = tuple(
        CoreBooking(device_id=device_id, until=left.get(workflow_id, 0.0))
        for device_id, workflow_id in active
        if device_id in {d.id for d in devices}
    )
    return State(now=0.0, devices=devices, runs=tuple(core_runs), bookings=bookings)


def schedule_plan(*, now=None, until=None):
    """The forward plan from now, and that now: times in the plan are seconds after it."""
    now = now or timezone.now()
    horizon = (until - now).total_seconds() if until else DEFAULT_HORIZON.total_seconds()
    return plan(schedule_state(now=now), until=horizon), now


def _free_now(state: State, unit: Unit) -> bool:
    """Whether every requirement of ``unit`` has a device with a slot free now (held back only by
    a reservation, not by a booking)."""
    in_use: dict[str, int] = {}
    for booking in state.bookings:
        in_use[booking.device_id] = in_use.get(booking.device_id, 0) + 1
    free = {device.id: device.capacity - in_use.get(device.id, 0) for device in state.devices}
    kinds = {device.id: device.kind for device in state.devices}
    for requirement in unit.requirements:
        if requirement.device_id is not None:
            if free.get(requirement.device_id, 0) <= 0:
                return False
        elif not any(left > 0 and kinds[d] == requirement.kind for d, left in free.items()):
            return False
    return True


def start_delay_seconds(unit: RunUnit) -> float | None:
    """None when ``unit`` (due now, of a run holding nothing) may start now; else how long to wait.

    The scheduler core decides (``decide()``): by rank (priority, window deadline, arrival), and a
    unit does not start if it would still hold a device when a unit ranked ahead of it, due now
    or soon and protected by a window, is planned to need it. The wait is the plan's start for
    it; the run re-checks then (it holds nothing meanwhile).
    """
    now = timezone.now()
    state = schedule_state(now=now)
    if any(assignment.unit_id == str(unit.pk) for assignment in decide(state)):
        return None
    mine = next((u for run in state.runs for u in run.units if u.id == str(unit.pk)), None)
    if mine is None or not _free_now(state, mine):
        return None  # its devices are busy: it queues, and the hand-off serves the queue in order
    horizon = max((run.ready_at for run in state.runs), default=0.0) + DEFAULT_HORIZON.total_seconds()
    planned = next((p for p in plan(state, until=horizon).units if p.unit_id == str(unit.pk)), None)
    if planned is None:
        return None  # not something the core can place (an unknown kind): the booking decides
    return max(planned.start, MINIMUM_START_DELAY_SECONDS)


def schedule_read(*, device: str | None = None, start=None, end=None) -> list[Slot]:
    """Per device, what ran (booking units ended), runs (started) and is planned, overlapping [start, end]."""
    now = timezone.now()
    start = start or now - timedelta(hours=24)
    end = end or now + DEFAULT_HORIZON
    slots: list[Slot] = []
    units = (
        RunUnit.objects.filter(started_at__isnull=False, started_at__lte=end)
        .exclude(ended_at__lt=start)
        .only("id", "workflow_id", "step_name", "started_at", "ended_at")
        .prefetch_related(Prefetch("run_steps", queryset=RunStep.objects.only("unit_id", "device_id")))
    )
    for unit in units:
        for device_id in sorted({step.device_id for step in unit.run_steps.all()}):
            slots.append(
                Slot(
                    device=device_id,
                    workflow=unit.workflow_id,
                    step=unit.step_name,
                    start=unit.started_at,
                    end=unit.ended_at,
                    state="done" if unit.ended_at else "running",
                )
            )
    if end > now:
        planned, now = schedule_plan(now=now, until=end)
        names = dict(
            RunUnit.objects.filter(pk__in=[int(p.unit_id) for p in planned.units]).values_list("pk", "step_name")
        )
        for unit in planned.units:
            unit_start = now + timedelta(seconds=unit.start)
            unit_end = now + timedelta(seconds=unit.end)
            if unit_end < start or unit_start > end:
                continue
            for device_id in unit.devices:
                slots.append(
                    Slot(device_id, int(unit.run_id), names.get(int(unit.unit_id), ""), unit_start, unit_end, "planned")
                )
    if device is not None:
        slots = [slot for slot in slots if slot.device == device]
    return sorted(slots, key=lambda slot: (slot.device, slot.start, slot.workflow))


def planned_wait_seconds(device_id: str, workflow_id: int) -> float | None:
    """When the plan has ``workflow_id``'s next use of ``device_id`` start, in seconds from now (None: not planned)."""
    if not Workflow.objects.filter(pk=workflow_id, units__isnull=False).exists():
        return None
    planned, _ = schedule_plan()
    for unit in planned.units:
        if unit.run_id == str(workflow_id) and device_id in unit.devices:
            return max(unit.start, 0.0)
    return None
