"""One operation on a device outside any run: ``POST /api/devices/{id}/execute`` (the original API).

The same rules as the executor: exclusive use (only a workflow holding the device, or one of
its slots, or nobody when the device has no active booking at all), parameters checked against
the ActionType, the adapter called with no transaction or lock held, and an execution log entry
for the dispatch.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from devices.adapters import DispatchContext, DispatchResult, DispatchStatus, adapter_for
from devices.models import ActionType, Booking, Device
from devices.registry import parameters_validate
from executionlogs.choices import Cause
from executionlogs.models import ExecutionLog
from executionlogs.services import execution_log_create
from labcore.exceptions import ApplicationError, ConflictError
from workflows.models import Workflow
from workflows.services.dispatch import assert_no_transaction
from workflows.services.recording import LOG_STATUS


@dataclass
class OperationOutcome:
    status: str
    response: dict | None
    error: str
    latency_ms: float
    execution_log: ExecutionLog


@transaction.atomic
def _operation_check(*, device: Device, operation: str, parameters, workflow_id: int | None):
    action_type = ActionType.objects.filter(name=operation).first()
    if action_type is None:
        raise ApplicationError(f"no action type named {operation!r}", fields={"operation": [f"unknown: {operation!r}"]})
    if action_type.device_kind != device.kind:
        raise ApplicationError(
            f"{operation} runs on a {action_type.device_kind}; device {device.pk} is a {device.kind}",
            fields={"operation": [f"not an operation of a {device.kind}"]},
        )
    if action_type.is_long_running:
        raise ApplicationError(
            f"{operation} is a long-running operation; run it in a workflow",
            fields={"operation": ["long-running operations run in workflows"]},
        )
    parameters = parameters_validate(action_type, parameters if parameters is not None else {})
    # Of a shared device (capacity > 1) any holder may run an operation; one without a workflow
    # needs the device to have no active booking at all, free slots or not (it acts on the whole
    # instrument, which its holders' work is using). See docs/booking.md.
    holders = Booking.objects.active().filter(device_id=device.pk).order_by("slot")
    holders = list(holders.values_list("workflow_id", flat=True))
    workflow = None
    if workflow_id is not None:
        workflow = Workflow.objects.filter(pk=workflow_id).first()
        if workflow is None:
            raise ApplicationError(f"no workflow {workflow_id}", fields={"workflow_id": [f"no workflow {workflow_id}"]})
        if workflow.pk not in holders:
            raise ConflictError(
                f"workflow {workflow.pk} does not hold device {device.pk}; book it first",
                fields={"workflow_id": ["does not hold the device"]},
            )
    elif holders:
        raise ConflictError(
            f"device {device.pk} is booked by workflow {holders[0]}",
            fields={"device": [f"booked by workflow {holders[0]}"]},
        )
    return action_type, parameters, workflow


def device_operation_execute(
    *, device: Device, operation: str, parameters=None, workflow_id: int | None = None, user=None
) -> OperationOutcome:
    """Run ``operation`` on ``device`` now and log it; device faults are an outcome, not an error."""
    action_type, parameters, workflow = _operation_check(
        device=device, operation=operation, parameters=parameters, workflow_id=workflow_id
    )
    assert_no_transaction()
    started_at = timezone.now()
    context = DispatchContext(workflow_id=workflow.pk if workflow else None)
    try:
        result = adapter_for(device).dispatch(action_type=action_type, parameters=parameters, context=context)
    except Exception as exc:  # an adapter bug is recorded like a device failure
        result = DispatchResult(
            status=DispatchStatus.ERROR,
            request={"action": operation, "parameters": parameters},
            error=f"adapter error: {exc}",
        )
    finished_at = timezone.now()
    latency_ms = result.latency_ms or round((finished_at - started_at).total_seconds() * 1000, 3)
    log = execution_log_create(
        device=device,
        workflow=workflow,
        action_type=action_type.name,
        request=result.request,
        response=result.response,
        status=LOG_STATUS.get(result.status, "unknown"),
        latency_ms=latency_ms,
        started_at=started_at,
        finished_at=finished_at,
        caused_by=Cause.USER,
        user=user,
    )
    return OperationOutcome(
        status=log.status, response=result.response, error=result.error, latency_ms=latency_ms, execution_log=log
    )
