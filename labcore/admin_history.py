"""Per-object history in the admin: the "History" button shows the object's audit events.

Kernel plumbing, not part of the audit app: every app's admin uses it, while ``audit`` (which
registers the pghistory trackers on those apps' models) sits above them all. It only names the
events page by its URL, so it imports nothing of theirs.
"""

from urllib.parse import urlencode

from django.shortcuts import redirect
from django.urls import reverse


class AuditHistoryAdminMixin:
    """Send the change form's History button to the object's audit events (who, when, diff)."""

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is None:
            return super().history_view(request, object_id, extra_context)
        label = f"{obj._meta.app_label}.{obj._meta.model_name}:{obj.pk}"
        return redirect(reverse("admin:pghistory_events_changelist") + "?" + urlencode({"obj": label}))
