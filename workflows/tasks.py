"""Celery tasks of the executor: thin wrappers, ids in, services do the work.

Every task is idempotent (the services lock the workflow row and check state and attempt ids),
because with late acks a task may be delivered again after a worker dies. A lock that cannot be
had in time (ConflictError) is retried shortly; if that too fails, the recovery scan picks the
workflow up again. The services send these tasks by name (``workflows.services.enqueue``), so
this module imports them and not the other way round.
"""

from celery import shared_task

from labcore.exceptions import ConflictError
from workflows.services.execution import run_step_poll_run, workflow_action_run, workflow_granted_start
from workflows.services.heartbeat import worker_heartbeat_record
from workflows.services.recovery import executor_recover as recover

RETRY = {"autoretry_for": (ConflictError,), "retry_backoff": 1, "retry_jitter": True, "max_retries": 5}


@shared_task(ignore_result=True, **RETRY)
def workflow_advance(workflow_id: int) -> None:
    """Run the next action of an auto workflow (claim, dispatch, record, enqueue the next on commit)."""
    workflow_action_run(workflow_id=workflow_id)


@shared_task(ignore_result=True, **RETRY)
def run_step_poll(run_step_id: int, attempt_id: str) -> None:
    """Poll one long operation; schedules itself again (countdown) while the device works."""
    run_step_poll_run(run_step_id=run_step_id, attempt_id=attempt_id)


@shared_task(ignore_result=True, **RETRY)
def workflow_granted(workflow_id: int) -> None:
    """A queued workflow was handed its devices: move it to running and enqueue its first action."""
    workflow_granted_start(workflow_id=workflow_id)


@shared_task(ignore_result=True)
def executor_recover() -> dict:
    """Periodic (beat) and start-up scan for dispatches lost with their worker; see recovery.py."""
    return recover()


@shared_task(bind=True, ignore_result=True)
def worker_heartbeat(self) -> None:
    """Periodic (beat) and at worker start-up: stamp the worker that runs it as alive (/health)."""
    worker_heartbeat_record(hostname=self.request.hostname or "unknown")
