"""The protocol editor's own pages and actions: publish, new version, export, import, run.

Each is a thin view over a service; a service's refusal (draft cannot be run, frozen version,
bad document) becomes an admin error message, never a 500.
"""

import json

from django import forms
from django.contrib import messages
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
from samples.models import Plate, Sample
from samples.selectors import samples_by_plate
from workflows.choices import WorkflowMode
from workflows.models import Protocol
from workflows.services.campaigns import well_order
from workflows.services.creation import workflow_create_from_protocol
from workflows.services.execution import workflow_start
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


MAX_PICKER_SAMPLES = 2000


class RunForm(forms.Form):
    """A run of a published protocol: name, samples (single wells or whole plates), priority, mode, start now."""

    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"size": 60}))
    # Both are rendered by the template's plate-grouped picker, not by these widgets.
    samples = forms.ModelMultipleChoiceField(queryset=Sample.objects.all(), required=False)
    plates = forms.ModelMultipleChoiceField(
        queryset=Plate.objects.all(), required=False, help_text="Every sample of these plates."
    )
    priority = forms.ChoiceField(choices=[(p.label, p.label) for p in Priority], initial="normal")
    mode = forms.ChoiceField(choices=WorkflowMode.choices, initial=WorkflowMode.AUTO)
    start_now = forms.BooleanField(
        required=False,
        label="Start now",
        label_suffix="",
        help_text="Create and start in one step (it books its devices, or queues for them).",
    )

    def clean(self):
        cleaned = super().clean()
        chosen = {sample.pk: sample for sample in cleaned.get("samples") or []}
        plates = list(cleaned.get("plates") or [])
        if plates:
            chosen.update({sample.pk: sample for sample in Sample.objects.filter(plate__in=plates)})
        if "samples" in cleaned and "plates" in cleaned and not chosen:
            self.add_error("samples", "Pick at least one sample (or tick a plate to take all of its wells).")
        # Plate by plate, wells in plate order (A1, A2, ..., A12, B1), then samples without a plate.
        cleaned["chosen_samples"] = sorted(
            chosen.values(),
            key=lambda sample: (sample.plate_id is None, sample.plate_id or 0, well_order(sample), sample.barcode),
        )
        return cleaned


def _picker_context(request, form: RunForm) -> dict:
    search = request.GET.get("q", "").strip()[:64].replace("\x00", "")
    groups, truncated = samples_by_plate(search=search, limit=MAX_PICKER_SAMPLES)
    selected_samples = {str(value) for value in form["samples"].value() or []}
    selected_plates = {str(value) for value in form["plates"].value() or []}
    plates = [
        {
            "plate": plate,
            "samples": samples,
            "whole": plate is not None and str(plate.pk) in selected_plates,
            "picked": sum(str(sample.pk) in selected_samples for sample in samples),
        }
        for plate, samples in groups
    ]
    return {
        "picker": plates,
        "picker_truncated": truncated,
        "picker_limit": MAX_PICKER_SAMPLES,
        "picker_search": search,
        "selected_samples": selected_samples,
    }


def _create_and_maybe_start(model_admin, request, protocol: Protocol, data: dict):
    """Create through the creation service (one transaction); start after it commits, if asked.

    A refused start leaves a created run (complete, startable from its page), never a half-written one.
    """
    workflow = workflow_create_from_protocol(
        name=data["name"],
        protocol=protocol,
        samples=data["chosen_samples"],
        priority=Priority.from_name(data["priority"]),
        mode=data["mode"],
        user=request.user,
    )
    steps = workflow.run_steps.count()
    samples = len(data["chosen_samples"])
    if not data["start_now"]:
        model_admin.message_user(
            request,
            f"Created workflow {workflow} with {steps} run-steps on {samples} sample(s); start it when ready.",
            messages.SUCCESS,
        )
        return workflow
    try:
        workflow = workflow_start(workflow=workflow, user=request.user, via="admin")
    except ApplicationError as error:
        model_admin.message_user(
            request, f"Created workflow {workflow}, but it could not start: {_refusal(error)}", messages.WARNING
        )
        return workflow
    model_admin.message_user(
        request,
        f"Created and started workflow {workflow} on {samples} sample(s): it is {workflow.get_status_display()}.",
        messages.SUCCESS,
    )
    return workflow


def run_view(model_admin):
    def view(request, pk):
        if RUN_WORKFLOWS not in user_capabilities(request.user):
            raise PermissionDenied("your role does not allow running workflows")
        protocol = get_object_or_404(Protocol.objects.select_related("project"), pk=pk)
        form = RunForm(request.POST or None, initial={"name": f"{protocol.name} v{protocol.version}"})
        refusal = "" if protocol.is_published else f"Protocol {protocol} is a draft; publish it before running it."
        if not refusal and request.method == "POST" and form.is_valid():
            try:
                workflow = _create_and_maybe_start(model_admin, request, protocol, form.cleaned_data)
            except ApplicationError as error:
                refusal_to_form(form, error, {"sample_barcodes": "samples", "priority": "priority", "mode": "mode"})
            else:
                return HttpResponseRedirect(reverse("admin:workflows_workflow_change", args=[workflow.pk]))
        context = {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "original": protocol,
            "title": f"Run {protocol}",
            "form": form,
            "refusal": refusal,
            "media": model_admin.media + form.media,
            **_picker_context(request, form),
        }
        return TemplateResponse(request, "admin/workflows/protocol/run.html", context)

    return view


def refusal_to_form(form: forms.Form, error: ApplicationError, field_names: dict[str, str]) -> None:
    """A service's refusal as form errors: on the field it names when the form has it, else on top."""
    placed = False
    for field, field_messages in error.fields.items():
        if field in field_names:
            form.add_error(field_names[field], [str(message) for message in field_messages])
            placed = True
    if not placed:
        form.add_error(None, _refusal(error))
