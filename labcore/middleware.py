"""Request guards that apply to every URL, the API's and the admin's alike."""

from django.http import HttpResponseBadRequest, JsonResponse

from labcore.api.exceptions import error_body

NUL = "\x00"


class RejectNullCharactersMiddleware:
    """A 400 for a NUL character anywhere in the path or the query string.

    PostgreSQL text cannot hold U+0000, so a NUL that reaches a lookup (``/api/samples/%00``,
    ``/admin/devices/device/%00/change/``, ``?device__id__exact=%00``) is a DataError, a 500.
    Serializers and forms already refuse it in bodies; URLs reach querysets through routers,
    admin views and filters that do not, so they are refused here, once, before any view runs.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        offending = self._offending_part(request)
        if offending is not None:
            message = f"{offending} must not contain the NUL character."
            if request.path_info.startswith("/api/"):
                return JsonResponse(error_body("invalid", message, {offending: [message]}), status=400)
            return HttpResponseBadRequest(message)
        return self.get_response(request)

    @staticmethod
    def _offending_part(request) -> str | None:
        if NUL in request.path_info:
            return "path"
        for name, values in request.GET.lists():
            if NUL in name or any(NUL in value for value in values):
                return name.replace(NUL, "\\x00")
        return None
