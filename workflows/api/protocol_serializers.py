"""Serializers of projects and protocols: nested steps and actions on read, graph specs on write."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from workflows.choices import WindowPolicy
from workflows.conditions import METRICS, OPERATORS, QUANTIFIERS
from workflows.models import Action, Project, Protocol, Step
from workflows.selectors import protocol_summary
from workflows.step_timing import MAX_REPEATS, MAX_SECONDS, STEP_TIMING_FIELDS

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


class ConditionSerializer(serializers.Serializer):
    """The shape of ``until`` and ``run_if`` (docs/protocols.md), for the schema; checked by the services."""

    metric = serializers.ChoiceField(choices=METRICS)
    op = serializers.ChoiceField(choices=list(OPERATORS))
    value = serializers.FloatField()
    samples = serializers.ChoiceField(
        choices=QUANTIFIERS, required=False, help_text="all (default): every sample must satisfy it; any: one."
    )


@extend_schema_field(ConditionSerializer)
class ConditionField(serializers.JSONField):
    """A condition as JSON; its rules live in ``workflows.conditions`` (checked by the services)."""


class StrictNumberField(serializers.FloatField):
    """A JSON number, not a string or a boolean (DRF would read ``"12"`` and ``true``)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


SECONDS_HELP = {
    "start_after_seconds": "Due this long after the previous step ends (the first: after the run starts); 0 or more.",
    "window_seconds": "Must start within this long after it is due, else a window violation; more than 0.",
    "repeat_every_seconds": "Runs again this long after each run ends; more than 0; needs repeat_max.",
}
# Read: always present, null when unset. Write: optional, missing or null means unset.
READ = {"read_only": True}
WRITE = {"required": False, "default": None}


def seconds_field(name: str, presence: dict) -> StrictNumberField:
    return StrictNumberField(
        allow_null=True, min_value=0, max_value=MAX_SECONDS, help_text=SECONDS_HELP[name], **presence
    )


def on_window_missed_field(presence: dict) -> serializers.ChoiceField:
    presence = presence if presence is READ else {"required": False, "default": WindowPolicy.RUN_LATE.value}
    return serializers.ChoiceField(
        choices=WindowPolicy.choices,
        help_text="What a start after the window does: run_late (recorded as a violation, default) or fail.",
        **presence,
    )


def repeat_max_field(presence: dict) -> StrictIntegerField:
    return StrictIntegerField(
        allow_null=True,
        min_value=1,
        max_value=MAX_REPEATS,
        help_text="How many runs at most, the first included; needs repeat_every_seconds.",
        **presence,
    )


def keep_devices_field(presence: dict) -> StrictBooleanField:
    presence = presence if presence is READ else {"required": False, "default": False}
    return StrictBooleanField(
        help_text="Keep this step's devices booked into the next step (not on the last).", **presence
    )


UNTIL_HELP = "A repeating step stops repeating once this condition holds."
RUN_IF_HELP = "The step is skipped when this condition does not hold."


class StepTimingSerializer(serializers.Serializer):
    """A step's timing and conditions as read; rules in ``workflows.step_timing``."""

    start_after_seconds = seconds_field("start_after_seconds", READ)
    window_seconds = seconds_field("window_seconds", READ)
    on_window_missed = on_window_missed_field(READ)
    repeat_every_seconds = seconds_field("repeat_every_seconds", READ)
    repeat_max = repeat_max_field(READ)
    until = ConditionField(allow_null=True, help_text=UNTIL_HELP, **READ)
    run_if = ConditionField(allow_null=True, help_text=RUN_IF_HELP, **READ)
    keep_devices = keep_devices_field(READ)


class StepTimingSpecSerializer(serializers.Serializer):
    """A step's timing and conditions on write, all optional; the services check how they go together."""

    start_after_seconds = seconds_field("start_after_seconds", WRITE)
    window_seconds = seconds_field("window_seconds", WRITE)
    on_window_missed = on_window_missed_field(WRITE)
    repeat_every_seconds = seconds_field("repeat_every_seconds", WRITE)
    repeat_max = repeat_max_field(WRITE)
    until = ConditionField(allow_null=True, help_text=UNTIL_HELP, **WRITE)
    run_if = ConditionField(allow_null=True, help_text=RUN_IF_HELP, **WRITE)
    keep_devices = keep_devices_field(WRITE)


class StepSerializer(StepTimingSerializer, serializers.ModelSerializer):
    """A step as read: its timing and conditions (null when unset) and its actions in order."""

    actions = ActionSerializer(many=True, read_only=True)

    class Meta:
        model = Step
        fields = ["id", "position", "name", "description", *STEP_TIMING_FIELDS, "actions"]


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


class StepSpecSerializer(StepTimingSpecSerializer):
    """A step on write; the timing fields are optional (null or missing: unset), their rules in the services."""

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
