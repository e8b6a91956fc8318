"""Plates in the admin. The Sample admin needs runs and results (layers above samples), so it is
registered by ``workflows.admin.samples``; this module keeps what samples alone can show."""

from django.contrib import admin

from labcore.admin_history import AuditHistoryAdminMixin
from samples.models import Plate, Sample


class SampleInline(admin.TabularInline):
    model = Sample
    extra = 0
    fields = ["barcode", "sample_type", "well"]


@admin.register(Plate)
class PlateAdmin(AuditHistoryAdminMixin, admin.ModelAdmin):
    list_display = ["barcode", "name", "well_count", "created_at"]
    search_fields = ["barcode", "name"]
    inlines = [SampleInline]
