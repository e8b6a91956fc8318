from django.contrib import admin

from workflows.models import Action, Project, Protocol, RunStep, Step, Workflow


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]


class StepInline(admin.TabularInline):
    model = Step
    extra = 0


@admin.register(Protocol)
class ProtocolAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "version", "status", "published_at"]
    list_select_related = ["project"]
    list_filter = ["status", "project"]
    search_fields = ["name"]
    inlines = [StepInline]


class ActionInline(admin.TabularInline):
    model = Action
    extra = 0


@admin.register(Step)
class StepAdmin(admin.ModelAdmin):
    list_display = ["name", "protocol", "position"]
    list_select_related = ["protocol"]
    inlines = [ActionInline]


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
