"""The dispatch lease (issue 15, item 4): a live dispatch keeps renewing it, so the recovery scan
leaves a long action alone however short the lease, and stops renewing once it is recorded."""

import time

import pytest
from django.utils import timezone

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
from workflows.models import RunStep
from workflows.services.dispatch import action_claim, action_dispatch, dispatch_context
from workflows.services.execution import action_record_retrying, workflow_start
from workflows.services.lease import DispatchLease
from workflows.services.recovery import executor_recover


def lease_of(step) -> object:
    return RunStep.objects.values_list("lease_expires_at", flat=True).get(pk=step.pk)


@pytest.mark.django_db(transaction=True)
def test_a_lease_is_renewed_while_held_and_dropped_once_the_step_is_recorded(settings):
    settings.LABCORE_DISPATCH_LEASE_SECONDS = 2
    settings.LABCORE_DISPATCH_LEASE_RENEW_SECONDS = 0.2
    pipette = action_type_make("test.lease_inline", timeout_seconds=3600)
    run = workflow_make([(pipette, device_make("handler-lease"))])
    workflow_start(workflow=run)
    step = action_claim(workflow_id=run.pk)
    with DispatchLease(step) as lease:
        seen = []
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:  # the device working: nothing recorded yet
            value = lease_of(step)
            if value is not None and (not seen or value > seen[-1]):
                seen.append(value)
            time.sleep(0.05)
        assert len(seen) >= 3, seen  # moved forward again and again
        assert seen[-1] > timezone.now()  # and ahead of now
        assert executor_recover()["recovered"] == 0
        result, started_at, finished_at = action_dispatch(step, context=dispatch_context(step))
        action_record_retrying(
            run_step_id=step.pk,
            attempt_id=str(step.attempt_id),
            result=result,
            started_at=started_at,
            finished_at=finished_at,
        )
        renewals = lease.renewals
        time.sleep(0.6)  # the next renewal finds the step recorded and drops the lease
        assert not lease.held
        assert lease.renewals == renewals
    assert RunStep.objects.get(pk=step.pk).status == RunStepStatus.SUCCEEDED


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_renewing_the_lease_of_a_long_action_and_no_scan_takes_it(workers, settings):
    """A 3 s lease, an 8 s action: without renewals the beat scan (every 2 s) would mark it unknown."""
    settings.LABCORE_DISPATCH_LEASE_SECONDS = 3
    incubate = action_type_make("test.lease_long", safe_to_repeat=False, timeout_seconds=3600)
    device = device_make("handler-long", config={"mock": {"latency_seconds": {"test.lease_long": 8.0}}})
    run = workflow_make([(incubate, device)])
    env = {"LABCORE_DISPATCH_LEASE_SECONDS": "3", "LABCORE_DISPATCH_LEASE_RENEW_SECONDS": "0.5"}
    worker = workers(name="lease", beat=True, env=env)
    workflow_start(workflow=run)
    step = wait_for(
        lambda: RunStep.objects.filter(workflow=run, status=RunStepStatus.DISPATCHING).first(),
        timeout=20,
        what="the long action in flight",
    )
    seen = []
    while RunStep.objects.filter(pk=step.pk, status=RunStepStatus.DISPATCHING).exists():
        value = lease_of(step)
        if value is not None and (not seen or value > seen[-1]):
            seen.append(value)
        assert executor_recover()["recovered"] == 0  # this process's scan, with the same 3 s lease
        time.sleep(0.2)
    assert len(seen) >= 8, seen  # about one renewal per 0.5 s over 8 s
    assert (seen[-1] - seen[0]).total_seconds() >= 6  # renewed through the whole action
    wait_status(run, WorkflowStatus.COMPLETED, timeout=20, worker=worker)
    step.refresh_from_db()
    assert step.status == RunStepStatus.SUCCEEDED and step.attempt == 1
    assert list(ExecutionLog.objects.filter(run_step=step).values_list("status", flat=True)) == ["success"]
