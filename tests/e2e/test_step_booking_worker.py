"""Protocol runs booked step by step, with real Celery workers on PostgreSQL and Redis.

Step timings run at LABCORE_TIME_SCALE (mock hardware), latencies come from device config
overrides (absolute seconds), so the interleavings below are exact enough to assert.
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from devices.choices import BookingStatus, DeviceKind
from devices.models import Booking
from labcore.exceptions import ConflictError
from tests.factories import ProjectFactory, SampleFactory
from tests.workflows.executor_support import (  # noqa: F401 - workers is a fixture
    action_type_make,
    device_make,
    status_of,
    wait_for,
    wait_status,
    workers_fixture,
)
from workflows.choices import FINISHED_WORKFLOW_STATUSES, WorkflowStatus
from workflows.models import RunStep, RunUnit, Step
from workflows.services.creation import workflow_create_from_protocol
from workflows.services.execution import workflow_start
from workflows.services.protocols import protocol_create, protocol_publish

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SCALE = "0.01"  # 100 s of protocol time is 1 s here


def published(steps: list[dict], name: str):
    spec = [
        {
            "name": step["name"],
            "description": "",
            "actions": [{"action_type": t, "parameters": {}, "device": d} for t, d in step["actions"]],
        }
        for step in steps
    ]
    protocol = protocol_create(project=ProjectFactory(), name=name, steps=spec)
    for step, wanted in zip(protocol.steps.order_by("position"), steps, strict=True):
        timing = {key: value for key, value in wanted.items() if key not in ("name", "actions")}
        if timing:
            Step.objects.filter(pk=step.pk).update(**timing)
    return protocol_publish(protocol=protocol)


def run_of(protocol, name: str):
    return workflow_create_from_protocol(name=name, protocol=protocol, samples=[SampleFactory()], priority=1)


def wait_all_finished(runs, *, timeout: float, worker=None):
    try:
        wait_for(
            lambda: all(status_of(run) in FINISHED_WORKFLOW_STATUSES for run in runs),
            timeout=timeout,
            what="every run to finish",
        )
    except AssertionError:
        if worker is not None:
            print(worker.log()[-6000:])
        raise
    assert [status_of(run) for run in runs] == [WorkflowStatus.COMPLETED] * len(runs)


def test_two_runs_interleave_on_the_microscope_while_each_waits_for_its_next_image(workers):
    action_type_make("test.e2e_image", device_kind=DeviceKind.MICROSCOPE, safe_to_repeat=True)
    device_make(
        "e2e-microscope", kind=DeviceKind.MICROSCOPE, config={"mock": {"latency_seconds": {"test.e2e_image": 0.3}}}
    )
    # Image, then image again 300 s (3 s here) after the first ended.
    protocol = published(
        [
            {"name": "Image", "actions": [("test.e2e_image", "e2e-microscope")], "window_seconds": 600},
            {"name": "Image again", "actions": [("test.e2e_image", "e2e-microscope")], "start_after_seconds": 300},
        ],
        "two images",
    )
    run_a, run_b = run_of(protocol, "A"), run_of(protocol, "B")
    worker = workers(name="interleave", concurrency=2, env={"LABCORE_TIME_SCALE": SCALE})
    workflow_start(workflow=run_a)
    workflow_start(workflow=run_b)
    wait_all_finished([run_a, run_b], timeout=40, worker=worker)
    a_first, a_second = RunStep.objects.filter(workflow=run_a).order_by("position")
    b_first, _ = RunStep.objects.filter(workflow=run_b).order_by("position")
    # B's first image happened while A waited for its second: the microscope was not held by A.
    assert a_first.finished_at <= b_first.dispatched_at < a_second.dispatched_at
    bookings = list(Booking.objects.filter(device_id="e2e-microscope").order_by("booked_at"))
    assert len(bookings) == 4  # one booking per step, none for a whole run
    for earlier, later in zip(bookings, bookings[1:], strict=False):
        assert earlier.released_at <= later.booked_at  # exclusive (capacity 1)


def test_ten_runs_incubate_at_once_on_a_shared_incubator(workers):
    action_type_make("test.e2e_incubate", device_kind=DeviceKind.INCUBATOR, is_long_running=True, timeout_seconds=60)
    device_make(
        "e2e-incubator",
        kind=DeviceKind.INCUBATOR,
        capacity=44,
        config={"mock": {"latency_seconds": {"test.e2e_incubate": 2.0}}},
    )
    protocol = published([{"name": "Incubate", "actions": [("test.e2e_incubate", "e2e-incubator")]}], "incubate")
    runs = [run_of(protocol, f"plate {n}") for n in range(10)]
    worker = workers(name="incubate", concurrency=2, env={"LABCORE_TIME_SCALE": "1"})
    for run in runs:
        workflow_start(workflow=run)
    # Long operations hold no worker: all ten are inside the incubator together.
    wait_for(
        lambda: Booking.objects.filter(device_id="e2e-incubator", status=BookingStatus.ACTIVE).count() == 10,
        timeout=20,
        what="ten plates in the incubator at once",
    )
    wait_all_finished(runs, timeout=40, worker=worker)
    slots = set(Booking.objects.filter(device_id="e2e-incubator").values_list("slot", flat=True))
    assert slots <= set(range(44)) and len(slots) == 10


def test_runs_waiting_for_due_times_survive_a_restart_of_the_worker_and_beat(workers):
    action_type_make("test.e2e_feed")
    device_make("e2e-handler", config={"mock": {"latency_seconds": {"test.e2e_feed": 0.1}}})
    protocol = published(
        [
            {"name": "Seed", "actions": [("test.e2e_feed", "e2e-handler")]},
            {
                "name": "Feed",
                "actions": [("test.e2e_feed", "e2e-handler")],
                "start_after_seconds": 600,  # 6 s here
                "window_seconds": 1800,  # 18 s here
            },
        ],
        "feed later",
    )
    runs = [run_of(protocol, f"plate {n}") for n in range(4)]
    first = workers(name="before", concurrency=2, beat=True, env={"LABCORE_TIME_SCALE": SCALE})
    for run in runs:
        workflow_start(workflow=run)
    wait_for(
        lambda: RunUnit.objects.filter(workflow__in=runs, step_name="Feed", due_at__isnull=False).count() == 4,
        timeout=20,
        what="every run waiting for its feed",
    )
    first.kill()  # the ETA tasks it had reserved die with it
    second = workers(name="after", concurrency=2, beat=True, env={"LABCORE_TIME_SCALE": SCALE})
    wait_all_finished(runs, timeout=60, worker=second)
    feeds = RunUnit.objects.filter(workflow__in=runs, step_name="Feed")
    assert all(unit.window_missed_seconds is None for unit in feeds), "the restart broke a window the plan could keep"


def test_fifty_concurrent_step_bookings_keep_capacity_and_hold_nothing_between_steps():
    """Invariants 1 and 9 under real concurrency: 50 runs' first steps are booked by 50 threads."""
    from workflows.services.dispatch import action_claim

    action_type_make("test.e2e_pick")
    for n in range(3):
        device_make(f"e2e-pick-{n}")
    protocol = published([{"name": "Pick", "actions": [("test.e2e_pick", None)]}], "pick")
    runs = [run_of(protocol, f"r{n}") for n in range(50)]
    for run in runs:
        workflow_start(workflow=run)
    RunUnit.objects.filter(workflow__in=runs).update(due_at=timezone.now() - timedelta(seconds=1))
    barrier, errors = threading.Barrier(50), {}

    def book(run):
        try:
            barrier.wait(10)
            action_claim(workflow_id=run.pk)
        except ConflictError as exc:  # a lock wait past the timeout: the task would retry (409)
            errors[run.pk] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=book, args=(run,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    active = list(Booking.objects.filter(status=BookingStatus.ACTIVE).values_list("device_id", "workflow_id"))
    devices = [device_id for device_id, _ in active]
    assert sorted(devices) == ["e2e-pick-0", "e2e-pick-1", "e2e-pick-2"]  # each device once (invariant 1)
    assert len(errors) < 50
    holders = {workflow_id for _, workflow_id in active}
    for run in runs:
        held = [device for device, workflow_id in active if workflow_id == run.pk]
        if run.pk in holders:
            assert status_of(run) == WorkflowStatus.RUNNING and len(held) == 1
        else:
            # Invariant 9: a run that did not get a device holds nothing: it waits whole in the
            # queue, or (held back by the scheduler for the runs ranked ahead) until its planned
            # start, or its task retries after a lock timeout.
            assert held == []
            assert status_of(run) in (WorkflowStatus.QUEUED, WorkflowStatus.RUNNING) or run.pk in errors
