"""Invariants 1 and 2 under real concurrency: threads against PostgreSQL, each case repeated."""

import random
from collections import Counter

import pytest
from rest_framework.test import APIClient

from devices.choices import Priority, QueueEntryStatus
from devices.models import Booking, QueueEntry
from devices.services import (
    booking_create,
    booking_release,
    queue_entry_create,
    queue_entry_withdraw,
    workflow_devices_acquire,
    workflow_devices_release,
)
from tests.factories import DeviceFactory, WorkflowFactory
from workflows.models import Workflow

pytestmark = pytest.mark.django_db(transaction=True)

PRIORITY_NAMES = {Priority.URGENT: "urgent", Priority.NORMAL: "normal", Priority.LOW: "low"}


def workflows(count):
    return Workflow.objects.bulk_create(Workflow(name=f"w{i}") for i in range(count))


def http_post(token, path, body):
    def call():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        response = client.post(path, body, format="json")
        return response.status_code, response.json()

    return call


def test_fifty_concurrent_bookings_of_one_device_give_one_success(token, contenders):
    run_together = contenders(50).run
    for _ in range(20):
        device, contenders = DeviceFactory(), workflows(50)
        results = run_together(
            [http_post(token, f"/api/devices/{device.pk}/book", {"workflow_id": w.pk}) for w in contenders]
        )
        statuses = Counter(status for status, _ in results)
        assert statuses == {201: 1, 409: 49}, results
        winner = next(body["workflow_id"] for status, body in results if status == 201)
        assert all(f"workflow {winner}" in body["detail"] for status, body in results if status == 409)
        assert list(Booking.objects.active().filter(device=device).values_list("workflow_id", flat=True)) == [winner]


def test_fifty_concurrent_queue_requests_are_served_in_priority_then_arrival_order(token, contenders):
    run_together = contenders(50).run
    for _ in range(2):
        device, holder = DeviceFactory(), WorkflowFactory()
        booking_create(device=device, workflow=holder)
        contenders = workflows(50)
        priority_of = {w.pk: random.choice(list(Priority)) for w in contenders}
        path = f"/api/devices/{device.pk}/queue"
        results = run_together(
            [
                http_post(token, path, {"workflow_id": w.pk, "priority": PRIORITY_NAMES[priority_of[w.pk]]})
                for w in contenders
            ]
        )
        assert Counter(status for status, _ in results) == {201: 50}
        assert all(body["outcome"] == "queued" for _, body in results)

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        queue = client.get(path, {"page_size": 100}).json()["results"]
        assert [entry["position"] for entry in queue] == list(range(1, 51))  # 50 distinct positions
        expected = sorted(QueueEntry.objects.filter(device=device), key=lambda e: (e.priority, e.pk))
        assert [entry["workflow_id"] for entry in queue] == [e.workflow_id for e in expected]

        # Serve the queue: each release is attempted by three threads at once; exactly one wins
        # and hands the device to exactly the next request.
        current = holder.pk
        served = []
        for _ in range(50):
            release = http_post(token, f"/api/devices/{device.pk}/release", {"workflow_id": current})
            statuses = Counter(status for status, _ in run_together([release] * 3))
            assert statuses == {200: 1, 409: 2}
            active = list(Booking.objects.active().filter(device=device).values_list("workflow_id", flat=True))
            assert len(active) == 1
            current = active[0]
            served.append(current)
        assert served == [e.workflow_id for e in expected]
        assert QueueEntry.objects.filter(device=device, status=QueueEntryStatus.GRANTED).count() == 50


def test_crossed_multi_device_requests_never_deadlock_or_hold_half(contenders):
    run_together = contenders(2).run
    a, b = DeviceFactory(), DeviceFactory()
    for _ in range(100):
        first, second = workflows(2)
        results = run_together(
            [
                lambda w=first: workflow_devices_acquire(workflow=w, devices=[a, b], priority=Priority.NORMAL),
                lambda w=second: workflow_devices_acquire(workflow=w, devices=[b, a], priority=Priority.NORMAL),
            ]
        )
        assert sorted(results, key=str) == [False, True], results
        winner, loser = (first, second) if results[0] else (second, first)
        holders = dict(Booking.objects.active().values_list("device_id", "workflow_id"))
        assert holders == {a.pk: winner.pk, b.pk: winner.pk}  # never one each
        assert QueueEntry.objects.waiting().filter(workflow=loser).count() == 2
        workflow_devices_release(workflow=winner)
        holders = dict(Booking.objects.active().values_list("device_id", "workflow_id"))
        assert holders == {a.pk: loser.pk, b.pk: loser.pk}  # handed on whole
        workflow_devices_release(workflow=loser)
        assert not Booking.objects.active().exists() and not QueueEntry.objects.waiting().exists()


def test_crossed_multi_and_single_requests_under_load_keep_every_request_whole(contenders):
    a, b, c = DeviceFactory(), DeviceFactory(), DeviceFactory()
    sets = [[a, b], [b, a], [b, c], [c, a, b], [a], [c]]
    run_together = contenders(len(sets)).run
    for _ in range(15):
        contenders = workflows(len(sets))
        results = run_together(
            [
                lambda w=w, devices=devices: workflow_devices_acquire(
                    workflow=w, devices=devices, priority=random.choice(list(Priority))
                )
                for w, devices in zip(contenders, sets, strict=True)
            ]
        )
        assert all(isinstance(result, bool) for result in results), results
        # Drain: release whoever holds something until nothing waits; every grant is whole.
        for _ in range(len(sets) + 1):
            holders = dict(Booking.objects.active().values_list("device_id", "workflow_id"))
            for w, devices in zip(contenders, sets, strict=True):
                held = {d for d, holder in holders.items() if holder == w.pk}
                assert held in (set(), {d.pk for d in devices}), (w.pk, held)
            if not holders:
                break
            run_together(
                [lambda w=w: workflow_devices_release(workflow=w) for w in contenders if w.pk in holders.values()]
            )
        assert not Booking.objects.active().exists()
        assert not QueueEntry.objects.waiting().exists()
        assert QueueEntry.objects.filter(workflow__in=contenders, status=QueueEntryStatus.GRANTED).count() == sum(
            len(devices) for w, devices, result in zip(contenders, sets, results, strict=True) if not result
        )


def test_release_under_concurrent_queue_requests_never_loses_or_doubles_a_hand_off(contenders):
    run_together = contenders(21).run
    for _ in range(20):
        device, holder = DeviceFactory(), WorkflowFactory()
        booking_create(device=device, workflow=holder)
        early = workflows(5)
        for w in early:
            queue_entry_create(device=device, workflow=w, priority=random.choice(list(Priority)))
        newcomers = workflows(20)
        calls = [lambda d=device, h=holder: booking_release(device=d, workflow=h)]
        calls += [
            lambda d=device, w=w: queue_entry_create(device=d, workflow=w, priority=random.choice(list(Priority)))
            for w in newcomers
        ]
        results = run_together(calls)
        assert not [r for r in results if isinstance(r, Exception)], results
        active = list(Booking.objects.active().filter(device=device))
        assert len(active) == 1  # neither lost (free while others wait) nor doubled
        granted = QueueEntry.objects.get(device=device, status=QueueEntryStatus.GRANTED)
        assert granted.workflow_id == active[0].workflow_id
        # The grant went to the best request waiting at the moment of the release.
        waiting_then = QueueEntry.objects.filter(device=device, created_at__lte=granted.resolved_at)
        best = min(waiting_then, key=lambda e: (e.priority, e.pk))
        assert best.pk == granted.pk
        assert QueueEntry.objects.waiting().filter(device=device).count() == 24


def test_withdraw_racing_a_release_hands_the_device_to_exactly_one_request(contenders):
    run_together = contenders(2).run
    for _ in range(20):
        device, holder = DeviceFactory(), WorkflowFactory()
        booking_create(device=device, workflow=holder)
        head_workflow, second_workflow = workflows(2)
        head = queue_entry_create(device=device, workflow=head_workflow, priority=Priority.URGENT)
        queue_entry_create(device=device, workflow=second_workflow, priority=Priority.NORMAL)
        results = run_together(
            [
                lambda d=device, h=holder: booking_release(device=d, workflow=h),
                lambda e=head: queue_entry_withdraw(entry=e),
            ]
        )
        assert not isinstance(results[0], Exception), results
        new_holder = Booking.objects.active().get(device=device).workflow_id
        head.refresh_from_db()
        if head.status == QueueEntryStatus.WITHDRAWN:  # the withdraw came first
            assert new_holder == second_workflow.pk
        else:  # the release came first; the withdraw found it granted
            assert head.status == QueueEntryStatus.GRANTED and new_holder == head_workflow.pk
            assert "no longer waiting" in str(results[1])


def test_cancel_racing_queue_requests_leaves_nothing_stale(contenders):
    run_together = contenders(3).run
    a, b = DeviceFactory(), DeviceFactory()
    for _ in range(20):
        cancelled, other = workflows(2)
        workflow_devices_acquire(workflow=cancelled, devices=[a, b], priority=Priority.NORMAL)
        results = run_together(
            [
                lambda w=cancelled: workflow_devices_release(workflow=w, reason="cancelled"),
                lambda w=other: workflow_devices_acquire(workflow=w, devices=[b, a], priority=Priority.LOW),
                lambda w=cancelled: queue_entry_create(device=a, workflow=w, priority=Priority.NORMAL),
            ]
        )
        assert not [r for r in results[:2] if isinstance(r, Exception)], results
        holders = dict(Booking.objects.active().values_list("device_id", "workflow_id"))
        if holders.get(a.pk) == cancelled.pk:  # it re-booked `a` after its release: `other` waits whole
            assert holders == {a.pk: cancelled.pk}
            assert QueueEntry.objects.waiting().filter(workflow=other).count() == 2
        else:
            assert holders == {a.pk: other.pk, b.pk: other.pk}
        workflow_devices_release(workflow=cancelled)
        assert dict(Booking.objects.active().values_list("device_id", "workflow_id")) == {
            a.pk: other.pk,
            b.pk: other.pk,
        }
        workflow_devices_release(workflow=other)
        assert not QueueEntry.objects.waiting().exists()


def test_the_same_workflow_queued_by_ten_requests_at_once_waits_once(token, contenders):
    run_together = contenders(10).run
    for _ in range(5):
        device, holder, workflow = DeviceFactory(), WorkflowFactory(), WorkflowFactory()
        booking_create(device=device, workflow=holder)
        body = {"workflow_id": workflow.pk, "priority": "normal"}
        results = run_together([http_post(token, f"/api/devices/{device.pk}/queue", body)] * 10)
        assert Counter(status for status, _ in results) == {201: 1, 200: 9}
        assert {body["entry"]["id"] for _, body in results} == {QueueEntry.objects.get(workflow=workflow).pk}
