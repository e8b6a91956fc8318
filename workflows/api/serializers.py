from rest_framework import serializers

from workflows.models import RunStep, Workflow


class RunStepSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="action_type.name", read_only=True, help_text="The action type.")
    device_id = serializers.CharField(read_only=True)

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
            "finished_at",
            "result",
            "error",
        ]


class WorkflowSerializer(serializers.ModelSerializer):
    device_id = serializers.CharField(read_only=True, allow_null=True)
    priority = serializers.CharField(source="get_priority_display", read_only=True)
    samples = serializers.SerializerMethodField()
    steps = RunStepSerializer(source="run_steps", many=True, read_only=True)

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
        ]

    def get_samples(self, workflow) -> list[str]:
        return [link.sample.barcode for link in workflow.workflow_samples.all()]
