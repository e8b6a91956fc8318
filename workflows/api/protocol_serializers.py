"""Serializers of projects and protocols: nested steps and actions on read, graph specs on write."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from workflows.models import Action, Project, Protocol, Step
from workflows.selectors import protocol_summary

INT_MAX = 2**31 - 1


def no_null_characters(value):
    """PostgreSQL text and jsonb cannot hold U+0000: refuse it as a 400, not a database error."""
    if isinstance(value, str):
        if "\x00" in value:
            raise serializers.ValidationError("must not contain the NUL character")
    elif isinstance(value, dict):
        for key, item in value.items():
            no_null_characters(key)
            no_null_characters(item)
    elif isinstance(value, list):
        for item in value:
            no_null_characters(item)
    return value


class ProjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["id", "name", "description", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class ActionSerializer(serializers.ModelSerializer):
    action_type = serializers.CharField(source="action_type.name", read_only=True)
    device = serializers.CharField(source="device_id", read_only=True, allow_null=True)

    class Meta:
        model = Action
        fields = ["id", "position", "action_type", "parameters", "device"]


class StepSerializer(serializers.ModelSerializer):
    actions = ActionSerializer(many=True, read_only=True)

    class Meta:
        model = Step
        fields = ["id", "position", "name", "description", "actions"]


class ProtocolSummarySerializer(serializers.Serializer):
    step_count = serializers.IntegerField()
    action_count = serializers.IntegerField()
    device_kinds = serializers.ListField(child=serializers.CharField())
    devices = serializers.ListField(child=serializers.CharField(), help_text="Pinned devices.")
    estimated_duration_seconds = serializers.FloatField()


class ProtocolSerializer(serializers.ModelSerializer):
    """A protocol version with its whole graph, as read."""

    project_name = serializers.CharField(source="project.name", read_only=True)
    version = serializers.CharField(read_only=True)
    steps = StepSerializer(many=True, read_only=True)
    summary = serializers.SerializerMethodField()

    class Meta:
        model = Protocol
        fields = [
            "id",
            "project",
            "project_name",
            "name",
            "version",
            "version_major",
            "version_minor",
            "status",
            "description",
            "previous_version",
            "published_at",
            "created_at",
            "updated_at",
            "summary",
            "steps",
        ]

    @extend_schema_field(ProtocolSummarySerializer)
    def get_summary(self, protocol) -> dict:
        return ProtocolSummarySerializer(protocol_summary(protocol)).data


class ActionSpecSerializer(serializers.Serializer):
    action_type = serializers.CharField(max_length=100, help_text="An ActionType name from the registry.")
    parameters = serializers.JSONField(
        required=False, default=dict, validators=[no_null_characters], help_text="Checked against the type's schema."
    )
    device = serializers.CharField(
        max_length=64, required=False, allow_null=True, default=None, help_text="Pinned device id, or null."
    )


class StepSpecSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    actions = ActionSpecSerializer(many=True, required=False, default=list)


class ProtocolWriteSerializer(serializers.Serializer):
    """Create or update a draft; ``steps``, when given, replaces the whole graph in order."""

    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.all())
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    version_major = serializers.IntegerField(min_value=0, max_value=INT_MAX, required=False)
    version_minor = serializers.IntegerField(min_value=0, max_value=INT_MAX, required=False)
    steps = StepSpecSerializer(many=True, required=False)
