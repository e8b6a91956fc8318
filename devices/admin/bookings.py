"""Bookings and queue entries in the admin: read-only records; withdraw is an action."""

from django.contrib import admin, messages

from devices.models import Booking, QueueEntry
from devices.services import queue_entry_withdraw
from labcore.exceptions import ApplicationError


class ServiceOnlyAdmin(admin.ModelAdmin):
    """Rows change only through the booking services, which take the device locks."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


@admin.register(Booking)
class BookingAdmin(ServiceOnlyAdmin):
    list_display = ["id", "device", "workflow", "status", "booked_at", "released_at", "released_by", "release_reason"]
    list_select_related = ["device", "workflow", "released_by"]
    list_filter = ["status", "device"]
    search_fields = ["=workflow__id", "device__id"]


@admin.register(QueueEntry)
class QueueEntryAdmin(ServiceOnlyAdmin):
    list_display = ["id", "device", "workflow", "priority", "status", "created_at", "resolved_at"]
    list_select_related = ["device", "workflow"]
    list_filter = ["status", "priority", "device"]
    ordering = ["device", "priority", "deadline", "id"]
    actions = ["withdraw"]

    @admin.action(description="Withdraw the selected waiting requests (hands devices on)", permissions=["change"])
    def withdraw(self, request, queryset):
        withdrawn = 0
        for entry in queryset.waiting():
            try:
                withdrawn += len(queue_entry_withdraw(entry=entry, user=request.user))
            except ApplicationError as exc:  # withdrawn already with another entry of its request
                self.message_user(request, f"entry {entry.pk}: {exc.message}", messages.WARNING)
        self.message_user(request, f"Withdrew {withdrawn} queue entries.", messages.SUCCESS)
