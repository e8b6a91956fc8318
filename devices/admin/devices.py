from django.contrib import admin

from devices.models import Booking, Device, QueueEntry


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "kind", "status", "adapter", "endpoint"]
    list_filter = ["kind", "status", "adapter"]
    search_fields = ["id", "name"]


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = ["device", "workflow", "status", "booked_at", "released_at", "released_by"]
    list_select_related = ["device", "workflow", "released_by"]
    list_filter = ["status", "device"]
    raw_id_fields = ["workflow"]


@admin.register(QueueEntry)
class QueueEntryAdmin(admin.ModelAdmin):
    list_display = ["device", "workflow", "priority", "status", "created_at"]
    list_select_related = ["device", "workflow"]
    list_filter = ["status", "priority", "device"]
    raw_id_fields = ["workflow"]
