"""Validators shared by the apps' models."""

import math

from django.core.exceptions import ValidationError


def unstorable_json_paths(value, path: str = "") -> list[str]:
    """Where a JSON value holds what PostgreSQL's jsonb refuses: U+0000 in a key or string, or a
    non-finite number (Python's json module reads ``NaN`` and ``1e400``; jsonb does not)."""
    if isinstance(value, str):
        return [path or "value"] if "\x00" in value else []
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path or "value"]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    found = []
    for key, item in items:
        child = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and "\x00" in key:
            found.append(child.replace("\x00", "\\x00"))
        else:
            found.extend(unstorable_json_paths(item, child))
    return found


def validate_storable_json(value) -> None:
    """A model-level check for JSONFields that forms and the admin fill from typed-in JSON.

    Without it the admin (forms.JSONField reads ``NaN``, ``"\\u0000"``) saved such a value
    straight into a PostgreSQL DataError: a 500 instead of the error under the field.
    """
    paths = unstorable_json_paths(value)
    if paths:
        raise ValidationError(
            "PostgreSQL cannot store NUL characters or NaN/Infinity in JSON (at %(paths)s).",
            code="unstorable_json",
            params={"paths": ", ".join(paths)},
        )
