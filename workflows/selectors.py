"""Reads of workflows with everything their API representation needs, in constant queries."""

from django.db.models import Prefetch, QuerySet

from workflows.models import RunStep, Workflow, WorkflowSample


def workflow_list() -> QuerySet[Workflow]:
    """Workflows with samples and run-steps: three queries whatever the number of rows."""
    return Workflow.objects.select_related("protocol", "device").prefetch_related(
        Prefetch("workflow_samples", queryset=WorkflowSample.objects.select_related("sample").order_by("position")),
        Prefetch("run_steps", queryset=RunStep.objects.select_related("action_type").order_by("position")),
    )
