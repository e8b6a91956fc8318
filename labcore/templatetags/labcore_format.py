"""Times and durations as LabCore's pages show them: ``{% load labcore_format %}``.

Run pages show instants to the second (``2026-12-02 14:03:27``) and durations in words
(``1 min 23 s``), so a scientist can read how long an action took without arithmetic.
"""

from datetime import datetime, timedelta

from django import template
from django.utils import timezone

from labcore.durations import duration_display

register = template.Library()

INSTANT_FORMAT = "%Y-%m-%d %H:%M:%S"


@register.filter
def instant(value: datetime | None) -> str:
    """``2026-12-02 14:03:27`` in the current time zone; empty for None."""
    if value is None:
        return ""
    return timezone.localtime(value).strftime(INSTANT_FORMAT)


@register.filter
def duration(value: float | timedelta | None) -> str:
    """Seconds or a timedelta as ``1 min 23 s`` (tenths under 10 s); empty for None."""
    if value is None or value == "":
        return ""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    return duration_display(float(value))


@register.simple_tag
def elapsed(start: datetime | None, end: datetime | None = None) -> str:
    """How long from ``start`` to ``end`` (or to now while it is still going)."""
    if start is None:
        return ""
    return duration_display(((end or timezone.now()) - start).total_seconds())
