from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from devices.models import Device
from devices.selectors import device_holder_workflow_id


class DeviceSerializer(serializers.ModelSerializer):
    """A device as the original device service showed it, plus what holds it."""

    holder_workflow_id = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = ["id", "name", "kind", "status", "adapter", "endpoint", "config", "holder_workflow_id", "updated_at"]

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_holder_workflow_id(self, device) -> int | None:
        return device_holder_workflow_id(device)
