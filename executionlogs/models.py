"""The forensic record: one append-only entry per dispatch, and cell-analysis results."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Now

from executionlogs.choices import Cause, LogStatus


class ExecutionLog(models.Model):
    """One dispatch to a device, with its full request and response. Never updated or deleted."""

    device = models.ForeignKey("devices.Device", on_delete=models.PROTECT, related_name="execution_logs")
    workflow = models.ForeignKey(
        "workflows.Workflow", null=True, blank=True, on_delete=models.PROTECT, related_name="execution_logs"
    )
    run_step = models.ForeignKey(
        "workflows.RunStep", null=True, blank=True, on_delete=models.PROTECT, related_name="execution_logs"
    )
    action_type = models.CharField(max_length=100, db_index=True, help_text="The ActionType name at dispatch time.")
    operation = models.CharField(max_length=100, blank=True)
    request = models.JSONField(default=dict)
    response = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=LogStatus.choices)
    latency_ms = models.FloatField(null=True, blank=True)
    started_at = models.DateTimeField(db_default=Now())
    finished_at = models.DateTimeField(null=True, blank=True)
    attempt = models.PositiveIntegerField(default=1)
    caused_by = models.CharField(max_length=16, choices=Cause.choices, default=Cause.WORKER)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())
    previous_hash = models.CharField(max_length=64, blank=True)
    entry_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        indexes = [
            # The listing's cursor and the time-range search both walk (started_at, id).
            models.Index(fields=["started_at", "id"], name="execlog_started_id"),
            models.Index(fields=["device", "started_at", "id"], name="execlog_device_started"),
            models.Index(fields=["workflow", "started_at"], name="execlog_workflow_started"),
            models.Index(fields=["status", "started_at"], name="execlog_status_started"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.device_id} {self.action_type} {self.status}"


class CellAnalysisResult(models.Model):
    """Cell count, confluence and viability of one sample, from one vision dispatch."""

    sample = models.ForeignKey("samples.Sample", on_delete=models.PROTECT, related_name="cell_analysis_results")
    workflow = models.ForeignKey(
        "workflows.Workflow", null=True, blank=True, on_delete=models.PROTECT, related_name="cell_analysis_results"
    )
    execution_log = models.ForeignKey(ExecutionLog, on_delete=models.PROTECT, related_name="cell_analysis_results")
    cell_count = models.PositiveBigIntegerField()
    confluence = models.FloatField(help_text="Percent of the surface covered, 0-100.")
    viability = models.FloatField(help_text="Percent of live cells, 0-100.")
    measured_at = models.DateTimeField(db_default=Now(), db_index=True)

    class Meta:
        ordering = ["-measured_at", "-id"]
        indexes = [models.Index(fields=["sample", "measured_at"], name="cellresult_sample_measured")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(confluence__gte=0, confluence__lte=100), name="confluence_percent"
            ),
            models.CheckConstraint(condition=models.Q(viability__gte=0, viability__lte=100), name="viability_percent"),
        ]

    def __str__(self):
        return f"{self.sample_id}: {self.cell_count} cells"
