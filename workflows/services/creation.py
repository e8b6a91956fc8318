"""Creating workflows: materialise the plan of run-steps once, at creation.

A workflow's run-steps carry their own action type, device and parameters (schema defaults
applied), so editing or versioning the protocol later never changes a run in flight or the
record of a past one. Everything is validated before the first row is written.
"""

from collections.abc import Sequence

from django.db import transaction

from devices.choices import DeviceStatus, Priority
from devices.models import Device
from devices.registry import action_types_by_name, parameters_validate
from labcore.exceptions import ApplicationError, ConflictError
from samples.models import Sample
from workflows.choices import WorkflowMode
from workflows.models import Action, Protocol, RunStep, RunUnit, Workflow, WorkflowSample
from workflows.services import transitions


def _samples_check(samples: Sequence[Sample]) -> list[Sample]:
    samples = list(samples)
    if len({sample.pk for sample in samples}) != len(samples):
        raise ApplicationError("a sample is given twice", fields={"sample_barcodes": ["duplicate barcodes"]})
    return samples


def _mode_check(mode: str) -> str:
    if mode not in WorkflowMode.values:
        raise ApplicationError(f"unknown mode {mode!r}", fields={"mode": [f"one of {', '.join(WorkflowMode.values)}"]})
    return mode


def _workflow_write(*, workflow: Workflow, samples: list[Sample], run_steps: list[RunStep]) -> Workflow:
    workflow.full_clean(exclude=["protocol", "device"])
    workflow.save()
    WorkflowSample.objects.bulk_create(
        WorkflowSample(workflow=workflow, sample=sample, position=position)
        for position, sample in enumerate(samples, start=1)
    )
    for position, run_step in enumerate(run_steps, start=1):
        run_step.workflow = workflow
        run_step.position = position
    RunStep.objects.bulk_create(run_steps)
    transitions.workflow_created(workflow, by=transitions.Actor.of(workflow.created_by))
    return workflow


def protocol_run_check(*, protocol: Protocol, priority: int) -> None:
    """What running a protocol at ``priority`` needs: a published version (409) and a known priority (400)."""
    if not protocol.is_published:
        raise ConflictError(
            f"protocol {protocol} is a draft; publish it before running it",
            fields={"protocol": ["draft protocols cannot be run"]},
        )
    if priority not in Priority.values:
        raise ApplicationError(f"unknown priority {priority!r}", fields={"priority": ["urgent, normal or low"]})


def devices_by_kind(kinds) -> dict[str, Device]:
    """For each kind, the device an unpinned action runs on: the first available by id, else the first by id.

    Deterministic, so the same protocol on the same lab always resolves to the same plan.
    """
    chosen: dict[str, Device] = {}
    for device in Device.objects.filter(kind__in=set(kinds)).order_by("id"):
        current = chosen.get(device.kind)
        if current is None or (current.status != DeviceStatus.AVAILABLE and device.status == DeviceStatus.AVAILABLE):
            chosen[device.kind] = device
    return chosen


@transaction.atomic
def workflow_create_from_protocol(
    *, name: str, protocol: Protocol, samples: Sequence[Sample], priority: int, mode: str = WorkflowMode.AUTO, user=None
) -> Workflow:
    """A workflow of a published protocol: one run-step per action, in step then action order."""
    protocol_run_check(protocol=protocol, priority=priority)
    _mode_check(mode)
    samples = _samples_check(samples)
    actions = list(
        Action.objects.filter(step__protocol=protocol)
        .select_related("step", "action_type", "device")
        .order_by("step__position", "position")
    )
    if not actions:
        raise ApplicationError(f"protocol {protocol} has no actions", fields={"protocol": ["no actions to run"]})
    devices = devices_by_kind(a.action_type.device_kind for a in actions if a.device_id is None)
    errors: dict[str, list[str]] = {}
    planned: list[tuple[Action, RunStep]] = []
    step_indexes: dict[int, int] = {}
    action_indexes: dict[int, int] = {}
    for action in actions:
        # Name each problem by its place in the protocol, as the protocol API does.
        step_index = step_indexes.setdefault(action.step_id, len(step_indexes))
        action_index = action_indexes[action.step_id] = action_indexes.get(action.step_id, -1) + 1
        where = f"steps[{step_index}].actions[{action_index}]"
        device = action.device or devices.get(action.action_type.device_kind)
        if device is None:
            errors[f"{where}.device"] = [f"no device of kind {action.action_type.device_kind} for {action.action_type}"]
            continue
        try:
            parameters = parameters_validate(action.action_type, action.parameters)
        except ApplicationError as exc:
            errors.update({f"{where}.{field}": messages for field, messages in exc.fields.items()})
            continue
        run_step = RunStep(
            step_name=action.step.name,
            action_type=action.action_type,
            device=device,
            pinned=action.device_id is not None,
            parameters=parameters,
        )
        planned.append((action, run_step))
    if errors:
        raise ApplicationError(f"protocol {protocol} cannot be run: " + ", ".join(errors), fields=errors)
    workflow = Workflow(name=name, protocol=protocol, mode=mode, priority=priority, created_by=user)
    if mode == WorkflowMode.MANUAL:
        # A manual run books its device set at start and keeps it, as the original API did.
        return _workflow_write(workflow=workflow, samples=samples, run_steps=[run_step for _, run_step in planned])
    return _workflow_write_with_units(workflow=workflow, samples=samples, planned=planned)


def _workflow_write_with_units(*, workflow: Workflow, samples: list[Sample], planned: list) -> Workflow:
    """Write an auto protocol run: one booking unit per run of each step (a repeating step's
    iterations are units of their own), each with its own copy of the step's run-steps."""
    by_step: dict[int, list] = {}
    for action, run_step in planned:
        by_step.setdefault(action.step_id, []).append((action, run_step))
    units, run_steps = [], []
    for step_actions in by_step.values():
        step = step_actions[0][0].step
        iterations = step.repeat_max or 1 if step.repeat_every_seconds else 1
        for iteration in range(1, iterations + 1):
            unit = RunUnit(
                position=len(units) + 1,
                step_name=step.name,
                step_position=step.position,
                iteration=iteration,
                start_after_seconds=(step.start_after_seconds or 0) if iteration == 1 else step.repeat_every_seconds,
                window_seconds=step.window_seconds,
                on_window_missed=step.on_window_missed,
                run_if=step.run_if,
                until=step.until,
                keep_devices=step.keep_devices,
            )
            units.append(unit)
            for _, template in step_actions:
                run_steps.append((unit, _run_step_copy(template)))
    workflow = _workflow_write(workflow=workflow, samples=samples, run_steps=[step for _, step in run_steps])
    for unit in units:
        unit.workflow = workflow
    RunUnit.objects.bulk_create(units)
    for unit, run_step in run_steps:
        run_step.unit = unit
    RunStep.objects.bulk_update([step for _, step in run_steps], ["unit"])
    return workflow


def _run_step_copy(template: RunStep) -> RunStep:
    return RunStep(
        step_name=template.step_name,
        action_type=template.action_type,
        device=template.device,
        pinned=template.pinned,
        parameters=dict(template.parameters),
    )


@transaction.atomic
def workflow_create_from_steps(
    *,
    name: str,
    device: Device,
    samples: Sequence[Sample],
    step_names: list[str],
    mode: str = WorkflowMode.MANUAL,
    priority: int = Priority.NORMAL,
    user=None,
) -> Workflow:
    """The original API's workflow: named steps (action types) run one after another on one device.

    ``priority`` is what it queues at (the original API had none; given, it is kept, not dropped)."""
    _mode_check(mode)
    if priority not in Priority.values:
        raise ApplicationError(f"unknown priority {priority!r}", fields={"priority": ["urgent, normal or low"]})
    samples = _samples_check(samples)
    if not step_names:
        raise ApplicationError("a workflow needs at least one step", fields={"steps": ["must not be empty"]})
    action_types = action_types_by_name(step_names)
    wrong_kind = [n for n in dict.fromkeys(step_names) if action_types[n].device_kind != device.kind]
    if wrong_kind:
        raise ApplicationError(
            f"device {device.id} is a {device.kind}; it cannot run " + ", ".join(wrong_kind),
            fields={"steps": [f"{n} runs on a {action_types[n].device_kind}" for n in wrong_kind]},
        )
    run_steps = [
        RunStep(
            step_name=step_name,
            action_type=action_types[step_name],
            device=device,
            parameters=parameters_validate(action_types[step_name], {}),
        )
        for step_name in step_names
    ]
    workflow = Workflow(name=name, device=device, mode=mode, priority=priority, created_by=user)
    return _workflow_write(workflow=workflow, samples=samples, run_steps=run_steps)
