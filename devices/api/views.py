from rest_framework import viewsets

from devices.api.booking_views import BOOKING_CAPABILITIES, DeviceBookingActionsMixin
from devices.api.filters import DeviceFilter
from devices.api.serializers import DeviceSerializer
from devices.selectors import device_list
from labcore.api.pagination import cursor_pagination


class DeviceViewSet(DeviceBookingActionsMixin, viewsets.ReadOnlyModelViewSet):
    """Instruments of the lab; ``{id}`` is the device's slug (``liquid-handler-1``)."""

    # POST devices/{id}/execute runs as part of a workflow: workflows.api.device_execute serves
    # it at the same path (devices does not import workflows).

    required_capabilities = {**BOOKING_CAPABILITIES}
    serializer_class = DeviceSerializer
    filterset_class = DeviceFilter
    pagination_class = cursor_pagination("id")
    lookup_value_regex = "[-a-zA-Z0-9_]+"

    def get_queryset(self):
        return device_list()
