import django_filters

from devices.choices import DeviceKind, DeviceStatus
from devices.models import Device


class DeviceFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=DeviceKind.choices)
    status = django_filters.ChoiceFilter(choices=DeviceStatus.choices)

    class Meta:
        model = Device
        fields = ["kind", "status", "adapter"]
