import django_filters

from devices.choices import BookingStatus, DeviceKind, DeviceStatus
from devices.models import Booking, Device


class DeviceFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=DeviceKind.choices)
    status = django_filters.ChoiceFilter(choices=DeviceStatus.choices)

    class Meta:
        model = Device
        fields = ["kind", "status", "adapter"]


class BookingFilter(django_filters.FilterSet):
    """``?device=incubator-1&workflow=42&status=active``."""

    device = django_filters.CharFilter(field_name="device_id")
    workflow = django_filters.NumberFilter(field_name="workflow_id", min_value=1, max_value=2**31 - 1)
    status = django_filters.ChoiceFilter(choices=BookingStatus.choices)

    class Meta:
        model = Booking
        fields = ["device", "workflow", "status"]
