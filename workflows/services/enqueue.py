"""Sending the executor's Celery tasks once the current transaction commits.

Tasks are sent by name, so the services never import ``workflows.tasks`` (which imports them):
the dependency points one way. A task sent before the commit could run before the rows it
reads exist; ``on_commit`` sends it after, and a lost send is found by the recovery scan.

A send that fails because the broker is unreachable is logged and dropped, not raised: the
write it follows has committed (answering 500 would tell the client it had not), and the
recovery scan finds every run whose task was lost (a running run with nothing in flight and
no news, a granted run not started, an overdue poll or due time) and sends it again once the
broker is back (issue 15, item 2).
"""

import logging

from django.db import transaction
from kombu.exceptions import OperationalError as BrokerUnreachable

from labcore.celery import app

logger = logging.getLogger(__name__)

WORKFLOW_ADVANCE = "workflows.tasks.workflow_advance"
RUN_STEP_POLL = "workflows.tasks.run_step_poll"
WORKFLOW_GRANTED = "workflows.tasks.workflow_granted"
EXECUTOR_RECOVER = "workflows.tasks.executor_recover"
WORKER_HEARTBEAT = "workflows.tasks.worker_heartbeat"


def _send(name: str, args: list, countdown: float = 0) -> None:
    try:
        app.send_task(name, args=args, countdown=countdown if countdown > 0 else None)
    except BrokerUnreachable as exc:
        logger.warning("broker unreachable; %s%s not sent, the recovery scan sends it later: %s", name, args, exc)


def advance_later(workflow_id: int, *, countdown: float = 0) -> None:
    """Run the next action of ``workflow_id`` (after ``countdown`` s) once this transaction commits."""
    transaction.on_commit(lambda: _send(WORKFLOW_ADVANCE, [workflow_id], countdown))


def poll_later(run_step_id: int, attempt_id: str, *, countdown: float) -> None:
    """Poll a long operation after ``countdown`` s, once this transaction commits."""
    transaction.on_commit(lambda: _send(RUN_STEP_POLL, [run_step_id, attempt_id], countdown))


def send_now(name: str, *args) -> None:
    """Send a task now (outside a transaction: the recovery scan, the grant signal)."""
    _send(name, list(args))
