"""pghistory's events page in the admin, for objects that still exist and for deleted ones."""

import csv
from itertools import chain

from django import forms
from django.apps import apps
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DataError
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from pghistory.admin import EventsAdmin

from audit.review import RUN_EVENTS, audit_rows, audited_models


class AuditEventsAdmin(EventsAdmin):
    """pghistory's events page, which also opens for an object that no longer exists.

    pghistory reloads the object named by ``?obj=app.model:pk`` to title the page, so the audit
    trail of a deleted sample or device (what an auditor most wants to see) was a 500
    (DoesNotExist), as was a pk that does not fit the model's key. Settings name this class in
    ``PGHISTORY_ADMIN_CLASS``.
    """

    def get_urls(self):
        review = self.admin_site.admin_view(audit_review_view(self))
        return [path("review/", review, name="audit_review"), *super().get_urls()]

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


class AuditReviewForm(forms.Form):
    who = forms.CharField(required=False, help_text="A username.")
    what = forms.ChoiceField(required=False)
    start = forms.DateTimeField(required=False, help_text="From (UTC), inclusive: 2026-11-24 or 2026-11-24 09:30.")
    end = forms.DateTimeField(required=False, help_text="To (UTC), exclusive.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["what"].choices = [
            ("", "Everything"),
            (RUN_EVENTS, "Run events (status changes of runs and steps)"),
            *((label, f"Edits of {name.lower()}") for label, name in audited_models().items()),
        ]


REVIEW_PAGE_ROWS = 200


def audit_review_view(model_admin):
    """The audit review page: edits and run events, newest first, filtered; ``?export=csv`` downloads them all."""

    def view(request):
        if not model_admin.has_view_permission(request):
            raise PermissionDenied
        form = AuditReviewForm(request.GET or None)
        filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
        filters = {key: value for key, value in filters.items() if value}
        if request.GET.get("export") == "csv" and (not form.is_bound or form.is_valid()):
            return _csv_response(audit_rows(**filters))
        rows = audit_rows(**filters, limit=REVIEW_PAGE_ROWS) if not form.errors else []
        context = {
            **model_admin.admin_site.each_context(request),
            "title": "Audit review",
            "form": form,
            "rows": rows,
            "page_rows": REVIEW_PAGE_ROWS,
            "export_query": request.GET.urlencode(),
        }
        return TemplateResponse(request, "admin/audit/review.html", context)

    return view


class _Echo:
    def write(self, value):
        return value


def _csv_response(rows) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    lines = (writer.writerow([row.at.isoformat(), row.who, row.what, row.action, row.detail]) for row in rows)
    header = writer.writerow(["at", "who", "what", "action", "detail"])
    response = StreamingHttpResponse(chain([header], lines), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-review.csv"'
    return response
