"""The machinery under the booking services: lock scope, queue heads, grants and the hand-off.

Every function here expects the caller to be inside ``transaction.atomic`` and (apart from
``devices_lock`` itself) to hold the locks ``devices_lock`` took. The public services, and the
rules they keep, are in devices/services.py.
"""

import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.contrib.postgres.expressions import ArraySubquery
from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Q
from django.db.models.functions import JSONObject
from django.utils import timezone

from devices.choices import BookingStatus, DeviceStatus, Priority, QueueEntryStatus
from devices.models import Booking, Device, QueueEntry
from devices.querysets import NO_DEADLINE, waiting_ahead_count
from devices.signals import workflow_device_lost, workflow_devices_granted
from devices.workflow_rules import finished_workflow_statuses
from labcore.exceptions import ApplicationError, ConflictError
from labcore.locking import lock_conflicts_as_409, lock_row, lock_rows

logger = logging.getLogger(__name__)

# How often the lock scope may grow (a request started waiting for one of our devices between
# our read and our lock) before we give up with a 409.
LOCK_SCOPE_ATTEMPTS = 8
# Operators take devices out of service; nobody is booked onto them until they are back.
OUT_OF_SERVICE = (DeviceStatus.MAINTENANCE, DeviceStatus.OFFLINE)
LOWEST_PRIORITY = max(Priority.values)


class _LockScopeGrew(Exception):
    """The set of devices to lock grew while we waited for the locks: lock the larger set."""


# --- Locking --------------------------------------------------------------------------------


def booking_service(func):
    """``transaction.atomic``, with a lock timeout or deadlock *anywhere* inside made a 409.

    Our own device locks never deadlock, but the rows we write reference others: inserting a
    booking takes a KEY SHARE lock on its workflow, which waits behind a caller elsewhere that
    holds that workflow FOR UPDATE and may itself be waiting for our device. PostgreSQL breaks
    such a cycle by failing one transaction; that must reach the client as "try again", not 500.
    """
    atomic = transaction.atomic(func)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with lock_conflicts_as_409("the device"):
            return atomic(*args, **kwargs)

    return wrapper


def lock_scope(device_ids: set[str]) -> set[str]:
    """``device_ids`` plus every device of a request that waits for one of them."""
    waiting = QueueEntry.objects.waiting()
    request_ids = waiting.filter(device_id__in=device_ids).values("request_id")
    return set(device_ids) | set(waiting.filter(request_id__in=request_ids).values_list("device_id", flat=True))


def devices_lock(base_device_ids: Callable[[], set[str]], *, what: str) -> set[str]:
    """Lock the devices a change may touch, all in one pk-ordered statement; return the base ids.

    The scope is read before locking, so it may have grown by the time the locks are ours (a
    new request started waiting for one of our devices). Queues only change under their
    device's lock, so a scope read *after* locking is exact: if it is larger, the savepoint is
    rolled back (which releases its row locks) and the larger set is locked instead. Locking the
    missing rows on top would break the pk order and risk deadlocks.
    """
    wanted = lock_scope(base_device_ids())
    for _ in range(LOCK_SCOPE_ATTEMPTS):
        try:
            with transaction.atomic():  # a savepoint, so that a retry gives its locks back
                lock_rows(Device.objects.filter(pk__in=wanted), what=what)
                base = base_device_ids()
                scope = lock_scope(base)
                if not scope <= wanted:
                    raise _LockScopeGrew(scope)
                return base
        except _LockScopeGrew as grown:
            wanted |= grown.args[0]
    raise ConflictError(f"{what} is busy; try again")


# --- Reads under the locks ------------------------------------------------------------------


@dataclass
class DeviceSlots:
    """A locked device's capacity, service status and active bookings (read under its lock)."""

    device_id: str
    capacity: int
    status: str
    bookings: list[Booking] = field(default_factory=list)

    @property
    def free(self) -> int:
        return max(self.capacity - len(self.bookings), 0)

    @property
    def in_service(self) -> bool:
        return self.status not in OUT_OF_SERVICE

    def held_by(self, workflow_id: int) -> bool:
        return any(booking.workflow_id == workflow_id for booking in self.bookings)

    def holder_ids(self) -> list[int]:
        return [booking.workflow_id for booking in self.bookings]

    def free_slot(self) -> int:
        """The lowest slot below the capacity that no active booking uses.

        This is where the service keeps ``slot < capacity`` (the database checks it again with a
        trigger); the caller holds the device's lock, so nobody else picks a slot meanwhile.
        """
        used = {booking.slot for booking in self.bookings}
        slot = next((number for number in range(self.capacity) if number not in used), None)
        if slot is None:
            raise ConflictError(f"device {self.device_id} has no free slot")
        return slot

    def busy_message(self) -> str:
        holders = ", ".join(str(workflow_id) for workflow_id in self.holder_ids())
        if self.capacity == 1:
            return f"device {self.device_id} is booked by workflow {holders}"
        return f"device {self.device_id} is full: all {self.capacity} slots are booked (workflows {holders})"


def slots_read(device_ids: Iterable[str]) -> dict[str, DeviceSlots]:
    """Capacity, status and active bookings of each device, in one query for any number.

    The bookings come back as unsaved-looking instances carrying id, device, workflow and slot
    (all the booking services read of them); one statement instead of two, because every
    contender for a device runs this while it holds the device's lock.
    """
    active = (
        Booking.objects.active()
        .filter(device_id=OuterRef("pk"))
        .order_by("slot")
        .values(booking=JSONObject(id="id", workflow_id="workflow_id", slot="slot"))
    )
    rows = Device.objects.filter(pk__in=set(device_ids)).values_list("pk", "capacity", "status", ArraySubquery(active))
    return {
        pk: DeviceSlots(
            pk,
            capacity,
            status,
            [Booking(device_id=pk, status=BookingStatus.ACTIVE, **booking) for booking in bookings],
        )
        for pk, capacity, status, bookings in rows
    }


def queue_ahead_count():
    """How many waiting entries of the same device are served before each entry (a subquery)."""
    return waiting_ahead_count(QueueEntry.objects)


def queue_front(device_id: str, size: int) -> list[QueueEntry]:
    """The first ``size`` waiting entries of a device's queue in service order, with their
    workflow and device."""
    entries = QueueEntry.objects.waiting().filter(device_id=device_id).in_service_order()
    return list(entries.select_related("workflow", "device")[:size])


def ensure_workflow_can_hold(workflow) -> None:
    """Lock the workflow's row, then refuse if it has finished.

    Lock order: the workflow before its devices, as the workflow services take them (cancel,
    complete: workflow FOR UPDATE, then devices). Checking the caller's copy without the lock
    let a booking race a cancel: the cancel committed after the caller read "running", and the
    device stayed booked for a cancelled workflow that nobody would release. With the row
    locked, a concurrent cancel either finished (we see it) or waits for us (and releases what
    we book).
    """
    locked = lock_row(type(workflow)._default_manager.filter(pk=workflow.pk), what=f"workflow {workflow.pk}")
    if locked is None:
        raise ApplicationError(f"workflow {workflow.pk} does not exist", fields={"workflow_id": ["does not exist"]})
    if locked.status in finished_workflow_statuses():
        raise ConflictError(
            f"workflow {workflow.pk} is {locked.status}; it cannot book devices",
            fields={"workflow_id": [f"workflow {workflow.pk} is {locked.status}."]},
        )


def first_blocker(
    slots: dict[str, DeviceSlots], *, workflow_id: int, priority: int, deadline=NO_DEADLINE
) -> str | None:
    """Why a new request of ``workflow_id`` at ``priority`` cannot have the devices of ``slots``
    now, or None.

    A device is free for it when it holds a slot already, or when the device is in service and
    has more free slots than there are waiting requests served before it (same or higher
    priority: those arrived earlier): each of those reserves a free slot. With capacity 1 that
    is "nobody holds it and nobody waits for it".
    """
    needed = sorted(device_id for device_id, device in slots.items() if not device.held_by(workflow_id))
    for device_id in needed:
        if not slots[device_id].free:
            return slots[device_id].busy_message()
    for device_id in needed:
        if not slots[device_id].in_service:
            return f"device {device_id} is {slots[device_id].status}"
    # Waiting requests served before a new one at (priority, deadline): every one of them arrived
    # earlier, so an equal deadline is ahead too.
    waiting = (
        QueueEntry.objects.waiting()
        .filter(Q(priority__lt=priority) | Q(priority=priority, deadline__lte=deadline))
        .exclude(workflow_id=workflow_id)
    )
    ahead = dict(
        waiting.filter(device_id__in=needed)
        .order_by()
        .values("device_id")
        .annotate(n=Count("id"))
        .values_list("device_id", "n")
    )
    reserved = [device_id for device_id in needed if ahead.get(device_id, 0) >= slots[device_id].free]
    if reserved:
        head = waiting.filter(device_id__in=reserved).in_service_order().first()
        return f"device {head.device_id} is reserved for queued workflow {head.workflow_id}"
    return None


# --- Writes under the locks -----------------------------------------------------------------


def device_statuses_set(device_ids: Iterable[str], status: str) -> None:
    """Mirror bookings into Device.status (busy: no free slot); maintenance and offline are the
    operators' to change."""
    Device.objects.filter(pk__in=list(device_ids), status__in=[DeviceStatus.AVAILABLE, DeviceStatus.BUSY]).update(
        status=status, updated_at=timezone.now()
    )


def bookings_create(slots: dict[str, DeviceSlots], device_ids: Iterable[str], workflow_id: int) -> list[Booking]:
    """Book a free slot of each device for ``workflow_id``; ``slots`` (read under the locks) is
    kept up to date with the new bookings."""
    device_ids = sorted(device_ids)
    bookings = [Booking(device_id=d, workflow_id=workflow_id, slot=slots[d].free_slot()) for d in device_ids]
    try:
        # The partial unique constraints and the slot trigger are the last line of defence
        # behind the row locks.
        with transaction.atomic():
            bookings = Booking.objects.bulk_create(bookings)
    except IntegrityError as exc:
        raise ConflictError(f"device {', '.join(device_ids)} is already booked") from exc
    for booking in bookings:
        slots[booking.device_id].bookings.append(booking)
    device_statuses_set([d for d in device_ids if not slots[d].free], DeviceStatus.BUSY)
    return bookings


def bookings_release(bookings: list[Booking], *, user=None, reason: str = "") -> None:
    now = timezone.now()
    for booking in bookings:
        booking.status, booking.released_at = BookingStatus.RELEASED, now
        booking.released_by, booking.release_reason = user, reason[:200]
    Booking.objects.bulk_update(bookings, ["status", "released_at", "released_by", "release_reason"])
    # A released slot is a free one.
    device_statuses_set({booking.device_id for booking in bookings}, DeviceStatus.AVAILABLE)


def entries_resolve(entries: list[QueueEntry], status: str) -> None:
    now = timezone.now()
    for entry in entries:
        entry.status, entry.resolved_at = status, now
    QueueEntry.objects.bulk_update(entries, ["status", "resolved_at"])


def request_grant_if_ready(request_id) -> bool:
    """Grant the waiting request ``request_id`` if, on each of its devices, there is a slot for
    it after one for every request served before it there, and the device is in service (or
    its workflow already holds a slot). Caller holds the locks of all its devices.

    With capacity 1: it heads every queue it is in and all its devices are free.
    """
    entries = list(QueueEntry.objects.waiting().filter(request_id=request_id).annotate(ahead=queue_ahead_count()))
    if not entries:
        return False
    workflow_id = entries[0].workflow_id
    slots = slots_read(entry.device_id for entry in entries)
    needed = []
    for entry in entries:
        device = slots[entry.device_id]
        own = device.held_by(workflow_id)
        # The requests ahead each reserve a free slot; a slot the workflow holds counts as its own.
        if entry.ahead >= device.free + own:
            return False
        if not own:
            if not device.in_service:
                return False  # it waits until the operators put the device back in service
            needed.append(entry.device_id)
    bookings_create(slots, needed, workflow_id)
    entries_resolve(entries, QueueEntryStatus.GRANTED)
    transaction.on_commit(lambda: send_granted(workflow_id))
    return True


def device_lost_later(booking: Booking, *, reason: str) -> None:
    """Tell the holder's app, once this commits, that ``booking`` was taken from its workflow."""
    workflow_id, device_id = booking.workflow_id, booking.device_id

    def send() -> None:
        # After commit, robustly, like the grant: the release has happened whatever a receiver does.
        for receiver, result in workflow_device_lost.send_robust(
            sender=Booking, workflow_id=workflow_id, device_id=device_id, reason=reason
        ):
            if isinstance(result, Exception):
                logger.error("workflow_device_lost receiver %r failed for workflow %s", receiver, workflow_id,
                             exc_info=result)  # fmt: skip

    transaction.on_commit(send)


def send_granted(workflow_id: int) -> None:
    # Sent after commit: a receiver's failure must not turn a committed hand-off into an error.
    for receiver, result in workflow_devices_granted.send_robust(sender=QueueEntry, workflow_id=workflow_id):
        if isinstance(result, Exception):
            logger.error("workflow_devices_granted receiver %r failed for workflow %s", receiver, workflow_id,
                         exc_info=result)  # fmt: skip


def hand_off(device_ids: Iterable[str]) -> list[int]:
    """For each device with free slots, grant the requests at the front of its queue that can be.

    With ``free`` slots, only the first ``free`` requests in service order may take one (the
    reservation rule): a request there that still waits for another device keeps its slot
    idle rather than let a later request have it. A request whose workflow has already
    finished (cancelled without releasing) is withdrawn, never granted, and the devices it
    waited for are looked at again.
    """
    granted, pending = [], sorted(set(device_ids))
    while pending:
        device_id = pending.pop(0)
        front = queue_front(device_id, 1)
        if not front:
            continue
        # With capacity 1 only the head may be served, and request_grant_if_ready checks the slot.
        free = 1
        if front[0].device.capacity > 1:
            free = slots_read([device_id])[device_id].free
            front = queue_front(device_id, free) if free > 1 else front
        for entry in front[:free]:
            if entry.workflow.status in finished_workflow_statuses():
                stale = list(QueueEntry.objects.waiting().filter(request_id=entry.request_id))
                entries_resolve(stale, QueueEntryStatus.WITHDRAWN)
                pending = sorted(set(pending) | {e.device_id for e in stale} | {device_id})
                break
            if request_grant_if_ready(entry.request_id):
                granted.append(entry.workflow_id)
    return granted
