"""``GET /api/``: the API's front page, a JSON index of its resources, and the JSON 404 for the rest of /api/."""

from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from labcore.api.handlers import not_found

# (name, path under /api/): the collections a client starts from.
RESOURCES = (
    ("devices", "devices/"),
    ("action-types", "action-types/"),
    ("bookings", "bookings/"),
    ("plates", "plates/"),
    ("samples", "samples/"),
    ("projects", "projects/"),
    ("protocols", "protocols/"),
    ("workflows", "workflows/"),
    ("campaigns", "campaigns/"),
    ("schedule", "schedule/"),
    ("execution-logs", "execution-logs/"),
    ("cell-analysis-results", "cell-analysis-results/"),
)


class ApiRootView(APIView):
    """Where to start: each resource's URL, the OpenAPI schema and its interactive docs."""

    @extend_schema(exclude=True)
    def get(self, request):
        base = request.build_absolute_uri("/api/")
        return Response(
            {
                "name": "LabCore API",
                "schema": reverse("schema", request=request),
                "docs": reverse("docs", request=request),
                "resources": {name: base + path for name, path in RESOURCES},
            }
        )


@csrf_exempt  # a 404 changes nothing; without this a POST with a session cookie got an HTML 403
def api_not_found(request, unmatched=None):
    """Any other /api/ path: a JSON 404 in every setting (Django's handler404 only runs with DEBUG off)."""
    return not_found(request)
