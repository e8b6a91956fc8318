"""The run state machine (workflows/services/transitions.py): each transition leaves its event.

One test per transition family, through the services that cause it, asserting the event rows
(who, from, to, reason) rather than only the final status.
"""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.utils import IntegrityError
from django.utils import timezone

from devices.services import booking_create
from labcore.exceptions import ConflictError
from tests.factories import UserFactory
from tests.workflows.executor_support import action_type_make, device_make, run_until_idle, workflow_make
from workflows.choices import RunStepStatus, WorkflowMode, WorkflowStatus
from workflows.models import AppendOnlyEventError, WorkflowEvent
from workflows.selectors import workflow_progress
from workflows.services import transitions
from workflows.services.dispatch import action_claim
from workflows.services.execution import (
    run_step_poll_run,
    workflow_action_run,
    workflow_cancel,
    workflow_complete,
    workflow_execute_next_step,
    workflow_granted_start,
    workflow_pause,
    workflow_resume,
    workflow_start,
)
from workflows.services.recovery import executor_recover, workflow_resolve

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_backoff(settings):
    settings.LABCORE_EXECUTOR_RETRY_BACKOFF_SECONDS = 0


def history(workflow, *, step: int | None = None) -> list[tuple]:
    """(from, to, by) of the workflow's own events, or of one step's when ``step`` is given."""
    events = WorkflowEvent.objects.filter(workflow=workflow).order_by("id")
    events = events.filter(run_step__position=step) if step else events.filter(run_step=None)
    return [(e.from_status, e.to_status, e.by) for e in events]


def last_event(workflow, **filters) -> WorkflowEvent:
    return WorkflowEvent.objects.filter(workflow=workflow, **filters).order_by("id").last()


@pytest.fixture
def handler():
    return device_make("handler-tr")


@pytest.fixture
def transfer():
    return action_type_make("test.tr_transfer")


def test_start_run_and_complete_are_events_by_the_user_then_the_executor(handler, transfer):
    alice = UserFactory(username="alice")
    workflow = workflow_make([(transfer, handler)] * 2)
    workflow_start(workflow=workflow, user=alice, via="token bench")
    run_until_idle(workflow)
    assert history(workflow) == [
        ("created", "running", "alice (token bench)"),
        ("running", "completed", "executor"),
    ]
    assert last_event(workflow, to_status="running").user == alice
    assert last_event(workflow, to_status="running").reason == "booked handler-tr"
    for position in (1, 2):
        assert history(workflow, step=position) == [
            ("pending", "dispatching", "executor"),
            ("dispatching", "succeeded", "executor"),
        ]
    assert last_event(workflow, run_step__position=1, to_status="dispatching").reason == "attempt 1"


def test_a_busy_device_queues_the_run_and_the_grant_is_the_executors_event(handler, transfer):
    holder = workflow_make([(transfer, handler)], name="holder")
    workflow_start(workflow=holder)
    waiting = workflow_make([(transfer, handler)], name="waiting")
    workflow_start(workflow=waiting)
    assert last_event(waiting).to_status == WorkflowStatus.QUEUED
    assert "waiting for devices: handler-tr" in last_event(waiting).reason
    run_until_idle(holder)  # completes and hands the device on
    workflow_granted_start(workflow_id=waiting.pk)
    assert history(waiting)[-1] == ("queued", "running", "executor")


def test_pause_by_one_user_and_resume_by_another_are_both_kept(handler, transfer):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    workflow = workflow_make([(transfer, handler)] * 2)
    workflow_start(workflow=workflow, user=alice)
    workflow_pause(workflow=workflow, user=alice, reason="checking the media colour")
    workflow_resume(workflow=workflow, user=bob)
    assert history(workflow)[1:] == [("running", "paused", "alice"), ("paused", "running", "bob")]
    assert last_event(workflow, to_status="paused").reason == "checking the media colour"
    workflow.refresh_from_db()
    assert workflow.status_reason == "resumed by bob"  # the reason now; the pause reason stays in its event


def test_cancel_records_the_run_and_each_skipped_step(handler, transfer):
    alice = UserFactory(username="alice")
    workflow = workflow_make([(transfer, handler)] * 3)
    workflow_start(workflow=workflow)
    workflow_action_run(workflow_id=workflow.pk)
    workflow_cancel(workflow=workflow, user=alice, reason="contaminated")
    assert history(workflow)[-1] == ("running", "cancelled", "alice")
    for position in (2, 3):
        assert history(workflow, step=position) == [("pending", "skipped", "alice")]
        assert last_event(workflow, run_step__position=position).reason == "contaminated"
    progress = workflow_progress(workflow)
    assert (progress.succeeded, progress.skipped, progress.failed, progress.total) == (1, 2, 0, 3)
    assert progress.current is None


def test_a_failure_not_safe_to_repeat_fails_step_and_run_with_the_error_as_reason(transfer):
    broken = device_make("handler-tr-broken", config={"mock": {"fail": ["test.tr_transfer"]}})
    workflow = workflow_make([(transfer, broken)])
    workflow_start(workflow=workflow)
    run_until_idle(workflow)
    assert history(workflow, step=1)[-1] == ("dispatching", "failed", "executor")
    assert "injected failure" in last_event(workflow, run_step__position=1).reason
    assert history(workflow)[-1] == ("running", "failed", "executor")
    assert "injected failure" in last_event(workflow, run_step=None).reason


def test_a_safe_to_repeat_failure_goes_back_to_pending_then_succeeds():
    imaging = action_type_make("test.tr_image", safe_to_repeat=True, max_retries=3)
    flaky = device_make("handler-tr-flaky", config={"mock": {"fail": {"test.tr_image": 1}}})
    workflow = workflow_make([(imaging, flaky)])
    workflow_start(workflow=workflow)
    run_until_idle(workflow)
    assert history(workflow, step=1) == [
        ("pending", "dispatching", "executor"),
        ("dispatching", "pending", "executor"),
        ("pending", "dispatching", "executor"),
        ("dispatching", "succeeded", "executor"),
    ]
    assert last_event(workflow, run_step__position=1, to_status="dispatching").reason == "attempt 2"


def test_a_failure_under_the_pause_policy_pauses_and_resume_retries_the_failed_step():
    incubate = action_type_make("test.tr_incubate", on_failure="pause")
    flaky = device_make("handler-tr-pausing", config={"mock": {"fail": {"test.tr_incubate": 1}}})
    operator = UserFactory(username="operator")
    workflow = workflow_make([(incubate, flaky)])
    workflow_start(workflow=workflow)
    run_until_idle(workflow)
    assert history(workflow)[-1] == ("running", "paused", "executor")
    workflow_resume(workflow=workflow, user=operator)
    assert history(workflow, step=1)[-1] == ("failed", "pending", "operator")
    run_until_idle(workflow)
    assert history(workflow)[-2:] == [("paused", "running", "operator"), ("running", "completed", "executor")]


def test_a_long_operation_waits_then_succeeds():
    incubate = action_type_make("test.tr_long", is_long_running=True, timeout_seconds=30)
    incubator = device_make("incubator-tr", config={"mock": {"latency_seconds": {"test.tr_long": 0.05}}})
    workflow = workflow_make([(incubate, incubator)])
    workflow_start(workflow=workflow)
    workflow_action_run(workflow_id=workflow.pk)
    step = workflow.run_steps.get()
    assert history(workflow, step=1)[-1] == ("dispatching", "waiting", "executor")
    assert last_event(workflow, run_step=step).reason == f"long operation {step.operation_id}"
    while step.status == RunStepStatus.WAITING:
        step.poll_due_at = None
        run_step_poll_run(run_step_id=step.pk, attempt_id=str(step.attempt_id))
        step.refresh_from_db()
    assert history(workflow, step=1)[-1] == ("waiting", "succeeded", "executor")
    waits = WorkflowEvent.objects.filter(run_step=step, to_status=RunStepStatus.WAITING).count()
    assert waits == 1  # re-polls move the due time, not the status: no event each


def test_a_lost_dispatch_is_the_recovery_scans_event_and_the_resolution_is_the_operators(handler):
    unsafe = action_type_make("test.tr_unsafe", timeout_seconds=5)
    operator = UserFactory(username="operator")
    workflow = workflow_make([(unsafe, handler)] * 2)
    workflow_start(workflow=workflow)
    step = action_claim(workflow_id=workflow.pk)
    executor_recover(now=step.dispatched_at + timedelta(seconds=600))
    assert history(workflow, step=1)[-1] == ("dispatching", "unknown", "recovery")
    assert "worker lost" in last_event(workflow, run_step=step).reason
    assert history(workflow)[-1] == ("running", "paused", "recovery")
    workflow_resolve(workflow=workflow, step=1, decision="mark_succeeded", user=operator, via="token console")
    resolved = last_event(workflow, run_step=step)
    assert (resolved.from_status, resolved.to_status, resolved.by) == (
        "unknown",
        "succeeded",
        "operator (token console)",
    )
    assert resolved.reason == "resolved: mark_succeeded" and resolved.user == operator


def test_resolve_mark_failed_fails_the_run_by_the_operator(handler):
    unsafe = action_type_make("test.tr_unsafe2", timeout_seconds=5)
    operator = UserFactory(username="operator")
    workflow = workflow_make([(unsafe, handler)])
    workflow_start(workflow=workflow)
    step = action_claim(workflow_id=workflow.pk)
    executor_recover(now=step.dispatched_at + timedelta(seconds=600))
    workflow_resolve(workflow=workflow, step=1, decision="mark_failed", user=operator)
    assert history(workflow, step=1)[-1] == ("unknown", "failed", "operator")
    assert history(workflow)[-1] == ("paused", "failed", "operator")


def test_manual_execute_step_and_complete_are_the_users_events(handler, transfer):
    scientist = UserFactory(username="scientist-m")
    workflow = workflow_make([(transfer, handler)] * 3, mode=WorkflowMode.MANUAL, device=handler)
    workflow_start(workflow=workflow, user=scientist)
    workflow_execute_next_step(workflow=workflow, user=scientist)
    assert history(workflow, step=1) == [
        ("pending", "dispatching", "scientist-m"),
        ("dispatching", "succeeded", "scientist-m"),
    ]
    workflow_complete(workflow=workflow, user=scientist)
    assert history(workflow, step=2) == [("pending", "skipped", "scientist-m")]
    assert history(workflow)[-1] == ("running", "completed", "scientist-m")
    progress = workflow_progress(workflow)
    assert (progress.succeeded, progress.skipped, progress.total) == (1, 2, 3)


def test_a_force_released_device_pauses_the_run_by_the_executor(handler, transfer):
    other = workflow_make([(transfer, handler)], name="other")
    workflow = workflow_make([(transfer, handler)] * 2)
    workflow_start(workflow=workflow)
    with connection.cursor() as cursor:  # as a force-release leaves it: the booking gone
        cursor.execute("UPDATE devices_booking SET status = 'released' WHERE workflow_id = %s", [workflow.pk])
    booking_create(device=handler, workflow=other)
    workflow_action_run(workflow_id=workflow.pk)
    event = last_event(workflow, run_step=None)
    assert (event.from_status, event.to_status, event.by) == ("running", "paused", "executor")
    assert "no longer booked" in event.reason


def test_a_move_the_machine_does_not_allow_is_refused_and_leaves_no_event(handler, transfer):
    workflow = workflow_make([(transfer, handler)])
    before = WorkflowEvent.objects.count()
    with pytest.raises(ConflictError), transaction.atomic():
        transitions.workflow_finish(workflow, status=WorkflowStatus.COMPLETED, by=transitions.EXECUTOR)
    assert WorkflowEvent.objects.count() == before
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.CREATED


def test_events_are_append_only_in_the_application_and_in_the_database(handler, transfer):
    workflow = workflow_make([(transfer, handler)])
    workflow_start(workflow=workflow)
    event = WorkflowEvent.objects.get(workflow=workflow)
    with pytest.raises(AppendOnlyEventError):
        WorkflowEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(AppendOnlyEventError):
        WorkflowEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyEventError):
        event.save()
    for statement in (
        "UPDATE workflows_workflowevent SET reason = 'x' WHERE id = %s",
        "DELETE FROM workflows_workflowevent WHERE id = %s",
    ):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [event.pk])
    assert WorkflowEvent.objects.get(pk=event.pk).reason == event.reason


def test_event_times_are_when_it_happened(handler, transfer):
    workflow = workflow_make([(transfer, handler)])
    before = timezone.now()
    workflow_start(workflow=workflow)
    assert before <= last_event(workflow).at <= timezone.now()
