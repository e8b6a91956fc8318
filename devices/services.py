"""Booking and queue services: device slots, the priority queue and the hand-off.

Used by the API, the admin, the executor and manage.py alike. The rules every function keeps:

- **Capacity.** A device serves up to ``capacity`` workflows at once, each in its own slot
  (0 .. capacity - 1), at most one slot per workflow. The slot is chosen here, under the
  device's lock; the database backs it up (unique active (device, slot), a slot < capacity
  trigger). "Free" below means "has a free slot".

- **Lock order.** Every change to a device's bookings or queue happens while that device's row
  is locked FOR UPDATE (``labcore.locking.lock_rows``: primary-key order, ``lock_timeout`` ->
  409). A service locks, in one statement and in pk order, every device it may touch: the
  devices named plus every device of a request waiting for one of them (a hand-off may book
  those). Nothing is locked later out of order, so two services never deadlock.
- **All or nothing.** A request for several devices (one ``request_id``) is granted only when
  all of its devices are free, and then all at once; otherwise it holds nothing and waits.
- **Strict service order.** A device's queue is served by priority then arrival; each waiting
  request at the front of a device's queue reserves one of its free slots, even while it waits
  for its other devices, so later requests of the same or lower priority can never jump it (no starvation
  of multi-device requests). See docs/decisions.md, "Booking and queue".
- **Hand-off in the same transaction.** Releasing, withdrawing and cancelling grant the next
  request in the transaction that freed the device; the executor hears of it through
  ``workflow_devices_granted`` on commit.
"""

import uuid
from collections.abc import Iterable

from django.utils import timezone

from devices.choices import DeviceStatus, Priority, QueueEntryStatus
from devices.handoff import (
    LOWEST_PRIORITY,
    OUT_OF_SERVICE,
    booking_service,
    bookings_create,
    bookings_release,
    device_lost_later,
    devices_lock,
    ensure_workflow_can_hold,
    entries_resolve,
    first_blocker,
    hand_off,
    request_grant_if_ready,
    slots_read,
)
from devices.models import Booking, Device, QueueEntry
from devices.querysets import NO_DEADLINE
from labcore.exceptions import ApplicationError, ConflictError


@booking_service
def booking_create(*, device: Device, workflow, user=None) -> Booking:
    """Book ``device`` for ``workflow`` now, or refuse with 409 naming who holds or waits for it.

    Idempotent: booking a device the workflow already holds returns that booking. The result's
    ``created`` attribute says whether this call made it.
    """
    ensure_workflow_can_hold(workflow)
    devices_lock(lambda: {device.pk}, what=f"device {device.pk}")
    held = Booking.objects.active().filter(device_id=device.pk, workflow_id=workflow.pk).first()
    if held:
        held.created = False
        return held
    own = QueueEntry.objects.waiting().filter(device_id=device.pk, workflow_id=workflow.pk).first()
    if own:
        if request_grant_if_ready(own.request_id):
            booking = Booking.objects.active().get(device_id=device.pk, workflow_id=workflow.pk)
            booking.created = True
            return booking
        message = f"workflow {workflow.pk} is queued for device {device.pk}; wait for the hand-off or withdraw it"
        raise ConflictError(message, fields={"device": [message]})
    # A direct booking has no priority: anyone waiting for the device is served first.
    slots = slots_read([device.pk])
    blocker = first_blocker(slots, workflow_id=workflow.pk, priority=LOWEST_PRIORITY)
    if blocker:
        raise ConflictError(blocker, fields={"device": [blocker]})
    booking = bookings_create(slots, [device.pk], workflow.pk)[0]
    booking.created = True
    return booking


@booking_service
def booking_release(*, device: Device, workflow, user=None, reason: str = "") -> Booking:
    """Release ``workflow``'s booking (slot) of ``device`` and hand the slot to the next request,
    in one transaction."""
    devices_lock(lambda: {device.pk}, what=f"device {device.pk}")
    holders = list(Booking.objects.active().filter(device_id=device.pk).order_by("slot"))
    booking = next((held for held in holders if held.workflow_id == workflow.pk), None)
    if booking is None:
        others = ", ".join(str(held.workflow_id) for held in holders)
        holder = f"booked by workflow{'s' if len(holders) > 1 else ''} {others}" if holders else "not booked"
        message = f"workflow {workflow.pk} does not hold device {device.pk} (it is {holder})"
        raise ConflictError(message, fields={"workflow_id": [message]})
    bookings_release([booking], user=user, reason=reason or "released")
    hand_off([device.pk])
    device_lost_later(booking, reason=reason or "released")
    return booking


@booking_service
def queue_entry_create(*, device: Device, workflow, priority: int) -> QueueEntry | Booking:
    """Queue ``workflow`` for ``device`` at ``priority``; book at once when nothing is before it.

    Never a duplicate: a workflow that holds the device gets its booking, one that already waits
    gets its entry. The result's ``created`` attribute says whether this call made it.
    """
    ensure_workflow_can_hold(workflow)
    devices_lock(lambda: {device.pk}, what=f"device {device.pk}")
    existing = (
        Booking.objects.active().filter(device_id=device.pk, workflow_id=workflow.pk).first()
        or QueueEntry.objects.waiting().filter(device_id=device.pk, workflow_id=workflow.pk).first()
    )
    deadline = NO_DEADLINE
    if isinstance(existing, QueueEntry) and existing.priority != priority:
        # Asked again at another priority: a more urgent request moves up, as if it had arrived
        # now at that priority (its old entry withdrawn, so the queue keeps the record).
        _queue_entry_move_check(existing, priority=priority)
        entries_resolve([existing], QueueEntryStatus.WITHDRAWN)
        deadline = existing.deadline
    elif existing:
        existing.created = False
        return existing
    slots = slots_read([device.pk])
    if first_blocker(slots, workflow_id=workflow.pk, priority=priority, deadline=deadline) is None:
        result = bookings_create(slots, [device.pk], workflow.pk)[0]
    else:
        result = QueueEntry.objects.create(
            device_id=device.pk, workflow_id=workflow.pk, priority=priority, deadline=deadline, request_id=uuid.uuid4()
        )
    result.created = True
    return result


def _queue_entry_move_check(entry: QueueEntry, *, priority: int) -> None:
    """Refuse (409, saying how) what moving ``entry`` to ``priority`` cannot do in place.

    A lower priority would give up a place others may be counting on, and may free the device
    for them: that is a withdrawal and a new request, which the client can make explicitly. A
    request for several devices moves as one or not at all (its entries keep one order on every
    device, see docs/decisions.md), so it is withdrawn and queued again whole.
    """
    names = {member.value: member.label for member in Priority}
    how = f"withdraw it (DELETE /api/devices/{entry.device_id}/queue/{entry.pk}) and queue again"
    if priority > entry.priority:
        raise ConflictError(
            f"workflow {entry.workflow_id} already waits for {entry.device_id} at {names[entry.priority]}; "
            f"to wait at {names[priority]}, {how}",
            fields={"priority": [f"already queued at {names[entry.priority]}"]},
        )
    others = QueueEntry.objects.waiting().filter(request_id=entry.request_id).exclude(pk=entry.pk)
    if others.exists():
        raise ConflictError(
            f"workflow {entry.workflow_id} waits for {entry.device_id} as part of a request for several devices; "
            f"to raise its priority, {how} for them all",
            fields={"priority": [f"already queued at {names[entry.priority]} with other devices"]},
        )


@booking_service
def queue_entry_withdraw(*, entry: QueueEntry, user=None) -> list[QueueEntry]:
    """Withdraw a waiting request (every entry sharing ``entry``'s request) and hand its devices on."""
    request_id = entry.request_id
    device_ids = devices_lock(
        lambda: set(QueueEntry.objects.filter(request_id=request_id).values_list("device_id", flat=True)),
        what=f"device {entry.device_id}",
    )
    entries = list(QueueEntry.objects.waiting().filter(request_id=request_id))
    if not entries:
        entry.refresh_from_db(fields=["status"])
        raise ConflictError(f"queue entry {entry.pk} is no longer waiting (it is {entry.status})")
    entries_resolve(entries, QueueEntryStatus.WITHDRAWN)
    # Its place at the head of a queue may have been reserving a free device: hand those on.
    hand_off(device_ids)
    return entries


@booking_service
def workflow_devices_acquire(
    *, workflow, devices: Iterable[Device], priority: int, queue: bool = True, deadline=None
) -> bool:
    """Book every device of ``devices`` for ``workflow``, all or nothing.

    True when the workflow holds them all on return. Otherwise it books nothing and, with
    ``queue`` (else it only answers False: a caller trying alternatives), waits as one
    request (served by priority, then ``deadline``, the window deadline of the step it is for,
    then arrival), as one
    request (one QueueEntry per missing device, sharing a request_id) and returns False; the
    hand-off that later grants it sends ``workflow_devices_granted``. Calling it again while
    queued creates no duplicates; if the set grew, the old request is withdrawn and it waits again
    as one fresh request for the whole set, at the back of each queue (it is not extended in place).
    """
    ensure_workflow_can_hold(workflow)
    wanted = {device.pk for device in devices}
    if not wanted:
        return True

    def base() -> set[str]:
        own = QueueEntry.objects.waiting().filter(workflow_id=workflow.pk).values_list("device_id", flat=True)
        return wanted | set(own)

    devices_lock(base, what="devices " + ", ".join(sorted(wanted)))
    held = set(Booking.objects.active().filter(workflow_id=workflow.pk).values_list("device_id", flat=True))
    missing = wanted - held
    if not missing:
        return True
    own = list(QueueEntry.objects.waiting().filter(workflow_id=workflow.pk))
    waiting_for = {entry.device_id for entry in own}
    if own:
        if missing <= waiting_for and len({entry.request_id for entry in own}) == 1:
            return request_grant_if_ready(own[0].request_id)  # already queued: no duplicate
        # The set grew (or it waits as several requests): wait again as one fresh request, so
        # its entries are ordered after every earlier request on all of its devices alike (the
        # property that keeps two multi-device requests from each heading one queue forever).
        entries_resolve(own, QueueEntryStatus.WITHDRAWN)
        missing |= waiting_for - held
    slots = slots_read(missing)
    deadline = deadline or NO_DEADLINE
    if first_blocker(slots, workflow_id=workflow.pk, priority=priority, deadline=deadline) is None:
        bookings_create(slots, missing, workflow.pk)
        granted = True
    elif not queue and not own:
        return False
    else:
        request_id = uuid.uuid4()
        QueueEntry.objects.bulk_create(
            QueueEntry(
                device_id=d, workflow_id=workflow.pk, priority=priority, deadline=deadline, request_id=request_id
            )
            for d in sorted(missing)
        )
        granted = False
    hand_off(waiting_for)  # its old entries may have been reserving devices others can now have
    return granted


@booking_service
def workflow_devices_release(*, workflow, user=None, reason: str = "") -> list[Booking]:
    """Release everything ``workflow`` holds and withdraw all it waits for, handing each device on.

    For the end of a workflow and for cancelling one: nothing stale is left behind.
    """

    def base() -> set[str]:
        held = Booking.objects.active().filter(workflow_id=workflow.pk).values_list("device_id", flat=True)
        waiting = QueueEntry.objects.waiting().filter(workflow_id=workflow.pk).values_list("device_id", flat=True)
        return set(held) | set(waiting)

    device_ids = devices_lock(base, what=f"the devices of workflow {workflow.pk}")
    if not device_ids:
        return []
    bookings = list(Booking.objects.active().filter(workflow_id=workflow.pk))
    bookings_release(bookings, user=user, reason=reason or "workflow released its devices")
    entries_resolve(list(QueueEntry.objects.waiting().filter(workflow_id=workflow.pk)), QueueEntryStatus.WITHDRAWN)
    hand_off(device_ids)
    return bookings


@booking_service
def device_force_release(*, device: Device, user, reason: str, workflow=None) -> Booking:
    """An operator takes a device back from a holder; recorded with who and why, then handed on.

    ``workflow`` names the holder; it may be left out when the device has one holder only
    (always so with capacity 1). On a shared device call it once per holder to empty it.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("a reason is required to force-release a device", fields={"reason": ["Required."]})
    devices_lock(lambda: {device.pk}, what=f"device {device.pk}")
    holders = Booking.objects.active().filter(device_id=device.pk)
    if workflow is not None:
        holders = holders.filter(workflow_id=workflow.pk)
    holders = list(holders[:2])
    if not holders:
        whom = f" by workflow {workflow.pk}" if workflow is not None else ""
        raise ConflictError(f"device {device.pk} is not booked{whom}")
    if len(holders) > 1:
        message = f"device {device.pk} has several holders; name the workflow to force-release"
        raise ConflictError(message, fields={"workflow_id": [message]})
    booking = holders[0]
    bookings_release([booking], user=user, reason=f"force-released: {reason}")
    hand_off([device.pk])
    device_lost_later(booking, reason=f"force-released: {reason}")
    return booking


@booking_service
def device_status_set(*, device: Device, status: str, user=None) -> Device:
    """Take a device out of service (maintenance, offline) or put it back in service.

    ``available`` and ``busy`` follow the bookings (busy: every slot is booked), so putting a
    device back in service sets whichever is true and serves its queue. A booking in progress is
    not broken by maintenance: force-release it if the holder must stop.
    """
    if status not in DeviceStatus.values:
        message = f'"{status}" is not a device status; use one of: {", ".join(DeviceStatus.values)}.'
        raise ApplicationError(message, fields={"status": [message]})
    devices_lock(lambda: {device.pk}, what=f"device {device.pk}")
    if status not in OUT_OF_SERVICE:
        full = not slots_read([device.pk])[device.pk].free
        status = DeviceStatus.BUSY if full else DeviceStatus.AVAILABLE
    Device.objects.filter(pk=device.pk).update(status=status, updated_at=timezone.now())
    device.status = status
    if status not in OUT_OF_SERVICE:
        hand_off([device.pk])  # requests that waited for it to come back
    return device


def device_capacity_refusal(*, device: Device, capacity) -> str | None:
    """Why ``device`` cannot take ``capacity`` now, or None. Exact only under the device's lock."""
    if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
        return "capacity must be a whole number of at least 1"
    in_use = Booking.objects.active().filter(device_id=device.pk).count()
    if capacity < in_use:
        return (
            f"device {device.pk} has {in_use} active bookings; its capacity cannot be lowered below {in_use} "
            "until some are released"
        )
    return None


@booking_service
def device_capacity_check(*, device: Device, capacity) -> None:
    """Lock ``device`` (with the scope a capacity change needs) and refuse a capacity it cannot take.

    For a form's validation inside the transaction that will then save it (the admin's): the
    lock stays held, so ``device_capacity_set`` cannot be refused for a booking made between.
    """
    devices_lock(lambda: {device.pk}, what=f"device {device.pk}")
    refusal = device_capacity_refusal(device=device, capacity=capacity)
    if refusal:
        raise ConflictError(refusal, fields={"capacity": [refusal]})


@booking_service
def device_capacity_set(*, device: Device, capacity: int, user=None) -> Device:
    """Change how many workflows ``device`` serves at once; refused below its active bookings.

    Lowering it moves bookings in slots at or above the new capacity into free slots below it
    (a slot number has no meaning of its own), so the database's ``slot < capacity`` holds.
    Raising it hands the new slots to the queue in the same transaction.
    """
    devices_lock(lambda: {device.pk}, what=f"device {device.pk}")
    refusal = device_capacity_refusal(device=device, capacity=capacity)
    if refusal:
        raise ConflictError(refusal, fields={"capacity": [refusal]})
    slots = slots_read([device.pk])[device.pk]
    slots.capacity = capacity
    movers = [booking for booking in slots.bookings if booking.slot >= capacity]
    for booking in movers:
        booking.slot = slots.free_slot()  # the lowest unused one below the new capacity
    Booking.objects.bulk_update(movers, ["slot"])
    status = Device.objects.values_list("status", flat=True).get(pk=device.pk)
    if status in (DeviceStatus.AVAILABLE, DeviceStatus.BUSY):
        status = DeviceStatus.AVAILABLE if slots.free else DeviceStatus.BUSY
    Device.objects.filter(pk=device.pk).update(capacity=capacity, status=status, updated_at=timezone.now())
    device.capacity, device.status = capacity, status
    hand_off([device.pk])  # new slots go to the requests waiting for them
    return device
