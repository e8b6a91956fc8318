"""Devices in the admin: status, holder and queue at a glance; force-release as an action."""

from django import forms
from django.contrib import admin, messages
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from devices.admin.sila_import import sila_import_view
from devices.choices import DeviceStatus
from devices.models import Device
from devices.selectors import device_admin_list, device_in_use, device_queue
from devices.services import (
    device_capacity_check,
    device_capacity_set,
    device_force_release,
    device_status_set,
)
from labcore.exceptions import ApplicationError


class DeviceAdminForm(forms.ModelForm):
    """The device form; a capacity below the device's active bookings is refused here."""

    class Meta:
        model = Device
        fields = ["id", "name", "kind", "adapter", "endpoint", "config", "capacity"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Left out of a post, the capacity stays what it is (scripts that post the old form).
        self.fields["capacity"].required = False

    def clean_capacity(self):
        capacity = self.cleaned_data.get("capacity")
        if capacity is None:
            return self.instance.capacity
        if self.instance.pk is not None and capacity != self.instance.capacity:
            # The admin saves inside one transaction: the device lock taken by this check is
            # held until save_model has changed the capacity, so no booking can slip in between.
            try:
                device_capacity_check(device=self.instance, capacity=capacity)
            except ApplicationError as exc:
                raise forms.ValidationError(exc.message) from None
        return capacity


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    form = DeviceAdminForm
    list_display = ["id", "name", "kind", "status", "capacity", "holder", "queue_length", "adapter"]
    list_filter = ["kind", "status", "adapter"]
    search_fields = ["id", "name"]
    # Holder and queue are read-only fields, not inlines: inline formsets would make every edit
    # of the device post their management forms, and these rows change only through services.
    # Status follows bookings; operators change it only through the actions (the service locks).
    readonly_fields = ["status", "holder", "queue"]
    actions = ["force_release", "take_out_of_service", "put_back_in_service"]

    def get_queryset(self, request):
        return device_admin_list()

    def get_urls(self):
        view = self.admin_site.admin_view(lambda request: sila_import_view(self, request))
        return [path("sila-import/", view, name="devices_device_sila_import"), *super().get_urls()]

    def get_readonly_fields(self, request, obj=None):
        # The id is the device's key: saving a new one would insert a second device and leave
        # the first, with its bookings, queue and run-steps, behind.
        if obj is None:
            return self.readonly_fields
        fields = [*self.readonly_fields, "id"]
        if device_in_use(obj):
            # Protocol actions pinned to it and run-steps planned on it chose it for its kind;
            # another kind would send them actions it cannot perform.
            fields.append("kind")
        return fields

    def save_model(self, request, obj, form, change):
        if change and form.changed_data:
            # Only what the form changed: a full save would write back the status read at the
            # start of the request over a booking made meanwhile. The capacity goes through its
            # service (device lock, slots moved below it, new slots handed to the queue).
            fields = [name for name in form.changed_data if name != "capacity"]
            if fields:
                obj.save(update_fields=[*fields, "updated_at"])
            # A post without the field counts as "changed" to Django; only a new value is a change.
            if "capacity" in form.changed_data and form.initial.get("capacity") != obj.capacity:
                device_capacity_set(device=obj, capacity=obj.capacity, user=request.user)
        elif not change:
            super().save_model(request, obj, form, change)

    @admin.display(description="held by")
    def holder(self, device):
        bookings = getattr(device, "active_bookings", None) if device.pk else None
        if not bookings:
            return "-"
        links = format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            ((reverse("admin:workflows_workflow_change", args=[b.workflow.pk]), b.workflow) for b in bookings),
        )
        if device.capacity == 1:
            return links
        return format_html("{} of {} slots: {}", len(bookings), device.capacity, links)

    @admin.display(description="queue (in the order it will be served)")
    def queue(self, device):
        entries = device_queue(device).select_related("workflow") if device.pk else []
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (entry.position, entry.workflow, entry.get_priority_display(), entry.request_id, entry.created_at)
                for entry in entries
            ),
        )
        if not rows:
            return "nobody waits"
        head = "<tr><th>position</th><th>workflow</th><th>priority</th><th>request</th><th>since</th></tr>"
        return format_html("<table>{}{}</table>", mark_safe(head), rows)

    @admin.display(description="waiting", ordering="queue_length")
    def queue_length(self, device):
        return device.queue_length

    def _apply_to_each(self, request, devices, service, done: str) -> None:
        """Run ``service(device)`` on each device; a refusal (busy, 409) is reported, not a 500."""
        count = 0
        for device in devices:
            try:
                service(device)
                count += 1
            except ApplicationError as exc:
                self.message_user(request, f"{device.pk}: {exc.message}", messages.ERROR)
        self.message_user(request, done.format(count=count), messages.SUCCESS)

    @admin.action(description="Force-release the selected devices (hands each on to its queue)", permissions=["change"])
    def force_release(self, request, queryset):
        held = [device for device in queryset if getattr(device, "active_bookings", None)]
        reason = f"admin action by {request.user}"

        def release_every_holder(device):
            # A shared device is taken back from each of its holders, one hand-off each.
            for booking in device.active_bookings:
                device_force_release(device=device, user=request.user, reason=reason, workflow=booking.workflow)

        self._apply_to_each(request, held, release_every_holder, "Force-released {count} device(s).")

    @admin.action(description="Take the selected devices out of service (maintenance)", permissions=["change"])
    def take_out_of_service(self, request, queryset):
        self._apply_to_each(
            request,
            queryset,
            lambda device: device_status_set(device=device, status=DeviceStatus.MAINTENANCE, user=request.user),
            "{count} device(s) in maintenance.",
        )

    @admin.action(description="Put the selected devices back in service (serves their queues)", permissions=["change"])
    def put_back_in_service(self, request, queryset):
        self._apply_to_each(
            request,
            queryset,
            lambda device: device_status_set(device=device, status=DeviceStatus.AVAILABLE, user=request.user),
            "{count} device(s) back in service.",
        )
