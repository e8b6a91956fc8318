"""The audit review: every edit of definitions, registry, devices and inventory (pghistory), and every run event.

One list, newest first, filterable by who, what and when, for the admin's review page and its
CSV export. The two sources are read separately (each in its own index order) and merged by
time, so the page reads at most ``limit`` rows of each.
"""

import heapq
import json
from dataclasses import dataclass
from datetime import datetime

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models import Q
from pghistory.models import Events

from workflows.models import WorkflowEvent

RUN_EVENTS = "run"


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    who: str
    what: str
    action: str
    detail: str


def audited_models() -> dict[str, str]:
    """The tracked models' labels (``workflows.Protocol``) by their name for people, for the "what" filter."""
    event_models = apps.get_app_config("audit").get_models()
    tracked = sorted({model.pgh_tracked_model._meta.label for model in event_models})
    return {label: apps.get_model(label)._meta.verbose_name_plural.capitalize() for label in tracked}


def _edits(*, user_id, model_label, start, end, limit):
    event_models = list(apps.get_app_config("audit").get_models())
    if model_label:
        event_models = [model for model in event_models if model.pgh_tracked_model._meta.label == model_label]
    if not event_models:
        return
    events = Events.objects.across(*event_models)
    if user_id is not None:
        events = events.filter(pgh_context__user=user_id)
    if start:
        events = events.filter(pgh_created_at__gte=start)
    if end:
        events = events.filter(pgh_created_at__lt=end)
    events = list(
        events.order_by("-pgh_created_at", "-pgh_id")[:limit] if limit else events.order_by("-pgh_created_at")
    )
    user_ids = {(event.pgh_context or {}).get("user") for event in events} - {None}
    usernames = dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "username"))
    for event in events:
        context = event.pgh_context or {}
        who = usernames.get(context.get("user"), "(no user: a script or the database)")
        change = event.pgh_diff if event.pgh_diff else event.pgh_data
        yield AuditRow(
            at=event.pgh_created_at,
            who=who,
            what=f"{event.pgh_obj_model} {event.pgh_obj_id}",
            action=event.pgh_label,
            detail=json.dumps(change, ensure_ascii=False, sort_keys=True, default=str),
        )


def _run_events(*, username, start, end, limit):
    events = WorkflowEvent.objects.select_related("run_step")
    if username:
        # A user's events say "alice", or "alice (token lims)" when the API was called with a token.
        events = events.filter(Q(by=username) | Q(by__startswith=f"{username} ("))
    if start:
        events = events.filter(at__gte=start)
    if end:
        events = events.filter(at__lt=end)
    events = events.order_by("-at", "-id")
    for event in events[:limit] if limit else events.iterator(chunk_size=2000):
        step = f" step {event.run_step.position}" if event.run_step else ""
        yield AuditRow(
            at=event.at,
            who=event.by,
            what=f"workflow {event.workflow_id}{step}",
            action=f"{event.from_status or '(new)'} -> {event.to_status}",
            detail=event.reason,
        )


def audit_rows(
    *, who: str = "", what: str = "", start: datetime | None = None, end: datetime | None = None, limit=None
):
    """Audit rows, newest first: ``who`` a username, ``what`` a model label or "run", ``start <= at < end``."""
    user_id = None
    if who:
        user_id = get_user_model().objects.filter(username=who).values_list("pk", flat=True).first()
        if user_id is None:
            user_id = -1  # nobody of that name edited anything; run events may still name them
    sources = []
    if what in ("", RUN_EVENTS):
        sources.append(_run_events(username=who, start=start, end=end, limit=limit))
    if what != RUN_EVENTS:
        sources.append(_edits(user_id=user_id, model_label=what, start=start, end=end, limit=limit))
    rows = heapq.merge(*sources, key=lambda row: row.at, reverse=True)
    return list(rows)[:limit] if limit else rows
