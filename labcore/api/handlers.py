"""JSON answers for errors Django raises before any API view runs (unmatched URLs, crashes)."""

from django.http import JsonResponse
from django.views import defaults

from labcore.api.exceptions import error_body


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body("not_found", f"No API resource at {request.path}."), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse(error_body("server_error", "Internal server error; it has been logged."), status=500)
    return defaults.server_error(request)
