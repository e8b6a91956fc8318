from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.roles import RUN_WORKFLOWS
from labcore.api.pagination import cursor_pagination
from workflows.api.creation import WorkflowCreateSerializer, workflow_create_from_request
from workflows.api.lifecycle import WorkflowLifecycleMixin
from workflows.api.records import WorkflowReportMixin
from workflows.api.serializers import WorkflowEventSerializer, WorkflowSerializer
from workflows.selectors import workflow_events, workflow_list

EventPagination = cursor_pagination("id")


class WorkflowViewSet(WorkflowLifecycleMixin, WorkflowReportMixin, viewsets.ReadOnlyModelViewSet):
    """Workflows with their samples and run-steps."""

    serializer_class = WorkflowSerializer
    pagination_class = cursor_pagination("-created_at", "-id")
    filterset_fields = ["status", "mode", "protocol"]
    required_capabilities = {"create": RUN_WORKFLOWS, "signatures_create": RUN_WORKFLOWS}
    signature_record = "workflow"

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

    @extend_schema(responses=WorkflowEventSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], pagination_class=EventPagination)
    def events(self, request, pk=None):
        """The run's history: every status change of it and its steps, oldest first (who, when, from, to, why)."""
        workflow = self.get_object()
        paginator = EventPagination()
        page = paginator.paginate_queryset(workflow_events(workflow.pk), request, view=self)
        return paginator.get_paginated_response(WorkflowEventSerializer(page, many=True).data)
