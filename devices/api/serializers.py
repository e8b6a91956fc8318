from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from devices.choices import AdapterName, DeviceKind
from devices.models import Device
from devices.selectors import device_active_bookings, device_holder_workflow_id


class DeviceWriteSerializer(serializers.Serializer):
    """``POST /api/devices`` (all but ``endpoint`` and ``capacity`` required) and ``PATCH`` (any)."""

    id = serializers.SlugField(max_length=100, help_text="The device's slug, e.g. incubator-2 (cannot change).")
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=DeviceKind.choices)
    adapter = serializers.ChoiceField(choices=AdapterName.choices)
    endpoint = serializers.CharField(required=False, allow_blank=True, max_length=500)
    config = serializers.JSONField(
        required=False, help_text='Adapter settings; sila2: {"host", "port", "insecure", "ca_cert"}.'
    )
    capacity = serializers.IntegerField(required=False, min_value=1, max_value=10_000)


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
