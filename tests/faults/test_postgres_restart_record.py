"""A PostgreSQL restart while an action is in flight: the device's answer is kept and recorded
once the database is back, not lost to an operator's decision (issue 15, item 3); and a dispatch
lease that ran out during the restart is not taken for a dead worker (item 4).

Runs in a fresh process on a private PostgreSQL cluster this test creates (initdb on a free
port): the process migrates it, claims and dispatches one action, then stops the cluster and
has it started again 3 s later while ``action_record_retrying`` records the result.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults.servers import PrivatePostgres

ROOT = Path(__file__).resolve().parents[2]
DOWN_SECONDS = 3

RESTART_DURING_AN_ACTION = """
import django, json, os, subprocess, threading
django.setup()
from django.core.management import call_command
from django.db import connection
call_command("migrate", verbosity=0)
from executionlogs.models import ExecutionLog
from tests.workflows.executor_support import action_type_make, device_make, workflow_make
from workflows.models import RunStep
from workflows.services.dispatch import action_claim, action_dispatch, dispatch_context
from workflows.services.execution import action_record_retrying, workflow_start

stop, start = json.loads(os.environ["PG_STOP"]), json.loads(os.environ["PG_START"])

# A dispatch whose lease runs out while the database is down (2 s lease, 3 s restart): nobody
# could renew, so it is not taken for a dead worker once the server is back; its renewer
# reconnects and renews, and the result is recorded.
from workflows.services.lease import DispatchLease
from workflows.services.recovery import stale_dispatching_steps
held = workflow_make([(action_type_make("plate_read", safe_to_repeat=False), device_make("reader-1"))])
workflow_start(workflow=held)
held_step = action_claim(workflow_id=held.pk)
with DispatchLease(held_step) as lease:
    result, started_at, finished_at = action_dispatch(held_step, context=dispatch_context(held_step))
    threading.Event().wait(0.8)
    renewed_before = lease.renewals
    connection.close()
    subprocess.run(stop, check=True, capture_output=True)
    threading.Event().wait(float(os.environ["DOWN_SECONDS"]))
    subprocess.run(start, check=True, capture_output=True)
    lost_at_restart = stale_dispatching_steps()
    threading.Event().wait(2.5)  # the renewer reconnects; the server has been up for a lease
    lost_after = stale_dispatching_steps()
    action_record_retrying(run_step_id=held_step.pk, workflow_id=held.pk, attempt_id=str(held_step.attempt_id),
                           result=result, started_at=started_at, finished_at=finished_at)
lease_check = {"renewed_before": renewed_before > 0, "renewed_after": lease.renewals > renewed_before,
               "lost_at_restart": lost_at_restart, "lost_after": lost_after,
               "held_status": RunStep.objects.get(pk=held_step.pk).status}

run = workflow_make([(action_type_make("pipette_transfer", safe_to_repeat=False), device_make("liquid-handler-1"))])
workflow_start(workflow=run)
step = action_claim(workflow_id=run.pk)
result, started_at, finished_at = action_dispatch(step, context=dispatch_context(step))
subprocess.run(stop, check=True, capture_output=True)  # the restart: down while the device answered
restart = threading.Timer(float(os.environ["DOWN_SECONDS"]), lambda: subprocess.run(start, check=True))
restart.start()
try:
    action_record_retrying(run_step_id=step.pk, workflow_id=run.pk, attempt_id=str(step.attempt_id),
                           result=result, started_at=started_at, finished_at=finished_at)
    outcome = "recorded"
except Exception as exc:
    outcome = f"{type(exc).__name__}: {exc}"
restart.join()
connection.close()
print(json.dumps({"outcome": outcome, "status": RunStep.objects.get(pk=step.pk).status,
                  "logs": ExecutionLog.objects.filter(run_step_id=step.pk).count(), "lease": lease_check}))
"""


@pytest.fixture
def private_postgres():
    server = PrivatePostgres().start()
    yield server
    server.remove()


def test_a_result_returned_during_a_postgres_restart_is_recorded_once_it_is_back(private_postgres):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "labcore.settings.test",
        "DATABASE_URL": private_postgres.url(),
        "CELERY_BROKER_URL": "memory://",
        "PG_STOP": json.dumps(private_postgres.control_command("stop")),
        "PG_START": json.dumps(private_postgres.control_command("start")),
        "DOWN_SECONDS": str(DOWN_SECONDS),
        "LABCORE_DISPATCH_LEASE_SECONDS": "2",
        "LABCORE_DISPATCH_LEASE_RENEW_SECONDS": "0.3",
    }
    completed = subprocess.run(
        [sys.executable, "-c", RESTART_DURING_AN_ACTION], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    answer = json.loads(completed.stdout.strip().splitlines()[-1])
    lease = answer.pop("lease")
    assert answer == {"outcome": "recorded", "status": "succeeded", "logs": 1}, completed.stderr[-4000:]
    assert lease == {
        "renewed_before": True,
        "renewed_after": True,
        "lost_at_restart": [],
        "lost_after": [],
        "held_status": "succeeded",
    }, completed.stderr[-4000:]
