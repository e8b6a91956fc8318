"""Booking units of protocol runs: which devices a unit needs, when it is due, what its conditions read.

Reads and bookkeeping only: no status is changed here (that is ``transitions``). A unit is one
run of one protocol step; units chained by ``keep_devices`` form a group, booked together when
the group's first unit becomes due and released when its last unit ends (invariant 9: between
groups a run holds nothing).
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from devices.choices import DeviceStatus
from devices.models import Booking, Device
from executionlogs.choices import Cause, LogStatus
from executionlogs.models import CellAnalysisResult
from executionlogs.services import execution_log_create
from workflows.choices import DONE_STEP_STATUSES
from workflows.conditions import Evaluation, condition_evaluate
from workflows.models import RunStep, RunUnit, Workflow, WorkflowSample


def time_scale() -> float:
    """``LABCORE_TIME_SCALE``: simulated durations (step timings, mock latencies) run this much faster.

    Honoured only with mock hardware: real instruments take real time.
    """
    return settings.LABCORE_TIME_SCALE if settings.LABCORE_MOCK_HARDWARE else 1.0


def scaled_seconds(seconds: float) -> float:
    return seconds * time_scale()


def unit_group(unit: RunUnit) -> list[RunUnit]:
    """``unit`` and the units chained after it by ``keep_devices``: what is booked together."""
    group = [unit]
    if not unit.keep_devices:
        return group
    for later in RunUnit.objects.filter(workflow_id=unit.workflow_id, position__gt=unit.position).order_by("position"):
        group.append(later)
        if not later.keep_devices:
            break
    return group


def group_steps(group: list[RunUnit]) -> list[RunStep]:
    """The run-steps still to do of a unit group, in plan order, with types and devices."""
    return list(
        RunStep.objects.filter(unit__in=group)
        .exclude(status__in=DONE_STEP_STATUSES)
        .select_related("action_type", "device")
        .order_by("position")
    )


def held_device_ids(workflow: Workflow) -> set[str]:
    return set(Booking.objects.active().filter(workflow_id=workflow.pk).values_list("device_id", flat=True))


def devices_choices(workflow: Workflow, steps: list[RunStep]) -> list[dict[int, Device]]:
    """The device sets a group may be booked on, best first: each maps step id -> device.

    Pinned steps keep their device. An unpinned step may take any device of its kind (not in
    maintenance or offline); preferred is one the run already holds, then one with a free slot
    and nobody waiting, then the shortest queue, ties by id, so the choice is repeatable. The
    k-th choice gives every unpinned kind its k-th device (steps of one kind share it: a group
    is booked as a set). The caller books the first that is free now, or queues for the first.
    """
    held = held_device_ids(workflow)
    kinds = {step.action_type.device_kind for step in steps if not step.pinned}
    ranked: dict[str, list[Device]] = {}
    if kinds:
        candidates = (
            Device.objects.filter(kind__in=kinds)
            .exclude(status__in=(DeviceStatus.MAINTENANCE, DeviceStatus.OFFLINE))
            .annotate(
                in_use=Count("bookings", filter=Q(bookings__status="active"), distinct=True),
                waiting=Count("queue_entries", filter=Q(queue_entries__status="waiting"), distinct=True),
            )
            .order_by("id")
        )
        for device in candidates:
            ranked.setdefault(device.kind, []).append(device)
        for devices in ranked.values():
            devices.sort(
                key=lambda d: (d.pk not in held, not (d.in_use < d.capacity and d.waiting == 0), d.waiting, d.pk)
            )
    choices = []
    for k in range(max((len(devices) for devices in ranked.values()), default=1)):
        chosen = {}
        for step in steps:
            options = ranked.get(step.action_type.device_kind)
            chosen[step.pk] = step.device if step.pinned or not options else options[min(k, len(options) - 1)]
        choices.append(chosen)
    return choices


def steps_device_assign(steps: list[RunStep], chosen: dict[int, Device]) -> None:
    """Point each unpinned step at the device chosen for it (before the group is booked)."""
    for step in steps:
        device = chosen[step.pk]
        if step.device_id != device.pk:
            RunStep.objects.filter(pk=step.pk).update(device=device)
            step.device = device


def next_unit(workflow: Workflow) -> RunUnit | None:
    """The first unit with a step still to do."""
    todo = RunStep.objects.filter(unit_id=OuterRef("pk")).exclude(status__in=DONE_STEP_STATUSES)
    return RunUnit.objects.filter(workflow_id=workflow.pk).filter(Exists(todo)).order_by("position").first()


def unit_due_set(unit: RunUnit, *, after) -> None:
    """Due ``start_after_seconds`` (scaled) after ``after`` (the previous unit's end, or the run's start)."""
    unit.due_at = after + timedelta(seconds=scaled_seconds(unit.start_after_seconds))
    unit.save(update_fields=["due_at"])


def window_deadline(unit: RunUnit):
    """When ``unit``'s window closes (due + window, scaled), or None without a window or a due time."""
    if unit.window_seconds is None or unit.due_at is None:
        return None
    return unit.due_at + timedelta(seconds=scaled_seconds(unit.window_seconds))


def window_lateness_seconds(unit: RunUnit, now) -> float | None:
    """How long after its window closed ``unit`` starts at ``now`` (None: on time, or no window)."""
    deadline = window_deadline(unit)
    if deadline is None:
        return None
    late = (now - deadline).total_seconds()
    return late if late > 0 else None


def unit_start_record(unit: RunUnit, *, now, late: float | None) -> None:
    unit.started_at = now
    unit.window_missed_seconds = late
    unit.save(update_fields=["started_at", "window_missed_seconds"])


def unit_end_record(unit: RunUnit, *, now) -> None:
    unit.ended_at = now
    unit.save(update_fields=["ended_at"])


def latest_results(workflow: Workflow) -> dict:
    """Each sample of the run: (result id, metrics) of its latest cell-analysis result in this run, or None."""
    barcodes = list(
        WorkflowSample.objects.filter(workflow_id=workflow.pk)
        .order_by("position")
        .values_list("sample__barcode", flat=True)
    )
    latest: dict = dict.fromkeys(barcodes)
    rows = (
        CellAnalysisResult.objects.filter(workflow_id=workflow.pk)
        .order_by("sample_id", "-measured_at", "-id")
        .distinct("sample_id")
        .values_list("id", "sample__barcode", "cell_count", "confluence", "viability")
    )
    for result_id, barcode, cell_count, confluence, viability in rows:
        latest[barcode] = (result_id, {"cell_count": cell_count, "confluence": confluence, "viability": viability})
    return latest


def condition_check(workflow: Workflow, unit: RunUnit, *, kind: str, condition: dict, about: RunStep) -> Evaluation:
    """Evaluate a unit's ``run_if`` or ``until`` on the run's latest results and log the evaluation.

    The log entry (action type ``decision``) keeps the condition, the results it read with their
    values, and the outcome, against the step the decision is about and its device.
    """
    evaluation = condition_evaluate(condition, latest_results(workflow))
    now = timezone.now()
    execution_log_create(
        device=about.device,
        workflow=workflow,
        run_step=about,
        action_type="decision",
        request={"condition": kind, "rule": condition, "step": unit.step_name, "iteration": unit.iteration},
        response={
            "outcome": evaluation.outcome,
            "values": evaluation.values,
            "result_ids": evaluation.result_ids,
            "summary": evaluation.describe(condition),
        },
        status=LogStatus.SUCCESS,
        latency_ms=0,
        started_at=now,
        finished_at=now,
        caused_by=Cause.WORKER,
    )
    return evaluation


def window_violation_log(workflow: Workflow, unit: RunUnit, *, about: RunStep, late: float, now) -> None:
    """A step that started after its window: an execution-log entry of its own kind."""
    execution_log_create(
        device=about.device,
        workflow=workflow,
        run_step=about,
        action_type="window_missed",
        request={
            "step": unit.step_name,
            "iteration": unit.iteration,
            "due_at": unit.due_at.isoformat(),
            "window_seconds": scaled_seconds(unit.window_seconds),
            "on_window_missed": unit.on_window_missed,
        },
        response={"started_at": now.isoformat(), "late_seconds": round(late, 3)},
        status=LogStatus.ERROR,
        latency_ms=0,
        started_at=now,
        finished_at=now,
        caused_by=Cause.WORKER,
    )
