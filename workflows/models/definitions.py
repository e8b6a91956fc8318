"""What scientists write: Project -> Protocol -> Step -> Action."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from devices.registry import parameters_errors, parameters_with_defaults
from labcore.validators import validate_storable_json
from workflows.choices import ProtocolStatus, WindowPolicy


class Project(models.Model):
    """A line of work (``Stem cell expansion``) that groups protocols."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Protocol(models.Model):
    """One version of a protocol. A draft is editable; a published version is frozen."""

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="protocols")
    name = models.CharField(max_length=200, db_index=True)
    version_major = models.PositiveIntegerField(default=0)
    version_minor = models.PositiveIntegerField(default=1)
    status = models.CharField(
        max_length=16, choices=ProtocolStatus.choices, default=ProtocolStatus.DRAFT, db_index=True
    )
    description = models.TextField(blank=True)
    previous_version = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="next_versions"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project_id", "name", "version_major", "version_minor"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name", "version_major", "version_minor"], name="unique_protocol_version"
            ),
        ]

    def __str__(self):
        return f"{self.name} v{self.version}"

    @property
    def version(self) -> str:
        return f"{self.version_major}.{self.version_minor}"

    @property
    def is_published(self) -> bool:
        return self.status == ProtocolStatus.PUBLISHED


class Step(models.Model):
    """An ordered stage of a protocol (``PBS wash x 2``)."""

    protocol = models.ForeignKey(Protocol, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # Timing and conditions (docs/scheduling.md). A step is a booking unit: its devices are booked
    # when it becomes due and released when it ends, unless keep_devices chains it to the next.
    start_after_seconds = models.FloatField(
        null=True, blank=True, help_text="Due this long after the previous step ends (the first: after the run starts)."
    )
    window_seconds = models.FloatField(
        null=True, blank=True, help_text="Must start within this long after it is due, else a window violation."
    )
    on_window_missed = models.CharField(
        max_length=8,
        choices=WindowPolicy.choices,
        default=WindowPolicy.RUN_LATE,
        help_text="Run late, or fail the run.",
    )
    repeat_every_seconds = models.FloatField(
        null=True, blank=True, help_text="Runs again this long after each time it ends, up to repeat_max runs."
    )
    repeat_max = models.PositiveIntegerField(null=True, blank=True, help_text="How many runs at most.")
    until = models.JSONField(null=True, blank=True, help_text="Stop repeating once this condition holds.")
    run_if = models.JSONField(null=True, blank=True, help_text="Skip the step when this condition does not hold.")
    keep_devices = models.BooleanField(default=False, help_text="Keep its devices booked into the next step.")

    class Meta:
        ordering = ["protocol_id", "position"]
        constraints = [
            # Deferred so a reorder can swap positions inside one transaction.
            models.UniqueConstraint(
                fields=["protocol", "position"], name="unique_step_position", deferrable=models.Deferrable.DEFERRED
            ),
        ]

    def __str__(self):
        return f"{self.position}. {self.name}"


class Action(models.Model):
    """One typed hardware action of a step, with parameters checked against its type's schema."""

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="actions")
    position = models.PositiveIntegerField()
    action_type = models.ForeignKey("devices.ActionType", on_delete=models.PROTECT, related_name="actions")
    parameters = models.JSONField(default=dict, blank=True, validators=[validate_storable_json])
    device = models.ForeignKey(
        "devices.Device",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="pinned_actions",
        help_text="Pin to one device; empty means any device of the action type's kind.",
    )

    class Meta:
        ordering = ["step_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["step", "position"], name="unique_action_position", deferrable=models.Deferrable.DEFERRED
            ),
        ]

    def __str__(self):
        return f"{self.position}. {self.action_type.name if self.action_type_id else '?'}"

    def clean(self):
        """Parameters must satisfy the type's JSON Schema; a pinned device must be of its kind."""
        if not self.action_type_id:
            return
        errors: dict[str, list[str]] = {}
        if not isinstance(self.parameters, dict):
            errors["parameters"] = ["Parameters must be a JSON object."]
        else:
            filled = parameters_with_defaults(self.action_type, self.parameters)
            for messages in parameters_errors(self.action_type, filled).values():
                # Shown on the parameters field; each message names the parameter it is about.
                errors.setdefault("parameters", []).extend(messages)
        if self.device_id and self.device.kind != self.action_type.device_kind:
            errors["device"] = [
                f"{self.device_id} is a {self.device.kind}; {self.action_type.name} runs on a "
                f"{self.action_type.device_kind}."
            ]
        if errors:
            raise ValidationError(errors)
