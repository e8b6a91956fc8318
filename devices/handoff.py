"""The machinery under the booking services: lock scope, queue heads, grants and the hand-off.

Every function here expects the caller to be inside ``transaction.atomic`` and (apart from
``devices_lock`` itself) to hold the locks ``devices_lock`` took. The public services, and the
rules they keep, are in devices/services.py.
"""

import functools
import logging
from collections.abc import Callable, Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone

from devices.choices import BookingStatus, DeviceStatus, Priority, QueueEntryStatus
from devices.models import Booking, Device, QueueEntry
from devices.signals import workflow_devices_granted
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


def active_bookings(device_ids: Iterable[str]) -> dict[str, Booking]:
    return {booking.device_id: booking for booking in Booking.objects.active().filter(device_id__in=device_ids)}


def queue_heads(device_ids: Iterable[str], *, with_workflow: bool = False) -> dict[str, QueueEntry]:
    """The first waiting entry of each device's queue (PostgreSQL DISTINCT ON)."""
    heads = (
        QueueEntry.objects.waiting()
        .filter(device_id__in=device_ids)
        .order_by("device_id", "priority", "id")
        .distinct("device_id")
    )
    if with_workflow:
        heads = heads.select_related("workflow")
    return {entry.device_id: entry for entry in heads}


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


def first_blocker(device_ids: Iterable[str], *, workflow_id: int, priority: int) -> str | None:
    """Why a new request of ``workflow_id`` at ``priority`` cannot have ``device_ids`` now, or None.

    A device is free for it when nobody else holds it, it is in service (not in maintenance or
    offline) and no waiting request would be served before it (same or higher priority: those
    arrived earlier).
    """
    device_ids = sorted(device_ids)
    holders = active_bookings(device_ids)
    for device_id in device_ids:
        holder = holders.get(device_id)
        if holder and holder.workflow_id != workflow_id:
            return f"device {device_id} is booked by workflow {holder.workflow_id}"
    resting = Device.objects.filter(pk__in=set(device_ids) - set(holders), status__in=OUT_OF_SERVICE).first()
    if resting:
        return f"device {resting.pk} is {resting.status}"
    ahead = (
        QueueEntry.objects.waiting()
        .filter(device_id__in=device_ids, priority__lte=priority)
        .exclude(workflow_id=workflow_id)
        .order_by("priority", "id")
        .first()
    )
    if ahead:
        return f"device {ahead.device_id} is reserved for queued workflow {ahead.workflow_id}"
    return None


# --- Writes under the locks -----------------------------------------------------------------


def device_statuses_set(device_ids: Iterable[str], status: str) -> None:
    """Mirror bookings into Device.status; maintenance and offline are the operators' to change."""
    Device.objects.filter(pk__in=list(device_ids), status__in=[DeviceStatus.AVAILABLE, DeviceStatus.BUSY]).update(
        status=status, updated_at=timezone.now()
    )


def bookings_create(device_ids: Iterable[str], workflow_id: int) -> list[Booking]:
    device_ids = sorted(device_ids)
    try:
        # The partial unique constraint is the last line of defence behind the row locks.
        with transaction.atomic():
            bookings = Booking.objects.bulk_create(Booking(device_id=d, workflow_id=workflow_id) for d in device_ids)
    except IntegrityError as exc:
        raise ConflictError(f"device {', '.join(device_ids)} is already booked") from exc
    device_statuses_set(device_ids, DeviceStatus.BUSY)
    return bookings


def bookings_release(bookings: list[Booking], *, user=None, reason: str = "") -> None:
    now = timezone.now()
    for booking in bookings:
        booking.status, booking.released_at = BookingStatus.RELEASED, now
        booking.released_by, booking.release_reason = user, reason[:200]
    Booking.objects.bulk_update(bookings, ["status", "released_at", "released_by", "release_reason"])
    device_statuses_set({booking.device_id for booking in bookings}, DeviceStatus.AVAILABLE)


def entries_resolve(entries: list[QueueEntry], status: str) -> None:
    now = timezone.now()
    for entry in entries:
        entry.status, entry.resolved_at = status, now
    QueueEntry.objects.bulk_update(entries, ["status", "resolved_at"])


def request_grant_if_ready(request_id) -> bool:
    """Grant the waiting request ``request_id`` if it heads every queue it is in and all its
    devices are free (or already its workflow's). Caller holds the locks of all its devices."""
    entries = list(QueueEntry.objects.waiting().filter(request_id=request_id))
    if not entries:
        return False
    device_ids = {entry.device_id for entry in entries}
    workflow_id = entries[0].workflow_id
    heads = queue_heads(device_ids)
    if any(heads[entry.device_id].pk != entry.pk for entry in entries):
        return False  # something is served before it on one of its devices
    holders = active_bookings(device_ids)
    if any(holder.workflow_id != workflow_id for holder in holders.values()):
        return False
    if Device.objects.filter(pk__in=device_ids - set(holders), status__in=OUT_OF_SERVICE).exists():
        return False  # it waits until the operators put the device back in service
    bookings_create(device_ids - set(holders), workflow_id)
    entries_resolve(entries, QueueEntryStatus.GRANTED)
    transaction.on_commit(lambda: send_granted(workflow_id))
    return True


def send_granted(workflow_id: int) -> None:
    # Sent after commit: a receiver's failure must not turn a committed hand-off into an error.
    for receiver, result in workflow_devices_granted.send_robust(sender=QueueEntry, workflow_id=workflow_id):
        if isinstance(result, Exception):
            logger.error("workflow_devices_granted receiver %r failed for workflow %s", receiver, workflow_id,
                         exc_info=result)  # fmt: skip


def hand_off(device_ids: Iterable[str]) -> list[int]:
    """For each freed device, grant the request at the head of its queue if it can be granted.

    Only the head may take a device (the reservation rule); a head that still waits for
    another device keeps this one idle rather than let a later request jump it. A head whose
    workflow has already finished (cancelled without releasing) is withdrawn, never granted,
    and the devices it waited for are looked at again.
    """
    granted, pending = [], sorted(set(device_ids))
    while pending:
        device_id = pending.pop(0)
        head = queue_heads([device_id], with_workflow=True).get(device_id)
        if head is None:
            continue
        if head.workflow.status in finished_workflow_statuses():
            stale = list(QueueEntry.objects.waiting().filter(request_id=head.request_id))
            entries_resolve(stale, QueueEntryStatus.WITHDRAWN)
            pending = sorted(set(pending) | {entry.device_id for entry in stale})
            continue
        if request_grant_if_ready(head.request_id):
            granted.append(head.workflow_id)
    return granted
