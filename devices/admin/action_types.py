from django.contrib import admin

from devices.models import ActionType


@admin.register(ActionType)
class ActionTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "device_kind", "estimated_duration_seconds", "timeout_seconds", "safe_to_repeat"]
    list_filter = ["device_kind", "safe_to_repeat", "is_long_running"]
    search_fields = ["name", "description"]
