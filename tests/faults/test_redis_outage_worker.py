"""A Celery worker rides out a Redis outage and its runs complete once Redis is back (issue 15,
item 1). The worker's broker is a private ``redis-server`` this test starts, stops for a while
mid-run, and starts again on the same port (empty: it keeps nothing on disk, so what was queued
is lost too, and the recovery scan must send it again).
"""

import time

import pytest
from django.utils import timezone

from tests.workflows.executor_support import (  # noqa: F401 - workers is a fixture
    action_type_make,
    device_make,
    wait_for,
    wait_status,
    workers_fixture,
    workflow_make,
)
from workflows.choices import RunStepStatus, WorkflowStatus
from workflows.models import WorkerHeartbeat
from workflows.services.execution import workflow_start

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 15


def test_a_worker_rides_out_a_redis_outage_and_the_run_completes_after(workers, private_redis):
    pipette = action_type_make("pipette_transfer", safe_to_repeat=False)
    device = device_make("liquid-handler-1", config={"mock": {"latency_seconds": {"pipette_transfer": 1.0}}})
    run = workflow_make([(pipette, device)] * 4)
    env = {"CELERY_BROKER_URL": private_redis.url, "LABCORE_WORKER_HEARTBEAT_SECONDS": "1"}
    worker = workers(name="outage", beat=True, env=env)
    # Sent to this session's broker, where no worker listens: the beat scan of the worker
    # finds the running run with nothing in flight and sends its action to the private Redis.
    workflow_start(workflow=run)
    wait_for(
        lambda: run.run_steps.filter(status=RunStepStatus.SUCCEEDED).exists(),
        timeout=30,
        what="the first action to succeed",
    )

    private_redis.stop()
    time.sleep(OUTAGE_SECONDS)
    assert worker.process.poll() is None, f"the worker exited during the outage:\n{worker.log()[-4000:]}"
    private_redis.start()
    back_at = timezone.now()

    wait_status(run, WorkflowStatus.COMPLETED, timeout=60, worker=worker)
    assert worker.process.poll() is None, worker.log()[-4000:]
    assert set(run.run_steps.values_list("status", flat=True)) == {RunStepStatus.SUCCEEDED}
    # And /health hears from it again: its heartbeat is newer than Redis's return.
    wait_for(
        lambda: WorkerHeartbeat.objects.filter(hostname__startswith="outage@", seen_at__gt=back_at).exists(),
        timeout=30,
        what="a heartbeat after the outage",
    )
