"""Read-only endpoints of the forensic record. Nothing here writes: the log is append-only."""

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, viewsets
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer

from executionlogs.api.filters import CellAnalysisResultFilter, DeviceExecutionLogFilter, ExecutionLogFilter
from executionlogs.api.pagination import keyset_pagination
from executionlogs.api.serializers import (
    CellAnalysisResultSerializer,
    ExecutionLogSerializer,
    ExportQuerySerializer,
    SearchRangeSerializer,
)
from executionlogs.export import export_csv, export_ndjson
from executionlogs.models import ExecutionLog
from executionlogs.selectors import (
    cell_analysis_result_list,
    execution_log_list,
    execution_logs_in_range,
    execution_logs_of_device,
)


class ReadOnlyEndpoint:
    """Reads only: an authenticated write is 405 Method Not Allowed, never a 403."""

    required_capabilities: dict = {}  # every action here is a read: the ``read`` capability

    def check_permissions(self, request):
        method = request.method.lower()
        supported = method in self.http_method_names and hasattr(self, method)
        if not supported and request.user and request.user.is_authenticated:
            raise MethodNotAllowed(request.method)
        super().check_permissions(request)


class ExecutionLogListView(ReadOnlyEndpoint, generics.ListAPIView):
    """Every entry, oldest first by ``started_at`` then id, in cursor pages (at most 500)."""

    serializer_class = ExecutionLogSerializer
    filterset_class = ExecutionLogFilter
    pagination_class = keyset_pagination("started_at", "id")

    def get_queryset(self):
        return execution_log_list()


class ExecutionLogSearchView(ExecutionLogListView):
    """Entries whose ``started_at`` is in ``[start, end)``, in cursor pages."""

    @extend_schema(operation_id="execution_logs_search", parameters=[SearchRangeSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ExecutionLog.objects.none()
        params = SearchRangeSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return execution_logs_in_range(execution_log_list(), **params.validated_data)


class DeviceExecutionLogListView(ExecutionLogListView):
    """The entries of one device (404 for an unknown device), in cursor pages."""

    filterset_class = DeviceExecutionLogFilter

    @extend_schema(
        operation_id="execution_logs_of_device",
        parameters=[OpenApiParameter("device_id", str, OpenApiParameter.PATH, description="Device id (slug).")],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ExecutionLog.objects.none()
        return execution_logs_of_device(self.kwargs["device_id"])


class ErrorsAsJson(BaseContentNegotiation):
    """The export picks its format from ``?format=`` itself; anything else it says is JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return JSONRenderer(), JSONRenderer.media_type


EXPORT_MEDIA_TYPES = {"ndjson": "application/x-ndjson", "csv": "text/csv"}
FILTER_PARAMETERS = [
    OpenApiParameter("workflow", int, description="Workflow id."),
    OpenApiParameter("device", str, description="Device id (slug)."),
    OpenApiParameter("status", str, enum=["success", "error", "timeout", "unknown"]),
    OpenApiParameter("action_type", str, description="ActionType name."),
]


class ExecutionLogExportView(ReadOnlyEndpoint, generics.GenericAPIView):
    """Every matching entry, streamed as NDJSON or CSV from a server-side cursor."""

    filterset_class = ExecutionLogFilter
    pagination_class = None
    renderer_classes = [JSONRenderer]
    content_negotiation_class = ErrorsAsJson

    def get_queryset(self):
        return execution_log_list()

    @extend_schema(
        operation_id="execution_logs_export",
        parameters=[*FILTER_PARAMETERS, ExportQuerySerializer],
        responses={
            (200, EXPORT_MEDIA_TYPES["ndjson"]): OpenApiResponse(
                OpenApiTypes.STR, description="One JSON object per line (format=ndjson, the default)."
            ),
            (200, EXPORT_MEDIA_TYPES["csv"]): OpenApiResponse(
                OpenApiTypes.STR, description="A header line, then one line per entry (format=csv)."
            ),
        },
    )
    def get(self, request, *args, **kwargs):
        params = ExportQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        export_format = params.validated_data["format"]
        queryset = execution_logs_in_range(
            self.filter_queryset(self.get_queryset()),
            start=params.validated_data.get("start"),
            end=params.validated_data.get("end"),
        )
        body = export_ndjson(queryset) if export_format == "ndjson" else export_csv(queryset)
        response = StreamingHttpResponse(body, content_type=EXPORT_MEDIA_TYPES[export_format])
        response["Content-Disposition"] = f'attachment; filename="execution-logs.{export_format}"'
        return response


class CellAnalysisResultViewSet(ReadOnlyEndpoint, viewsets.ReadOnlyModelViewSet):
    """Cell count, confluence and viability per sample, newest first, in cursor pages."""

    serializer_class = CellAnalysisResultSerializer
    filterset_class = CellAnalysisResultFilter
    pagination_class = keyset_pagination("-measured_at", "-id")
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return cell_analysis_result_list()
