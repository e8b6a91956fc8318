from django.contrib import admin

from executionlogs.models import CellAnalysisResult, ExecutionLog


@admin.register(ExecutionLog)
class ExecutionLogAdmin(admin.ModelAdmin):
    """Read-only: the execution log is append-only (invariant 6)."""

    list_display = ["id", "started_at", "device", "workflow", "action_type", "status", "latency_ms"]
    list_filter = ["status", "device"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CellAnalysisResult)
class CellAnalysisResultAdmin(admin.ModelAdmin):
    list_display = ["sample", "workflow", "cell_count", "confluence", "viability", "measured_at"]
    list_select_related = ["sample", "workflow"]
    raw_id_fields = ["execution_log"]

    def has_change_permission(self, request, obj=None):
        return False
