"""Routes of the execution log. ``search`` and ``export`` come before ``{device_id}`` so they are
never taken for a device id (a device cannot usefully be named "search" or "export")."""

from django.urls import re_path

from executionlogs.api.views import (
    CellAnalysisResultViewSet,
    DeviceExecutionLogListView,
    ExecutionLogExportView,
    ExecutionLogListView,
    ExecutionLogSearchView,
)
from labcore.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("cell-analysis-results", CellAnalysisResultViewSet, basename="cell-analysis-result")

urlpatterns = [
    re_path(r"^execution-logs/?$", ExecutionLogListView.as_view(), name="execution-log-list"),
    re_path(r"^execution-logs/search/?$", ExecutionLogSearchView.as_view(), name="execution-log-search"),
    re_path(r"^execution-logs/export/?$", ExecutionLogExportView.as_view(), name="execution-log-export"),
    re_path(
        r"^execution-logs/(?P<device_id>[-a-zA-Z0-9_]+)/?$",
        DeviceExecutionLogListView.as_view(),
        name="execution-log-device",
    ),
    *router.urls,
]
