"""The forensic record: one append-only entry per dispatch, and cell-analysis results."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Now

from executionlogs.chain import chain_append
from executionlogs.choices import Cause, LogStatus
from executionlogs.latency import BUCKET_COUNT, histogram_quantile
from labcore.append_only import AppendOnlyError, AppendOnlyModel, AppendOnlyQuerySet


class ExecutionLogQuerySet(AppendOnlyQuerySet):
    """Refuses every bulk path that would change, remove or bypass the hash chain.

    The database trigger installed by migration 0003 (0003_append_only_trigger) refuses UPDATE and DELETE as well; this
    layer only turns the mistake into a clear Python error before any SQL is sent.
    """

    def update(self, **kwargs):
        raise AppendOnlyError("execution log entries are never updated")

    def delete(self):
        raise AppendOnlyError("execution log entries are never deleted")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError("execution log entries are never updated")

    def bulk_create(self, objs, *args, **kwargs):
        # Bulk inserts would skip the hash chain; seed_logs has its own chained COPY path.
        raise AppendOnlyError("append entries with execution_log_create (or seed_logs), which keeps the chain")


class ExecutionLog(models.Model):
    """One dispatch to a device, with its full request and response. Never updated or deleted.

    Every entry is sealed into a hash chain when it is inserted (``executionlogs.chain``):
    ``entry_hash`` covers the stored content and ``previous_hash``, the hash of the entry before
    it in id order. ``python manage.py verify_logs`` re-walks the chain.
    """

    # Foreign keys carry no index of their own: the composite and partial indexes in Meta serve
    # both the API's lookups and the PROTECT checks, at a fraction of the size at 10M rows.
    device = models.ForeignKey(
        "devices.Device", on_delete=models.PROTECT, related_name="execution_logs", db_index=False
    )
    workflow = models.ForeignKey(
        "workflows.Workflow",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="execution_logs",
        db_index=False,
    )
    run_step = models.ForeignKey(
        "workflows.RunStep",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="execution_logs",
        db_index=False,
    )
    action_type = models.CharField(max_length=100, help_text="The ActionType name at dispatch time.")
    operation = models.CharField(max_length=100, blank=True)
    request = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    response = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    status = models.CharField(max_length=16, choices=LogStatus.choices)
    latency_ms = models.FloatField(null=True, blank=True)
    started_at = models.DateTimeField(db_default=Now())
    finished_at = models.DateTimeField(null=True, blank=True)
    attempt = models.PositiveIntegerField(default=1)
    caused_by = models.CharField(max_length=16, choices=Cause.choices, default=Cause.WORKER)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(db_default=Now(), help_text="Database clock when the entry was appended.")
    previous_hash = models.CharField(max_length=64, blank=True)
    entry_hash = models.CharField(max_length=64, blank=True)

    objects = ExecutionLogQuerySet.as_manager()

    class Meta:
        ordering = ["started_at", "id"]
        # Every read is "rows matching X, in (started_at, id) order, after a cursor": each index
        # ends with (started_at, id) so the filter, the order and the cursor are one index range.
        # Why B-tree and not BRIN: docs/decisions.md, "Execution logs".
        indexes = [
            models.Index(fields=["started_at", "id"], name="execlog_started_id"),
            models.Index(fields=["device", "started_at", "id"], name="execlog_device_started"),
            models.Index(
                fields=["workflow", "started_at", "id"],
                name="execlog_workflow_started",
                condition=models.Q(workflow__isnull=False),
            ),
            # Successes are ~95% of entries: the (started_at, id) index serves ?status=success
            # at once, so only the rare statuses need (and get) an index of their own.
            models.Index(
                fields=["status", "started_at", "id"],
                name="execlog_status_started",
                condition=~models.Q(status="success"),
            ),
            models.Index(fields=["action_type", "started_at", "id"], name="execlog_action_started"),
            # Only for PROTECT checks when a run-step or user is deleted; most entries have neither.
            models.Index(fields=["run_step"], name="execlog_run_step", condition=models.Q(run_step__isnull=False)),
            models.Index(fields=["user"], name="execlog_user", condition=models.Q(user__isnull=False)),
        ]

    def __str__(self):
        return f"#{self.pk} {self.device_id} {self.action_type} {self.status}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("execution log entries are never updated")
        if not getattr(self, "_sealed", False):
            # Every insert path (the service, a factory, objects.create) goes through the chain.
            chain_append(self, *args, **kwargs)
            return
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("execution log entries are never deleted")


def _empty_histogram() -> list[int]:
    return [0] * BUCKET_COUNT


class LatencyStat(models.Model):
    """Successful latencies of one action type on one device, kept as entries are appended.

    Derived from the log (``executionlogs.latency``): updated in place by a trigger on the log, one
    atomic upsert per counted entry in the entry's own transaction, and built from the existing log
    by migration 0007. Not part of the forensic record.
    """

    device = models.ForeignKey("devices.Device", on_delete=models.CASCADE, related_name="+", db_index=False)
    action_type = models.CharField(max_length=100)
    count = models.BigIntegerField(default=0)
    sum_ms = models.FloatField(default=0.0)
    histogram = ArrayField(
        models.IntegerField(),
        size=BUCKET_COUNT,
        default=_empty_histogram,
        help_text="Entries per log-spaced latency bucket (executionlogs.latency.bucket_of).",
    )
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["device", "action_type"]
        constraints = [
            # The upsert's conflict target, and the index every read uses.
            models.UniqueConstraint(fields=["device", "action_type"], name="latencystat_device_action"),
        ]

    def __str__(self):
        return f"{self.device_id} {self.action_type}: {self.count}"

    @property
    def median_ms(self) -> float | None:
        return histogram_quantile(self.histogram, 0.5)

    @property
    def mean_ms(self) -> float | None:
        return self.sum_ms / self.count if self.count else None


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
        indexes = [
            models.Index(fields=["sample", "measured_at"], name="cellresult_sample_measured"),
            models.Index(fields=["workflow", "measured_at"], name="cellresult_workflow_measured"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(confluence__gte=0, confluence__lte=100), name="confluence_percent"
            ),
            models.CheckConstraint(condition=models.Q(viability__gte=0, viability__lte=100), name="viability_percent"),
        ]

    def __str__(self):
        return f"{self.sample_id}: {self.cell_count} cells"


class LogAnchor(AppendOnlyModel):
    """The chain head (entry id and hash) as it was at one moment: the end of the log cannot be cut unnoticed.

    A chain whose last entries were removed is still a valid chain; only a record of how far it
    once reached shows the cut. ``anchor_logs`` (a Celery beat task) writes one periodically, to
    this table and to the application log (and, if configured, a file kept elsewhere).
    """

    head_id = models.BigIntegerField(help_text="The id (chain position) of the last entry when anchored.")
    head_hash = models.CharField(max_length=64)
    anchored_at = models.DateTimeField(db_default=Now())
    anchored_by = models.CharField(max_length=32, help_text="command, beat, or another source")

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"anchor #{self.pk}: entry #{self.head_id} {self.head_hash[:12]}"
