from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response

from accounts.roles import RUN_WORKFLOWS
from labcore.api.pagination import cursor_pagination
from workflows.api.creation import WorkflowCreateSerializer, workflow_create_from_request
from workflows.api.lifecycle import WorkflowLifecycleMixin
from workflows.api.serializers import WorkflowSerializer
from workflows.selectors import workflow_list


class WorkflowViewSet(WorkflowLifecycleMixin, viewsets.ReadOnlyModelViewSet):
    """Workflows with their samples and run-steps."""

    serializer_class = WorkflowSerializer
    pagination_class = cursor_pagination("-created_at", "-id")
    filterset_fields = ["status", "mode", "protocol"]
    required_capabilities = {"create": RUN_WORKFLOWS}

    def get_queryset(self):
        return workflow_list()

    @extend_schema(request=WorkflowCreateSerializer, responses={201: WorkflowSerializer})
    def create(self, request):
        """Create a workflow from a step list on one device, or from a published protocol; not started."""
        payload = WorkflowCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        workflow = workflow_create_from_request(data=payload.validated_data, user=request.user)
        workflow = workflow_list().get(pk=workflow.pk)
        return Response(self.get_serializer(workflow).data, status=status.HTTP_201_CREATED)
