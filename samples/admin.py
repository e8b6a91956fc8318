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


@admin.register(Sample)
class SampleAdmin(AuditHistoryAdminMixin, admin.ModelAdmin):
    list_display = ["barcode", "sample_type", "plate", "well", "created_at"]
    list_select_related = ["plate"]
    list_filter = ["sample_type", "plate"]
    search_fields = ["barcode"]
