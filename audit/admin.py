"""pghistory's events page in the admin, for objects that still exist and for deleted ones."""

from django.apps import apps
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import DataError
from django.http import HttpResponseBadRequest
from pghistory.admin import EventsAdmin


class AuditEventsAdmin(EventsAdmin):
    """pghistory's events page, which also opens for an object that no longer exists.

    pghistory reloads the object named by ``?obj=app.model:pk`` to title the page, so the audit
    trail of a deleted sample or device (what an auditor most wants to see) was a 500
    (DoesNotExist), as was a pk that does not fit the model's key. Settings name this class in
    ``PGHISTORY_ADMIN_CLASS``.
    """

    def changelist_view(self, request, extra_context=None):
        label, _, raw_pk = (request.GET.get("obj") or "").partition(":")
        try:
            model = apps.get_model(label) if raw_pk else None
        except (LookupError, ValueError):
            model = None
        if model is None:
            return super().changelist_view(request, extra_context)
        try:
            pk = model._meta.pk.to_python(raw_pk)
            exists = model._default_manager.filter(pk=pk).exists()
        except (ValidationError, ValueError, TypeError, DataError):
            return HttpResponseBadRequest(f"{raw_pk!r} is not a {model._meta.verbose_name} key.")
        if exists:
            return super().changelist_view(request, extra_context)
        context = {
            "title": self.model._meta.verbose_name_plural.capitalize(),
            "subtitle": f"{model._meta.verbose_name} {pk} (deleted)",
            **(extra_context or {}),
        }
        if "back" in request.GET:
            context["pgh_back"] = request.GET["back"]
        return admin.ModelAdmin.changelist_view(self, request, extra_context=context)
