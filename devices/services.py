"""Booking and queue services: exclusive device use, the priority queue and the hand-off.

Used by the API, the admin, the executor and manage.py alike. The rules every function keeps:

- **Lock order.** Every change to a device's bookings or queue happens while that device's row
  is locked FOR UPDATE (``labcore.locking.lock_rows``: primary-key order, ``lock_timeout`` ->
  409). A service locks, in one statement and in pk order, every device it may touch: the
  devices named plus every device of a request waiting for one of them (a hand-off may book
  those). Nothing is locked later out of order, so two services never deadlock.
- **All or nothing.** A request for several devices (one ``request_id``) is granted only when
  all of its devices are free, and then all at once; otherwise it holds nothing and waits.
- **Strict service order.** A device's queue is served by priority then arrival; a waiting
  request at the head of a device's queue reserves it, even while it waits for its other
  devices, so later requests of the same or lower priority can never jump it (no starvation
  of multi-device requests). See docs/decisions.md, "Booking and queue".
- **Hand-off in the same transaction.** Releasing, withdrawing and cancelling grant the next
  request in the transaction that freed the device; the executor hears of it through
  ``workflow_devices_granted`` on commit.
"""

import logging
import uuid
from collections.abc import Callable, Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone

from devices.choices import BookingStatus, DeviceStatus, Priority, QueueEntryStatus
from devices.models import Booking, Device, QueueEntry
from devices.signals import workflow_devices_granted
from labcore.exceptions import ApplicationError, ConflictError
from labcore.locking import lock_rows
from workflows.choices import FINISHED_WORKFLOW_STATUSES

logger = logging.getLogger(__name__)

# How often the lock scope may grow (a request started waiting between our read and our lock)
# before we give up with a 409; in practice one retry is rare and two are unheard of.
LOCK_SCOPE_ATTEMPTS = 8
LOWEST_PRIORITY = max(Priority.values)


class _LockScopeGrew(Exception):
    """The set of devices to lock grew while we waited for the locks: lock the larger set."""


# --- Locking --------------------------------------------------------------------------------


def _lock_scope(device_ids: set[str]) -> set[str]:
    """``device_ids`` plus every device of a request that waits for one of them."""
    waiting = QueueEntry.objects.waiting()
    request_ids = waiting.filter(device_id__in=device_ids).values("request_id")
    return set(device_ids) | set(waiting.filter(request_id__in=request_ids).values_list("device_id", flat=True))


def _devices_lock(base_device_ids: Callable[[], set[str]], *, what: str) -> set[str]:
    """Lock the devices a change may touch, all in one pk-ordered statement; return the base ids.

    The scope is read before locking, so it may have grown by the time the locks are ours (a
    new request started waiting for one of our devices). Queues only change under their
    device's lock, so a scope read *after* locking is exact: if it is larger, the savepoint is
    rolled back (which releases its row locks) and the larger set is locked instead. Locking the
    missing rows on top would break the pk order and risk deadlocks.
    """
    wanted = _lock_scope(base_device_ids())
    for _ in range(LOCK_SCOPE_ATTEMPTS):
        try:
            with transaction.atomic():  # a savepoint, so that a retry gives its locks back
                lock_rows(Device.objects.filter(pk__in=wanted), what=what)
                base = base_device_ids()
                scope = _lock_scope(base)
                if not scope <= wanted:
                    raise _LockScopeGrew(scope)
                return base
        except _LockScopeGrew as grown:
            wanted |= grown.args[0]
    raise ConflictError(f"{what} is busy; try again")


# --- Reads under the locks ------------------------------------------------------------------


def _active_bookings(device_ids: Iterable[str]) -> dict[str, Booking]:
    return {booking.device_id: booking for booking in Booking.objects.active().filter(device_id__in=device_ids)}


def _queue_heads(device_ids: Iterable[str]) -> dict[str, QueueEntry]:
    """The first waiting entry of each device's queue (PostgreSQL DISTINCT ON)."""
    heads = (
        QueueEntry.objects.waiting()
        .filter(device_id__in=device_ids)
        .order_by("device_id", "priority", "id")
        .distinct("device_id")
    )
    return {entry.device_id: entry for entry in heads}


def _ensure_workflow_can_hold(workflow) -> None:
    if workflow.status in FINISHED_WORKFLOW_STATUSES:
        raise ConflictError(
            f"workflow {workflow.pk} is {workflow.status}; it cannot book devices",
            fields={"workflow_id": [f"workflow {workflow.pk} is {workflow.status}."]},
        )


def _first_blocker(device_ids: Iterable[str], *, workflow_id: int, priority: int) -> str | None:
    """Why a new request of ``workflow_id`` at ``priority`` cannot have ``device_ids`` now, or None.

    A device is free for it when nobody else holds it and no waiting request would be served
    before it (same or higher priority: those arrived earlier).
    """
    device_ids = sorted(device_ids)
    holders = _active_bookings(device_ids)
    for device_id in device_ids:
        holder = holders.get(device_id)
        if holder and holder.workflow_id != workflow_id:
            return f"device {device_id} is booked by workflow {holder.workflow_id}"
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


def _device_statuses_set(device_ids: Iterable[str], status: str) -> None:
    """Mirror bookings into Device.status; maintenance and offline are the operators' to change."""
    Device.objects.filter(pk__in=list(device_ids), status__in=[DeviceStatus.AVAILABLE, DeviceStatus.BUSY]).update(
        status=status, updated_at=timezone.now()
    )


def _bookings_create(device_ids: Iterable[str], workflow_id: int) -> list[Booking]:
    device_ids = sorted(device_ids)
    try:
        # The partial unique constraint is the last line of defence behind the row locks.
        with transaction.atomic():
            bookings = Booking.objects.bulk_create(Booking(device_id=d, workflow_id=workflow_id) for d in device_ids)
    except IntegrityError as exc:
        raise ConflictError(f"device {', '.join(device_ids)} is already booked") from exc
    _device_statuses_set(device_ids, DeviceStatus.BUSY)
    return bookings


def _bookings_release(bookings: list[Booking], *, user=None, reason: str = "") -> None:
    now = timezone.now()
    for booking in bookings:
        booking.status, booking.released_at = BookingStatus.RELEASED, now
        booking.released_by, booking.release_reason = user, reason[:200]
    Booking.objects.bulk_update(bookings, ["status", "released_at", "released_by", "release_reason"])
    _device_statuses_set({booking.device_id for booking in bookings}, DeviceStatus.AVAILABLE)


def _entries_resolve(entries: list[QueueEntry], status: str) -> None:
    now = timezone.now()
    for entry in entries:
        entry.status, entry.resolved_at = status, now
    QueueEntry.objects.bulk_update(entries, ["status", "resolved_at"])


def _request_grant_if_ready(request_id) -> bool:
    """Grant the waiting request ``request_id`` if it heads every queue it is in and all its
    devices are free (or already its workflow's). Caller holds the locks of all its devices."""
    entries = list(QueueEntry.objects.waiting().filter(request_id=request_id))
    if not entries:
        return False
    device_ids = {entry.device_id for entry in entries}
    workflow_id = entries[0].workflow_id
    heads = _queue_heads(device_ids)
    if any(heads[entry.device_id].pk != entry.pk for entry in entries):
        return False  # something is served before it on one of its devices
    holders = _active_bookings(device_ids)
    if any(holder.workflow_id != workflow_id for holder in holders.values()):
        return False
    _bookings_create(device_ids - set(holders), workflow_id)
    _entries_resolve(entries, QueueEntryStatus.GRANTED)
    transaction.on_commit(lambda: _send_granted(workflow_id))
    return True


def _send_granted(workflow_id: int) -> None:
    # Sent after commit: a receiver's failure must not turn a committed hand-off into an error.
    for receiver, result in workflow_devices_granted.send_robust(sender=QueueEntry, workflow_id=workflow_id):
        if isinstance(result, Exception):
            logger.error("workflow_devices_granted receiver %r failed for workflow %s", receiver, workflow_id,
                         exc_info=result)  # fmt: skip


def _hand_off(device_ids: Iterable[str]) -> list[int]:
    """For each freed device, grant the request at the head of its queue if it can be granted.

    Only the head may take a device (the reservation rule); a head that still waits for
    another device keeps this one idle rather than let a later request jump it.
    """
    granted = []
    for device_id in sorted(device_ids):
        head = _queue_heads([device_id]).get(device_id)
        if head and _request_grant_if_ready(head.request_id):
            granted.append(head.workflow_id)
    return granted


# --- Public services ------------------------------------------------------------------------


@transaction.atomic
def booking_create(*, device: Device, workflow, user=None) -> Booking:
    """Book ``device`` for ``workflow`` now, or refuse with 409 naming who holds or waits for it.

    Idempotent: booking a device the workflow already holds returns that booking. The result's
    ``created`` attribute says whether this call made it.
    """
    _ensure_workflow_can_hold(workflow)
    _devices_lock(lambda: {device.pk}, what=f"device {device.pk}")
    held = Booking.objects.active().filter(device_id=device.pk, workflow_id=workflow.pk).first()
    if held:
        held.created = False
        return held
    own = QueueEntry.objects.waiting().filter(device_id=device.pk, workflow_id=workflow.pk).first()
    if own:
        if _request_grant_if_ready(own.request_id):
            booking = Booking.objects.active().get(device_id=device.pk)
            booking.created = True
            return booking
        message = f"workflow {workflow.pk} is queued for device {device.pk}; wait for the hand-off or withdraw it"
        raise ConflictError(message, fields={"device": [message]})
    # A direct booking has no priority: anyone waiting for the device is served first.
    blocker = _first_blocker([device.pk], workflow_id=workflow.pk, priority=LOWEST_PRIORITY)
    if blocker:
        raise ConflictError(blocker, fields={"device": [blocker]})
    booking = _bookings_create([device.pk], workflow.pk)[0]
    booking.created = True
    return booking


@transaction.atomic
def booking_release(*, device: Device, workflow, user=None, reason: str = "") -> Booking:
    """Release ``workflow``'s booking of ``device`` and grant the next request, in one transaction."""
    _devices_lock(lambda: {device.pk}, what=f"device {device.pk}")
    booking = Booking.objects.active().filter(device_id=device.pk).first()
    if booking is None or booking.workflow_id != workflow.pk:
        holder = f"booked by workflow {booking.workflow_id}" if booking else "not booked"
        message = f"workflow {workflow.pk} does not hold device {device.pk} (it is {holder})"
        raise ConflictError(message, fields={"workflow_id": [message]})
    _bookings_release([booking], user=user, reason=reason or "released")
    _hand_off([device.pk])
    return booking


@transaction.atomic
def queue_entry_create(*, device: Device, workflow, priority: int) -> QueueEntry | Booking:
    """Queue ``workflow`` for ``device`` at ``priority``; book at once when nothing is before it.

    Never a duplicate: a workflow that holds the device gets its booking, one that already waits
    gets its entry. The result's ``created`` attribute says whether this call made it.
    """
    _ensure_workflow_can_hold(workflow)
    _devices_lock(lambda: {device.pk}, what=f"device {device.pk}")
    existing = (
        Booking.objects.active().filter(device_id=device.pk, workflow_id=workflow.pk).first()
        or QueueEntry.objects.waiting().filter(device_id=device.pk, workflow_id=workflow.pk).first()
    )
    if existing:
        existing.created = False
        return existing
    if _first_blocker([device.pk], workflow_id=workflow.pk, priority=priority) is None:
        result = _bookings_create([device.pk], workflow.pk)[0]
    else:
        result = QueueEntry.objects.create(
            device_id=device.pk, workflow_id=workflow.pk, priority=priority, request_id=uuid.uuid4()
        )
    result.created = True
    return result


@transaction.atomic
def queue_entry_withdraw(*, entry: QueueEntry, user=None) -> list[QueueEntry]:
    """Withdraw a waiting request (every entry sharing ``entry``'s request) and hand its devices on."""
    request_id = entry.request_id
    device_ids = _devices_lock(
        lambda: set(QueueEntry.objects.filter(request_id=request_id).values_list("device_id", flat=True)),
        what=f"device {entry.device_id}",
    )
    entries = list(QueueEntry.objects.waiting().filter(request_id=request_id))
    if not entries:
        entry.refresh_from_db(fields=["status"])
        raise ConflictError(f"queue entry {entry.pk} is no longer waiting (it is {entry.status})")
    _entries_resolve(entries, QueueEntryStatus.WITHDRAWN)
    # Its place at the head of a queue may have been reserving a free device: hand those on.
    _hand_off(device_ids)
    return entries


@transaction.atomic
def workflow_devices_acquire(*, workflow, devices: Iterable[Device], priority: int) -> bool:
    """Book every device of ``devices`` for ``workflow``, all or nothing.

    True when the workflow holds them all on return. Otherwise it books nothing, waits as one
    request (one QueueEntry per missing device, sharing a request_id) and returns False; the
    hand-off that later grants it sends ``workflow_devices_granted``. Calling it again while
    queued creates no duplicates (it extends the same request if the set grew).
    """
    _ensure_workflow_can_hold(workflow)
    wanted = {device.pk for device in devices}
    if not wanted:
        return True

    def base() -> set[str]:
        own = QueueEntry.objects.waiting().filter(workflow_id=workflow.pk).values_list("device_id", flat=True)
        return wanted | set(own)

    _devices_lock(base, what="devices " + ", ".join(sorted(wanted)))
    held = set(Booking.objects.active().filter(workflow_id=workflow.pk).values_list("device_id", flat=True))
    missing = wanted - held
    if not missing:
        return True
    own = list(QueueEntry.objects.waiting().filter(workflow_id=workflow.pk))
    waiting_for = {entry.device_id for entry in own}
    if own:
        if missing <= waiting_for and len({entry.request_id for entry in own}) == 1:
            return _request_grant_if_ready(own[0].request_id)  # already queued: no duplicate
        # The set grew (or it waits as several requests): wait again as one fresh request, so
        # its entries are ordered after every earlier request on all of its devices alike (the
        # property that keeps two multi-device requests from each heading one queue forever).
        _entries_resolve(own, QueueEntryStatus.WITHDRAWN)
        missing |= waiting_for - held
    if _first_blocker(missing, workflow_id=workflow.pk, priority=priority) is None:
        _bookings_create(missing, workflow.pk)
        granted = True
    else:
        request_id = uuid.uuid4()
        QueueEntry.objects.bulk_create(
            QueueEntry(device_id=d, workflow_id=workflow.pk, priority=priority, request_id=request_id)
            for d in sorted(missing)
        )
        granted = False
    _hand_off(waiting_for)  # its old entries may have been reserving devices others can now have
    return granted


@transaction.atomic
def workflow_devices_release(*, workflow, user=None, reason: str = "") -> list[Booking]:
    """Release everything ``workflow`` holds and withdraw all it waits for, handing each device on.

    For the end of a workflow and for cancelling one: nothing stale is left behind.
    """

    def base() -> set[str]:
        held = Booking.objects.active().filter(workflow_id=workflow.pk).values_list("device_id", flat=True)
        waiting = QueueEntry.objects.waiting().filter(workflow_id=workflow.pk).values_list("device_id", flat=True)
        return set(held) | set(waiting)

    device_ids = _devices_lock(base, what=f"the devices of workflow {workflow.pk}")
    if not device_ids:
        return []
    bookings = list(Booking.objects.active().filter(workflow_id=workflow.pk))
    _bookings_release(bookings, user=user, reason=reason or "workflow released its devices")
    _entries_resolve(list(QueueEntry.objects.waiting().filter(workflow_id=workflow.pk)), QueueEntryStatus.WITHDRAWN)
    _hand_off(device_ids)
    return bookings


@transaction.atomic
def device_force_release(*, device: Device, user, reason: str) -> Booking:
    """An operator takes a device back from whatever holds it; recorded with who and why."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("a reason is required to force-release a device", fields={"reason": ["Required."]})
    _devices_lock(lambda: {device.pk}, what=f"device {device.pk}")
    booking = Booking.objects.active().filter(device_id=device.pk).first()
    if booking is None:
        raise ConflictError(f"device {device.pk} is not booked")
    _bookings_release([booking], user=user, reason=f"force-released: {reason}")
    _hand_off([device.pk])
    return booking
