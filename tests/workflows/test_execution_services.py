"""The executor's services, driven action by action in the test process (the worker tests are in e2e).

``workflow_action_run`` is exactly what the Celery task runs; calling it here makes each
action boundary observable. Hardware is the mock adapter (latency scale 0 in tests).
"""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from devices.choices import BookingStatus, DeviceKind
from devices.models import Booking, QueueEntry
from devices.services import booking_create, device_force_release
from executionlogs.models import CellAnalysisResult, ExecutionLog
from labcore.exceptions import ConflictError
from tests.workflows.executor_support import (
    action_type_make,
    device_make,
    operator_make,
    run_until_idle,
    workflow_make,
)
from workflows.choices import RunStepStatus, WorkflowStatus
from workflows.models import RunStep
from workflows.services.dispatch import TransactionHeldDuringDispatch, action_claim, action_dispatch, dispatch_context
from workflows.services.execution import (
    action_record_retrying,
    run_step_poll_run,
    workflow_action_run,
    workflow_cancel,
    workflow_granted_start,
    workflow_pause,
    workflow_resume,
    workflow_start,
)
from workflows.services.recording import action_record

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_backoff(settings):
    settings.LABCORE_EXECUTOR_RETRY_BACKOFF_SECONDS = 0


def active_holders(*devices) -> dict:
    return {b.device_id: b.workflow_id for b in Booking.objects.filter(status=BookingStatus.ACTIVE, device__in=devices)}


@pytest.fixture
def two_devices():
    return device_make("handler-x"), device_make("handler-y")


@pytest.fixture
def transfer():
    return action_type_make("test.exec_transfer")


def test_auto_run_dispatches_every_step_in_order_logs_each_and_frees_its_devices(two_devices, transfer):
    first, second = two_devices
    workflow = workflow_make([(transfer, first), (transfer, second), (transfer, first)])
    workflow_start(workflow=workflow)
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.RUNNING
    assert active_holders(first, second) == {first.pk: workflow.pk, second.pk: workflow.pk}

    assert run_until_idle(workflow) == 3
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.COMPLETED and workflow.finished_at
    steps = list(workflow.run_steps.order_by("position"))
    assert [s.status for s in steps] == [RunStepStatus.SUCCEEDED] * 3
    assert steps[0].finished_at <= steps[1].dispatched_at and steps[1].finished_at <= steps[2].dispatched_at
    logs = list(ExecutionLog.objects.filter(workflow=workflow).order_by("started_at", "id"))
    assert [log.run_step_id for log in logs] == [s.pk for s in steps]
    for log, step in zip(logs, steps, strict=True):
        assert log.status == "success" and log.attempt == 1 and log.caused_by == "worker"
        assert log.request["parameters"] == step.parameters and log.request["attempt_id"] == str(step.attempt_id)
        assert log.response["volume_ul"] == step.parameters["volume_ul"]
        assert log.latency_ms is not None and log.finished_at >= log.started_at
    assert active_holders(first, second) == {}


def test_a_duplicate_task_does_not_dispatch_while_a_step_is_in_flight(two_devices, transfer):
    workflow = workflow_make([(transfer, two_devices[0]), (transfer, two_devices[0])])
    workflow_start(workflow=workflow)
    claimed = action_claim(workflow_id=workflow.pk)
    assert claimed.status == RunStepStatus.DISPATCHING and claimed.attempt == 1
    assert action_claim(workflow_id=workflow.pk) is None  # the redelivered task finds it in flight
    result, started, finished = action_dispatch(claimed, context=dispatch_context(claimed))
    stale = action_record(
        run_step_id=claimed.pk, attempt_id="00000000-0000-0000-0000-000000000000", result=result,
        started_at=started, finished_at=finished,
    )  # fmt: skip
    assert stale is None
    claimed.refresh_from_db()
    assert claimed.status == RunStepStatus.DISPATCHING  # a superseded attempt changes nothing
    assert action_record(
        run_step_id=claimed.pk, attempt_id=str(claimed.attempt_id), result=result, started_at=started,
        finished_at=finished,
    ).status == RunStepStatus.SUCCEEDED  # fmt: skip
    # The same delivery again (late ack) is not applied twice.
    assert (
        action_record(
            run_step_id=claimed.pk, attempt_id=str(claimed.attempt_id), result=result, started_at=started,
            finished_at=finished,
        )
        is None
    )  # fmt: skip
    assert workflow.run_steps.get(position=2).status == RunStepStatus.PENDING


def test_dispatch_refuses_to_run_inside_a_transaction(two_devices, transfer):
    workflow = workflow_make([(transfer, two_devices[0])])
    workflow_start(workflow=workflow)
    claimed = action_claim(workflow_id=workflow.pk)
    with pytest.raises(TransactionHeldDuringDispatch), transaction.atomic():
        action_dispatch(claimed, context=dispatch_context(claimed))


def test_pause_stops_before_the_next_action_and_resume_continues_where_it_stopped(two_devices, transfer):
    workflow = workflow_make([(transfer, two_devices[0])] * 3)
    workflow_start(workflow=workflow)
    workflow_action_run(workflow_id=workflow.pk)
    workflow_pause(workflow=workflow, user=operator_make())
    assert workflow_action_run(workflow_id=workflow.pk) is None
    assert ExecutionLog.objects.filter(workflow=workflow).count() == 1
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.PAUSED and "operator-1" in workflow.status_reason
    assert active_holders(two_devices[0]) == {two_devices[0].pk: workflow.pk}  # kept while paused

    workflow_resume(workflow=workflow)
    assert run_until_idle(workflow) == 2
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.COMPLETED
    assert ExecutionLog.objects.filter(workflow=workflow).count() == 3


def test_an_action_in_flight_when_paused_finishes_and_is_recorded_but_nothing_follows(
    two_devices, transfer, django_capture_on_commit_callbacks
):
    workflow = workflow_make([(transfer, two_devices[0])] * 2)
    workflow_start(workflow=workflow)
    claimed = action_claim(workflow_id=workflow.pk)
    workflow_pause(workflow=workflow)
    result, started, finished = action_dispatch(claimed, context=dispatch_context(claimed))
    with django_capture_on_commit_callbacks() as callbacks:
        action_record(
            run_step_id=claimed.pk, attempt_id=str(claimed.attempt_id), result=result, started_at=started,
            finished_at=finished,
        )  # fmt: skip
    assert callbacks == []  # no next action enqueued
    claimed.refresh_from_db()
    assert claimed.status == RunStepStatus.SUCCEEDED
    assert workflow.run_steps.get(position=2).status == RunStepStatus.PENDING


def test_wrong_state_transitions_are_conflicts_naming_the_state(two_devices, transfer):
    workflow = workflow_make([(transfer, two_devices[0])])
    with pytest.raises(ConflictError, match="is created"):
        workflow_pause(workflow=workflow)
    with pytest.raises(ConflictError, match="is created"):
        workflow_resume(workflow=workflow)
    workflow_start(workflow=workflow)
    with pytest.raises(ConflictError, match="is running"):
        workflow_start(workflow=workflow)
    run_until_idle(workflow)
    with pytest.raises(ConflictError, match="is completed"):
        workflow_cancel(workflow=workflow)


def test_a_busy_device_set_queues_the_workflow_and_the_hand_off_starts_it(two_devices, transfer):
    first, second = two_devices
    holder = workflow_make([(transfer, first)])
    workflow_start(workflow=holder)
    waiting = workflow_make([(transfer, first), (transfer, second)])
    workflow_start(workflow=waiting)
    waiting.refresh_from_db()
    assert waiting.status == WorkflowStatus.QUEUED
    assert active_holders(first, second) == {first.pk: holder.pk}  # all or nothing: second not taken

    run_until_idle(holder)  # completes and hands both devices to the queued request
    assert active_holders(first, second) == {first.pk: waiting.pk, second.pk: waiting.pk}
    workflow_granted_start(workflow_id=waiting.pk)  # what the grant signal's task does
    assert workflow_granted_start(workflow_id=waiting.pk) is None  # a duplicate grant does nothing
    assert run_until_idle(waiting) == 2
    waiting.refresh_from_db()
    assert waiting.status == WorkflowStatus.COMPLETED


def test_cancel_frees_every_device_and_hands_each_to_its_queue(two_devices, transfer):
    first, second = two_devices
    running = workflow_make([(transfer, first), (transfer, second)])
    workflow_start(workflow=running)
    workflow_action_run(workflow_id=running.pk)
    queued = [workflow_make([(transfer, device)]) for device in (first, second)]
    for workflow in queued:
        workflow_start(workflow=workflow)
    workflow_cancel(workflow=running, user=operator_make())
    running.refresh_from_db()
    assert running.status == WorkflowStatus.CANCELLED and "operator-1" in running.status_reason
    assert running.run_steps.get(position=2).status == RunStepStatus.SKIPPED
    assert active_holders(first, second) == {first.pk: queued[0].pk, second.pk: queued[1].pk}
    assert workflow_action_run(workflow_id=running.pk) is None


def test_cancel_keeps_only_the_device_of_the_action_in_flight_until_it_is_recorded(two_devices, transfer):
    first, second = two_devices
    workflow = workflow_make([(transfer, first), (transfer, second)])
    workflow_start(workflow=workflow)
    claimed = action_claim(workflow_id=workflow.pk)
    workflow_cancel(workflow=workflow)
    assert active_holders(first, second) == {first.pk: workflow.pk}
    result, started, finished = action_dispatch(claimed, context=dispatch_context(claimed))
    action_record(
        run_step_id=claimed.pk, attempt_id=str(claimed.attempt_id), result=result, started_at=started,
        finished_at=finished,
    )  # fmt: skip
    assert active_holders(first, second) == {}
    assert ExecutionLog.objects.filter(workflow=workflow, status="success").count() == 1


def test_a_failed_action_not_safe_to_repeat_fails_the_workflow_and_frees_its_devices(two_devices, transfer):
    broken = device_make("handler-broken", config={"mock": {"fail": ["test.exec_transfer"]}})
    workflow = workflow_make([(transfer, two_devices[0]), (transfer, broken), (transfer, two_devices[0])])
    workflow_start(workflow=workflow)
    run_until_idle(workflow)
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.FAILED
    assert "step 2" in workflow.status_reason and "injected failure" in workflow.status_reason
    step = workflow.run_steps.get(position=2)
    assert step.status == RunStepStatus.FAILED and step.attempt == 1
    assert workflow.run_steps.get(position=3).status == RunStepStatus.PENDING
    assert ExecutionLog.objects.filter(run_step=step, status="error").count() == 1
    assert active_holders(two_devices[0], broken) == {}


def test_a_safe_to_repeat_action_is_retried_until_it_succeeds():
    imaging = action_type_make("test.exec_image", safe_to_repeat=True, max_retries=3)
    flaky = device_make("handler-flaky", config={"mock": {"fail": {"test.exec_image": 2}}})
    workflow = workflow_make([(imaging, flaky)])
    workflow_start(workflow=workflow)
    run_until_idle(workflow)
    workflow.refresh_from_db()
    step = workflow.run_steps.get()
    assert workflow.status == WorkflowStatus.COMPLETED
    assert step.status == RunStepStatus.SUCCEEDED and step.attempt == 3
    assert list(ExecutionLog.objects.filter(run_step=step).order_by("attempt").values_list("attempt", "status")) == [
        (1, "error"),
        (2, "error"),
        (3, "success"),
    ]


def test_retries_stop_at_max_retries_and_the_workflow_fails():
    imaging = action_type_make("test.exec_image2", safe_to_repeat=True, max_retries=1)
    dead = device_make("handler-dead", config={"mock": {"fail": ["*"]}})
    workflow = workflow_make([(imaging, dead)])
    workflow_start(workflow=workflow)
    run_until_idle(workflow)
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.FAILED and "attempt 2" in workflow.status_reason
    assert ExecutionLog.objects.filter(run_step__workflow=workflow).count() == 2


def test_a_retry_waits_for_its_backoff(settings):
    settings.LABCORE_EXECUTOR_RETRY_BACKOFF_SECONDS = 60
    imaging = action_type_make("test.exec_image3", safe_to_repeat=True)
    flaky = device_make("handler-flaky3", config={"mock": {"fail": {"test.exec_image3": 1}}})
    workflow = workflow_make([(imaging, flaky)])
    workflow_start(workflow=workflow)
    workflow_action_run(workflow_id=workflow.pk)
    step = workflow.run_steps.get()
    assert step.status == RunStepStatus.PENDING and step.retry_at > timezone.now() + timedelta(seconds=50)
    assert workflow_action_run(workflow_id=workflow.pk) is None  # too early: not dispatched
    assert workflow.run_steps.get().attempt == 1


def test_on_failure_pause_pauses_for_an_operator_and_resume_tries_again(two_devices):
    incubate = action_type_make("test.exec_incubate", on_failure="pause")
    flaky = device_make("handler-pausing", config={"mock": {"fail": {"test.exec_incubate": 1}}})
    workflow = workflow_make([(incubate, flaky)])
    workflow_start(workflow=workflow)
    run_until_idle(workflow)
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.PAUSED and "injected failure" in workflow.status_reason
    assert active_holders(flaky) == {flaky.pk: workflow.pk}  # paused, not failed: devices kept
    workflow_resume(workflow=workflow)
    run_until_idle(workflow)
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.COMPLETED and workflow.run_steps.get().attempt == 2


def test_a_long_operation_waits_without_a_worker_and_is_polled_to_completion():
    incubate = action_type_make("test.exec_long", is_long_running=True, timeout_seconds=30)
    incubator = device_make("incubator-z", config={"mock": {"latency_seconds": {"test.exec_long": 0.3}}})
    workflow = workflow_make([(incubate, incubator)])
    workflow_start(workflow=workflow)
    workflow_action_run(workflow_id=workflow.pk)
    step = workflow.run_steps.get()
    assert step.status == RunStepStatus.WAITING and step.operation_id.startswith("mock:")
    assert step.poll_due_at is not None
    assert ExecutionLog.objects.filter(run_step=step).count() == 0  # logged once, when it ends
    # A poll arriving well before its due time is a stale duplicate chain: dropped.
    RunStep.objects.filter(pk=step.pk).update(poll_due_at=timezone.now() + timedelta(seconds=30))
    assert run_step_poll_run(run_step_id=step.pk, attempt_id=str(step.attempt_id)) is None
    RunStep.objects.filter(pk=step.pk).update(poll_due_at=timezone.now())
    while step.status == RunStepStatus.WAITING:
        run_step_poll_run(run_step_id=step.pk, attempt_id=str(step.attempt_id))
        step.refresh_from_db()
    assert step.status == RunStepStatus.SUCCEEDED
    log = ExecutionLog.objects.get(run_step=step)
    assert log.request["action"] == "test.exec_long" and log.latency_ms >= 300
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.COMPLETED
    # A late duplicate poll does nothing.
    assert run_step_poll_run(run_step_id=step.pk, attempt_id=str(step.attempt_id)) is None


def test_a_long_operation_that_never_ends_times_out_into_the_failure_path():
    incubate = action_type_make("test.exec_hang", is_long_running=True, timeout_seconds=0.3)
    incubator = device_make("incubator-h", config={"mock": {"timeout": ["test.exec_hang"]}})
    workflow = workflow_make([(incubate, incubator)])
    workflow_start(workflow=workflow)
    workflow_action_run(workflow_id=workflow.pk)
    step = workflow.run_steps.get()
    while step.status == RunStepStatus.WAITING:
        run_step_poll_run(run_step_id=step.pk, attempt_id=str(step.attempt_id))
        step.refresh_from_db()
    assert step.status == RunStepStatus.FAILED
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.FAILED and "timeout" in workflow.status_reason


def test_vision_results_are_stored_per_sample_and_linked_to_the_log_entry():
    vision_type = action_type_make("test.exec_vision", device_kind=DeviceKind.VISION, mock_response={"model": "x"})
    vision = device_make("vision-z", kind=DeviceKind.VISION)
    workflow = workflow_make([(vision_type, vision, {})], samples=3)
    workflow_start(workflow=workflow)
    run_until_idle(workflow)
    log = ExecutionLog.objects.get(workflow=workflow)
    results = CellAnalysisResult.objects.filter(workflow=workflow)
    assert sorted(r.sample.barcode for r in results) == sorted(
        workflow.workflow_samples.values_list("sample__barcode", flat=True)
    )
    assert all(r.execution_log_id == log.pk and r.cell_count > 0 and 0 <= r.confluence <= 100 for r in results)


def test_a_force_released_device_pauses_the_run_and_resume_books_it_again(two_devices, transfer):
    first, _ = two_devices
    workflow = workflow_make([(transfer, first)] * 2)
    workflow_start(workflow=workflow)
    workflow_action_run(workflow_id=workflow.pk)
    operator = operator_make()
    device_force_release(device=first, user=operator, reason="maintenance")
    other = workflow_make([(transfer, first)], mode="manual")
    booking_create(device=first, workflow=other)
    assert workflow_action_run(workflow_id=workflow.pk) is None
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.PAUSED and "no longer booked" in workflow.status_reason
    assert ExecutionLog.objects.filter(workflow=workflow).count() == 1  # nothing sent to a device it lost
    workflow_resume(workflow=workflow)
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.QUEUED
    assert QueueEntry.objects.waiting().filter(workflow=workflow).count() == 1


def test_resume_short_of_a_device_gives_back_what_it_holds_so_two_runs_cannot_wait_on_each_other(two_devices, transfer):
    """W1 holds A and B; W2 queues for {A, B}. W1 pauses, B is force-released and so reserved
    for W2 (head of its queue). Were W1 to keep A while it waits for B, W2 would wait for A
    forever and W1 for B: resuming must give A back, so W2 runs and W1 waits behind it."""
    first, second = two_devices
    holder = workflow_make([(transfer, first), (transfer, second)])
    workflow_start(workflow=holder)
    waiter = workflow_make([(transfer, first), (transfer, second)])
    workflow_start(workflow=waiter)
    waiter.refresh_from_db()
    assert waiter.status == WorkflowStatus.QUEUED
    workflow_pause(workflow=holder)
    device_force_release(device=second, user=operator_make(), reason="recalibration")

    workflow_resume(workflow=holder)

    holder.refresh_from_db()
    assert holder.status == WorkflowStatus.QUEUED
    assert not Booking.objects.active().filter(workflow=holder).exists()  # holds nothing while it waits
    assert set(Booking.objects.active().filter(workflow=waiter).values_list("device_id", flat=True)) == {
        first.pk,
        second.pk,
    }
    assert QueueEntry.objects.waiting().filter(workflow=holder).count() == 2  # one request for its whole set


def test_resume_short_of_a_device_never_hands_on_the_device_of_an_action_in_flight(two_devices, transfer):
    """W pauses while its step 1 runs on A; B is force-released and taken by another run. Resuming
    must not give A back while the action is still on it (X, queued for A, would be granted A and
    dispatch to it alongside W's action): 409, W stays paused and keeps A until it is recorded."""
    first, second = two_devices
    holder = workflow_make([(transfer, first), (transfer, second)])
    workflow_start(workflow=holder)
    in_flight = action_claim(workflow_id=holder.pk)  # a worker is mid-action on A
    workflow_pause(workflow=holder)
    device_force_release(device=second, user=operator_make(), reason="recalibration")
    booking_create(device=second, workflow=workflow_make([(transfer, second)], mode="manual"))
    waiter = workflow_make([(transfer, first)])
    workflow_start(workflow=waiter)

    with pytest.raises(ConflictError, match="in flight"):
        workflow_resume(workflow=holder)

    holder.refresh_from_db()
    assert holder.status == WorkflowStatus.PAUSED
    assert Booking.objects.active().get(device=first).workflow_id == holder.pk
    assert not QueueEntry.objects.waiting().filter(workflow=holder).exists()
    # Once the action is recorded, resume gives everything back and waits for the whole set.
    action_record_retrying(
        run_step_id=in_flight.pk,
        attempt_id=str(in_flight.attempt_id),
        **dict(
            zip(
                ("result", "started_at", "finished_at"),
                action_dispatch(in_flight, context=dispatch_context(in_flight)),
                strict=True,
            )
        ),
    )
    workflow_resume(workflow=holder)
    holder.refresh_from_db()
    assert holder.status == WorkflowStatus.QUEUED
    assert Booking.objects.active().get(device=first).workflow_id == waiter.pk
