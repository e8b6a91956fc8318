"""The device timeline's data: per device, the actions that ran (execution log), the one running
now (run-steps in flight), the units the scheduler plans (``workflows.schedule.schedule_read``),
and behind them who held the device when (its bookings).

Reads only, bounded by a window: only what overlaps [start, end] is read, at most
``TIMELINE_MAX_ITEMS`` bars (the newest actions win; a note says what was left out), in a constant
number of queries whatever the size of the log. The admin page ``workflows/admin/timeline.py``
draws it with vis-timeline.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from devices.choices import BookingStatus
from devices.models import Booking, Device
from executionlogs.choices import LogStatus
from executionlogs.models import ExecutionLog
from labcore.exceptions import ApplicationError, NotFound
from workflows.choices import IN_FLIGHT_STEP_STATUSES
from workflows.models import RunStep, Workflow
from workflows.schedule import schedule_read

# At most this many bars in one answer: a week of a busy lab is many thousands of actions, more
# than a browser draws legibly (or quickly). Zooming in shows the rest.
TIMELINE_MAX_ITEMS = 2000
# The widest window one request may ask for (the page zooms out to a week).
TIMELINE_MAX_WINDOW = timedelta(days=31)
# An action logged as started this long before the window is still looked at (it may overlap it):
# the log is searched on its (started_at, id) index, so the search needs a lower bound. Longer
# actions (none in the demo's registry takes a day) show from the window's start of the next one.
LONGEST_ACTION = timedelta(days=1)
# A released booking is looked for this long before the window (a culture holds an incubator slot
# for its whole week); bookings still held are found whatever their age.
LONGEST_HOLD = timedelta(days=8)
# The default window when the page asks for none: the last 6 hours and the next 18.
DEFAULT_BEFORE = timedelta(hours=6)
DEFAULT_AFTER = timedelta(hours=18)


@dataclass(frozen=True)
class TimelineWindow:
    """What to show: [start, end], of one device or of all (``device`` None)."""

    start: datetime
    end: datetime
    device: str | None = None


def _instant(params, field: str, default: datetime) -> datetime:
    raw = (params.get(field) or "").strip()
    if not raw:
        return default
    if "T" in raw and " " in raw:
        raw = raw.replace(" ", "+")  # an offset's "+" sent unencoded in a query string arrives as a space
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        message = f"{raw!r} is not a date and time (ISO 8601, e.g. 2026-01-31T14:00:00Z)"
        raise ApplicationError(f"{field}: {message}", fields={field: [message]})
    return value if timezone.is_aware(value) else timezone.make_aware(value)


def timeline_window_parse(params, *, now: datetime | None = None) -> TimelineWindow:
    """The window asked for by ``from``, ``to`` and ``device`` (query parameters), or a 400/404
    (``ApplicationError`` / ``NotFound``) naming the field that is wrong."""
    now = now or timezone.now()
    start = _instant(params, "from", now - DEFAULT_BEFORE)
    end = _instant(params, "to", now + DEFAULT_AFTER)
    if end <= start:
        raise ApplicationError("to: must be after from", fields={"to": ["must be after from"]})
    if end - start > TIMELINE_MAX_WINDOW:
        message = f"the window may span at most {TIMELINE_MAX_WINDOW.days} days"
        raise ApplicationError(f"to: {message}", fields={"to": [message]})
    device = (params.get("device") or "").strip() or None
    if device is not None and not Device.objects.filter(pk=device).exists():
        raise NotFound(f"no device {device!r}", fields={"device": [f"no device {device!r}"]})
    return TimelineWindow(start=start, end=end, device=device)


def _bar(*, key, kind, group, workflow_id, workflow_name, label, start, end, detail) -> dict:
    return {
        "id": key,  # stable across refreshes, so the page updates a bar rather than redrawing it
        "kind": kind,  # done | failed | running | planned | held
        "group": group,
        "workflow": workflow_id,
        "run": workflow_name or (f"workflow {workflow_id}" if workflow_id else ""),
        "label": label,
        "start": start,
        "end": end,
        "detail": detail,
    }


def _logged(window: TimelineWindow, limit: int) -> tuple[list[dict], bool]:
    """Actions of the execution log overlapping the window, newest first (one query)."""
    entries = ExecutionLog.objects.filter(
        started_at__lt=window.end, started_at__gte=window.start - LONGEST_ACTION
    ).filter(Q(finished_at__gte=window.start) | Q(finished_at__isnull=True, started_at__gte=window.start))
    if window.device is not None:
        entries = entries.filter(device_id=window.device)
    rows = list(
        entries.order_by("-started_at", "-id").values(
            "id",
            "device_id",
            "workflow_id",
            "workflow__name",
            "action_type",
            "status",
            "started_at",
            "finished_at",
            "latency_ms",
            "attempt",
        )[: limit + 1]
    )
    bars = [
        _bar(
            key=f"log-{row['id']}",
            kind="done" if row["status"] == LogStatus.SUCCESS else "failed",
            group=row["device_id"],
            workflow_id=row["workflow_id"],
            workflow_name=row["workflow__name"],
            label=row["action_type"],
            start=row["started_at"],
            end=row["finished_at"] or row["started_at"],
            detail=f"{row['status']}, attempt {row['attempt']}, log #{row['id']}",
        )
        for row in rows[:limit]
    ]
    return bars, len(rows) > limit


def _running(window: TimelineWindow, now: datetime) -> list[dict]:
    """Run-steps in flight now, from their dispatch to now (one query; a handful of rows)."""
    if not window.start <= now:
        return []
    steps = RunStep.objects.filter(status__in=IN_FLIGHT_STEP_STATUSES, dispatched_at__lt=window.end)
    if window.device is not None:
        steps = steps.filter(device_id=window.device)
    rows = steps.order_by("dispatched_at", "id").values(
        "id", "device_id", "workflow_id", "workflow__name", "step_name", "action_type__name", "status", "dispatched_at"
    )
    return [
        _bar(
            key=f"step-{row['id']}-{row['dispatched_at'].timestamp()}",
            kind="running",
            group=row["device_id"],
            workflow_id=row["workflow_id"],
            workflow_name=row["workflow__name"],
            label=row["action_type__name"],
            start=row["dispatched_at"],
            end=max(now, row["dispatched_at"]),
            detail=f"{row['status']} now, step {row['step_name']}",
        )
        for row in rows[:TIMELINE_MAX_ITEMS]
    ]


def _holds(window: TimelineWindow, now: datetime, limit: int) -> list[dict]:
    """Who held each device in the window (bookings), newest first (one query): the band behind its bars."""
    held = Booking.objects.filter(booked_at__lt=window.end).filter(
        Q(status=BookingStatus.ACTIVE) | Q(booked_at__gte=window.start - LONGEST_HOLD, released_at__gte=window.start)
    )
    if window.device is not None:
        held = held.filter(device_id=window.device)
    rows = held.order_by("-booked_at", "-id").values(
        "id", "device_id", "device__capacity", "workflow_id", "workflow__name", "slot", "booked_at", "released_at"
    )[:limit]
    return [
        _bar(
            key=f"held-{row['id']}",
            kind="held",
            group=row["device_id"],
            workflow_id=row["workflow_id"],
            workflow_name=row["workflow__name"],
            # A shared device's bands overlap (an incubator holds 44 plates): named in the tooltip only.
            label="" if row["device__capacity"] > 1 else f"held by {row['workflow__name']}",
            start=row["booked_at"],
            end=row["released_at"] or max(now, row["booked_at"]),
            detail=f"slot {row['slot']}, " + ("released" if row["released_at"] else "held now"),
        )
        for row in rows
    ]


def _planned(window: TimelineWindow, now: datetime) -> list[dict]:
    """Units the scheduler's forward plan places in the window (the schedule's own selector)."""
    if window.end <= now:
        return []
    slots = [
        slot
        for slot in schedule_read(device=window.device, start=window.start, end=window.end)
        if slot.state == "planned"
    ]
    names = dict(Workflow.objects.filter(pk__in={slot.workflow for slot in slots}).values_list("pk", "name"))
    return [
        _bar(
            key=f"plan-{slot.device}-{slot.workflow}-{slot.start.timestamp()}-{index}",
            kind="planned",
            group=slot.device,
            workflow_id=slot.workflow,
            workflow_name=names.get(slot.workflow, ""),
            label=slot.step,
            start=slot.start,
            end=slot.end,
            detail="planned by the scheduler (re-planned on every start and end)",
        )
        for index, slot in enumerate(slots)
    ]


def timeline_read(window: TimelineWindow, *, now: datetime | None = None) -> dict:
    """The devices (rows) and bars overlapping ``window``: ``{"groups", "items", "truncated", "note"}``.

    Queries: devices 1, log 1, in flight 1, the schedule's (a constant number, schedule_read), run
    names 1 and bookings 1, whatever the number of rows. Holds fill what room the cap leaves.
    """
    now = now or timezone.now()
    devices = Device.objects.order_by("id")
    if window.device is not None:
        devices = devices.filter(pk=window.device)
    groups = [
        {"id": device_id, "name": name, "kind": kind, "status": status}
        for device_id, name, kind, status in devices.values_list("id", "name", "kind", "status")
    ]
    running = _running(window, now)
    planned = _planned(window, now)
    room = max(TIMELINE_MAX_ITEMS - len(running) - len(planned), 0)
    logged, more = _logged(window, room)
    left_out = more or len(running) + len(planned) > TIMELINE_MAX_ITEMS
    items = (running + planned)[:TIMELINE_MAX_ITEMS] + logged
    items += _holds(window, now, max(TIMELINE_MAX_ITEMS - len(items), 0))
    note = ""
    if left_out:
        note = (
            f"More than {TIMELINE_MAX_ITEMS} bars in this window: the oldest actions are left out. "
            "Zoom in, or pick one device, to see them all."
        )
    return {"groups": groups, "items": items, "truncated": left_out, "note": note}
