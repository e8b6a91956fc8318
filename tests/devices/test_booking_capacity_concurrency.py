"""Invariant 1 with capacity, under real concurrency: threads against PostgreSQL, each case repeated."""

import random
from collections import Counter

import pytest

from devices.choices import Priority, QueueEntryStatus
from devices.models import Booking, QueueEntry
from devices.services import (
    booking_create,
    booking_release,
    queue_entry_create,
    workflow_devices_acquire,
    workflow_devices_release,
)
from labcore.exceptions import ConflictError
from tests.factories import DeviceFactory
from workflows.models import Workflow

pytestmark = pytest.mark.django_db(transaction=True)


def workflows(count):
    return Workflow.objects.bulk_create(Workflow(name=f"w{i}") for i in range(count))


def holders(device):
    return set(Booking.objects.active().filter(device=device).values_list("workflow_id", flat=True))


def test_sixty_concurrent_bookings_of_a_capacity_10_device_give_exactly_10(contenders):
    run_together = contenders(60).run
    for _ in range(15):
        device, contenders_ = DeviceFactory(capacity=10), workflows(60)
        results = run_together([lambda w=w, d=device: booking_create(device=d, workflow=w) for w in contenders_])
        outcomes = Counter(type(result).__name__ for result in results)
        assert outcomes == {"Booking": 10, "ConflictError": 50}, results
        assert all("is full: all 10 slots are booked" in str(r) for r in results if isinstance(r, ConflictError))
        active = Booking.objects.active().filter(device=device)
        assert sorted(active.values_list("slot", flat=True)) == list(range(10))
        assert holders(device) == {r.workflow_id for r in results if isinstance(r, Booking)}


def test_concurrent_releases_and_queue_requests_keep_capacity_3_and_serve_in_priority_order(contenders):
    run_together = contenders(23).run
    for _ in range(10):
        device = DeviceFactory(capacity=3)
        first_holders, early, newcomers = workflows(3), workflows(5), workflows(20)
        for workflow in first_holders:
            booking_create(device=device, workflow=workflow)
        for workflow in early:
            queue_entry_create(device=device, workflow=workflow, priority=random.choice(list(Priority)))
        calls = [lambda d=device, h=h: booking_release(device=d, workflow=h) for h in first_holders]
        calls += [
            lambda d=device, w=w: queue_entry_create(device=d, workflow=w, priority=random.choice(list(Priority)))
            for w in newcomers
        ]
        results = run_together(calls)
        assert not [r for r in results if isinstance(r, Exception)], results
        assert len(holders(device)) == 3  # every freed slot handed on, none doubled
        granted = list(QueueEntry.objects.filter(device=device, status=QueueEntryStatus.GRANTED))
        assert len(granted) == 3 and {e.workflow_id for e in granted} == holders(device)
        # Each grant went to the best request waiting at that moment, not one that came later.
        for entry in granted:
            passed_over = QueueEntry.objects.waiting().filter(device=device, created_at__lte=entry.resolved_at)
            assert all((e.priority, e.pk) > (entry.priority, entry.pk) for e in passed_over), entry

        # Drain: the three holders release at once; the next three in serve order take the slots.
        expected = list(QueueEntry.objects.waiting().filter(device=device).order_by("priority", "id"))
        while expected:
            current = holders(device)
            releases = [lambda d=device, h=h: booking_release(device=d, workflow=Workflow(pk=h)) for h in current]
            assert not [r for r in run_together(releases) if isinstance(r, Exception)]
            served, expected = expected[:3], expected[3:]
            assert holders(device) == {e.workflow_id for e in served}


def test_multi_device_requests_on_a_capacity_2_and_a_capacity_1_device_never_deadlock(contenders):
    shared, single = DeviceFactory(capacity=2), DeviceFactory()
    sets = [[shared, single], [single, shared], [shared], [single], [shared, single], [shared], [single, shared]]
    run_together = contenders(len(sets)).run
    for _ in range(15):
        contenders_ = workflows(len(sets))
        results = run_together(
            [
                lambda w=w, devices=devices: workflow_devices_acquire(
                    workflow=w, devices=devices, priority=random.choice(list(Priority))
                )
                for w, devices in zip(contenders_, sets, strict=True)
            ]
        )
        assert all(isinstance(result, bool) for result in results), results  # no deadlock, no 409
        for _ in range(len(sets) + 1):
            held = Counter(Booking.objects.active().values_list("device_id", flat=True))
            assert held[shared.pk] <= 2 and held[single.pk] <= 1
            by_workflow = {}
            for device_id, workflow_id in Booking.objects.active().values_list("device_id", "workflow_id"):
                by_workflow.setdefault(workflow_id, set()).add(device_id)
            for w, devices in zip(contenders_, sets, strict=True):
                assert by_workflow.get(w.pk, set()) in (set(), {d.pk for d in devices}), (w.pk, by_workflow)
            if not by_workflow:
                break
            released = run_together(
                [lambda w=w: workflow_devices_release(workflow=w) for w in contenders_ if w.pk in by_workflow]
            )
            assert not [r for r in released if isinstance(r, Exception)], released
        assert not Booking.objects.active().exists()
        assert not QueueEntry.objects.waiting().exists()
