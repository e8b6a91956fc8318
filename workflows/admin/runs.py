from django.contrib import admin

from workflows.models import RunStep, Workflow


class RunStepInline(admin.TabularInline):
    model = RunStep
    extra = 0
    can_delete = False
    fields = [
        "position",
        "step_name",
        "action_type",
        "device",
        "status",
        "attempt",
        "started_at",
        "finished_at",
        "error",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "protocol", "mode", "status", "priority", "created_at"]
    list_select_related = ["protocol"]
    list_filter = ["status", "mode"]
    search_fields = ["name"]
    inlines = [RunStepInline]
