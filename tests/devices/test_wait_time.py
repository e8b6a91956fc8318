"""The wait-time estimate: holder's remaining steps plus every earlier request's plan."""

from datetime import timedelta

import pytest
from django.utils import timezone

from devices.choices import Priority
from devices.services import booking_create, queue_entry_create
from devices.wait_time import wait_time_estimate
from labcore.exceptions import ApplicationError
from tests.factories import ActionTypeFactory, DeviceFactory, ExecutionLogFactory, RunStepFactory, WorkflowFactory
from workflows.choices import RunStepStatus, WorkflowMode

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def instrument_durations(settings):
    """Estimates as the real instruments take them (the test settings' mock runs at scale 0)."""
    settings.LABCORE_MOCK_LATENCY_SCALE = 1.0
    settings.LABCORE_TIME_SCALE = 1.0


def planned_workflow(device, durations, status=RunStepStatus.PENDING, action_type=None):
    workflow = WorkflowFactory()
    for seconds in durations:
        RunStepFactory(
            workflow=workflow,
            device=device,
            status=status,
            action_type=action_type or ActionTypeFactory(estimated_duration_seconds=seconds),
        )
    return workflow


def test_a_free_device_with_no_queue_is_zero():
    estimate = wait_time_estimate(device=DeviceFactory(), workflow=WorkflowFactory())
    assert estimate["estimated_wait_seconds"] == 0 and estimate["position"] == 1


def test_the_holder_waits_for_nothing():
    device, holder = DeviceFactory(), WorkflowFactory()
    booking_create(device=device, workflow=holder)
    assert wait_time_estimate(device=device, workflow=holder)["position"] == 0


def test_holder_remaining_steps_and_earlier_plans_are_summed_from_estimated_durations():
    device = DeviceFactory()
    holder = planned_workflow(device, [10, 20])
    RunStepFactory(workflow=holder, device=device, status=RunStepStatus.SUCCEEDED)  # done: not counted
    booking_create(device=device, workflow=holder)
    ahead = planned_workflow(device, [5])
    queue_entry_create(device=device, workflow=ahead, priority=Priority.URGENT)
    asking = planned_workflow(device, [100])
    queue_entry_create(device=device, workflow=asking, priority=Priority.NORMAL)
    behind = planned_workflow(device, [1000])
    queue_entry_create(device=device, workflow=behind, priority=Priority.LOW)
    estimate = wait_time_estimate(device=device, workflow=asking)
    assert estimate["position"] == 2 and estimate["queued"] is True
    assert estimate["estimated_wait_seconds"] == pytest.approx(35)


def test_measured_median_latency_replaces_the_estimate_where_there_is_history():
    device = DeviceFactory()
    action_type = ActionTypeFactory(name="robot.aspirate", estimated_duration_seconds=10)
    for latency_ms in (2000, 4000, 60000):
        ExecutionLogFactory(device=device, action_type="robot.aspirate", latency_ms=latency_ms)
    ExecutionLogFactory(device=device, action_type="robot.aspirate", latency_ms=999999, status="error")
    ExecutionLogFactory(device=DeviceFactory(), action_type="robot.aspirate", latency_ms=999999)  # other device
    holder = planned_workflow(device, [None, None], action_type=action_type)
    booking_create(device=device, workflow=holder)
    estimate = wait_time_estimate(device=device, workflow=WorkflowFactory())
    # 2 steps x median 4 s, from the latency statistics' histogram (within 4.5% of the exact median).
    assert estimate["estimated_wait_seconds"] == pytest.approx(8, rel=0.045)


def test_synthetic_and_system_entries_never_feed_the_estimate():
    """seed_logs's entries (cause synthetic), and those it wrote before they were marked (cause
    system), once fed wait-time; only real dispatches count now (issue 15, item 10)."""
    device = DeviceFactory()
    action_type = ActionTypeFactory(name="robot.aspirate", estimated_duration_seconds=10)
    for cause in ("synthetic", "system"):
        for _ in range(5):
            ExecutionLogFactory(device=device, action_type="robot.aspirate", latency_ms=900_000, caused_by=cause)
    booking_create(device=device, workflow=planned_workflow(device, [None], action_type=action_type))
    assert wait_time_estimate(device=device, workflow=WorkflowFactory())["estimated_wait_seconds"] == 10


def test_behind_a_manual_holder_with_its_steps_done_the_operator_still_has_the_device(settings):
    """A manual run holds its device until someone calls complete; its steps alone said "about 1 s"
    (the busy floor) once they were done. Its operator's part counts the fallback."""
    settings.LABCORE_WAIT_FALLBACK_SECONDS = 42
    device = DeviceFactory()
    holder = planned_workflow(device, [5, 5], status=RunStepStatus.SUCCEEDED)
    holder.mode = WorkflowMode.MANUAL
    holder.save(update_fields=["mode"])
    booking_create(device=device, workflow=holder)
    assert wait_time_estimate(device=device, workflow=WorkflowFactory())["estimated_wait_seconds"] == 42


def test_behind_a_manual_holder_its_steps_left_come_on_top_of_the_operators_part(settings):
    settings.LABCORE_WAIT_FALLBACK_SECONDS = 42
    device = DeviceFactory()
    holder = planned_workflow(device, [5, 10])
    holder.mode = WorkflowMode.MANUAL
    holder.save(update_fields=["mode"])
    booking_create(device=device, workflow=holder)
    assert wait_time_estimate(device=device, workflow=WorkflowFactory())["estimated_wait_seconds"] == 57


def test_an_in_flight_step_counts_only_its_remaining_time():
    device = DeviceFactory()
    holder = planned_workflow(device, [100], status=RunStepStatus.DISPATCHING)
    holder.run_steps.update(started_at=timezone.now() - timedelta(seconds=40))
    booking_create(device=device, workflow=holder)
    estimate = wait_time_estimate(device=device, workflow=WorkflowFactory())
    assert 59 <= estimate["estimated_wait_seconds"] <= 60


def test_a_holder_without_run_steps_counts_the_fallback(settings):
    settings.LABCORE_WAIT_FALLBACK_SECONDS = 42
    device = DeviceFactory()
    booking_create(device=device, workflow=WorkflowFactory())
    assert wait_time_estimate(device=device, workflow=None)["estimated_wait_seconds"] == 42


def test_a_busy_device_is_never_zero():
    device = DeviceFactory()
    holder = planned_workflow(device, [0])
    booking_create(device=device, workflow=holder)
    assert wait_time_estimate(device=device, workflow=WorkflowFactory())["estimated_wait_seconds"] >= 1


def test_a_workflow_not_queued_gets_the_position_its_priority_would_take():
    device = DeviceFactory()
    booking_create(device=device, workflow=WorkflowFactory())
    queue_entry_create(device=device, workflow=WorkflowFactory(), priority=Priority.URGENT)
    queue_entry_create(device=device, workflow=WorkflowFactory(), priority=Priority.LOW)
    estimate = wait_time_estimate(device=device, workflow=WorkflowFactory(priority=Priority.NORMAL))
    assert estimate["position"] == 2 and estimate["queued"] is False


def test_on_a_shared_device_the_wait_is_governed_by_the_earliest_of_its_slots():
    device = DeviceFactory(capacity=2)
    booking_create(device=device, workflow=planned_workflow(device, [100]))
    booking_create(device=device, workflow=planned_workflow(device, [30]))
    queue_entry_create(device=device, workflow=planned_workflow(device, [50]), priority=Priority.URGENT)
    # The urgent request takes the slot freed at 30 s and keeps it to 80 s; the other frees at 100 s.
    estimate = wait_time_estimate(device=device, workflow=WorkflowFactory(priority=Priority.NORMAL))
    assert estimate["position"] == 2 and estimate["estimated_wait_seconds"] == pytest.approx(80, abs=0.5)


def test_a_shared_device_with_a_slot_left_is_zero():
    device = DeviceFactory(capacity=3)
    holder = planned_workflow(device, [100])
    booking_create(device=device, workflow=holder)
    assert wait_time_estimate(device=device, workflow=WorkflowFactory())["estimated_wait_seconds"] == 0
    assert wait_time_estimate(device=device, workflow=holder)["position"] == 0


def test_with_mock_hardware_a_device_with_no_history_is_estimated_at_the_mock_latency_scale(settings):
    settings.LABCORE_MOCK_HARDWARE = True
    settings.LABCORE_MOCK_LATENCY_SCALE = 0.02
    settings.LABCORE_TIME_SCALE = 0.5
    device = DeviceFactory()
    holder = planned_workflow(device, [164, 36])  # what the instruments take: 200 s
    booking_create(device=device, workflow=holder)
    asking = planned_workflow(device, [10])
    assert wait_time_estimate(device=device, workflow=asking)["estimated_wait_seconds"] == pytest.approx(2.0)


def test_without_mock_hardware_the_estimate_is_the_instruments_own(settings):
    settings.LABCORE_MOCK_HARDWARE = False
    settings.LABCORE_MOCK_LATENCY_SCALE = 0.02
    device = DeviceFactory()
    booking_create(device=device, workflow=planned_workflow(device, [164, 36]))
    asking = planned_workflow(device, [10])
    assert wait_time_estimate(device=device, workflow=asking)["estimated_wait_seconds"] == pytest.approx(200)


def test_a_device_the_workflow_does_not_use_is_a_400_naming_the_workflow():
    used, other = DeviceFactory(), DeviceFactory(kind="incubator")
    workflow = planned_workflow(used, [10])
    with pytest.raises(ApplicationError) as refused:
        wait_time_estimate(device=other, workflow=workflow)
    assert set(refused.value.fields) == {"workflow_id"}
