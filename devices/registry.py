"""The ActionType registry: the only way the executor and the API look action types up.

Parameters are checked against the type's JSON Schema; schema defaults fill what is omitted.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from devices.models import ActionType
from devices.parameter_words import plain_error
from labcore.exceptions import ApplicationError
from labcore.validators import unstorable_json_paths


def action_type_get(name: str) -> ActionType:
    try:
        return ActionType.objects.get(name=name)
    except ActionType.DoesNotExist:
        message = f"no action type named {name!r}"
        raise ApplicationError(message, fields={"action_type": [f"unknown: {name!r}"]}) from None


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


def _refs(value):
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                yield item
            yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def schema_errors(schema: dict) -> list[str]:
    """Problems with a parameter schema itself (empty when it is a valid JSON Schema).

    It must be an object schema whose property defaults satisfy their own property schemas,
    and may only ``$ref`` inside itself (a registry entry never fetches anything).
    """
    if not isinstance(schema, dict):
        return ["must be a JSON object (a JSON Schema)"]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return [f"not a valid JSON Schema: {exc.message}"]
    errors = [f"$ref {ref!r} must point inside the schema (start with #)" for ref in _refs(schema) if ref[:1] != "#"]
    if errors:
        return errors
    properties = schema.get("properties", {})
    for name, spec in properties.items() if isinstance(properties, dict) else ():
        if isinstance(spec, dict) and "default" in spec:
            try:
                errors.extend(
                    f"default of {name}: {e.message}" for e in Draft202012Validator(spec).iter_errors(spec["default"])
                )
            except Exception as exc:  # an internal $ref that only resolves from the root: checked at use
                errors.append(f"default of {name} cannot be checked: {exc}")
    return errors


def null_character_paths(value, path: str) -> list[str]:
    """Dotted paths inside a JSON value whose key or string holds U+0000.

    PostgreSQL can store it in neither text nor jsonb, and parameters end up in both (run-steps,
    the execution log's request): refused up front, before any hardware is dispatched.
    """
    if isinstance(value, str):
        return [path] if "\x00" in value else []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    found = []
    for key, item in items:
        child = f"{path}.{key}".replace("\x00", "\\x00")
        found.extend([child] if isinstance(key, str) and "\x00" in key else null_character_paths(item, child))
    return found


def parameters_errors(action_type: ActionType, parameters) -> dict[str, list[str]]:
    """Each offending parameter (dotted path, or ``parameters``) with its messages."""
    errors: dict[str, list[str]] = {
        path: [f"{path.removeprefix('parameters.')} must not contain the NUL character"]
        for path in null_character_paths(parameters, "parameters")
    }
    if errors:
        return errors
    schema = action_type.parameter_schema or {}
    validator = Draft202012Validator(schema)
    for error in sorted(validator.iter_errors(parameters), key=lambda e: [str(p) for p in e.absolute_path]):
        path = ".".join(str(part) for part in error.absolute_path)
        if error.validator == "required":
            # jsonschema reports a missing property at the parent; name the property itself.
            missing = error.message.split("'")[1] if "'" in error.message else ""
            path = ".".join(filter(None, [path, missing]))
        # In plain words with the parameter's unit ("volume must be more than 0 µL"), not jsonschema's.
        errors.setdefault(f"parameters.{path}" if path else "parameters", []).append(plain_error(error, schema))
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


# Fields an ActionType is registered with (admin, API, load_action_types). ``name`` is its key.
ACTION_TYPE_FIELDS = (
    "name",
    "device_kind",
    "description",
    "parameter_schema",
    "estimated_duration_seconds",
    "timeout_seconds",
    "safe_to_repeat",
    "is_long_running",
    "on_failure",
    "max_retries",
    "mock_response",
    "mock_latency_seconds",
    "mock_latency_jitter",
    "mock_failure_rate",
)


def action_type_prepare(*, action_type: ActionType | None = None, **fields) -> tuple[ActionType, dict]:
    """An unsaved ActionType with ``fields`` applied, and every error found, keyed by field."""
    instance = action_type or ActionType()
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(fields) - set(ACTION_TYPE_FIELDS))
    if unknown:
        errors["fields"] = [f"unknown field(s): {', '.join(unknown)}"]
    # NUL in text and NaN/Infinity anywhere: PostgreSQL refuses the first, and a NaN duration
    # passes the min/max validators (every comparison is false) and makes wait times NaN.
    for path in unstorable_json_paths({f: v for f, v in fields.items() if f in ACTION_TYPE_FIELDS}):
        errors.setdefault(path.split(".")[0], []).append(f"{path}: no NUL characters or NaN/Infinity")
    for field, value in fields.items():
        if field in ACTION_TYPE_FIELDS and field not in errors:
            setattr(instance, field, value)
    try:
        instance.full_clean()
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    except (TypeError, ValueError) as exc:  # e.g. a list where a number belongs
        errors.setdefault("fields", []).append(str(exc))
    problems = schema_errors(instance.parameter_schema)
    if problems:
        errors.setdefault("parameter_schema", []).extend(problems)
    return instance, errors


@transaction.atomic
def action_type_create(**fields) -> ActionType:
    """Register a new action type: a new instrument capability, as data."""
    instance, errors = action_type_prepare(**fields)
    if errors:
        raise ApplicationError("invalid action type: " + ", ".join(errors), fields=errors)
    instance.save()
    return instance


@transaction.atomic
def action_type_update(*, action_type: ActionType, **fields) -> ActionType:
    instance, errors = action_type_prepare(action_type=action_type, **fields)
    if errors:
        raise ApplicationError(f"invalid action type {action_type.name}: " + ", ".join(errors), fields=errors)
    instance.save()
    return instance


@transaction.atomic
def action_types_load(entries, *, locations: list[str] | None = None) -> dict[str, list[str]]:
    """Create or update every entry by name, all or nothing (idempotent).

    Every entry is checked before anything is written; the errors are keyed by the entry's
    place (``locations[i]``, e.g. ``[2] robot.x (line 14)``) and field, so a file with several
    mistakes reports them all and changes nothing.
    """
    if not isinstance(entries, list):
        raise ApplicationError("expected a list of action types", fields={"file": ["must be a list"]})
    existing = {
        t.name: t for t in ActionType.objects.filter(name__in=[e.get("name") for e in entries if isinstance(e, dict)])
    }
    errors: dict[str, list[str]] = {}
    prepared = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        where = (locations or [])[index] if locations and index < len(locations) else f"[{index}]"
        if not isinstance(entry, dict):
            errors[where] = ["must be a mapping of fields"]
            continue
        name = entry.get("name")
        if isinstance(name, str) and name in seen:
            errors[f"{where}.name"] = [f"{name!r} appears twice in the file"]
            continue
        seen.add(name)
        current = existing.get(name) if isinstance(name, str) else None
        before = {f: getattr(current, f) for f in ACTION_TYPE_FIELDS} if current else None
        instance, entry_errors = action_type_prepare(action_type=current, **entry)
        for field, messages in entry_errors.items():
            errors[f"{where}.{field}"] = messages
        prepared.append((instance, before))
    if errors:
        raise ApplicationError(f"{len(errors)} error(s) in the action types; nothing was changed", fields=errors)
    report: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": []}
    for instance, before in prepared:
        if before is None:
            report["created"].append(instance.name)
        elif before == {f: getattr(instance, f) for f in ACTION_TYPE_FIELDS}:
            report["unchanged"].append(instance.name)
            continue
        else:
            report["updated"].append(instance.name)
        instance.save()
    return report
