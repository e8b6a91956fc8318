"""Writes of protocol definitions: create, edit (drafts only), publish, new version, clone.

A protocol's graph is given as a list of step specs, the same shape the API and the JSON
export use::

    [{"name": "PBS wash", "description": "", "actions": [
        {"action_type": "robot.dispense", "parameters": {"volume_ul": 2000}, "device": "robot-arm-1"}]}]

A step spec may also carry its timing and conditions (``start_after_seconds``, ``window_seconds``,
``on_window_missed``, ``repeat_every_seconds``, ``repeat_max``, ``until``, ``run_if``,
``keep_devices``), checked by ``workflows.step_timing`` (errors such as ``steps[2].window_seconds``).
Everything is validated before anything is written, and every error names its place
(``steps[1].actions[0].parameters.volume_ul``), so a bad request leaves nothing half-written.
"""

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from devices.models import ActionType, Device
from devices.registry import parameters_errors, parameters_with_defaults
from labcore.exceptions import ApplicationError, ConflictError
from labcore.locking import lock_row
from workflows.choices import ProtocolStatus
from workflows.models import Action, Project, Protocol, Step
from workflows.records import protocol_approval_problem
from workflows.step_timing import STEP_TIMING_FIELDS, step_timing_of, step_timing_values, steps_timing_errors

EDITABLE_PROTOCOL_FIELDS = ("name", "description", "version_major", "version_minor")


def protocol_lock(protocol: Protocol) -> Protocol:
    """Lock the protocol row so publish, new-version and edits of one protocol serialise."""
    locked = lock_row(Protocol.objects.filter(pk=protocol.pk), what=f"protocol {protocol.pk}")
    if locked is None:
        raise ConflictError(f"protocol {protocol.pk} no longer exists")
    return locked


def protocol_ensure_editable(protocol: Protocol) -> None:
    """The edit guard: a published version is frozen (409), whatever path the edit takes."""
    if protocol.is_published:
        raise ConflictError(
            f"protocol {protocol} is published and frozen; make a new version to change it",
            fields={"status": ["published protocols cannot be edited"]},
        )


def project_create(*, name: str, description: str = "", user=None) -> Project:
    """A new project (names are unique)."""
    project = Project(name=name, description=description, created_by=user)
    project.full_clean()
    project.save()
    return project


def project_update(*, project: Project, **fields) -> Project:
    for field in ("name", "description"):
        if field in fields:
            setattr(project, field, fields[field])
    project.full_clean()
    project.save()
    return project


def action_spec_errors(action_type: ActionType | None, spec: dict, devices: dict[str, Device], where: str) -> dict:
    """Errors of one action spec, keyed by their place in the graph."""
    errors: dict[str, list[str]] = {}
    if action_type is None:
        return {f"{where}.action_type": [f"unknown action type {spec.get('action_type')!r}"]}
    parameters = spec.get("parameters") or {}
    if not isinstance(parameters, dict):
        return {f"{where}.parameters": ["must be a JSON object"]}
    for field, messages in parameters_errors(action_type, parameters_with_defaults(action_type, parameters)).items():
        errors[f"{where}.{field}"] = messages
    device_id = spec.get("device")
    if device_id:
        device = devices.get(device_id)
        if device is None:
            errors[f"{where}.device"] = [f"unknown device {device_id!r}"]
        elif device.kind != action_type.device_kind:
            errors[f"{where}.device"] = [
                f"device {device_id} is a {device.kind}; {action_type.name} runs on a {action_type.device_kind}"
            ]
    return errors


def _graph_build(steps: list[dict]) -> list[tuple[dict, list[Action]]]:
    """Validate a graph spec against the registry and devices (two queries); unsaved actions."""
    if not isinstance(steps, list):
        raise ApplicationError("steps must be a list", fields={"steps": ["must be a list"]})
    type_names = {a.get("action_type") for s in steps for a in (s.get("actions") or []) if isinstance(a, dict)}
    device_ids = {a.get("device") for s in steps for a in (s.get("actions") or []) if isinstance(a, dict)}
    action_types = {t.name: t for t in ActionType.objects.filter(name__in=[n for n in type_names if n])}
    devices = {d.id: d for d in Device.objects.filter(id__in=[d for d in device_ids if isinstance(d, str) and d])}
    errors = steps_timing_errors([step if isinstance(step, dict) else {} for step in steps])
    built = []
    for step_index, step in enumerate(steps):
        where = f"steps[{step_index}]"
        if not isinstance(step, dict) or not str(step.get("name") or "").strip():
            errors[f"{where}.name"] = ["each step needs a name"]
            continue
        actions = []
        for action_index, spec in enumerate(step.get("actions") or []):
            at = f"{where}.actions[{action_index}]"
            if not isinstance(spec, dict):
                errors[at] = ["must be an object"]
                continue
            action_type = action_types.get(spec.get("action_type"))
            errors.update(action_spec_errors(action_type, spec, devices, at))
            if action_type is not None:
                actions.append(
                    Action(
                        position=action_index + 1,
                        action_type=action_type,
                        parameters=spec.get("parameters") or {},
                        device=devices.get(spec.get("device")) if spec.get("device") else None,
                    )
                )
        fields = {"name": step["name"], "description": step.get("description") or "", **step_timing_values(step)}
        built.append((fields, actions))
    if errors:
        raise ApplicationError("invalid protocol steps: " + ", ".join(errors), fields=errors)
    return built


def _graph_write(protocol: Protocol, built: list[tuple[dict, list[Action]]]) -> None:
    """Replace the protocol's steps and actions with ``built`` (bulk: a few queries)."""
    protocol.steps.all().delete()
    steps = Step.objects.bulk_create(
        Step(protocol=protocol, position=index, **fields) for index, (fields, _) in enumerate(built, start=1)
    )
    actions = []
    for step, (_, step_actions) in zip(steps, built, strict=True):
        for action in step_actions:
            action.step = step
            actions.append(action)
    Action.objects.bulk_create(actions)


@transaction.atomic
def protocol_create(
    *,
    project: Project,
    name: str,
    description: str = "",
    version_major: int = 0,
    version_minor: int = 1,
    steps: list[dict] | None = None,
    user=None,
) -> Protocol:
    """A new draft protocol, with its steps and actions when given."""
    built = _graph_build(steps or [])
    protocol = Protocol(
        project=project,
        name=name,
        description=description,
        version_major=version_major,
        version_minor=version_minor,
        created_by=user,
    )
    protocol.full_clean()
    protocol.save()
    _graph_write(protocol, built)
    return protocol


@transaction.atomic
def protocol_update(*, protocol: Protocol, steps: list[dict] | None = None, **fields) -> Protocol:
    """Change a draft's fields and, when ``steps`` is given, replace its whole graph."""
    protocol = protocol_lock(protocol)
    protocol_ensure_editable(protocol)
    built = _graph_build(steps) if steps is not None else None
    for field in EDITABLE_PROTOCOL_FIELDS:
        if field in fields:
            setattr(protocol, field, fields[field])
    if "project" in fields:
        protocol.project = fields["project"]
    protocol.full_clean()
    protocol.save()
    if built is not None:
        _graph_write(protocol, built)
    return protocol


def protocol_problems(protocol: Protocol) -> dict[str, list[str]]:
    """What stops a draft from being published: no actions, parameters the schema now refuses, bad timing."""
    steps = list(protocol.steps.prefetch_related("actions__action_type", "actions__device").order_by("position"))
    problems: dict[str, list[str]] = {}
    if not any(step.actions.all() for step in steps):
        problems["steps"] = ["a protocol needs at least one action to be published"]
    # Timing is checked on every write; checked again here whatever path wrote the rows.
    problems.update(steps_timing_errors([step_timing_of(step) for step in steps]))
    for step_index, step in enumerate(steps):
        for action_index, action in enumerate(step.actions.all()):
            where = f"steps[{step_index}].actions[{action_index}]"
            spec = {"parameters": action.parameters, "device": action.device_id}
            devices = {action.device_id: action.device} if action.device_id else {}
            problems.update(action_spec_errors(action.action_type, spec, devices, where))
    return problems


@transaction.atomic
def protocol_publish(*, protocol: Protocol, user=None) -> Protocol:
    """Freeze a draft: from now on it can be run, and never edited."""
    protocol = protocol_lock(protocol)
    if protocol.is_published:
        raise ConflictError(f"protocol {protocol} is already published", fields={"status": ["already published"]})
    problems = protocol_problems(protocol)
    if problems:
        raise ApplicationError(f"protocol {protocol} cannot be published: " + ", ".join(problems), fields=problems)
    # Under the protocol lock, so no edit slips in between the approval check and the freeze.
    unapproved = protocol_approval_problem(protocol)
    if unapproved:
        raise ConflictError(
            f"protocol {protocol} cannot be published: {unapproved}", fields={"signatures": [unapproved]}
        )
    protocol.status = ProtocolStatus.PUBLISHED
    protocol.published_at = timezone.now()
    protocol.save(update_fields=["status", "published_at", "updated_at"])
    return protocol


@transaction.atomic
def protocol_clone(
    *,
    protocol: Protocol,
    project: Project | None = None,
    name: str | None = None,
    version_major: int | None = None,
    version_minor: int | None = None,
    previous_version: Protocol | None = None,
    user=None,
) -> Protocol:
    """A draft copy of ``protocol``'s whole graph (same steps and their timing, actions, parameters, devices)."""
    source_steps = list(protocol.steps.prefetch_related("actions").order_by("position"))
    copy = Protocol(
        project=project or protocol.project,
        name=name or protocol.name,
        description=protocol.description,
        version_major=protocol.version_major if version_major is None else version_major,
        version_minor=protocol.version_minor if version_minor is None else version_minor,
        previous_version=previous_version,
        created_by=user,
    )
    copy.full_clean()
    copy.save()
    new_steps = Step.objects.bulk_create(
        Step(
            protocol=copy,
            position=step.position,
            name=step.name,
            description=step.description,
            **{field: getattr(step, field) for field in STEP_TIMING_FIELDS},
        )
        for step in source_steps
    )
    Action.objects.bulk_create(
        Action(
            step=new_step,
            position=action.position,
            action_type_id=action.action_type_id,
            parameters=action.parameters,
            device_id=action.device_id,
        )
        for new_step, step in zip(new_steps, source_steps, strict=True)
        for action in step.actions.all()
    )
    return copy


@transaction.atomic
def protocol_new_version(*, protocol: Protocol, user=None) -> Protocol:
    """The next draft (v0.4 -> v0.5) of a published protocol, linked to it by previous_version."""
    protocol = protocol_lock(protocol)
    if not protocol.is_published:
        raise ConflictError(
            f"protocol {protocol} is a draft: edit it, or publish it before making a new version",
            fields={"status": ["only a published protocol gets a new version"]},
        )
    siblings = Protocol.objects.filter(
        project=protocol.project, name=protocol.name, version_major=protocol.version_major
    )
    draft = siblings.filter(status=ProtocolStatus.DRAFT).first()
    if draft is not None:
        raise ConflictError(
            f"draft v{draft.version} of {protocol.name} already exists (id {draft.pk}); edit or publish it first",
            fields={"status": [f"draft {draft.pk} already exists"]},
        )
    next_minor = siblings.aggregate(top=Max("version_minor"))["top"] + 1
    return protocol_clone(protocol=protocol, version_minor=next_minor, previous_version=protocol, user=user)


@transaction.atomic
def protocol_steps_reorder(*, protocol: Protocol, step_ids: list[int]) -> Protocol:
    """Put a draft's steps in the order of ``step_ids`` (every step, once)."""
    protocol = protocol_lock(protocol)
    protocol_ensure_editable(protocol)
    steps = {step.pk: step for step in protocol.steps.all()}
    if sorted(step_ids) != sorted(steps):
        raise ApplicationError("give every step of the protocol exactly once", fields={"step_ids": ["mismatch"]})
    # The position constraint is deferred, so swapping positions inside the transaction is fine.
    for position, step_id in enumerate(step_ids, start=1):
        steps[step_id].position = position
    Step.objects.bulk_update(steps.values(), ["position"])
    return protocol


@transaction.atomic
def protocol_positions_normalise(*, protocol: Protocol) -> None:
    """Renumber a protocol's steps, and each step's actions, 1..n in their current order.

    Editors may number from 0 or leave gaps (deleted rows); the order is what matters, and
    1..n keeps positions readable in the API and in error paths.
    """
    steps = list(protocol.steps.order_by("position", "pk"))
    for position, step in enumerate(steps, start=1):
        step.position = position
    Step.objects.bulk_update(steps, ["position"])
    actions = list(Action.objects.filter(step__protocol=protocol).order_by("step_id", "position", "pk"))
    counters: dict[int, int] = {}
    for action in actions:
        counters[action.step_id] = action.position = counters.get(action.step_id, 0) + 1
    Action.objects.bulk_update(actions, ["position"])
