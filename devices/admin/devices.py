"""Devices in the admin: status, holder and queue at a glance; force-release as an action."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from devices.models import Booking, Device, QueueEntry
from devices.selectors import device_admin_list
from devices.services import device_force_release
from labcore.exceptions import ApplicationError


class ReadOnlyInline(admin.TabularInline):
    """Bookings and queue entries change only through the services (and their locks)."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ActiveBookingInline(ReadOnlyInline):
    model = Booking
    verbose_name_plural = "holder (active booking)"
    fields = ["workflow", "booked_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).active().select_related("workflow")


class WaitingQueueInline(ReadOnlyInline):
    model = QueueEntry
    verbose_name_plural = "queue (in the order it will be served)"
    fields = ["workflow", "priority", "request_id", "created_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).waiting().in_service_order().select_related("workflow")


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "kind", "status", "holder", "queue_length", "adapter"]
    list_filter = ["kind", "status", "adapter"]
    search_fields = ["id", "name"]
    inlines = [ActiveBookingInline, WaitingQueueInline]
    actions = ["force_release"]

    def get_queryset(self, request):
        return device_admin_list()

    @admin.display(description="held by")
    def holder(self, device):
        bookings = getattr(device, "active_bookings", None)
        if not bookings:
            return "-"
        workflow = bookings[0].workflow
        url = reverse("admin:workflows_workflow_change", args=[workflow.pk])
        return format_html('<a href="{}">{}</a>', url, workflow)

    @admin.display(description="waiting", ordering="queue_length")
    def queue_length(self, device):
        return device.queue_length

    @admin.action(description="Force-release the selected devices (hands each on to its queue)", permissions=["change"])
    def force_release(self, request, queryset):
        released = 0
        for device in queryset:
            if not getattr(device, "active_bookings", None):
                continue
            try:
                device_force_release(device=device, user=request.user, reason=f"admin action by {request.user}")
                released += 1
            except ApplicationError as exc:
                self.message_user(request, f"{device.pk}: {exc.message}", messages.ERROR)
        self.message_user(request, f"Force-released {released} device(s).", messages.SUCCESS)
