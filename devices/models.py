"""Devices, the ActionType registry, bookings and the per-device priority queue."""

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from devices.choices import (
    AdapterName,
    BookingStatus,
    DeviceKind,
    DeviceStatus,
    FailurePolicy,
    Priority,
    QueueEntryStatus,
)
from devices.querysets import NO_DEADLINE, SERVICE_ORDER, BookingQuerySet, DeviceQuerySet, QueueEntryQuerySet
from labcore.validators import validate_storable_json

# Words that follow /api/execution-logs/ as endpoints of their own; a device so named would be
# unreachable at /api/execution-logs/{device_id}.
RESERVED_DEVICE_IDS = {"search", "export"}


def validate_device_id_not_reserved(value: str) -> None:
    if value in RESERVED_DEVICE_IDS:
        raise ValidationError(f"{value!r} is reserved by the API; choose another device id.")


class Device(models.Model):
    """One instrument. Its id is a readable slug (``liquid-handler-1``) used in every API path."""

    id = models.SlugField(primary_key=True, max_length=64, validators=[validate_device_id_not_reserved])
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=DeviceKind.choices, db_index=True)
    status = models.CharField(
        max_length=16, choices=DeviceStatus.choices, default=DeviceStatus.AVAILABLE, db_index=True
    )
    adapter = models.CharField(max_length=16, choices=AdapterName.choices, default=AdapterName.MOCK)
    endpoint = models.URLField(blank=True, help_text="Base URL of the device service (http adapter).")
    config = models.JSONField(default=dict, blank=True, validators=[validate_storable_json])
    capacity = models.PositiveIntegerField(
        default=1,
        validators=[MinValueValidator(1)],
        help_text="How many workflows may hold it at once (an incubator: one per plate it holds).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DeviceQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=Q(capacity__gte=1), name="device_capacity_at_least_one")]

    def __str__(self):
        return self.id


# A year and a day: longer than any real action (incubations run for days), and small enough
# that timeouts, stall checks (dispatched_at + timeout) and wait-time sums stay finite datetimes
# and floats; an unbounded 1e20 s timeout overflowed timedelta and 1e308 summed to inf (a 500).
MAX_ACTION_SECONDS = 366 * 24 * 3600


class ActionType(models.Model):
    """A typed hardware capability (``robot.aspirate``). Registered as data, not code."""

    # The name is the type's key in URLs (/api/action-types/{name}), files and execution logs:
    # a "/" made its detail unreachable, whitespace makes it unreadable.
    name = models.CharField(
        max_length=100,
        unique=True,
        validators=[RegexValidator(r"^[^\s/]+$", "No spaces or slashes, e.g. robot.aspirate.")],
    )
    device_kind = models.CharField(max_length=32, choices=DeviceKind.choices, db_index=True)
    description = models.TextField(blank=True)
    parameter_schema = models.JSONField(
        default=dict, blank=True, validators=[validate_storable_json], help_text="JSON Schema for the parameters."
    )
    estimated_duration_seconds = models.FloatField(
        default=1.0, validators=[MinValueValidator(0), MaxValueValidator(MAX_ACTION_SECONDS)]
    )
    timeout_seconds = models.FloatField(
        default=60.0, validators=[MinValueValidator(0.001), MaxValueValidator(MAX_ACTION_SECONDS)]
    )
    safe_to_repeat = models.BooleanField(
        default=False, help_text="May be dispatched again when its outcome is unknown (e.g. imaging)."
    )
    is_long_running = models.BooleanField(
        default=False, help_text="Started then polled, so it never holds a worker while it runs."
    )
    on_failure = models.CharField(max_length=8, choices=FailurePolicy.choices, default=FailurePolicy.FAIL)
    max_retries = models.PositiveSmallIntegerField(default=3, help_text="Only used when safe to repeat.")
    mock_response = models.JSONField(
        default=dict, blank=True, validators=[validate_storable_json], help_text="Template of the mock's response."
    )
    mock_latency_seconds = models.FloatField(
        default=0.5, validators=[MinValueValidator(0), MaxValueValidator(MAX_ACTION_SECONDS)]
    )
    mock_latency_jitter = models.FloatField(
        default=0.1, validators=[MinValueValidator(0), MaxValueValidator(1)], help_text="Fraction of the latency."
    )
    mock_failure_rate = models.FloatField(default=0.0, validators=[MinValueValidator(0), MaxValueValidator(1)])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        """A type in use keeps its name and device kind.

        Protocol actions were checked against its kind and pin devices of that kind, run-steps
        were planned on such devices, and execution logs name it: changing either under them
        would silently re-plan published protocols and orphan the forensic record. Register a
        new type instead.
        """
        if self.pk is None:
            return
        before = ActionType.objects.filter(pk=self.pk).values("name", "device_kind").first()
        if before is None:
            return
        changed = {field for field in ("name", "device_kind") if getattr(self, field) != before[field]}
        if changed and self._in_use():
            raise ValidationError(
                dict.fromkeys(
                    sorted(changed), f"{before['name']} is used by protocols or workflows; register a new type instead"
                )
            )

    def _in_use(self) -> bool:
        RunStep = apps.get_model("workflows", "RunStep")
        return self.actions.exists() or RunStep.objects.filter(action_type_id=self.pk).exists()


class Booking(models.Model):
    """Use of one of a device's ``capacity`` slots by one workflow.

    At most ``capacity`` are active per device, one per slot, and a workflow holds at most one
    slot of a device. What the database enforces and what the services do: docs/booking.md.
    """

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="bookings")
    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.PROTECT, related_name="bookings")
    status = models.CharField(max_length=16, choices=BookingStatus.choices, default=BookingStatus.ACTIVE)
    # Which of the device's slots (0 .. capacity - 1) it holds; chosen by the services under the
    # device's row lock. PositiveSmallIntegerField gives the CHECK slot >= 0.
    slot = models.PositiveSmallIntegerField(default=0)
    booked_at = models.DateTimeField(auto_now_add=True, db_index=True)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    release_reason = models.CharField(max_length=200, blank=True)

    objects = BookingQuerySet.as_manager()

    class Meta:
        ordering = ["-booked_at", "-id"]
        constraints = [
            # Invariant 1 (at most ``capacity`` active bookings per device), in the database: one
            # active booking per slot; the trigger of migration 0008 refuses a slot >= capacity.
            models.UniqueConstraint(
                fields=["device", "slot"], condition=Q(status=BookingStatus.ACTIVE), name="one_active_booking_per_slot"
            ),
            # A workflow holds at most one slot of a device.
            models.UniqueConstraint(
                fields=["device", "workflow"],
                condition=Q(status=BookingStatus.ACTIVE),
                name="one_active_booking_per_device_and_workflow",
            ),
        ]
        indexes = [models.Index(fields=["workflow", "status"], name="booking_workflow_status")]

    def __str__(self):
        return f"{self.device_id} <- workflow {self.workflow_id} ({self.status})"


class QueueEntry(models.Model):
    """A workflow waiting for a busy device, served by priority, then the earliest window deadline
    (a protocol step with a window), then arrival (id).

    Entries that share ``request_id`` are one request for a set of devices, granted together.
    """

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="queue_entries")
    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.PROTECT, related_name="queue_entries")
    request_id = models.UUIDField(db_index=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    deadline = models.DateTimeField(
        default=NO_DEADLINE,
        help_text="The window deadline of the step it waits for: within a priority, earlier is served first.",
    )
    status = models.CharField(max_length=16, choices=QueueEntryStatus.choices, default=QueueEntryStatus.WAITING)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = QueueEntryQuerySet.as_manager()

    class Meta:
        ordering = list(SERVICE_ORDER)
        verbose_name_plural = "queue entries"
        constraints = [
            models.UniqueConstraint(
                fields=["device", "workflow"],
                condition=Q(status=QueueEntryStatus.WAITING),
                name="one_waiting_entry_per_device_and_workflow",
            ),
        ]
        indexes = [
            # The service order of a device's queue, restricted to what is still waiting.
            models.Index(
                fields=["device", "priority", "deadline", "id"],
                condition=Q(status="waiting"),
                name="queue_waiting_order",
            ),
        ]

    def __str__(self):
        return f"{self.device_id} queue: workflow {self.workflow_id} ({self.get_priority_display()})"
