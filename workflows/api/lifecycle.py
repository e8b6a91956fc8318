"""Lifecycle actions of a workflow: start, pause, resume, cancel, complete, execute-step, resolve.

Thin views over workflows.services: each answers ``{"message", "workflow"}`` with the workflow
re-read through the list selector; domain errors (409 naming the state) come from the services.
Each action names its capability through the route's initkwargs, so the viewset's own
``required_capabilities`` (create, ...) stays untouched.
"""

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.authentication import request_via
from accounts.roles import CONTROL_WORKFLOWS, RUN_WORKFLOWS
from workflows.api.serializers import (
    ExecuteStepResponseSerializer,
    ReasonSerializer,
    ResolveSerializer,
    RunStepSerializer,
    WorkflowActionResponseSerializer,
)
from workflows.selectors import workflow_list
from workflows.services.execution import (
    workflow_cancel,
    workflow_complete,
    workflow_execute_next_step,
    workflow_pause,
    workflow_resume,
    workflow_start,
)
from workflows.services.recovery import workflow_resolve


def _lifecycle_action(url_path: str, capability: str):
    return action(
        detail=True,
        methods=["post"],
        url_path=url_path,
        required_capabilities={url_path.replace("-", "_"): capability},
    )


class WorkflowLifecycleMixin:
    """POST /workflows/{id}/<action>: the state transitions of a workflow."""

    required_capabilities: dict = {}

    def _answer(self, message: str, workflow, **extra) -> Response:
        workflow = workflow_list().get(pk=workflow.pk)
        return Response({"message": message, "workflow": self.get_serializer(workflow).data, **extra})

    @extend_schema(request=None, responses=WorkflowActionResponseSerializer)
    @_lifecycle_action("start", RUN_WORKFLOWS)
    def start(self, request, pk=None):
        """Start: manual books its device (409 if busy); auto books its devices or queues, then runs."""
        workflow = workflow_start(workflow=self.get_object(), user=request.user, via=request_via(request))
        message = "Workflow queued for its devices" if workflow.status == "queued" else "Workflow started"
        return self._answer(message, workflow)

    @extend_schema(request=ReasonSerializer, responses=WorkflowActionResponseSerializer)
    @_lifecycle_action("pause", CONTROL_WORKFLOWS)
    def pause(self, request, pk=None):
        """Pause at the next action boundary; an action in flight finishes and is recorded."""
        payload = ReasonSerializer(data=request.data or {})
        payload.is_valid(raise_exception=True)
        workflow = workflow_pause(
            workflow=self.get_object(),
            user=request.user,
            via=request_via(request),
            reason=payload.validated_data.get("reason", ""),
        )
        return self._answer("Workflow paused", workflow)

    @extend_schema(request=None, responses=WorkflowActionResponseSerializer)
    @_lifecycle_action("resume", CONTROL_WORKFLOWS)
    def resume(self, request, pk=None):
        """Resume where it stopped (409 while a step's outcome is unknown: resolve it first)."""
        workflow = workflow_resume(workflow=self.get_object(), user=request.user, via=request_via(request))
        return self._answer("Workflow resumed", workflow)

    @extend_schema(request=ReasonSerializer, responses=WorkflowActionResponseSerializer)
    @_lifecycle_action("cancel", CONTROL_WORKFLOWS)
    def cancel(self, request, pk=None):
        """Cancel: releases its devices and withdraws its queue entries, handing each device on."""
        payload = ReasonSerializer(data=request.data or {})
        payload.is_valid(raise_exception=True)
        workflow = workflow_cancel(
            workflow=self.get_object(),
            user=request.user,
            via=request_via(request),
            reason=payload.validated_data.get("reason", ""),
        )
        return self._answer("Workflow cancelled", workflow)

    @extend_schema(request=None, responses=WorkflowActionResponseSerializer)
    @_lifecycle_action("complete", CONTROL_WORKFLOWS)
    def complete(self, request, pk=None):
        """Complete a running manual workflow and release its device (handed to its queue)."""
        workflow = workflow_complete(workflow=self.get_object(), user=request.user, via=request_via(request))
        return self._answer("Workflow completed", workflow)

    @extend_schema(request=None, responses=ExecuteStepResponseSerializer)
    @_lifecycle_action("execute-step", CONTROL_WORKFLOWS)
    def execute_step(self, request, pk=None):
        """Manual mode: run the next step now through its device's adapter; logged."""
        step = workflow_execute_next_step(workflow=self.get_object(), user=request.user, via=request_via(request))
        return self._answer(f"Step {step.position} {step.status}", step.workflow, step=RunStepSerializer(step).data)

    @extend_schema(request=ResolveSerializer, responses=WorkflowActionResponseSerializer)
    @_lifecycle_action("resolve", CONTROL_WORKFLOWS)
    def resolve(self, request, pk=None):
        """Record the operator's decision on a step whose outcome is unknown; then resume goes on."""
        payload = ResolveSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        workflow = workflow_resolve(
            workflow=self.get_object(), user=request.user, via=request_via(request), **payload.validated_data
        )
        return self._answer("Step resolved", workflow)
