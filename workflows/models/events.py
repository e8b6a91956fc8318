"""The run history: one append-only event per status change of a workflow or run-step."""

from django.conf import settings
from django.db import models

from labcore.append_only import AppendOnlyError, AppendOnlyModel

# A change or removal of a workflow event (invariant 10): the shared append-only refusal.
AppendOnlyEventError = AppendOnlyError


class WorkflowEvent(AppendOnlyModel):
    """A status change: of the workflow (``run_step`` empty) or of one of its run-steps.

    Written only by ``workflows.services.transitions``, in the same transaction as the change,
    so a run's history is complete: who or what (a user, the executor, recovery, the
    scheduler), when, from, to and why. Refused UPDATE and DELETE by a database trigger
    (migration 0006), like the execution log.
    """

    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.PROTECT, related_name="events", db_index=False)
    run_step = models.ForeignKey(
        "workflows.RunStep", null=True, blank=True, on_delete=models.PROTECT, related_name="events", db_index=False
    )
    from_status = models.CharField(max_length=16, blank=True, help_text="Empty for the creation of a workflow.")
    to_status = models.CharField(max_length=16)
    by = models.CharField(max_length=200, help_text="The user (and token), or the executor, recovery, scheduler.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    reason = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["workflow_id", "id"]
        indexes = [models.Index(fields=["workflow", "id"], name="workflowevent_history")]

    def __str__(self):
        subject = f"step {self.run_step_id}" if self.run_step_id else f"workflow {self.workflow_id}"
        return f"{subject}: {self.from_status or '-'} -> {self.to_status} by {self.by}"
