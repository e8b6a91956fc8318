"""Signing protocols and runs in the admin (with a password prompt), and the run report's download.

The same services as the API: ``signature_create`` re-checks the password (a logged-in session
is not a signature), records a wrong one and honours the lockout; refusals are messages on the
page, never a 500.
"""

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts.roles import user_capabilities
from labcore.exceptions import ApplicationError
from workflows.choices import SignatureMeaning
from workflows.records import protocol_content_hash, signature_entry, signature_list
from workflows.report import workflow_record_hash, workflow_report
from workflows.report_pdf import report_pdf
from workflows.services.signatures import signature_create


class SignForm(forms.Form):
    meaning = forms.ChoiceField(choices=SignatureMeaning.choices)
    comment = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    password = forms.CharField(
        strip=False, widget=forms.PasswordInput, help_text="Re-enter your password: this is your signature."
    )


def sign_view(model_admin, *, kind: str, capability: str):
    """``<pk>/sign/`` of the protocol (kind "protocol") or workflow ("workflow") admin."""
    model = model_admin.model

    def view(request, pk):
        record = get_object_or_404(model, pk=pk)
        change_url = reverse(f"admin:workflows_{kind}_change", args=[record.pk])
        if capability not in user_capabilities(request.user):
            raise PermissionDenied(f"your role does not allow signing (needs {capability.replace('_', ' ')})")
        form = SignForm(request.POST or None)
        status = 200
        if request.method == "POST" and form.is_valid():
            try:
                signature_create(user=request.user, **form.cleaned_data, **{kind: record})
            except ApplicationError as error:
                form.add_error(None, error.message)
                status = error.status_code
            else:
                model_admin.message_user(
                    request, f"Signed {record} ({form.cleaned_data['meaning']}).", messages.SUCCESS
                )
                return HttpResponseRedirect(change_url)
        current = protocol_content_hash(record) if kind == "protocol" else workflow_record_hash(record)
        context = {
            **model_admin.admin_site.each_context(request),
            "opts": model._meta,
            "original": record,
            "change_url": change_url,
            "form": form,
            "content_hash": current,
            "signatures": [signature_entry(s, current) for s in signature_list(**{f"{kind}_id": record.pk})],
            "title": f"Sign {record}",
        }
        return TemplateResponse(request, "admin/workflows/sign.html", context, status=status)

    return view


def report_view(model_admin):
    """``<pk>/report/``: the run report as PDF (``?format=json`` for the JSON), as a download."""

    def view(request, pk):
        if not model_admin.has_view_permission(request):
            raise PermissionDenied
        workflow = get_object_or_404(model_admin.model, pk=pk)
        report = workflow_report(workflow.pk)
        if request.GET.get("format") == "json":
            response = HttpResponse(
                json.dumps(report, indent=2, ensure_ascii=False) + "\n", content_type="application/json; charset=utf-8"
            )
            response["Content-Disposition"] = f'attachment; filename="run-{workflow.pk}-report.json"'
            return response
        response = HttpResponse(report_pdf(report), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="run-{workflow.pk}-report.pdf"'
        return response

    return view
