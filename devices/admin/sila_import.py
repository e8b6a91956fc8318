"""The admin's "Import from SiLA server": what ``manage.py sila_import`` does, from a form."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from devices.sila.onboarding import sila_server_import
from labcore.exceptions import ApplicationError


class SilaImportForm(forms.Form):
    host = forms.CharField(max_length=253, help_text="The SiLA server's host name or address.")
    port = forms.IntegerField(min_value=1, max_value=65535)
    device_id = forms.SlugField(required=False, max_length=100, help_text="Default: from the server's name.")
    insecure = forms.BooleanField(required=False, help_text="Plain gRPC, without TLS: loopback and tests only.")
    ca_cert = forms.CharField(required=False, max_length=500, help_text="Path of the CA certificate (PEM) for TLS.")


def sila_import_view(model_admin, request):
    """Read the server's features and register the device and one ActionType per command."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied("registering devices needs the permission to add them")
    form = SilaImportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            report = sila_server_import(user=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            for field, errors in exc.fields.items():
                form.add_error(field if field in form.fields else None, errors)
            if not exc.fields:
                form.add_error(None, exc.message)
        else:
            for line in report.lines():
                model_admin.message_user(request, line, messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:devices_device_change", args=[report.device]))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Import from SiLA server",
        "form": form,
        "opts": model_admin.model._meta,
    }
    return TemplateResponse(request, "admin/devices/sila_import.html", context)
