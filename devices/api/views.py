from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response

from accounts.roles import OPERATE_DEVICES
from devices.api.booking_views import BOOKING_CAPABILITIES, DeviceBookingActionsMixin
from devices.api.filters import DeviceFilter
from devices.api.serializers import DeviceSerializer, DeviceWriteSerializer
from devices.inventory import device_create, device_update
from devices.selectors import device_list
from labcore.api.pagination import cursor_pagination


class DeviceViewSet(DeviceBookingActionsMixin, viewsets.ReadOnlyModelViewSet):
    """Instruments of the lab; ``{id}`` is the device's slug (``liquid-handler-1``)."""

    # POST devices/{id}/execute runs as part of a workflow: workflows.api.device_execute serves
    # it at the same path (devices does not import workflows).

    required_capabilities = {**BOOKING_CAPABILITIES, "create": OPERATE_DEVICES, "partial_update": OPERATE_DEVICES}
    serializer_class = DeviceSerializer
    filterset_class = DeviceFilter
    pagination_class = cursor_pagination("id")
    lookup_value_regex = "[-a-zA-Z0-9_]+"

    def get_queryset(self):
        return device_list()

    @extend_schema(request=DeviceWriteSerializer, responses={201: DeviceSerializer})
    def create(self, request):
        """Register an instrument (operators and integrators); 409 when its id is taken."""
        payload = DeviceWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        device = device_create(**payload.validated_data)
        return Response(self.get_serializer(device_list().get(pk=device.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DeviceWriteSerializer(partial=True), responses=DeviceSerializer)
    def partial_update(self, request, pk=None):
        """Change a device's name, kind, adapter, config or capacity (a capacity below its bookings is 409)."""
        device = self.get_object()
        payload = DeviceWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        device_update(device=device, user=request.user, **payload.validated_data)
        return Response(self.get_serializer(device_list().get(pk=device.pk)).data)
