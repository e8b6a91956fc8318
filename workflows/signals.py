"""Receivers that connect the executor to the booking queue and to worker start-up."""

import logging

from celery.signals import worker_ready
from django.dispatch import receiver

from devices.signals import workflow_device_lost, workflow_devices_granted
from workflows.services.enqueue import EXECUTOR_RECOVER, WORKER_HEARTBEAT, WORKFLOW_GRANTED, send_now
from workflows.services.execution import workflow_manual_device_lost

logger = logging.getLogger(__name__)


@receiver(workflow_devices_granted, dispatch_uid="workflows.start_granted_workflow")
def start_granted_workflow(sender, workflow_id, **kwargs):
    """Sent on commit of the hand-off: start the queued workflow in a task (never in the releaser)."""
    send_now(WORKFLOW_GRANTED, workflow_id)


@receiver(workflow_device_lost, dispatch_uid="workflows.pause_manual_run_that_lost_its_device")
def pause_manual_run_that_lost_its_device(sender, workflow_id, device_id, reason, **kwargs):
    """Sent on commit of a release from outside the run: a manual run that lost its device pauses."""
    workflow_manual_device_lost(workflow_id=workflow_id, device_id=device_id, reason=reason)


@worker_ready.connect(dispatch_uid="workflows.recover_at_worker_start")
def recover_at_worker_start(sender=None, **kwargs):
    """A worker that starts may be replacing one that died mid-action: scan for lost dispatches now."""
    try:
        send_now(EXECUTOR_RECOVER)
        send_now(WORKER_HEARTBEAT)  # seen at once, not only at the first beat
    except Exception:  # the beat scan will catch up; a broker hiccup must not stop the worker
        logger.exception("could not enqueue the start-up recovery scan")
