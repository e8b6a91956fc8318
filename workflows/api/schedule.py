"""``GET /api/schedule``: per device, what ran, runs and is planned (workflows.schedule)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers, viewsets
from rest_framework.response import Response

from devices.models import Device
from labcore.exceptions import ApplicationError
from workflows.schedule import schedule_read


class ScheduleQuerySerializer(serializers.Serializer):
    device = serializers.CharField(required=False, max_length=100)
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": ["must not be before start"]})
        return attrs


class ScheduleEntrySerializer(serializers.Serializer):
    device = serializers.CharField()
    workflow = serializers.IntegerField()
    step = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(allow_null=True, help_text="Null while it runs; predicted for planned entries.")
    state = serializers.ChoiceField(choices=["done", "running", "planned"])


@extend_schema_serializer(many=False)  # one object with "results", though it answers a list action
class ScheduleSerializer(serializers.Serializer):
    results = ScheduleEntrySerializer(many=True)


class ScheduleViewSet(viewsets.ViewSet):
    """The lab's timeline: protocol steps on devices, done, running, and planned by the scheduler."""

    @extend_schema(
        parameters=[
            OpenApiParameter("device", str, description="Only this device."),
            OpenApiParameter("start", str, description="From (ISO 8601; default 24 h ago)."),
            OpenApiParameter("end", str, description="To (ISO 8601; default 8 days ahead)."),
        ],
        responses=ScheduleSerializer,
    )
    def list(self, request):
        """Per device, each step of each run that overlaps [start, end]: done, running or planned.

        Planned entries come from the scheduler's forward plan (the same plan wait-time uses).
        """
        query = ScheduleQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        device = query.validated_data.get("device")
        if device is not None and not Device.objects.filter(pk=device).exists():
            raise ApplicationError(f"no device {device!r}", fields={"device": [f"no device {device!r}"]})
        slots = schedule_read(
            device=device, start=query.validated_data.get("start"), end=query.validated_data.get("end")
        )
        return Response({"results": ScheduleEntrySerializer(slots, many=True).data})
