"""A worker SIGKILLed mid-action is noticed within 30 s whatever the action's timeout (issue 15,
item 4 and its acceptance): the dispatch lease it renewed runs out, and the recovery scan of a
new worker settles the step. An action not safe to repeat goes ``unknown`` and pauses its run
(invariant 5: never sent again silently); one safe to repeat is sent again and the run completes.

The workers are real ``celery worker`` processes this test starts; the actions have an hour's
timeout (the old timeout rule alone would have waited an hour), and the lease and scan interval
are the production defaults (a 15 s lease renewed every 5 s, a scan every 10 s).
"""

import io
import time

import pytest
from django.core.management import call_command
from django.utils import timezone

from devices.models import Booking
from executionlogs.models import ExecutionLog
from tests.workflows.executor_support import (  # noqa: F401 - workers is a fixture
    action_type_make,
    device_make,
    wait_for,
    wait_status,
    workers_fixture,
    workflow_make,
)
from workflows.choices import RunStepStatus, WorkflowStatus
from workflows.models import RunStep, WorkflowEvent
from workflows.services.execution import workflow_resume, workflow_start
from workflows.services.recovery import workflow_resolve

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

DETECTION_BOUND_SECONDS = 30
# Production lease and scan settings (the test workers' default scan is every 2 s); a short
# visibility timeout has Redis deliver the dead worker's task again: it must change nothing.
ENV = {
    "LABCORE_DISPATCH_LEASE_SECONDS": "15",
    "LABCORE_DISPATCH_LEASE_RENEW_SECONDS": "5",
    "LABCORE_EXECUTOR_RECOVERY_INTERVAL_SECONDS": "10",
    "LABCORE_EXECUTOR_STALE_MARGIN_SECONDS": "30",
    "LABCORE_VISIBILITY_TIMEOUT": "5",
}


def verify_logs() -> str:
    out = io.StringIO()
    call_command("verify_logs", stdout=out)  # raises CommandError on any problem
    return out.getvalue()


def kill_mid_action(workers, *, safe: bool, latency: float):
    """A two-step run whose first action (an hour's timeout) is in flight, its lease renewed once,
    when its worker is SIGKILLed; a new worker (with beat) is started at once."""
    name = "test.fault_kill_safe" if safe else "test.fault_kill_unsafe"
    slow = action_type_make(name, safe_to_repeat=safe, timeout_seconds=3600)
    quick = action_type_make("test.fault_after_kill", timeout_seconds=3600)
    device = device_make(
        f"handler-kill-{'safe' if safe else 'unsafe'}", config={"mock": {"latency_seconds": {name: latency}}}
    )
    run = workflow_make([(slow, device), (quick, device)])
    doomed = workers(name="doomed", env=ENV)
    workflow_start(workflow=run)
    step = wait_for(
        lambda: RunStep.objects.filter(workflow=run, position=1, lease_expires_at__isnull=False).first(),
        timeout=30,
        interval=0.05,
        what="step 1 in flight with its lease renewed",
    )
    assert step.status == RunStepStatus.DISPATCHING
    doomed.kill()
    killed_at = timezone.now()
    replacement = workers(name="replacement", beat=True, env=ENV)
    return run, step, killed_at, replacement


def recovered_at(step):
    """When the recovery scan settled the step (its event from dispatching, by recovery)."""
    event = WorkflowEvent.objects.filter(run_step=step, from_status=RunStepStatus.DISPATCHING).order_by("at").first()
    return event.at if event else None


def test_a_worker_killed_mid_action_not_safe_to_repeat_is_noticed_within_30_s_and_left_unknown(workers):
    run, step, killed_at, worker = kill_mid_action(workers, safe=False, latency=600)
    wait_status(run, WorkflowStatus.PAUSED, timeout=DETECTION_BOUND_SECONDS + 10, worker=worker)
    step.refresh_from_db()
    assert step.status == RunStepStatus.UNKNOWN and step.attempt == 1
    detected_after = (recovered_at(step) - killed_at).total_seconds()
    print(f"lost dispatch (unsafe) noticed {detected_after:.1f} s after the SIGKILL")
    assert detected_after <= DETECTION_BOUND_SECONDS
    time.sleep(6)  # the dead worker's task comes again (visibility 5 s): it must not dispatch again
    step.refresh_from_db()
    assert step.status == RunStepStatus.UNKNOWN and step.attempt == 1
    assert list(ExecutionLog.objects.filter(run_step=step).values_list("status", flat=True)) == ["unknown"]
    assert run.run_steps.get(position=2).status == RunStepStatus.PENDING
    assert worker.process.poll() is None, worker.log()[-4000:]

    # The operator's decision, then the run completes and gives its device back.
    workflow_resolve(workflow=run, step=1, decision="mark_succeeded")
    workflow_resume(workflow=run)
    wait_status(run, WorkflowStatus.COMPLETED, timeout=30, worker=worker)
    assert ExecutionLog.objects.filter(run_step=step).count() == 1  # never sent to the device again
    assert not Booking.objects.active().filter(workflow=run).exists()
    assert "OK:" in verify_logs()
    assert worker.process.poll() is None, worker.log()[-4000:]


def test_a_worker_killed_mid_action_safe_to_repeat_is_repeated_and_the_run_completes(workers):
    run, step, killed_at, worker = kill_mid_action(workers, safe=True, latency=8)
    wait_status(run, WorkflowStatus.COMPLETED, timeout=DETECTION_BOUND_SECONDS + 30, worker=worker)
    step.refresh_from_db()
    assert step.status == RunStepStatus.SUCCEEDED and step.attempt == 2
    detected_after = (recovered_at(step) - killed_at).total_seconds()
    print(f"lost dispatch (safe) noticed {detected_after:.1f} s after the SIGKILL")
    assert detected_after <= DETECTION_BOUND_SECONDS
    statuses = ExecutionLog.objects.filter(run_step=step).order_by("attempt").values_list("status", flat=True)
    assert list(statuses) == ["unknown", "success"]
    assert not Booking.objects.active().filter(workflow=run).exists()
    assert "OK:" in verify_logs()
    assert worker.process.poll() is None, worker.log()[-4000:]
