"""The ActionType registry in the admin: onboard an instrument's capabilities as data."""

from django import forms
from django.contrib import admin
from django.db.models import Count

from devices.models import ActionType
from devices.registry import ACTION_TYPE_FIELDS, schema_errors
from labcore.admin_history import AuditHistoryAdminMixin


class ActionTypeForm(forms.ModelForm):
    """Checks the parameter schema is a usable JSON Schema, with the problem shown on the field."""

    class Meta:
        model = ActionType
        fields = list(ACTION_TYPE_FIELDS)
        widgets = {
            "parameter_schema": forms.Textarea(attrs={"rows": 12, "cols": 80, "style": "font-family: monospace"}),
            "mock_response": forms.Textarea(attrs={"rows": 4, "cols": 80, "style": "font-family: monospace"}),
            "description": forms.Textarea(attrs={"rows": 2, "cols": 80}),
        }

    def clean_parameter_schema(self):
        schema = self.cleaned_data["parameter_schema"]
        problems = schema_errors(schema)
        if problems:
            raise forms.ValidationError(problems)
        return schema

    def clean_mock_response(self):
        response = self.cleaned_data["mock_response"]
        if not isinstance(response, dict):
            raise forms.ValidationError("The mock response template must be a JSON object.")
        return response


@admin.register(ActionType)
class ActionTypeAdmin(AuditHistoryAdminMixin, admin.ModelAdmin):
    form = ActionTypeForm
    list_display = [
        "name",
        "device_kind",
        "estimated_duration_seconds",
        "timeout_seconds",
        "safe_to_repeat",
        "is_long_running",
        "mock_failure_rate",
        "used_by",
    ]
    list_filter = ["device_kind", "safe_to_repeat", "is_long_running"]
    search_fields = ["name", "description"]  # also what the protocol editor's type chooser searches
    fieldsets = [
        (None, {"fields": ["name", "device_kind", "description"]}),
        ("Parameters", {"fields": ["parameter_schema"], "description": "JSON Schema (2020-12); defaults included."}),
        (
            "Timing and safety",
            {
                "fields": [
                    "estimated_duration_seconds",
                    "timeout_seconds",
                    "safe_to_repeat",
                    "is_long_running",
                    "on_failure",
                    "max_retries",
                ]
            },
        ),
        (
            "Mock behaviour",
            {"fields": ["mock_response", "mock_latency_seconds", "mock_latency_jitter", "mock_failure_rate"]},
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(action_total=Count("actions")).order_by("name")

    @admin.display(description="used by actions", ordering="action_total")
    def used_by(self, action_type):
        return action_type.action_total
