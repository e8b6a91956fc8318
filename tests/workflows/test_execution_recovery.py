"""Crash safety: a dispatch lost with its worker is repeated only if safe, else left to an operator."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from devices.models import Booking
from executionlogs.models import ExecutionLog
from labcore.exceptions import ApplicationError, ConflictError
from tests.workflows.executor_support import action_type_make, device_make, operator_make, status_of, workflow_make
from workflows.choices import RunStepStatus, WorkflowStatus
from workflows.models import RunStep
from workflows.services.dispatch import action_claim
from workflows.services.execution import (
    workflow_action_run,
    workflow_cancel,
    workflow_granted_start,
    workflow_resume,
    workflow_start,
)
from workflows.services.lease import lease_renew
from workflows.services.recovery import executor_recover, run_step_recover, stale_dispatching_steps, workflow_resolve

pytestmark = pytest.mark.django_db


def lost_dispatch(*, safe: bool, steps: int = 2, timeout_seconds: float = 10):
    """A running workflow whose first step was claimed by a worker that then died."""
    action_type = action_type_make(
        f"test.recover_{'safe' if safe else 'unsafe'}", safe_to_repeat=safe, timeout_seconds=timeout_seconds
    )
    device = device_make(f"handler-{'safe' if safe else 'unsafe'}")
    workflow = workflow_make([(action_type, device)] * steps)
    workflow_start(workflow=workflow)
    step = action_claim(workflow_id=workflow.pk)
    return workflow, step


def later(step, seconds: float):
    return step.dispatched_at + timedelta(seconds=seconds)


def lease_seconds() -> float:
    return django_settings.LABCORE_DISPATCH_LEASE_SECONDS


def test_a_claim_never_renewed_is_lost_one_lease_after_it_whatever_the_timeout():
    _, step = lost_dispatch(safe=False, timeout_seconds=3600)
    assert stale_dispatching_steps(now=later(step, lease_seconds() - 1)) == []
    assert stale_dispatching_steps(now=later(step, lease_seconds() + 1)) == [(step.pk, str(step.attempt_id))]


def test_a_dispatch_whose_lease_ran_out_is_recovered_though_its_timeout_is_an_hour():
    workflow, step = lost_dispatch(safe=False, timeout_seconds=3600)
    assert lease_renew(run_step_id=step.pk, attempt_id=str(step.attempt_id))
    step.refresh_from_db()
    renewed_until = step.lease_expires_at
    assert renewed_until > step.dispatched_at + timedelta(seconds=lease_seconds() - 1)
    # A fresh lease: the worker is alive, the long action goes on.
    assert executor_recover(now=renewed_until - timedelta(seconds=1))["recovered"] == 0
    step.refresh_from_db()
    assert step.status == RunStepStatus.DISPATCHING
    # Run out (minutes before the hour's timeout): lost, and unsafe, so unknown and paused.
    assert executor_recover(now=renewed_until + timedelta(seconds=1))["recovered"] == 1
    step.refresh_from_db()
    workflow.refresh_from_db()
    assert step.status == RunStepStatus.UNKNOWN and step.attempt == 1
    assert workflow.status == WorkflowStatus.PAUSED and "resolve step 1" in workflow.status_reason
    # Its worker, late, finds nothing to renew.
    assert not lease_renew(run_step_id=step.pk, attempt_id=str(step.attempt_id))


def test_a_safe_action_whose_lease_ran_out_is_repeated():
    workflow, step = lost_dispatch(safe=True, steps=1, timeout_seconds=3600)
    assert executor_recover(now=later(step, lease_seconds() + 1))["recovered"] == 1
    step.refresh_from_db()
    assert step.status == RunStepStatus.PENDING and "repeated" in step.error
    workflow_action_run(workflow_id=workflow.pk)
    step.refresh_from_db()
    assert step.status == RunStepStatus.SUCCEEDED and step.attempt == 2


def test_a_lease_renewed_after_the_scan_read_it_keeps_the_step():
    _, step = lost_dispatch(safe=False, timeout_seconds=3600)
    RunStep.objects.filter(pk=step.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert stale_dispatching_steps() == [(step.pk, str(step.attempt_id))]
    lease_renew(run_step_id=step.pk, attempt_id=str(step.attempt_id))  # the worker, just in time
    assert run_step_recover(run_step_id=step.pk, attempt_id=str(step.attempt_id)) is None
    step.refresh_from_db()
    assert step.status == RunStepStatus.DISPATCHING


def test_the_timeout_plus_margin_still_catches_a_dispatch_whose_lease_is_renewed():
    """A hung adapter call whose worker still renews: the old rule is the backstop."""
    _, step = lost_dispatch(safe=False, timeout_seconds=10)
    RunStep.objects.filter(pk=step.pk).update(lease_expires_at=later(step, 3600))
    margin = django_settings.LABCORE_EXECUTOR_STALE_MARGIN_SECONDS
    assert stale_dispatching_steps(now=later(step, 10 + margin - 1)) == []
    assert stale_dispatching_steps(now=later(step, 10 + margin + 1)) == [(step.pk, str(step.attempt_id))]


def test_leases_do_not_count_until_the_database_has_been_up_for_a_lease(settings):
    """After a database restart nobody could renew: expired leases wait; the timeout backstop does not."""
    _, step = lost_dispatch(safe=False, timeout_seconds=10)
    RunStep.objects.filter(pk=step.pk).update(lease_expires_at=step.dispatched_at)
    settings.LABCORE_DISPATCH_LEASE_SECONDS = 10**9  # longer than this server has been up
    margin = django_settings.LABCORE_EXECUTOR_STALE_MARGIN_SECONDS
    assert stale_dispatching_steps(now=later(step, 5)) == []
    assert stale_dispatching_steps(now=later(step, 10 + margin + 1)) == [(step.pk, str(step.attempt_id))]


def test_a_lost_unsafe_action_is_marked_unknown_and_its_workflow_paused_never_repeated():
    workflow, step = lost_dispatch(safe=False)
    before = executor_recover(now=later(step, 5))
    assert before["recovered"] == 0
    assert executor_recover(now=later(step, 100))["recovered"] == 1
    step.refresh_from_db()
    workflow.refresh_from_db()
    assert step.status == RunStepStatus.UNKNOWN and step.attempt == 1
    assert workflow.status == WorkflowStatus.PAUSED
    assert "worker lost" in workflow.status_reason and "resolve step 1" in workflow.status_reason
    log = ExecutionLog.objects.get(run_step=step)
    assert log.status == "unknown" and log.caused_by == "system"
    # Nothing dispatches it again: not the executor, not a second scan, not a resume.
    assert workflow_action_run(workflow_id=workflow.pk) is None
    assert executor_recover(now=later(step, 200))["recovered"] == 0
    with pytest.raises(ConflictError, match="unknown outcome"):
        workflow_resume(workflow=workflow)
    step.refresh_from_db()
    assert step.attempt == 1 and ExecutionLog.objects.filter(run_step=step).count() == 1


def test_resolve_mark_succeeded_then_resume_completes_the_run():
    workflow, step = lost_dispatch(safe=False)
    executor_recover(now=later(step, 100))
    workflow_resolve(workflow=workflow, step=1, decision="mark_succeeded", user=operator_make())
    step.refresh_from_db()
    assert step.status == RunStepStatus.SUCCEEDED and step.resolution == "mark_succeeded"
    assert step.resolved_by.username == "operator-1" and step.attempt == 1
    workflow_resume(workflow=workflow)
    while workflow_action_run(workflow_id=workflow.pk):
        pass
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.COMPLETED
    assert ExecutionLog.objects.filter(run_step=step).count() == 1  # step 1 never sent again


def test_resolve_retry_dispatches_it_again_on_resume():
    workflow, step = lost_dispatch(safe=False, steps=1)
    executor_recover(now=later(step, 100))
    workflow_resolve(workflow=workflow, step=1, decision="retry")
    workflow_resume(workflow=workflow)
    workflow_action_run(workflow_id=workflow.pk)
    step.refresh_from_db()
    workflow.refresh_from_db()
    assert step.status == RunStepStatus.SUCCEEDED and step.attempt == 2
    assert workflow.status == WorkflowStatus.COMPLETED


def test_resolve_mark_failed_fails_the_workflow_and_frees_its_devices():
    workflow, step = lost_dispatch(safe=False)
    executor_recover(now=later(step, 100))
    workflow_resolve(workflow=workflow, step=1, decision="mark_failed")
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.FAILED and "marked failed" in workflow.status_reason
    assert not workflow.bookings.filter(status="active").exists()


def test_resolve_refuses_bad_input_and_steps_that_are_not_unknown():
    workflow, step = lost_dispatch(safe=False)
    with pytest.raises(ConflictError, match="step 1 is dispatching, not unknown") as conflict:
        workflow_resolve(workflow=workflow, step=1, decision="retry")
    assert "step" in conflict.value.fields
    with pytest.raises(ApplicationError) as invalid:
        workflow_resolve(workflow=workflow, step=1, decision="ignore")
    assert "decision" in invalid.value.fields
    with pytest.raises(ApplicationError) as missing:
        workflow_resolve(workflow=workflow, step=9, decision="retry")
    assert "step" in missing.value.fields  # a body reference: 400 naming the field


def test_a_lost_safe_action_is_repeated_by_itself():
    workflow, step = lost_dispatch(safe=True, steps=1)
    assert executor_recover(now=later(step, 100))["recovered"] == 1
    step.refresh_from_db()
    assert step.status == RunStepStatus.PENDING and "repeated" in step.error
    workflow_action_run(workflow_id=workflow.pk)
    step.refresh_from_db()
    workflow.refresh_from_db()
    assert step.status == RunStepStatus.SUCCEEDED and step.attempt == 2
    assert workflow.status == WorkflowStatus.COMPLETED
    assert list(ExecutionLog.objects.filter(run_step=step).order_by("attempt").values_list("status", flat=True)) == [
        "unknown",
        "success",
    ]


def test_recovery_repolls_a_long_operation_whose_poll_was_lost():
    incubate = action_type_make("test.recover_long", is_long_running=True, timeout_seconds=600)
    incubator = device_make("incubator-r", config={"mock": {"latency_seconds": {"test.recover_long": 0}}})
    workflow = workflow_make([(incubate, incubator)])
    workflow_start(workflow=workflow)
    workflow_action_run(workflow_id=workflow.pk)
    step = workflow.run_steps.get()
    assert step.status == RunStepStatus.WAITING
    assert executor_recover(now=timezone.now())["repolled"] == 0
    assert executor_recover(now=step.poll_due_at + timedelta(seconds=60))["repolled"] == 1


def test_recovery_restarts_a_running_workflow_whose_next_task_was_lost(settings):
    settings.LABCORE_EXECUTOR_RETRY_BACKOFF_SECONDS = 120
    transfer = action_type_make("test.recover_stall")
    stalled = workflow_make([(transfer, device_make("handler-stall"))] * 2)
    workflow_start(workflow=stalled)
    workflow_action_run(workflow_id=stalled.pk)  # step 1 done; pretend the task for step 2 was lost
    retrying = workflow_make([(action_type_make("test.recover_backoff", safe_to_repeat=True),
                               device_make("handler-backoff", config={"mock": {"fail": ["*"]}}))])  # fmt: skip
    workflow_start(workflow=retrying)
    workflow_action_run(workflow_id=retrying.pk)  # failed once, waiting out a 120 s backoff
    assert executor_recover(now=timezone.now())["advanced"] == 0  # recent news: nothing to do
    assert executor_recover(now=timezone.now() + timedelta(seconds=60))["advanced"] == 1  # only the stalled one


def test_recovery_starts_a_queued_workflow_whose_grant_task_was_lost():
    # The hand-off commits the bookings and only then enqueues workflow_granted; if that enqueue
    # is lost (broker down, the receiver logs and goes on) or the task gives up its lock retries,
    # the workflow stays queued while holding its devices, and nothing else would ever start it.
    transfer = action_type_make("test.recover_grant")
    first = workflow_make([(transfer, device_make("handler-grant"))])
    workflow_start(workflow=first)
    granted = workflow_make([(transfer, first.run_steps.get().device)])
    workflow_start(workflow=granted)
    waiting = workflow_make([(transfer, first.run_steps.get().device)])
    workflow_start(workflow=waiting)
    assert status_of(granted) == status_of(waiting) == WorkflowStatus.QUEUED
    workflow_cancel(workflow=first)  # hands the device to `granted`; its on-commit task never runs here
    assert Booking.objects.active().filter(workflow=granted).exists()
    assert executor_recover(now=timezone.now())["granted"] == 0  # a fresh grant: its task is on its way
    assert executor_recover(now=timezone.now() + timedelta(seconds=60))["granted"] == 1  # not `waiting`
    workflow_granted_start(workflow_id=granted.pk)  # what the re-sent task runs
    assert status_of(granted) == WorkflowStatus.RUNNING
