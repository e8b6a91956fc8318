from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from workflows.models import RunStep, Workflow
from workflows.selectors import workflow_progress


class RunStepSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="action_type.name", read_only=True, help_text="The action type.")
    device_id = serializers.CharField(read_only=True)
    duration_seconds = serializers.SerializerMethodField(help_text="From the first dispatch to the outcome.")
    due_at = serializers.DateTimeField(
        source="unit.due_at", read_only=True, allow_null=True, help_text="When its step became due (protocol runs)."
    )
    window_missed_seconds = serializers.FloatField(
        source="unit.window_missed_seconds",
        read_only=True,
        allow_null=True,
        help_text="How long after its window closed its step started (null: on time, or no window).",
    )

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
            "due_at",
            "window_missed_seconds",
        ]

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_duration_seconds(self, run_step) -> float | None:
        if run_step.started_at and run_step.finished_at:
            return round((run_step.finished_at - run_step.started_at).total_seconds(), 3)
        return None

    def to_representation(self, run_step) -> dict:
        """The fields above, built directly: a workflow list page carries every step of its runs
        (about 300 on a page of 50), and DRF's walk over 16 fields per step was most of the
        slowest endpoint's time (bench/README.md, "Load"). The declared fields stay the schema;
        a test holds this output equal to DRF's own for every field."""
        unit = run_step.unit
        return {
            "position": run_step.position,
            "step_name": run_step.step_name,
            "name": run_step.action_type.name,
            "device_id": run_step.device_id,
            "parameters": run_step.parameters,
            "status": run_step.status,
            "attempt": run_step.attempt,
            "started_at": _instant(run_step.started_at),
            "dispatched_at": _instant(run_step.dispatched_at),
            "finished_at": _instant(run_step.finished_at),
            "duration_seconds": self.get_duration_seconds(run_step),
            "result": run_step.result,
            "error": run_step.error,
            "resolution": run_step.resolution,
            "due_at": _instant(unit.due_at) if unit is not None else None,
            "window_missed_seconds": unit.window_missed_seconds if unit is not None else None,
        }


_DATETIME = serializers.DateTimeField()


def _instant(value):
    """A datetime exactly as DRF's DateTimeField shows it (ISO 8601 in the current time zone)."""
    return None if value is None else _DATETIME.to_representation(value)


# --- Watching a run (executor) -----------------------------------------------------------------


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(help_text="Run-steps succeeded.")
    skipped = serializers.IntegerField(help_text="Run-steps skipped (cancelled, completed by hand, run_if false).")
    failed = serializers.IntegerField()
    unknown = serializers.IntegerField(help_text="Run-steps whose outcome an operator must resolve.")
    total = serializers.IntegerField()


class CurrentActionSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    step_name = serializers.CharField()
    name = serializers.CharField(help_text="The action type.")
    device_id = serializers.CharField()
    status = serializers.CharField()
    attempt = serializers.IntegerField()


def progress_data(progress) -> dict:
    """A ``Progress`` as the API shows it (``done`` is succeeded), for runs and campaign summaries."""
    return {
        "done": progress.succeeded,
        "skipped": progress.skipped,
        "failed": progress.failed,
        "unknown": progress.unknown,
        "total": progress.total,
    }


def _current_action(step) -> dict | None:
    if step is None:
        return None
    return {
        "position": step.position,
        "step_name": step.step_name,
        "name": step.action_type.name,
        "device_id": step.device_id,
        "status": step.status,
        "attempt": step.attempt,
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
        return progress_data(workflow_progress(workflow))

    @extend_schema_field(CurrentActionSerializer(allow_null=True))
    def get_current_action(self, workflow) -> dict | None:
        """The step in flight, else the next one to run (None once the run is finished)."""
        return _current_action(workflow_progress(workflow).current)


class WorkflowEventSerializer(serializers.Serializer):
    """One status change of a run (``step`` null) or of one of its run-steps."""

    id = serializers.IntegerField(read_only=True)
    at = serializers.DateTimeField(read_only=True)
    step = serializers.IntegerField(
        source="run_step.position", allow_null=True, read_only=True, help_text="The run-step's position, or null."
    )
    # "from" is a Python keyword: declared through the class namespace.
    locals()["from"] = serializers.CharField(
        source="from_status", read_only=True, help_text="Empty for the workflow's creation."
    )
    to = serializers.CharField(source="to_status", read_only=True)
    by = serializers.CharField(read_only=True, help_text="The user (and token), or executor, recovery, scheduler.")
    reason = serializers.CharField(read_only=True)


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
