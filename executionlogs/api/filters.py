"""Query filters of the execution-log and cell-analysis endpoints.

Every filter reads a column of the table itself (never a join), so each maps onto one of the
indexes that end in (started_at, id). Integers are range-checked so an oversized id is a 400,
not a database error.
"""

import django_filters
from django import forms

from executionlogs.choices import LogStatus
from executionlogs.models import CellAnalysisResult, ExecutionLog
from executionlogs.timestamps import parse_api_timestamp

BIGINT_MAX = 2**63 - 1


class IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(*args, **kwargs)


class UtcDateTimeField(forms.Field):
    """An ISO 8601 date or datetime, in UTC (see ``parse_api_timestamp``)."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return parse_api_timestamp(value)
        except ValueError as exc:
            raise forms.ValidationError(
                "Expected an ISO 8601 date (2025-01-31) or datetime (2025-01-31T09:30:00Z).", code="invalid"
            ) from exc


class UtcDateTimeFilter(django_filters.Filter):
    field_class = UtcDateTimeField


class ExecutionLogFilter(django_filters.FilterSet):
    workflow = IdFilter(field_name="workflow_id", help_text="Workflow id.")
    device = django_filters.CharFilter(field_name="device_id", max_length=64, help_text="Device id (slug).")
    status = django_filters.ChoiceFilter(choices=LogStatus.choices)
    action_type = django_filters.CharFilter(max_length=100, help_text="ActionType name, e.g. robot.aspirate.")

    class Meta:
        model = ExecutionLog
        fields = ["workflow", "device", "status", "action_type"]


class DeviceExecutionLogFilter(ExecutionLogFilter):
    """The same filters under /execution-logs/{device_id}, where the path names the device."""

    device = None

    class Meta(ExecutionLogFilter.Meta):
        fields = ["workflow", "status", "action_type"]


class CellAnalysisResultFilter(django_filters.FilterSet):
    sample = django_filters.CharFilter(field_name="sample__barcode", max_length=64, help_text="Sample barcode.")
    workflow = IdFilter(field_name="workflow_id", help_text="Workflow id.")
    measured_after = UtcDateTimeFilter(
        field_name="measured_at", lookup_expr="gte", help_text="ISO 8601 date or datetime; inclusive."
    )
    measured_before = UtcDateTimeFilter(
        field_name="measured_at", lookup_expr="lt", help_text="ISO 8601 date or datetime; exclusive."
    )

    class Meta:
        model = CellAnalysisResult
        fields = ["sample", "workflow", "measured_after", "measured_before"]
