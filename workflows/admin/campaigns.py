"""Campaigns in the admin: each with its runs (plate, status, progress) and its summary.

Campaigns are created by ``POST /api/campaigns`` or ``manage.py run_campaign`` (both call
``campaign_create``); the admin shows them and steers their runs from the workflow pages.
"""

from datetime import timedelta
from itertools import groupby

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from workflows.admin.campaign_start import campaign_start_view
from workflows.admin.runs import progress_text
from workflows.admin.timeline import timeline_urls
from workflows.growth_charts import campaign_growth_charts
from workflows.models import Campaign, Workflow
from workflows.schedule import schedule_read
from workflows.selectors import (
    campaign_list,
    campaign_summary,
    run_steps_for_progress,
    workflow_plate_barcode,
    workflow_progress,
)


class CampaignRunInline(admin.TabularInline):
    model = Workflow
    fk_name = "campaign"
    extra = 0
    can_delete = False
    verbose_name = "run"
    verbose_name_plural = "runs (one per plate)"
    fields = ["run", "plate", "status", "status_reason", "progress", "started_at", "finished_at"]
    readonly_fields = fields
    ordering = ["id"]

    def get_queryset(self, request):
        return (
            super().get_queryset(request).prefetch_related(run_steps_for_progress(), "workflow_samples__sample__plate")
        )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="run")
    def run(self, workflow):
        url = reverse("admin:workflows_workflow_change", args=[workflow.pk])
        return format_html('<a href="{}">{}</a>', url, workflow.name)

    @admin.display(description="plate")
    def plate(self, workflow):
        return workflow_plate_barcode(workflow) or "-"

    @admin.display(description="progress")
    def progress(self, workflow):
        return progress_text(workflow_progress(workflow))


def _by_status(campaign) -> str:
    counts = campaign_summary(campaign).by_status
    return ", ".join(f"{count} {status}" for status, count in counts.items() if count) or "-"


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "protocol", "priority", "runs", "plates_done", "violations", "progress", "created_at"]
    search_fields = ["name"]
    inlines = [CampaignRunInline]
    fields = [
        "name",
        "protocol",
        "priority",
        "created_by",
        "created_at",
        "runs",
        "plates_done",
        "violations",
        "progress",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        # Summaries from one prefetch and one subquery for the whole page, not per row.
        return campaign_list()

    def has_add_permission(self, request):
        return False  # created through campaign_create (API, run_campaign), which also starts the runs

    def get_urls(self):
        schedule = self.admin_site.admin_view(self.schedule_view)
        start = self.admin_site.admin_view(campaign_start_view(self))
        return [
            path("schedule/", schedule, name="workflows_campaign_schedule"),
            path("start/", start, name="workflows_campaign_start"),
            *timeline_urls(self.admin_site),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "schedule_url": reverse("admin:workflows_campaign_schedule"),
            "start_url": reverse("admin:workflows_campaign_start"),
        }
        return super().changelist_view(request, extra_context=extra_context)

    def schedule_view(self, request):
        """Per device, what ran in the last 12 h, what runs, and what the scheduler plans for the next 48 h."""
        now = timezone.now()
        slots = schedule_read(start=now - timedelta(hours=12), end=now + timedelta(hours=48))
        names = dict(Workflow.objects.filter(pk__in={slot.workflow for slot in slots}).values_list("pk", "name"))
        devices = [
            {"device": device, "slots": [{"slot": slot, "run": names.get(slot.workflow, "")} for slot in group]}
            for device, group in groupby(slots, key=lambda slot: slot.device)
        ]
        context = {**self.admin_site.each_context(request), "title": "Device schedule", "devices": devices, "now": now}
        return TemplateResponse(request, "admin/workflows/schedule.html", context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # The change view's growth chart: every plate's curve, fit, forecast and the threshold.
        if obj is not None and obj.pk:
            context["growth"] = campaign_growth_charts(obj)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    @admin.display(description="runs by status")
    def runs(self, campaign):
        return _by_status(campaign)

    @admin.display(description="plates done")
    def plates_done(self, campaign):
        summary = campaign_summary(campaign)
        return f"{summary.plates_done}/{summary.workflows}"

    @admin.display(description="window violations")
    def violations(self, campaign):
        return campaign_summary(campaign).window_violations

    @admin.display(description="progress")
    def progress(self, campaign):
        return progress_text(campaign_summary(campaign).progress)
