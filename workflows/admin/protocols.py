from django.contrib import admin

from workflows.models import Action, Project, Protocol, Step


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
