"""Watching and steering runs in the admin: the live run page, and lifecycle actions on the list.

A run's change view is its live page: progress, the action in flight with its elapsed time,
run-steps, samples, history and window violations, refreshed by htmx from ``<pk>/live/`` every
2 s until the run is finished. Its buttons lead to a confirmation (``<pk>/control/<control>/``:
GET asks, POST acts) that calls the same services, with the same role, as the API. A state that
forbids the control becomes an admin message, never a 500; the list's admin actions do the same
for many runs at once.
"""

import contextlib
from dataclasses import dataclass

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django_htmx.http import HttpResponseStopPolling

from accounts.roles import CONTROL_WORKFLOWS, RUN_WORKFLOWS, user_capabilities
from labcore.durations import duration_display
from labcore.exceptions import ApplicationError
from labcore.templatetags.labcore_format import instant
from workflows.admin.signing import report_view, sign_view
from workflows.choices import RunStepStatus
from workflows.models import RunStep, Workflow
from workflows.run_page import CANCEL, CONTROLS, PAUSE, RESOLVE_DECISIONS, RESUME, START, RunPage, run_page
from workflows.selectors import Progress, run_steps_for_counts, workflow_progress
from workflows.services.execution import workflow_cancel, workflow_pause, workflow_resume, workflow_start
from workflows.services.recovery import workflow_resolve

# The capability each control needs: the API's (workflows/api/lifecycle.py), so a role can do
# on the page exactly what it can do through the API.
CONTROL_CAPABILITY = {START: RUN_WORKFLOWS, **{control: CONTROL_WORKFLOWS for control in CONTROLS if control != START}}
CONTROL_SERVICE = {START: workflow_start, PAUSE: workflow_pause, RESUME: workflow_resume, CANCEL: workflow_cancel}
# What each button says, what its confirmation asks, and what is reported once it is done.
CONTROL_TEXT = {
    START: ("Start", "Start this run? It books its devices now, or waits in their queues.", "started"),
    PAUSE: ("Pause", "Pause this run? The action in flight finishes; no next action starts.", "paused"),
    RESUME: ("Resume", "Resume this run where it stopped?", "resumed"),
    CANCEL: (
        "Cancel run",
        "Cancel this run? Steps not run are skipped and its devices are freed; an action in flight "
        'finishes first (the run shows "cancelling" until it is recorded). This cannot be undone.',
        "cancelled",
    ),
    "retry": ("Retry step", "Dispatch step {step} again when the run resumes?", "resolved (retry); resume to go on"),
    "mark_succeeded": (
        "Mark step succeeded",
        "Record step {step} as succeeded (the device did it) and go on after it when the run resumes?",
        "resolved (marked succeeded); resume to go on",
    ),
    "mark_failed": (
        "Mark step failed",
        "Record step {step} as failed? The run fails and its devices are freed. This cannot be undone.",
        "resolved (marked failed)",
    ),
}
POLL_SECONDS = 2


def progress_text(progress: Progress) -> str:
    """``3/14 done, 1 failed``: how the admin pages show a progress."""
    parts = [f"{progress.succeeded}/{progress.total} done"]
    parts += [
        f"{count} {label}"
        for label, count in (("skipped", progress.skipped), ("failed", progress.failed), ("unknown", progress.unknown))
        if count
    ]
    return ", ".join(parts)


def run_page_buttons(request, run: RunPage) -> list[dict]:
    """The run's controls that its state allows and the user's role grants, as buttons to a confirmation."""
    capabilities = user_capabilities(request.user)
    buttons = []
    for control in run.controls:
        if CONTROL_CAPABILITY[control] not in capabilities:
            continue
        url = reverse("admin:workflows_workflow_control", args=[run.workflow.pk, control])
        if control in RESOLVE_DECISIONS:
            url += f"?step={run.decision_step.position}"
        buttons.append({"control": control, "label": CONTROL_TEXT[control][0], "url": url})
    return buttons


@dataclass(frozen=True)
class Clock:
    """An instant in a run-step row: to the second, without its date on the run's own day (``full`` has it)."""

    short: str
    full: str


def _clock(at, day: str) -> Clock | None:
    if at is None:
        return None
    full = instant(at)
    return Clock(full[11:] if full[:10] == day else full, full)


@dataclass(frozen=True)
class StepRow:
    step: RunStep
    started: Clock | None
    finished: Clock | None
    due: Clock | None
    duration: str  # "1 min 23 s"; "12.3 s so far" while in flight; "" before it starts


def run_step_rows(run: RunPage, day: str) -> list[StepRow]:
    """The run-step table's times, formatted once here (a template tag per cell costs ~1 ms a row)."""
    now = timezone.now()
    rows = []
    for step in run.steps:
        if step.started_at and step.finished_at:
            duration = duration_display((step.finished_at - step.started_at).total_seconds())
        elif step is run.in_flight and step.dispatched_at:
            duration = duration_display((now - step.dispatched_at).total_seconds()) + " so far"
        else:
            duration = ""
        due = step.unit.due_at if step.unit_id else None
        rows.append(
            StepRow(
                step,
                _clock(step.started_at or step.dispatched_at, day),
                _clock(step.finished_at, day),
                _clock(due, day),
                duration,
            )
        )
    return rows


def run_page_context(request, run: RunPage) -> dict:
    day = instant(run.workflow.started_at or run.workflow.created_at)[:10]
    return {
        "run": run,
        "day": day,
        "step_rows": run_step_rows(run, day),
        "progress_text": progress_text(run.progress),
        "buttons": run_page_buttons(request, run),
        "live_url": reverse("admin:workflows_workflow_live", args=[run.workflow.pk]),
        "poll_seconds": POLL_SECONDS,
    }


def live_view(model_admin):
    """``<pk>/live/``: the live part of the run page, which the page polls (htmx) while the run lives.

    Once the run is finished (and nothing is in flight) an htmx request is answered with 286,
    htmx's "stop polling", and the fragment it swaps in no longer polls either.
    """

    def view(request, pk):
        if not model_admin.has_view_permission(request):
            raise PermissionDenied
        run = run_page(pk)
        html = render_to_string("admin/workflows/workflow/run_live.html", run_page_context(request, run), request)
        return HttpResponseStopPolling(html) if request.htmx and not run.live else HttpResponse(html)

    return view


def _decision_step(request, run: RunPage) -> int:
    """The step a resolve decision is about: the one the page showed (``step``), else the first unknown one."""
    given = request.POST.get("step") or request.GET.get("step")
    if given is not None:
        try:
            return int(given)
        except ValueError:
            raise ApplicationError(
                f"step must be a step number, not {given!r}", fields={"step": ["not a number"]}
            ) from None
    if run.decision_step is None:
        raise ApplicationError("no step has an unknown outcome: there is nothing to resolve")
    return run.decision_step.position


def control_view(model_admin):
    """``<pk>/control/<control>/``: GET asks to confirm, POST (with CSRF) calls the service.

    Permission is the API's capability for that control (403 otherwise); a refusal by the
    service (the run moved on meanwhile, say) is an error message on the run page.
    """

    def view(request, pk, control):
        if control not in CONTROLS:
            raise Http404(f"no control {control!r}")
        if not model_admin.has_view_permission(request):
            raise PermissionDenied
        if CONTROL_CAPABILITY[control] not in user_capabilities(request.user):
            needed = CONTROL_CAPABILITY[control].replace("_", " ")
            raise PermissionDenied(f"your role does not allow this (needs {needed})")
        run = run_page(pk)
        workflow = run.workflow
        change_url = reverse("admin:workflows_workflow_change", args=[workflow.pk])
        label, question, done = CONTROL_TEXT[control]
        try:
            step = _decision_step(request, run) if control in RESOLVE_DECISIONS else None
            if request.method == "POST":
                if control in RESOLVE_DECISIONS:
                    workflow_resolve(workflow=workflow, step=step, decision=control, user=request.user)
                else:
                    CONTROL_SERVICE[control](workflow=workflow, user=request.user)
        except ApplicationError as error:
            model_admin.message_user(request, f"{workflow}: {error.message}", messages.ERROR)
            return HttpResponseRedirect(change_url)
        if request.method == "POST":
            subject = f"Step {step} of {workflow}" if step is not None else str(workflow)
            model_admin.message_user(request, f"{subject} {done}.", messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        if control not in run.controls:
            # Offered before the run moved on: say so rather than ask about a control that would fail.
            state = run.state_label.lower()
            model_admin.message_user(
                request, f"{workflow} is {state}: {label.lower()} is not possible now.", messages.WARNING
            )
            return HttpResponseRedirect(change_url)
        context = {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "original": workflow,
            "change_url": change_url,
            "control": control,
            "label": label,
            "question": question.format(step=step),
            "step": step,
            "run": run,
            "title": f"{label}: {workflow}",
        }
        return TemplateResponse(request, "admin/workflows/workflow/control_confirm.html", context)

    return view


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
    # A run is a record: nothing of it is edited here once created (its run-steps, bookings and
    # queue entries were made from these values). It changes only through the run page's
    # controls and the list's actions, which call the same services as the API. Its status,
    # progress, run-steps, samples and history are the live part of the page (run_live.html).
    record_fields = ["name", "protocol", "campaign", "mode", "priority", "device", "created_by", "created"]
    fieldsets = [("Run record", {"fields": record_fields})]
    readonly_fields = record_fields
    actions = ["start", "pause", "resume", "cancel", "resolve_retry", "resolve_mark_succeeded", "resolve_mark_failed"]

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/report/", view(report_view(self)), name="workflows_workflow_report"),
            path("<int:pk>/live/", view(live_view(self)), name="workflows_workflow_live"),
            path("<int:pk>/control/<str:control>/", view(control_view(self)), name="workflows_workflow_control"),
            path(
                "<int:pk>/sign/",
                view(sign_view(self, kind="workflow", capability=RUN_WORKFLOWS)),
                name="workflows_workflow_sign",
            ),
            *super().get_urls(),
        ]

    def get_queryset(self, request):
        # Progress from one prefetch for the whole page (invariant 8), not one query per row.
        return super().get_queryset(request).prefetch_related(run_steps_for_counts())

    def has_add_permission(self, request):
        # A run is created with its plan and samples by the creation service (API, run_workflow,
        # a protocol's "Run" button, campaigns); an empty one made here would be meaningless.
        return False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        read_only = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}
        extra = {**(extra_context or {}), **read_only, "title": "Run"}
        if object_id is not None and str(object_id).isdigit():
            # The live part of the page (an unknown id is the admin's "does not exist" redirect).
            with contextlib.suppress(Http404):
                extra.update(run_page_context(request, run_page(int(object_id))))
        return super().changeform_view(request, object_id, form_url, extra)

    @admin.display(description="created at")
    def created(self, workflow):
        return instant(workflow.created_at)

    def save_model(self, request, obj, form, change):
        """Nothing to save: every field is read-only (a forged POST changes nothing)."""

    @admin.display(description="progress")
    def progress(self, workflow):
        return progress_text(workflow_progress(workflow))

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
