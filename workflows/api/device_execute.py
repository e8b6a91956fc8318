"""``POST /api/devices/{id}/execute``: one operation on a device through its adapter, logged.

The path is a device's, but the operation runs as part of a workflow (its log entry names the
run, the holder check reads workflow state), so the view lives here, where the dependency points
down to devices, and workflows' URLconf routes it at ``devices/{id}/execute`` next to the
DeviceViewSet of devices (which knows nothing of workflows). The rules are in
workflows.services.operations.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.roles import OPERATE_DEVICES
from devices.api.filters import DeviceFilter
from devices.selectors import device_list
from workflows.services.operations import device_operation_execute


class DeviceExecuteSerializer(serializers.Serializer):
    operation = serializers.CharField(max_length=100, help_text="An action type of the device's kind.")
    parameters = serializers.DictField(required=False, default=dict, help_text="Checked against its schema.")
    workflow_id = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**63 - 1,
        help_text="The workflow holding the device; omit for a free device.",
    )  # fmt: skip


class DeviceExecuteResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["success", "error", "timeout", "unknown"])
    response = serializers.JSONField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    latency_ms = serializers.FloatField()
    execution_log_id = serializers.IntegerField()


class DeviceExecuteViewSet(viewsets.GenericViewSet):
    """``execute`` on a device; looked up like DeviceViewSet (same queryset, slug and filters)."""

    required_capabilities: dict = {}
    filterset_class = DeviceFilter
    lookup_value_regex = "[-a-zA-Z0-9_]+"

    def get_queryset(self):
        return device_list()

    @extend_schema(request=DeviceExecuteSerializer, responses=DeviceExecuteResultSerializer)
    @action(detail=True, methods=["post"], required_capabilities={"execute": OPERATE_DEVICES})
    def execute(self, request, pk=None):
        """Run one operation now (409 if another workflow holds the device); the outcome is logged."""
        payload = DeviceExecuteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        outcome = device_operation_execute(device=self.get_object(), user=request.user, **payload.validated_data)
        return Response(
            {
                "status": outcome.status,
                "response": outcome.response,
                "error": outcome.error,
                "latency_ms": outcome.latency_ms,
                "execution_log_id": outcome.execution_log.pk,
            }
        )
