"""A sample's admin page: its growth curves per run and its history (chain of custody).

Registered here, not in ``samples.admin``: the page reads runs, execution-log entries and
cell-analysis results, which live in layers above samples (samples imports neither workflows
nor executionlogs). The reads are ``workflows.growth_charts`` and ``workflows.sample_history``.
"""

from django.contrib import admin

from labcore.admin_history import AuditHistoryAdminMixin
from samples.models import Sample
from workflows.growth_charts import sample_growth_charts
from workflows.sample_history import sample_history


@admin.register(Sample)
class SampleAdmin(AuditHistoryAdminMixin, admin.ModelAdmin):
    list_display = ["barcode", "sample_type", "plate", "well", "created_at"]
    list_select_related = ["plate"]
    list_filter = ["sample_type", "plate"]
    search_fields = ["barcode"]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk:
            context["growth_charts"] = sample_growth_charts(obj)
            context["history"] = sample_history(obj)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)
