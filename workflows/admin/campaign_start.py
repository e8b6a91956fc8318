"""Start a campaign from the admin: a published protocol on several plates, one started run per plate.

A thin view over ``campaign_create`` (all or nothing: a refused plate or start leaves no campaign
and no run behind); its refusals (draft protocol, plate already in a campaign run, empty plate)
become form errors on the field they name, never a 500.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts.roles import RUN_WORKFLOWS, user_capabilities
from devices.choices import Priority
from labcore.exceptions import ApplicationError
from samples.models import Plate
from workflows.admin.protocol_views import refusal_to_form
from workflows.models import Protocol
from workflows.models.campaigns import CAMPAIGN_NAME_MAX_LENGTH
from workflows.selectors import plates_for_campaign
from workflows.services.campaigns import MAX_PLATES, campaign_create


class ProtocolChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, protocol):
        return f"{protocol.name} v{protocol.version}" + ("" if protocol.is_published else " (draft)")


class CampaignStartForm(forms.Form):
    protocol = ProtocolChoiceField(queryset=Protocol.objects.order_by("name", "-id"))
    name = forms.CharField(max_length=CAMPAIGN_NAME_MAX_LENGTH, widget=forms.TextInput(attrs={"size": 60}))
    # Rendered by the template's plate table (barcode, samples, whether it is in a campaign run).
    plates = forms.ModelMultipleChoiceField(queryset=Plate.objects.all(), required=False)
    priority = forms.ChoiceField(choices=[(p.label, p.label) for p in Priority], initial="normal")

    def clean_plates(self):
        plates = sorted(self.cleaned_data["plates"], key=lambda plate: plate.barcode)
        if not plates:
            raise forms.ValidationError("Pick at least one plate: each plate gets a run on its samples.")
        if len(plates) > MAX_PLATES:
            raise forms.ValidationError(f"At most {MAX_PLATES} plates in one campaign.")
        return plates


def campaign_start_view(model_admin):
    def view(request):
        if RUN_WORKFLOWS not in user_capabilities(request.user):
            raise PermissionDenied("your role does not allow running workflows")
        initial = {}
        if request.GET.get("protocol", "").isdigit():
            initial["protocol"] = int(request.GET["protocol"])
        form = CampaignStartForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                campaign = campaign_create(
                    name=data["name"],
                    protocol=data["protocol"],
                    plates=data["plates"],
                    priority=Priority.from_name(data["priority"]),
                    user=request.user,
                    via="admin",
                )
            except ApplicationError as error:
                refusal_to_form(form, error, {"name": "name", "plates": "plates", "protocol": "protocol"})
            else:
                runs = len(data["plates"])
                model_admin.message_user(
                    request, f"Started campaign {campaign.name!r}: {runs} run(s), one per plate.", messages.SUCCESS
                )
                return HttpResponseRedirect(reverse("admin:workflows_campaign_change", args=[campaign.pk]))
        picked = {str(value) for value in form["plates"].value() or []}
        context = {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "title": "Start a campaign",
            "form": form,
            "plates": plates_for_campaign(),
            "picked_plates": picked,
        }
        return TemplateResponse(request, "admin/workflows/campaign/start.html", context)

    return view
