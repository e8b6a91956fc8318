"""The rules of a step's timing and conditions (docs/protocols.md, "Timing and conditions").

One home for them: the protocol services (API, import, clone), the admin editor and publish
all ask ``steps_timing_errors``. Pure functions over the spec shape the API and the export use::

    {"start_after_seconds": 0, "window_seconds": 1800, "on_window_missed": "run_late",
     "repeat_every_seconds": 43200, "repeat_max": 14, "until": null, "run_if": null,
     "keep_devices": false}

Every key is optional; a missing key or ``null`` means unset (``on_window_missed`` defaults to
``run_late``, ``keep_devices`` to false). Errors are keyed by path, ``steps[2].window_seconds``.
"""

import math

from workflows.choices import WindowPolicy
from workflows.conditions import condition_errors

MAX_SECONDS = 365 * 86400  # a year: anything longer is a typo, not a culture protocol
MAX_REPEATS = 1000
SECONDS_FIELDS = ("start_after_seconds", "window_seconds", "repeat_every_seconds")
CONDITION_FIELDS = ("until", "run_if")
STEP_TIMING_DEFAULTS = {
    "start_after_seconds": None,
    "window_seconds": None,
    "on_window_missed": WindowPolicy.RUN_LATE.value,
    "repeat_every_seconds": None,
    "repeat_max": None,
    "until": None,
    "run_if": None,
    "keep_devices": False,
}
STEP_TIMING_FIELDS = tuple(STEP_TIMING_DEFAULTS)


def step_timing_values(spec: dict) -> dict:
    """The timing fields of a step spec, defaults filled in for missing or null keys."""
    values = {}
    for field, default in STEP_TIMING_DEFAULTS.items():
        value = spec.get(field)
        values[field] = default if value is None else value
    return values


def step_timing_of(step) -> dict:
    """The timing fields of a Step row, in the spec shape."""
    return {field: getattr(step, field) for field in STEP_TIMING_FIELDS}


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _waits(spec: dict) -> bool:
    value = spec.get("start_after_seconds")
    return _is_number(value) and not value <= 0  # NaN counts as waiting; it is refused on its own step


def _seconds_errors(field: str, value) -> list[str]:
    if value is None:
        return []
    if not _is_number(value):
        return ["must be a number of seconds or null"]
    if not math.isfinite(value):
        return ["must be a finite number (NaN and Infinity are refused)"]
    if field == "start_after_seconds" and value < 0:
        return ["must be 0 or more"]
    if field != "start_after_seconds" and value <= 0:
        return ["must be more than 0"]
    if value > MAX_SECONDS:
        return [f"must be at most {MAX_SECONDS} (365 days)"]
    return []


def step_timing_errors(spec: dict, where: str, *, next_spec: dict | None) -> dict[str, list[str]]:
    """What is wrong with one step's timing; ``next_spec`` is the next step's (None for the last)."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(f"{where}.{field}", []).append(message)

    for field in SECONDS_FIELDS:
        for message in _seconds_errors(field, spec.get(field)):
            add(field, message)
    repeat_max = spec.get("repeat_max")
    if repeat_max is not None and (not isinstance(repeat_max, int) or isinstance(repeat_max, bool)):
        add("repeat_max", "must be a whole number or null")
    elif repeat_max is not None and not 1 <= repeat_max <= MAX_REPEATS:
        add("repeat_max", f"must be between 1 and {MAX_REPEATS}")
    policy = spec.get("on_window_missed")
    if policy is not None and policy not in WindowPolicy.values:
        add("on_window_missed", "must be one of: " + ", ".join(WindowPolicy.values))
    keep_devices = spec.get("keep_devices")
    if keep_devices is not None and not isinstance(keep_devices, bool):
        add("keep_devices", "must be true or false")
    for field in CONDITION_FIELDS:
        for message in condition_errors(spec.get(field)):
            add(field, message)

    # How the fields go together.
    repeats = spec.get("repeat_every_seconds") is not None
    if repeats and repeat_max is None:
        add("repeat_max", "required with repeat_every_seconds: how many runs at most")
    if repeat_max is not None and not repeats:
        add("repeat_every_seconds", "required with repeat_max: how long after each run ends the next is due")
    if spec.get("until") is not None and not repeats:
        add("until", "only a repeating step (with repeat_every_seconds) stops on a condition")
    if policy == WindowPolicy.FAIL and spec.get("window_seconds") is None:
        add("on_window_missed", "fail needs window_seconds: without a window nothing can be missed")
    if keep_devices is True:
        if next_spec is None:
            add("keep_devices", "the last step has no next step to keep its devices for")
        elif repeats:
            add("keep_devices", "a repeating step cannot keep its devices for the next; put the actions in one step")
        elif _waits(next_spec) or next_spec.get("repeat_every_seconds") is not None:
            add(
                "keep_devices",
                "the next step waits (start_after_seconds) or repeats: its devices would sit booked and idle",
            )
    return errors


def steps_timing_errors(specs: list[dict], prefix: str = "steps") -> dict[str, list[str]]:
    """The errors of a whole graph's timing, in order (keep_devices looks at the next step)."""
    errors: dict[str, list[str]] = {}
    for index, spec in enumerate(specs):
        next_spec = specs[index + 1] if index + 1 < len(specs) else None
        errors.update(step_timing_errors(spec, f"{prefix}[{index}]", next_spec=next_spec))
    return errors
