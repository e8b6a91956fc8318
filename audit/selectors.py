"""Reads of the audit trail."""

from django.db.models import QuerySet
from pghistory.models import Events


def object_history(obj) -> QuerySet:
    """Every audit event of ``obj``, oldest first, with who (context) and the diff."""
    return Events.objects.tracks(obj).order_by("pgh_created_at", "pgh_id")
