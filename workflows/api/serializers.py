from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from workflows.models import RunStep, Workflow


class RunStepSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="action_type.name", read_only=True, help_text="The action type.")
    device_id = serializers.CharField(read_only=True)
    duration_seconds = serializers.SerializerMethodField(help_text="From the first dispatch to the outcome.")

    class Meta:
        model = RunStep
        fields = [
            "position",
            "step_name",
            "name",
            "device_id",
            "parameters",
            "status",
            "attempt",
            "started_at",
            "dispatched_at",
            "finished_at",
            "duration_seconds",
            "result",
            "error",
            "resolution",
        ]

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_duration_seconds(self, run_step) -> float | None:
        if run_step.started_at and run_step.finished_at:
            return round((run_step.finished_at - run_step.started_at).total_seconds(), 3)
        return None


# --- Watching a run (executor) -----------------------------------------------------------------


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(help_text="Run-steps succeeded or skipped.")
    total = serializers.IntegerField()


class CurrentActionSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    step_name = serializers.CharField()
    name = serializers.CharField(help_text="The action type.")
    device_id = serializers.CharField()
    status = serializers.CharField()
    attempt = serializers.IntegerField()


def _progress(workflow) -> dict:
    steps = list(workflow.run_steps.all())  # prefetched by workflow_list()
    return {"done": sum(1 for s in steps if s.status in ("succeeded", "skipped")), "total": len(steps)}


def _current_action(workflow) -> dict | None:
    """The step in flight, else the next one to run (None when every step is done)."""
    steps = list(workflow.run_steps.all())
    current = next((s for s in steps if s.status in ("dispatching", "waiting")), None) or next(
        (s for s in steps if s.status not in ("succeeded", "skipped")), None
    )
    if current is None:
        return None
    return {
        "position": current.position,
        "step_name": current.step_name,
        "name": current.action_type.name,
        "device_id": current.device_id,
        "status": current.status,
        "attempt": current.attempt,
    }


class WorkflowSerializer(serializers.ModelSerializer):
    device_id = serializers.CharField(read_only=True, allow_null=True)
    priority = serializers.CharField(source="get_priority_display", read_only=True)
    samples = serializers.SerializerMethodField()
    steps = RunStepSerializer(source="run_steps", many=True, read_only=True)
    progress = serializers.SerializerMethodField()
    current_action = serializers.SerializerMethodField()

    class Meta:
        model = Workflow
        fields = [
            "id",
            "name",
            "status",
            "status_reason",
            "mode",
            "priority",
            "protocol",
            "device_id",
            "samples",
            "steps",
            "created_at",
            "started_at",
            "finished_at",
            "progress",
            "current_action",
        ]

    def get_samples(self, workflow) -> list[str]:
        return [link.sample.barcode for link in workflow.workflow_samples.all()]

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, workflow) -> dict:
        return _progress(workflow)

    @extend_schema_field(CurrentActionSerializer(allow_null=True))
    def get_current_action(self, workflow) -> dict | None:
        return _current_action(workflow)


class WorkflowActionResponseSerializer(serializers.Serializer):
    message = serializers.CharField()
    workflow = WorkflowSerializer()


class ExecuteStepResponseSerializer(WorkflowActionResponseSerializer):
    step = RunStepSerializer()


class ResolveSerializer(serializers.Serializer):
    step = serializers.IntegerField(
        min_value=1, max_value=2_000_000_000, help_text="The position of the run-step whose outcome is unknown."
    )
    decision = serializers.ChoiceField(
        choices=["retry", "mark_succeeded", "mark_failed"],
        error_messages={"invalid_choice": '"{input}" is not one of: retry, mark_succeeded, mark_failed.'},
    )


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)
