"""The device timeline in the admin: a Gantt chart per device (vis-timeline, vendored) of what
ran, runs and is planned, with zoom from an hour to a week and a click through to the run.

Two views, both staff-only through ``admin_site.admin_view``: the page, and the JSON it loads for
the window on screen (``workflows.timeline``). Registered with the campaign admin's URLs
(``timeline_urls``), next to the tabular device schedule that reads the same plan.
"""

from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from devices.models import Device
from labcore.api.exceptions import error_body
from labcore.exceptions import ApplicationError, PermissionDeniedError
from workflows.timeline import TIMELINE_MAX_ITEMS, timeline_read, timeline_window_parse

# Who may look: whoever may see runs (the bars are runs' actions and link to them).
VIEW_PERMISSION = "workflows.view_workflow"
# Stands for the workflow id in the run link handed to the page (the admin's change URL takes any path).
RUN_ID_PLACEHOLDER = "__run__"


def _error(exc: ApplicationError) -> JsonResponse:
    return JsonResponse(error_body(exc.error, exc.message, exc.fields), status=exc.status_code)


def timeline_data_view(request):
    """``GET ?from=&to=&device=``: the groups (devices) and bars overlapping the window, as JSON."""
    if not request.user.has_perm(VIEW_PERMISSION):
        return _error(PermissionDeniedError("you may not view workflows"))
    try:
        window = timeline_window_parse(request.GET)
    except ApplicationError as exc:
        return _error(exc)
    data = timeline_read(window)
    data["window"] = {"from": window.start, "to": window.end, "device": window.device}
    return JsonResponse(data)


def timeline_view(admin_site, request):
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied
    device = (request.GET.get("device") or "").strip() or None
    device_name = None
    if device is not None:
        device_name = Device.objects.filter(pk=device).values_list("name", flat=True).first()
    context = {
        **admin_site.each_context(request),
        "title": f"Device timeline: {device}" if device else "Device timeline",
        "device": device,
        "device_known": device_name is not None,
        "device_name": device_name,
        "data_url": reverse("admin:workflows_device_timeline_data"),
        "run_url": reverse("admin:workflows_workflow_change", args=[RUN_ID_PLACEHOLDER]),
        "run_placeholder": RUN_ID_PLACEHOLDER,
        "timeline_url": reverse("admin:workflows_device_timeline"),
        "schedule_url": reverse("admin:workflows_campaign_schedule"),
        "max_items": TIMELINE_MAX_ITEMS,
    }
    return TemplateResponse(request, "admin/workflows/timeline.html", context)


def timeline_urls(admin_site) -> list:
    """The page and its data, for a ModelAdmin's ``get_urls`` (staff only, like every admin view)."""
    return [
        path(
            "timeline/", admin_site.admin_view(lambda r: timeline_view(admin_site, r)), name="workflows_device_timeline"
        ),
        path("timeline/data/", admin_site.admin_view(timeline_data_view), name="workflows_device_timeline_data"),
    ]
