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
from workflows.models import RunStep, RunUnit, Workflow
from workflows.remaining_work import measured_medians, remaining_work_seconds
from workflows.scheduling import Booking as CoreBooking
from workflows.scheduling import Device as CoreDevice
from workflows.scheduling import Requirement, Run, State, Unit, plan
from workflows.services.units import scaled_seconds

PLANNED_STATUSES = (WorkflowStatus.RUNNING, WorkflowStatus.QUEUED)
# How far ahead a schedule is planned when the caller gives no end (the replay stops there).
DEFAULT_HORIZON = timedelta(days=8)


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
    todo = RunStep.objects.exclude(status__in=DONE_STEP_STATUSES).select_related("action_type").order_by("position")
    return list(
        Workflow.objects.filter(status__in=PLANNED_STATUSES, mode=WorkflowMode.AUTO, units__isnull=False)
        .distinct()
        .prefetch_related(
            Prefetch("units", queryset=RunUnit.objects.filter(ended_at__isnull=True).order_by("position")),
            Prefetch("run_steps", queryset=todo, to_attr="todo_steps"),
        )
        .order_by("pk")
    )


def schedule_plan(*, now=None, until=None):
    """The forward plan from now: (plan, now, runs by id). Times in the plan are seconds after ``now``."""
    now = now or timezone.now()
    runs = _active_runs()
    steps_of_unit: dict[int, list[RunStep]] = {}
    for run in runs:
        for step in run.todo_steps:
            steps_of_unit.setdefault(step.unit_id, []).append(step)
    medians = measured_medians(
        {(step.action_type.name, step.device_id) for steps in steps_of_unit.values() for step in steps}
    )
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
    horizon = (until - now).total_seconds() if until else DEFAULT_HORIZON.total_seconds()
    state = State(now=0.0, devices=devices, runs=tuple(core_runs), bookings=bookings)
    return plan(state, until=horizon), now


def schedule_read(*, device: str | None = None, start=None, end=None) -> list[Slot]:
    """Per device, what ran (booking units ended), runs (started) and is planned, overlapping [start, end]."""
    now = timezone.now()
    start = start or now - timedelta(hours=24)
    end = end or now + DEFAULT_HORIZON
    slots: list[Slot] = []
    units = (
        RunUnit.objects.filter(started_at__isnull=False, started_at__lte=end)
        .exclude(ended_at__lt=start)
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
