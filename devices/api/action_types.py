"""/api/action-types: the registry over HTTP. ``{name}`` identifies a type (``robot.aspirate``)."""

from rest_framework import mixins, serializers, viewsets

from accounts.roles import EDIT_DEFINITIONS
from devices.models import ActionType
from devices.registry import ACTION_TYPE_FIELDS, action_type_create, action_type_update, schema_errors
from devices.selectors import action_type_list
from labcore.api.pagination import cursor_pagination


def _no_null_characters(value):
    """PostgreSQL jsonb cannot hold U+0000: a 400 rather than a database error."""
    if isinstance(value, str) and "\x00" in value:
        raise serializers.ValidationError("must not contain the NUL character")
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        _no_null_characters(key)
        _no_null_characters(item)
    return value


class ActionTypeSerializer(serializers.ModelSerializer):
    """An action type: its device kind, parameter JSON Schema, timing, retry safety and mock behaviour."""

    parameter_schema = serializers.JSONField(
        required=False, validators=[_no_null_characters], help_text="JSON Schema (draft 2020-12) of the parameters."
    )
    mock_response = serializers.JSONField(required=False, validators=[_no_null_characters])

    class Meta:
        model = ActionType
        fields = ["id", *ACTION_TYPE_FIELDS, "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def validate_parameter_schema(self, value):
        problems = schema_errors(value)
        if problems:
            raise serializers.ValidationError(problems)
        return value

    def validate_mock_response(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value


class ActionTypeViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """The ActionType registry: what each kind of instrument can do, and with which parameters."""

    serializer_class = ActionTypeSerializer
    pagination_class = cursor_pagination("name")
    filterset_fields = {"device_kind": ["exact"], "name": ["exact", "startswith"]}
    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    required_capabilities = {"create": EDIT_DEFINITIONS, "update": EDIT_DEFINITIONS, "partial_update": EDIT_DEFINITIONS}

    def get_queryset(self):
        return action_type_list()

    def perform_create(self, serializer):
        serializer.instance = action_type_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = action_type_update(action_type=serializer.instance, **serializer.validated_data)
