from rest_framework import viewsets

from labcore.api.pagination import cursor_pagination
from workflows.api.serializers import WorkflowSerializer
from workflows.selectors import workflow_list


class WorkflowViewSet(viewsets.ReadOnlyModelViewSet):
    """Workflows with their samples and run-steps."""

    serializer_class = WorkflowSerializer
    pagination_class = cursor_pagination("-created_at", "-id")
    filterset_fields = ["status", "mode", "protocol"]

    def get_queryset(self):
        return workflow_list()
