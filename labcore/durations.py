"""Durations for people: parse ``"24 h"``, ``"1 d 2 h"``, ``"90 s"``, ``"3600"``; format them back.

The admin's step timing fields read and show durations this way; the database, the API and the
export keep plain seconds. ``duration_format(duration_parse(text))`` gives a canonical text that
parses to the same number of seconds.
"""

import math
import re

UNITS = {"d": 86400, "h": 3600, "min": 60, "s": 1}
UNIT_NAMES = {
    "d": "d", "day": "d", "days": "d",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "m": "min", "min": "min", "mins": "min", "minute": "min", "minutes": "min",
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
}  # fmt: skip
DAYS_FROM = 72 * 3600
PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", re.IGNORECASE)


def duration_parse(text: str) -> float:
    """Seconds in ``text``: a plain number of seconds or parts like ``1 d 2 h 30 min 15 s``.

    Raises ValueError with a message for people on anything else (negative, NaN, unknown unit,
    a unit given twice).
    """
    cleaned = str(text).strip().replace(",", " ")
    if not cleaned:
        raise ValueError("enter a duration such as 24 h, 30 min, 90 s or 1 d 2 h")
    total, seen, position = 0.0, set(), 0
    while position < len(cleaned):
        match = PART.match(cleaned, position)
        if match is None or match.end() == position:
            raise ValueError(f"cannot read {text!r}: use numbers with d, h, min or s (24 h, 1 d 2 h, 90 s)")
        number, unit_text = match.groups()
        unit = UNIT_NAMES.get(unit_text.lower()) if unit_text else "s"
        if unit is None:
            raise ValueError(f"unknown unit {unit_text!r}: use d, h, min or s")
        if unit in seen:
            raise ValueError(f"{unit} is given twice in {text!r}")
        seen.add(unit)
        total += float(number) * UNITS[unit]
        position = match.end()
    if not math.isfinite(total):
        raise ValueError("the duration is too long")
    return total


def duration_format(seconds: float | None) -> str:
    """``24 h``, ``30 min``, ``1 min 30 s``, ``5 d 2 h``; empty for None; fractions of a second kept.

    Days are used from 72 h up: labs say "24 h" and "48 h", but "day 5" (``5 d``), not "120 h".
    """
    if seconds is None:
        return ""
    whole = int(seconds)
    fraction = seconds - whole
    parts = []
    for unit, size in UNITS.items():
        if unit == "d" and whole < DAYS_FROM:
            continue
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count} {unit}")
    if fraction:
        last = parts.pop() if parts and parts[-1].endswith(" s") else "0 s"
        parts.append(f"{int(last.split()[0]) + fraction:.12g} s")
    return " ".join(parts) or "0 s"


def duration_display(seconds: float | None) -> str:
    """A measured duration for a run page: whole seconds (``1 min 23 s``), tenths under 10 s (``2.4 s``)."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{max(seconds, 0):.1f} s"
    return duration_format(round(seconds))
