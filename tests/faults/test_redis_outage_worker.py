"""Redis stopped for 30 s mid-run, then started (issue 15, item 1 and the acceptance): the Celery
worker rides it out and its run completes once Redis is back; meanwhile the API answers without
a 500 (reads 200, writes done or 503 with Retry-After); after it, nothing is left booked and
``verify_logs`` is clean. The worker's broker is a private ``redis-server`` this test starts, stops
mid-run, and starts again on the same port (empty: it keeps nothing on disk, so what was queued
is lost too, and the recovery scan must send it again).
"""

import io
import subprocess
import time

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.services import token_issue
from devices.models import Booking
from tests.factories import UserFactory
from tests.faults.api_support import ROOT, api_answers, api_calls_command
from tests.workflows.executor_support import (  # noqa: F401 - workers is a fixture
    action_type_make,
    device_make,
    wait_for,
    wait_status,
    workers_fixture,
    workflow_make,
)
from workflows.choices import RunStepStatus, WorkflowMode, WorkflowStatus
from workflows.models import WorkerHeartbeat
from workflows.services.execution import workflow_start

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 30


def test_a_30_s_redis_outage_mid_run_the_worker_rides_it_out_the_api_never_500s_the_run_completes(
    workers, private_redis
):
    user = UserFactory(username="operator-1", is_staff=True, is_superuser=True)
    _, token = token_issue(user=user, name="outage")
    pipette = action_type_make("pipette_transfer", safe_to_repeat=False)
    device = device_make("liquid-handler-1", config={"mock": {"latency_seconds": {"pipette_transfer": 1.0}}})
    run = workflow_make([(pipette, device)] * 4)
    manual = workflow_make([(pipette, device_make("liquid-handler-2"))], name="manual", mode=WorkflowMode.MANUAL)
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
    down_at = time.monotonic()
    # A web process on the stopped Redis: a manual run from start to complete, and reads over and
    # over for most of the outage.
    calls = [
        ["get", "/api/devices", None],
        ["get", "/api/workflows", None],
        ["get", f"/api/workflows/{run.pk}", None],
        ["get", "/api/execution-logs", None],
        ["post", f"/api/workflows/{manual.pk}/start", {}],
        ["post", f"/api/workflows/{manual.pk}/execute-step", {}],
        ["post", f"/api/workflows/{manual.pk}/complete", {}],
    ]
    command, api_env = api_calls_command(private_redis.url, token, calls, repeat_seconds=OUTAGE_SECONDS - 8)
    api = subprocess.run(command, cwd=ROOT, env=api_env, capture_output=True, text=True, timeout=120)
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
    assert worker.process.poll() is None, f"the worker exited during the outage:\n{worker.log()[-4000:]}"
    private_redis.start()
    back_at = timezone.now()

    assert api.returncode == 0, api.stderr[-4000:]
    answers = api_answers(api.stdout)
    reads = [answer for answer in answers if answer["call"].startswith("GET")]
    print("during the outage:", len(reads), "reads,", [(a["call"], a["status"]) for a in answers if a not in reads])
    assert len(reads) >= 40 and {answer["status"] for answer in reads} == {200}, answers
    for answer in answers:
        assert answer["status"] < 500 or (answer["status"] == 503 and int(answer["retry_after"]) > 0), answer

    wait_status(run, WorkflowStatus.COMPLETED, timeout=60, worker=worker)
    assert worker.process.poll() is None, worker.log()[-4000:]
    assert set(run.run_steps.values_list("status", flat=True)) == {RunStepStatus.SUCCEEDED}
    # And /health hears from it again: its heartbeat is newer than Redis's return.
    wait_for(
        lambda: WorkerHeartbeat.objects.filter(hostname__startswith="outage@", seen_at__gt=back_at).exists(),
        timeout=30,
        what="a heartbeat after the outage",
    )
    assert not Booking.objects.active().exists(), list(Booking.objects.active().values("device_id", "workflow_id"))
    out = io.StringIO()
    call_command("verify_logs", stdout=out)  # raises CommandError on any problem
    assert "OK:" in out.getvalue()
    assert worker.process.poll() is None, worker.log()[-4000:]
