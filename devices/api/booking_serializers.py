"""Request and response shapes of the booking and queue endpoints."""

from rest_framework import serializers

from devices.choices import Priority
from devices.models import Booking, QueueEntry

PRIORITY_NAMES = [member.label for member in Priority]  # urgent, normal, low: the serve order
# Every priority field of the API answers a bad value the same way, listing the allowed ones.
PRIORITY_ERRORS = {"invalid_choice": f'"{{input}}" is not a priority; use one of: {", ".join(PRIORITY_NAMES)}.'}


class WorkflowRefSerializer(serializers.Serializer):
    """The body of book and release: which workflow."""

    workflow_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1)


class QueueRequestSerializer(WorkflowRefSerializer):
    """The body of a queue request; the priority defaults to the workflow's own."""

    priority = serializers.ChoiceField(
        choices=PRIORITY_NAMES,
        required=False,
        error_messages=PRIORITY_ERRORS,
    )


class WaitTimeQuerySerializer(serializers.Serializer):
    workflow_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False)


class BookingSerializer(serializers.ModelSerializer):
    """A booking: who held which device, from when to when, and who released it."""

    device_id = serializers.CharField(read_only=True)
    workflow_id = serializers.IntegerField(read_only=True)
    released_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Booking
        fields = [
            "id",
            "device_id",
            "workflow_id",
            "status",
            "slot",
            "booked_at",
            "released_at",
            "released_by",
            "release_reason",
        ]
        read_only_fields = fields


class QueueEntrySerializer(serializers.ModelSerializer):
    """A waiting request for a device; ``position`` 1 is served next."""

    device_id = serializers.CharField(read_only=True)
    workflow_id = serializers.IntegerField(read_only=True)
    priority = serializers.ChoiceField(choices=PRIORITY_NAMES, source="get_priority_display", read_only=True)
    position = serializers.IntegerField(read_only=True, min_value=1)

    class Meta:
        model = QueueEntry
        fields = ["id", "device_id", "workflow_id", "priority", "position", "status", "request_id", "created_at"]
        read_only_fields = fields


class QueuePageSerializer(serializers.Serializer):
    """A page of a device's queue, in the order it will be served."""

    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = QueueEntrySerializer(many=True)


class QueueResultSerializer(serializers.Serializer):
    """What a queue request did: ``booked`` at once, ``queued``, or found it ``already_`` so."""

    outcome = serializers.ChoiceField(choices=["booked", "already_booked", "queued", "already_queued"])
    position = serializers.IntegerField(min_value=0, help_text="0 when the workflow holds the device.")
    booking = BookingSerializer(allow_null=True)
    entry = QueueEntrySerializer(allow_null=True)


class WaitTimeSerializer(serializers.Serializer):
    """Where a workflow stands for a device and how long it should expect to wait."""

    device_id = serializers.CharField()
    workflow_id = serializers.IntegerField(allow_null=True)
    holder_workflow_id = serializers.IntegerField(allow_null=True)
    queued = serializers.BooleanField(help_text="Whether the workflow is waiting in this queue.")
    position = serializers.IntegerField(min_value=0, help_text="0: it holds the device; 1: served next.")
    estimated_wait_seconds = serializers.FloatField(min_value=0)
