"""Action parameters in plain words: labels and units, readable values, and schema errors as sentences.

A parameter's unit comes from its schema (``"x-unit": "µL"``) or, by the lab's naming habit, from
the suffix of its name (``volume_ul`` is a volume in µL, ``temperature_c`` in °C); its label is
the name without that suffix (``volume``). The protocol editor's form, a published protocol's
page and every error message (admin and API) use these, so a scientist reads "volume must be
more than 0 µL" instead of jsonschema's "0 is less than or equal to the minimum of 0".
"""

import json

# Name suffix -> unit. Only unambiguous suffixes: "_g" (grams or g-force?) is not guessed.
UNIT_SUFFIXES = {
    "_ul": "µL",
    "_ml": "mL",
    "_nl": "nL",
    "_c": "°C",
    "_s": "s",
    "_seconds": "s",
    "_min": "min",
    "_minutes": "min",
    "_h": "h",
    "_hours": "h",
    "_percent": "%",
    "_pct": "%",
    "_nm": "nm",
    "_um": "µm",
    "_mm": "mm",
    "_rpm": "rpm",
    "_mg": "mg",
    "_ug": "µg",
}

TYPE_WORDS = {
    "number": "a number",
    "integer": "a whole number",
    "string": "text",
    "boolean": "true or false",
    "array": "a list",
    "object": "a group of named values (a JSON object)",
    "null": "empty (null)",
}


def _suffix(name: str) -> str | None:
    lowered = name.lower()
    for suffix in sorted(UNIT_SUFFIXES, key=len, reverse=True):
        if lowered.endswith(suffix) and len(name) > len(suffix):
            return suffix
    return None


def parameter_unit(name: str, spec: dict | None = None) -> str:
    """The unit of a parameter ("" when it has none)."""
    spec = spec if isinstance(spec, dict) else {}
    explicit = spec.get("x-unit", spec.get("unit"))
    if isinstance(explicit, str):
        return explicit
    suffix = _suffix(name)
    return UNIT_SUFFIXES[suffix] if suffix else ""


def parameter_label(name: str, spec: dict | None = None) -> str:
    """The words for a parameter: its name without the unit suffix, underscores as spaces."""
    spec = spec if isinstance(spec, dict) else {}
    title = spec.get("title")
    if isinstance(title, str) and title.strip():
        return title.strip()
    suffix = None if isinstance(spec.get("x-unit", spec.get("unit")), str) else _suffix(name)
    base = name[: -len(suffix)] if suffix else name
    return base.replace("_", " ").strip() or name


def value_text(value) -> str:
    """A JSON value as a person writes it: 37, 0.5, yes, PBS, brightfield, phase."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, int | float | str) for item in value):
        return ", ".join(value_text(item) for item in value) or "none"
    if value is None:
        return "none"
    return json.dumps(value, ensure_ascii=False)


def with_unit(value, unit: str) -> str:
    text = value_text(value)
    return f"{text} {unit}" if unit else text


def parameter_fields(schema: dict | None) -> dict[str, dict]:
    """Label and unit of each top-level parameter of a schema (what the editor's form shows)."""
    properties = (schema or {}).get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return {}
    return {
        name: {"label": parameter_label(name, properties[name]), "unit": parameter_unit(name, properties[name])}
        for name in schema_order(schema)
    }


def schema_order(schema: dict | None) -> list[str]:
    """The parameters of a schema, required ones first (a jsonb schema does not keep its key order)."""
    properties = (schema or {}).get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return []
    required = (schema or {}).get("required")
    required = [name for name in required if name in properties] if isinstance(required, list) else []
    return required + [name for name in properties if name not in required]


def parameters_readable(schema: dict | None, parameters) -> list[str]:
    """``["volume: 1500 µL", "reagent: PBS"]``, in ``schema_order``, then any the schema does not name."""
    if not isinstance(parameters, dict):
        return [value_text(parameters)]
    properties = (schema or {}).get("properties") if isinstance(schema, dict) else None
    properties = properties if isinstance(properties, dict) else {}
    names = [name for name in schema_order(schema) if name in parameters] + [
        name for name in parameters if name not in properties
    ]
    lines = []
    for name in names:
        spec = properties.get(name)
        lines.append(f"{parameter_label(name, spec)}: {with_unit(parameters[name], parameter_unit(name, spec))}")
    return lines


def _spec_at(schema: dict, path: list) -> dict:
    """The sub-schema of the value at ``path`` (object properties and array items only)."""
    spec = schema if isinstance(schema, dict) else {}
    for part in path:
        if isinstance(part, int):
            items = spec.get("items")
            spec = items if isinstance(items, dict) else {}
        else:
            properties = spec.get("properties")
            spec = properties.get(part, {}) if isinstance(properties, dict) else {}
        spec = spec if isinstance(spec, dict) else {}
    return spec


def _place_words(path: list, schema: dict) -> tuple[str, str]:
    """The label of the value at ``path`` and its unit ("item 2 of channels" for list items)."""
    if not path:
        return "the parameters", ""
    last = path[-1]
    if isinstance(last, int):
        parent_label, _ = _place_words(path[:-1], schema)
        return f"item {last + 1} of {parent_label}", parameter_unit(str(path[-2]) if len(path) > 1 else "")
    spec = _spec_at(schema, path)
    label = parameter_label(str(last), spec)
    if len(path) > 1:
        parent_label, _ = _place_words(path[:-1], schema)
        label = f"{label} (in {parent_label})"
    return label, parameter_unit(str(last), spec)


def _quoted(value) -> str:
    return f'"{value}"' if isinstance(value, str) else value_text(value)


def plain_error(error, schema: dict) -> str:
    """One jsonschema ``ValidationError`` as a sentence naming the parameter, with its unit."""
    path = list(error.absolute_path)
    keyword = error.validator
    limit = error.validator_value
    label, unit = _place_words(path, schema)
    if keyword == "required":
        missing = [name for name in limit if isinstance(error.instance, dict) and name not in error.instance]
        missing_label, _ = _place_words([*path, missing[0]] if missing else path, schema)
        return f"{missing_label} is required"
    if keyword == "minimum":
        return f"{label} must be at least {with_unit(limit, unit)}"
    if keyword == "exclusiveMinimum":
        return f"{label} must be more than {with_unit(limit, unit)}"
    if keyword == "maximum":
        return f"{label} must be at most {with_unit(limit, unit)}"
    if keyword == "exclusiveMaximum":
        return f"{label} must be less than {with_unit(limit, unit)}"
    if keyword == "multipleOf":
        return f"{label} must be a multiple of {with_unit(limit, unit)}"
    if keyword == "type":
        kinds = limit if isinstance(limit, list) else [limit]
        wanted = " or ".join(TYPE_WORDS.get(kind, str(kind)) for kind in kinds)
        return f"{label} must be {wanted}, not {_quoted(error.instance)}"
    if keyword == "enum":
        return f"{label} must be one of: {', '.join(value_text(choice) for choice in limit)}"
    if keyword == "const":
        return f"{label} must be {_quoted(limit)}"
    if keyword == "additionalProperties":
        allowed = _spec_at(schema, path).get("properties")
        allowed = list(allowed) if isinstance(allowed, dict) else []
        extra = [name for name in error.instance if name not in allowed] if isinstance(error.instance, dict) else []
        where = "" if not path else f" of {label}"
        known = f" (the parameters{where} are: {', '.join(allowed)})" if allowed else ""
        names = ", ".join(extra) or "that"
        verb = "is not a parameter" if len(extra) == 1 else "are not parameters"
        return f"{names} {verb} of this action type{known}"
    if keyword == "minLength":
        return f"{label} must not be empty" if limit == 1 else f"{label} must be at least {limit} characters long"
    if keyword == "maxLength":
        return f"{label} must be at most {limit} characters long"
    if keyword == "pattern":
        return f"{label} must match the pattern {limit} ({_quoted(error.instance)} does not)"
    if keyword == "minItems":
        return f"{label} must list at least {limit} item{'s' if limit != 1 else ''}"
    if keyword == "maxItems":
        return f"{label} must list at most {limit} item{'s' if limit != 1 else ''}"
    if keyword == "uniqueItems":
        return f"{label} must not list the same item twice"
    return f"{label}: {error.message}"
