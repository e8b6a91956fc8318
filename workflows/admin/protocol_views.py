"""The protocol editor's own pages and actions: publish, new version, export, import, run.

Each is a thin view over a service; a service's refusal (draft cannot be run, frozen version,
bad document) becomes an admin error message, never a 500.
"""

import json

from django import forms
from django.contrib import messages
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.text import slugify

from accounts.roles import EDIT_DEFINITIONS, RUN_WORKFLOWS, user_capabilities
from devices.choices import Priority
from labcore.exceptions import ApplicationError
from samples.models import Sample
from workflows.choices import WorkflowMode
from workflows.models import Protocol
from workflows.services.creation import workflow_create_from_protocol
from workflows.services.protocol_io import protocol_documents, protocol_export, protocol_import
from workflows.services.protocols import protocol_new_version, protocol_publish


def can_edit_definitions(request) -> bool:
    return EDIT_DEFINITIONS in user_capabilities(request.user)


def _refusal(error: ApplicationError) -> str:
    details = "; ".join(f"{field}: {' '.join(map(str, msgs))}" for field, msgs in error.fields.items())
    return f"{error.message}" + (f" ({details})" if details and details not in error.message else "")


def _change_url(protocol: Protocol) -> str:
    return reverse("admin:workflows_protocol_change", args=[protocol.pk])


def publish_many(model_admin, request, queryset) -> None:
    for protocol in queryset:
        try:
            protocol_publish(protocol=protocol, user=request.user)
            model_admin.message_user(request, f"Published {protocol}.", messages.SUCCESS)
        except ApplicationError as error:
            model_admin.message_user(request, _refusal(error), messages.ERROR)


def new_version_many(model_admin, request, queryset) -> None:
    for protocol in queryset:
        try:
            draft = protocol_new_version(protocol=protocol, user=request.user)
            model_admin.message_user(request, f"Created draft {draft} from {protocol}.", messages.SUCCESS)
        except ApplicationError as error:
            model_admin.message_user(request, _refusal(error), messages.ERROR)


def export_response(protocols) -> HttpResponse:
    """One document for one protocol, a JSON list for several, as a download."""
    documents = [protocol_export(protocol) for protocol in protocols]
    if len(documents) == 1:
        body, filename = documents[0], f"{slugify(documents[0]['name'])}-v{documents[0]['version']}.json"
    else:
        body, filename = documents, "protocols.json"
    response = HttpResponse(
        json.dumps(body, indent=2, ensure_ascii=False) + "\n", content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _post_only(model_admin, request, pk, capability) -> Protocol:
    if request.method != "POST":
        raise PermissionDenied("use the button on the protocol's page")
    if capability not in user_capabilities(request.user):
        raise PermissionDenied(f"your role does not allow this (needs {capability.replace('_', ' ')})")
    return get_object_or_404(Protocol, pk=pk)


def publish_view(model_admin):
    def view(request, pk):
        protocol = _post_only(model_admin, request, pk, EDIT_DEFINITIONS)
        publish_many(model_admin, request, [protocol])
        return HttpResponseRedirect(_change_url(protocol))

    return view


def new_version_view(model_admin):
    def view(request, pk):
        protocol = _post_only(model_admin, request, pk, EDIT_DEFINITIONS)
        try:
            draft = protocol_new_version(protocol=protocol, user=request.user)
        except ApplicationError as error:
            model_admin.message_user(request, _refusal(error), messages.ERROR)
            return HttpResponseRedirect(_change_url(protocol))
        model_admin.message_user(request, f"Created draft {draft}: edit it, then publish it.", messages.SUCCESS)
        return HttpResponseRedirect(_change_url(draft))

    return view


def export_view(model_admin):
    def view(request, pk):
        if not model_admin.has_view_permission(request):
            raise PermissionDenied
        return export_response([get_object_or_404(Protocol, pk=pk)])

    return view


class ImportForm(forms.Form):
    file = forms.FileField(help_text="A JSON document made by Export (or export_protocol): one protocol or a list.")
    project = forms.CharField(required=False, help_text="File it under this project instead of the document's.")


def import_view(model_admin):
    def view(request):
        if not can_edit_definitions(request):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                data = json.loads(form.cleaned_data["file"].read().decode("utf-8"))
                with transaction.atomic():
                    protocols = [
                        protocol_import(document=document, project_name=form.cleaned_data["project"] or None)
                        for document in protocol_documents(data)
                    ]
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                form.add_error("file", f"not a JSON file: {error}")
            except ApplicationError as error:
                form.add_error("file", _refusal(error))
            else:
                names = ", ".join(str(protocol) for protocol in protocols)
                model_admin.message_user(request, f"Imported {names}.", messages.SUCCESS)
                return HttpResponseRedirect(_change_url(protocols[0]))
        context = {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "title": "Import protocols from JSON",
            "form": form,
        }
        return TemplateResponse(request, "admin/workflows/protocol/import.html", context)

    return view


class RunForm(forms.Form):
    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"size": 60}))
    samples = forms.ModelMultipleChoiceField(
        queryset=Sample.objects.order_by("barcode"),
        widget=FilteredSelectMultiple("samples", is_stacked=False),
        required=False,
    )
    priority = forms.ChoiceField(choices=[(p.label, p.label) for p in Priority], initial="normal")
    mode = forms.ChoiceField(choices=WorkflowMode.choices, initial=WorkflowMode.AUTO)


def run_view(model_admin):
    def view(request, pk):
        if RUN_WORKFLOWS not in user_capabilities(request.user):
            raise PermissionDenied("your role does not allow running workflows")
        protocol = get_object_or_404(Protocol.objects.select_related("project"), pk=pk)
        form = RunForm(request.POST or None, initial={"name": f"{protocol.name} v{protocol.version}"})
        if request.method == "POST" and form.is_valid():
            try:
                workflow = workflow_create_from_protocol(
                    name=form.cleaned_data["name"],
                    protocol=protocol,
                    samples=list(form.cleaned_data["samples"]),
                    priority=Priority.from_name(form.cleaned_data["priority"]),
                    mode=form.cleaned_data["mode"],
                    user=request.user,
                )
            except ApplicationError as error:
                form.add_error(None, _refusal(error))
            else:
                model_admin.message_user(
                    request,
                    f"Created workflow {workflow} with {workflow.run_steps.count()} run-steps; start it when ready.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:workflows_workflow_change", args=[workflow.pk]))
        context = {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "original": protocol,
            "title": f"Run {protocol}",
            "form": form,
            "media": model_admin.media + form.media,
        }
        return TemplateResponse(request, "admin/workflows/protocol/run.html", context)

    return view
