"""Devices in the admin: status, who holds each slot and since when, the queue with positions and
estimated waits, and links to each device's timeline and execution log; force-release as an action.

The timeline is a workflows page: it is linked by URL name, never imported (devices sits below
workflows), and so are the runs.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from devices.admin.sila_import import sila_import_view
from devices.board import device_board_list, device_board_queue, queue_waits_attach
from devices.choices import DeviceStatus
from devices.models import Device
from devices.selectors import device_in_use
from devices.services import (
    device_capacity_check,
    device_capacity_set,
    device_force_release,
    device_status_set,
)
from labcore.durations import duration_display
from labcore.exceptions import ApplicationError
from labcore.templatetags.labcore_format import instant

# Pages of the layers above, by URL name.
RUN_CHANGE = "admin:workflows_workflow_change"
TIMELINE = "admin:workflows_device_timeline"
EXECUTION_LOG = "admin:executionlogs_executionlog_changelist"
# A shared device (an incubator holds 44 plates) lists this many holders in the changelist.
HOLDERS_SHOWN = 4


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


class DeviceChangeList(ChangeList):
    """The changelist, with the estimated waits of the page's queues priced in one go."""

    def get_results(self, request):
        super().get_results(request)
        queue_waits_attach(self.result_list)


def _run_link(workflow):
    return format_html('<a href="{}">{}</a>', reverse(RUN_CHANGE, args=[workflow.pk]), workflow)


def _by(workflow) -> str:
    return f"by {workflow.created_by.get_username()}" if workflow.created_by_id else ""


def _wait(seconds) -> str:
    return "now" if not seconds else f"~ {duration_display(seconds)}"


def _left(seconds) -> str:
    return "no work left" if not seconds else f"~ {duration_display(seconds)} left"


def _details(*parts) -> str:
    return " · ".join(part for part in parts if part)


def _held(booking, *, slot: bool):
    """``slot 2: <run>`` over ``by ana · since 2026-12-02 14:03:27 · ~ 3 min left``."""
    details = _details(
        _by(booking.workflow),
        f"since {instant(booking.booked_at)}",
        _left(getattr(booking, "remaining_seconds", None)),
    )
    return format_html(
        '<li>{}{}<div class="quiet">{}</div></li>',
        f"slot {booking.slot}: " if slot else "",
        _run_link(booking.workflow),
        details,
    )


def _waiting(entry):
    """``<run> waits ~ 2 min 3 s`` over ``urgent · by ana``, numbered by its position."""
    return format_html(
        '<li value="{}">{} <span class="wait">waits {}</span><div class="quiet">{}</div></li>',
        entry.position,
        _run_link(entry.workflow),
        _wait(getattr(entry, "estimated_wait_seconds", None)),
        _details(entry.get_priority_display().lower(), _by(entry.workflow)),
    )


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    form = DeviceAdminForm
    # The kind is in the name and the filter, the links under the name: holders and queue get the width.
    list_display = ["id", "name_and_links", "status", "holders", "queue_length", "queue_head"]
    list_filter = ["kind", "status", "adapter"]
    search_fields = ["id", "name"]
    # Holder and queue are read-only fields, not inlines: inline formsets would make every edit
    # of the device post their management forms, and these rows change only through services.
    # Status follows bookings; operators change it only through the actions (the service locks).
    readonly_fields = ["status", "holder", "queue", "links"]
    actions = ["force_release", "take_out_of_service", "put_back_in_service"]

    def get_queryset(self, request):
        # Holders, the head of each queue and its length: a constant number of queries per page.
        return device_board_list()

    def get_changelist(self, request, **kwargs):
        return DeviceChangeList

    def get_object(self, request, object_id, from_field=None):
        device = super().get_object(request, object_id, from_field)
        if device is not None:
            device.queue_all = device_board_queue(device)
            queue_waits_attach([device], queue="queue_all")
        return device

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
    def holders(self, device):
        bookings = device.active_bookings
        if not bookings:
            return "free" if device.capacity == 1 else f"0 of {device.capacity} slots in use"
        shared = device.capacity > 1
        shown = format_html_join("", "{}", ((_held(booking, slot=shared),) for booking in bookings[:HOLDERS_SHOWN]))
        more = len(bookings) - HOLDERS_SHOWN
        more = format_html('<li class="quiet">and {} more</li>', more) if more > 0 else ""
        head = format_html("<div>{} of {} slots in use</div>", len(bookings), device.capacity) if shared else ""
        return format_html('{}<ul class="device-holders">{}{}</ul>', head, shown, more)

    @admin.display(description="held by")
    def holder(self, device):
        """Every holder, on the device's own page."""
        bookings = getattr(device, "active_bookings", None) if device.pk else None
        if not bookings:
            return "free"
        shared = device.capacity > 1
        rows = format_html_join("", "{}", ((_held(booking, slot=shared),) for booking in bookings))
        head = format_html("<div>{} of {} slots in use</div>", len(bookings), device.capacity) if shared else ""
        return format_html('{}<ul class="device-holders">{}</ul>', head, rows)

    @admin.display(description="queue (estimated wait)")
    def queue_head(self, device):
        entries = device.queue_head
        if not entries:
            return "nobody waits"
        rows = format_html_join("", "{}", ((_waiting(entry),) for entry in entries))
        more = device.queue_length - len(entries)
        link = reverse("admin:devices_device_change", args=[device.pk])
        more = format_html('<div class="quiet"><a href="{}">and {} more</a></div>', link, more) if more > 0 else ""
        return format_html('<ol class="device-queue">{}</ol>{}', rows, more)

    @admin.display(description="queue (in the order it will be served)")
    def queue(self, device):
        entries = getattr(device, "queue_all", []) if device.pk else []
        if not entries:
            return "nobody waits"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    entry.position,
                    _run_link(entry.workflow),
                    entry.get_priority_display(),
                    _by(entry.workflow).removeprefix("by ") or "-",
                    instant(entry.created_at),
                    _wait(entry.estimated_wait_seconds),
                    entry.request_id,
                )
                for entry in entries
            ),
        )
        head = format_html(
            "<tr>{}</tr>",
            format_html_join(
                "",
                "<th>{}</th>",
                (
                    (name,)
                    for name in ("position", "run", "priority", "started by", "since", "estimated wait", "request")
                ),
            ),
        )
        return format_html('<table class="device-queue-table">{}{}</table>', head, rows)

    @admin.display(description="timeline and log")
    def links(self, device):
        if not device.pk:
            return "-"
        timeline = reverse(TIMELINE) + "?" + urlencode({"device": device.pk})
        log = reverse(EXECUTION_LOG) + "?" + urlencode({"device__id__exact": device.pk})
        return format_html(
            '<a class="device-timeline-link" href="{}">timeline</a> · <a class="device-log-link" href="{}">log</a>',
            timeline,
            log,
        )

    @admin.display(description="name", ordering="name")
    def name_and_links(self, device):
        return format_html('{}<div class="device-links">{}</div>', device.name, self.links(device))

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
