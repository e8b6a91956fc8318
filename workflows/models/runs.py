"""What runs: a Workflow and its materialised plan of RunSteps."""

from django.conf import settings
from django.db import models

from devices.choices import Priority
from workflows.choices import DONE_STEP_STATUSES, RunStepStatus, WindowPolicy, WorkflowMode, WorkflowStatus


class Workflow(models.Model):
    """One run of work on samples: a published protocol version, or an ad-hoc step list.

    Its plan is materialised into RunSteps at creation, so editing a protocol later never
    changes a run in flight or the record of a past one.
    """

    name = models.CharField(max_length=200)
    protocol = models.ForeignKey(
        "workflows.Protocol", null=True, blank=True, on_delete=models.PROTECT, related_name="workflows"
    )
    campaign = models.ForeignKey(
        "workflows.Campaign", null=True, blank=True, on_delete=models.PROTECT, related_name="workflows"
    )
    device = models.ForeignKey(
        "devices.Device",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The single device of an ad-hoc (original API) workflow.",
    )
    mode = models.CharField(max_length=8, choices=WorkflowMode.choices, default=WorkflowMode.AUTO)
    status = models.CharField(
        max_length=16, choices=WorkflowStatus.choices, default=WorkflowStatus.CREATED, db_index=True
    )
    status_reason = models.TextField(
        blank=True, help_text="Why it is in its status now; its events keep every earlier reason."
    )
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    samples = models.ManyToManyField("samples.Sample", through="WorkflowSample", related_name="workflows")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.name} (#{self.pk})"


class WorkflowSample(models.Model):
    """A sample processed by a workflow, in the order it was given."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="workflow_samples")
    sample = models.ForeignKey("samples.Sample", on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["workflow_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "sample"], name="unique_workflow_sample"),
        ]

    def __str__(self):
        return f"workflow {self.workflow_id}: sample {self.sample_id}"


class RunUnit(models.Model):
    """A booking unit of a protocol run: one run of one protocol step (an iteration of a repeating step).

    Its devices are booked when it becomes due and released when it ends, unless
    ``keep_devices`` chains it to the next unit (then they are booked and kept as one group).
    Materialised with the run, like its run-steps: a later protocol edit changes nothing here.
    Runs without units (the original step-list shape, manual runs) book their whole device set
    at start, as they always did.
    """

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="units")
    position = models.PositiveIntegerField()
    step_name = models.CharField(max_length=200)
    step_position = models.PositiveIntegerField(help_text="The protocol step's position; its iterations share it.")
    iteration = models.PositiveIntegerField(default=1)
    start_after_seconds = models.FloatField(
        default=0, help_text="Due this long after the previous unit ends (the first: after the run starts)."
    )
    window_seconds = models.FloatField(null=True, blank=True)
    on_window_missed = models.CharField(max_length=8, choices=WindowPolicy.choices, default=WindowPolicy.RUN_LATE)
    run_if = models.JSONField(null=True, blank=True)
    until = models.JSONField(null=True, blank=True, help_text="Checked after this iteration: later ones are skipped.")
    keep_devices = models.BooleanField(default=False)
    due_at = models.DateTimeField(null=True, blank=True, help_text="When it may start (set when the one before ends).")
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    window_missed_seconds = models.FloatField(
        null=True, blank=True, help_text="How long after its window closed it started (null: on time)."
    )

    class Meta:
        ordering = ["workflow_id", "position"]
        constraints = [models.UniqueConstraint(fields=["workflow", "position"], name="unique_run_unit_position")]
        indexes = [
            # The recovery scan's "due and not started" read.
            models.Index(fields=["due_at"], condition=models.Q(started_at__isnull=True), name="rununit_due"),
        ]

    def __str__(self):
        return f"workflow {self.workflow_id} unit {self.position}: {self.step_name} #{self.iteration}"


class RunStep(models.Model):
    """One action of a workflow's plan, with its device and parameters resolved."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="run_steps")
    position = models.PositiveIntegerField()
    unit = models.ForeignKey(RunUnit, null=True, blank=True, on_delete=models.CASCADE, related_name="run_steps")
    pinned = models.BooleanField(
        default=True, help_text="False: any device of its kind, chosen when its unit is booked."
    )
    step_name = models.CharField(max_length=200, help_text="The protocol step (or original step name).")
    action_type = models.ForeignKey("devices.ActionType", on_delete=models.PROTECT, related_name="+")
    device = models.ForeignKey("devices.Device", on_delete=models.PROTECT, related_name="+")
    parameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=RunStepStatus.choices, default=RunStepStatus.PENDING, db_index=True
    )
    attempt = models.PositiveIntegerField(default=0)
    attempt_id = models.UUIDField(null=True, blank=True, help_text="Identifies the dispatch in flight.")
    operation_id = models.CharField(max_length=200, blank=True, help_text="Long operation id from the adapter.")
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Executor bookkeeping (see docs/executor.md).
    retry_at = models.DateTimeField(
        null=True, blank=True, help_text="A failed attempt of a safe-to-repeat action is retried from this time."
    )
    poll_due_at = models.DateTimeField(
        null=True, blank=True, help_text="When the long operation should next be polled (recovery re-polls after it)."
    )
    lease_expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="While dispatching: its worker renews this; once past, recovery treats the dispatch as lost.",
    )
    resolution = models.CharField(max_length=16, blank=True, help_text="The operator's decision on an unknown outcome.")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["workflow_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "position"], name="unique_run_step_position"),
        ]
        indexes = [
            models.Index(fields=["status", "dispatched_at"], name="runstep_status_dispatched"),
            # The executor's "next step to run" (first not-done step by position) is read on
            # every action: only steps still to do are in this index, so the read does not grow
            # with the steps already done.
            models.Index(
                fields=["workflow", "position"],
                condition=~models.Q(status__in=DONE_STEP_STATUSES),
                name="runstep_todo_order",
            ),
        ]

    def __str__(self):
        return f"workflow {self.workflow_id} step {self.position}: {self.action_type_id}"
