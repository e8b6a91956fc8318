from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from labcore.api.root import ApiRootView, api_not_found
from labcore.health import health

api_patterns = [
    path("schema/", SpectacularAPIView.as_view(permission_classes=[], authentication_classes=[]), name="schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[], authentication_classes=[]),
        name="docs",
    ),
    path("", include("devices.api.urls")),
    path("", include("samples.api.urls")),
    path("", include("workflows.api.urls")),
    path("", include("executionlogs.api.urls")),
    path("", ApiRootView.as_view(), name="api-root"),
    re_path(r"^(?P<unmatched>.*)$", api_not_found),  # last: no HTML page under /api/
]

urlpatterns = [
    re_path(r"^health/?$", health, name="health"),  # with or without a slash, like the API
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
]

admin.site.site_header = "LabCore"
admin.site.site_title = "LabCore admin"
admin.site.index_title = "Lab orchestration"

handler404 = "labcore.api.handlers.not_found"
handler500 = "labcore.api.handlers.server_error"
