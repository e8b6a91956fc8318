"""The ActionType registry: the only way the executor and the API look action types up.

Parameters are checked against the type's JSON Schema; schema defaults fill what is omitted.
"""

from django.db.models import QuerySet
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from devices.models import ActionType
from labcore.exceptions import ApplicationError, NotFound


def action_type_get(name: str) -> ActionType:
    try:
        return ActionType.objects.get(name=name)
    except ActionType.DoesNotExist:
        raise NotFound(f"no action type named {name!r}", fields={"action_type": [f"unknown: {name!r}"]}) from None


def action_types_by_name(names) -> dict[str, ActionType]:
    """Look up several types in one query; raises naming every unknown name."""
    names = list(dict.fromkeys(names))
    found = {action_type.name: action_type for action_type in ActionType.objects.filter(name__in=names)}
    unknown = [name for name in names if name not in found]
    if unknown:
        raise ApplicationError(
            "unknown action type(s): " + ", ".join(unknown),
            fields={"steps": [f"unknown action type {n!r}" for n in unknown]},
        )
    return found


def action_types_for_kind(kind: str) -> QuerySet[ActionType]:
    return ActionType.objects.filter(device_kind=kind).order_by("name")


def schema_errors(schema: dict) -> list[str]:
    """Problems with a parameter schema itself (empty when it is a valid JSON Schema)."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return [exc.message]
    return []


def parameters_errors(action_type: ActionType, parameters) -> dict[str, list[str]]:
    """Each offending parameter (dotted path, or ``parameters``) with its messages."""
    validator = Draft202012Validator(action_type.parameter_schema or {})
    errors: dict[str, list[str]] = {}
    for error in sorted(validator.iter_errors(parameters), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(part) for part in error.absolute_path)
        if error.validator == "required":
            # jsonschema reports a missing property at the parent; name the property itself.
            missing = error.message.split("'")[1] if "'" in error.message else ""
            path = ".".join(filter(None, [path, missing]))
        errors.setdefault(f"parameters.{path}" if path else "parameters", []).append(error.message)
    return errors


def parameters_with_defaults(action_type: ActionType, parameters: dict) -> dict:
    """``parameters`` with the schema's top-level property defaults filled in."""
    properties = (action_type.parameter_schema or {}).get("properties", {})
    filled = {
        name: spec["default"] for name, spec in properties.items() if isinstance(spec, dict) and "default" in spec
    }
    filled.update(parameters or {})
    return filled


def parameters_validate(action_type: ActionType, parameters) -> dict:
    """Validated parameters with defaults applied; ApplicationError naming each bad field."""
    if not isinstance(parameters, dict):
        raise ApplicationError("parameters must be a JSON object", fields={"parameters": ["must be an object"]})
    filled = parameters_with_defaults(action_type, parameters)
    errors = parameters_errors(action_type, filled)
    if errors:
        raise ApplicationError(f"invalid parameters for {action_type.name}", fields=errors)
    return filled
