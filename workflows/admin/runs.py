"""Watching and steering runs in the admin: status, progress, current action, run-steps, reason.

The admin actions call the same services as the API (pause, resume, cancel, resolve); a state
that forbids the action is reported as a message per workflow, never a 500.
"""

from django.contrib import admin, messages
from django.urls import path
from django.utils.html import format_html

from accounts.roles import RUN_WORKFLOWS
from labcore.durations import duration_display
from labcore.exceptions import ApplicationError
from workflows.admin.signing import report_view, sign_view
from workflows.choices import RunStepStatus
from workflows.models import RunStep, Workflow, WorkflowEvent
from workflows.selectors import Progress, run_steps_for_progress, workflow_progress
from workflows.services.execution import workflow_cancel, workflow_pause, workflow_resume, workflow_start
from workflows.services.recovery import workflow_resolve


def progress_text(progress: Progress) -> str:
    """``3/14 done, 1 failed``: how the admin pages show a progress."""
    parts = [f"{progress.succeeded}/{progress.total} done"]
    parts += [
        f"{count} {label}"
        for label, count in (("skipped", progress.skipped), ("failed", progress.failed), ("unknown", progress.unknown))
        if count
    ]
    return ", ".join(parts)


class RunStepInline(admin.TabularInline):
    model = RunStep
    extra = 0
    can_delete = False
    fields = [
        "position",
        "step_name",
        "action_type",
        "device",
        "status",
        "attempt",
        "dispatched_at",
        "started_at",
        "finished_at",
        "duration",
        "error",
        "resolution",
        "due",
        "window",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("action_type", "device", "unit")

    @admin.display(description="due")
    def due(self, run_step):
        return run_step.unit.due_at if run_step.unit_id and run_step.unit.due_at else "-"

    @admin.display(description="window")
    def window(self, run_step):
        """A start past the step's window, in red: the scientist's first question about a late plate."""
        if not run_step.unit_id or run_step.unit.window_seconds is None:
            return "-"
        late = run_step.unit.window_missed_seconds
        if late is None:
            return "on time" if run_step.unit.started_at else "open"
        return format_html('<strong style="color:#ba2121">missed by {} s</strong>', f"{late:.1f}")

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="duration")
    def duration(self, run_step):
        if run_step.started_at and run_step.finished_at:
            return duration_display((run_step.finished_at - run_step.started_at).total_seconds())
        return "-"


class WorkflowEventInline(admin.TabularInline):
    """The run's history, read-only: every status change with who, when and why."""

    model = WorkflowEvent
    extra = 0
    can_delete = False
    verbose_name = "event"
    verbose_name_plural = "history (every status change)"
    fields = ["at", "step", "from_status", "to_status", "by", "reason"]
    readonly_fields = fields
    ordering = ["id"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("run_step")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="step")
    def step(self, event):
        return event.run_step.position if event.run_step_id else "run"


def _apply(modeladmin, request, queryset, service, verb: str, **kwargs):
    done = 0
    for workflow in queryset:
        try:
            service(workflow=workflow, user=request.user, **kwargs)
            done += 1
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{workflow}: {exc.message}", messages.WARNING)
    if done:
        modeladmin.message_user(request, f"{done} workflow(s) {verb}.", messages.SUCCESS)


def _resolve(modeladmin, request, queryset, decision: str):
    done = 0
    for workflow in queryset:
        step = workflow.run_steps.filter(status=RunStepStatus.UNKNOWN).order_by("position").first()
        if step is None:
            modeladmin.message_user(request, f"{workflow}: no step with an unknown outcome", messages.WARNING)
            continue
        try:
            workflow_resolve(workflow=workflow, step=step.position, decision=decision, user=request.user)
            done += 1
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{workflow}: {exc.message}", messages.WARNING)
    if done:
        modeladmin.message_user(request, f"{done} step(s) resolved ({decision}); resume to go on.", messages.SUCCESS)


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "protocol", "mode", "status", "progress", "priority", "started_at", "finished_at"]
    list_select_related = ["protocol"]
    list_filter = ["status", "mode"]
    search_fields = ["name"]
    inlines = [RunStepInline, WorkflowEventInline]
    # A run is a record: nothing of it is edited here once created (its run-steps, bookings and
    # queue entries were made from these values). It changes only through the actions below,
    # which call the same services as the API.
    fields = [
        "name",
        "protocol",
        "campaign",
        "mode",
        "priority",
        "device",
        "created_by",
        "created_at",
        "status",
        "status_reason",
        "progress",
        "current_action",
        "started_at",
        "finished_at",
    ]
    readonly_fields = fields
    actions = ["start", "pause", "resume", "cancel", "resolve_retry", "resolve_mark_succeeded", "resolve_mark_failed"]

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/report/", view(report_view(self)), name="workflows_workflow_report"),
            path(
                "<int:pk>/sign/",
                view(sign_view(self, kind="workflow", capability=RUN_WORKFLOWS)),
                name="workflows_workflow_sign",
            ),
            *super().get_urls(),
        ]

    def get_queryset(self, request):
        # Progress from one prefetch for the whole page (invariant 8), not one query per row.
        return super().get_queryset(request).prefetch_related(run_steps_for_progress())

    def has_add_permission(self, request):
        # A run is created with its plan and samples by the creation service (API, run_workflow,
        # a protocol's "Run" button, campaigns); an empty one made here would be meaningless.
        return False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        read_only = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}
        return super().changeform_view(request, object_id, form_url, {**(extra_context or {}), **read_only})

    def save_model(self, request, obj, form, change):
        """Nothing to save: every field is read-only (a forged POST changes nothing)."""

    @admin.display(description="progress")
    def progress(self, workflow):
        return progress_text(workflow_progress(workflow))

    @admin.display(description="current action")
    def current_action(self, workflow):
        current = workflow_progress(workflow).current
        if current is None:
            return "-"
        return f"step {current.position}: {current.action_type.name} on {current.device_id} ({current.status})"

    @admin.action(description="Start (books its devices, or queues it)", permissions=["change"])
    def start(self, request, queryset):
        _apply(self, request, queryset, workflow_start, "started")

    @admin.action(description="Pause (at the next action boundary)", permissions=["change"])
    def pause(self, request, queryset):
        _apply(self, request, queryset, workflow_pause, "paused")

    @admin.action(description="Resume", permissions=["change"])
    def resume(self, request, queryset):
        _apply(self, request, queryset, workflow_resume, "resumed")

    @admin.action(description="Cancel (frees its devices)", permissions=["change"])
    def cancel(self, request, queryset):
        _apply(self, request, queryset, workflow_cancel, "cancelled")

    @admin.action(description="Resolve unknown step: dispatch it again", permissions=["change"])
    def resolve_retry(self, request, queryset):
        _resolve(self, request, queryset, "retry")

    @admin.action(description="Resolve unknown step: it succeeded", permissions=["change"])
    def resolve_mark_succeeded(self, request, queryset):
        _resolve(self, request, queryset, "mark_succeeded")

    @admin.action(description="Resolve unknown step: it failed", permissions=["change"])
    def resolve_mark_failed(self, request, queryset):
        _resolve(self, request, queryset, "mark_failed")
