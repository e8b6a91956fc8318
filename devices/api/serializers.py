from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from devices.models import Device
from devices.selectors import device_active_bookings, device_holder_workflow_id


class DeviceSerializer(serializers.ModelSerializer):
    """A device as the original device service showed it, plus its capacity and what holds it."""

    holder_workflow_id = serializers.SerializerMethodField()
    slots_in_use = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = [
            "id",
            "name",
            "kind",
            "status",
            "adapter",
            "endpoint",
            "config",
            "capacity",
            "slots_in_use",
            "holder_workflow_id",
            "updated_at",
        ]

    @extend_schema_field(serializers.IntegerField(min_value=0))
    def get_slots_in_use(self, device) -> int:
        """How many of its ``capacity`` slots are booked (from the same prefetch as the holder)."""
        return len(device_active_bookings(device))

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_holder_workflow_id(self, device) -> int | None:
        return device_holder_workflow_id(device)
