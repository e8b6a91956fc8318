"""The dispatch lease: how the recovery scan tells a worker busy with a long action from a dead one.

While a worker dispatches an action and records its result, that worker renews the run-step's
``lease_expires_at`` every ``LABCORE_DISPATCH_LEASE_RENEW_SECONDS`` to now plus
``LABCORE_DISPATCH_LEASE_SECONDS``. A dispatching step whose lease has run out lost its worker
(SIGKILL, out of memory, a host gone), whatever its ActionType's timeout, and the recovery scan
settles it (invariant 5: repeated only if safe to repeat, else ``unknown``). Until the first
renewal the claim's ``dispatched_at`` counts as one: an action shorter than the renew interval
never writes a lease, so the hot path costs two dictionary operations and nothing in the database.

One daemon thread per process (started on first use, again in a forked child) renews every
lease held in that process, each with one autocommit ``UPDATE ... WHERE pk, attempt_id, status =
dispatching``: it takes no workflow lock and holds nothing while the device works (invariant 3),
it is not a status write (invariant 10), and once the step was recorded or recovered it matches
no row and that lease is dropped. The thread has its own database connection (Django's are per
thread), closed whenever it holds no lease; a database that is away is tried again every second.
"""

import contextlib
import logging
import os
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from workflows.choices import RunStepStatus
from workflows.models import RunStep

logger = logging.getLogger(__name__)

RETRY_AFTER_ERROR_SECONDS = 1.0


def lease_length() -> timedelta:
    return timedelta(seconds=settings.LABCORE_DISPATCH_LEASE_SECONDS)


def lease_renew(*, run_step_id: int, attempt_id: str) -> bool:
    """Extend the lease of dispatch ``attempt_id`` to a lease length from now; False once it is not in flight."""
    expires_at = timezone.now() + lease_length()
    renewed = RunStep.objects.filter(pk=run_step_id, attempt_id=attempt_id, status=RunStepStatus.DISPATCHING).update(
        lease_expires_at=expires_at
    )
    return renewed == 1


def lease_end(*, dispatched_at, lease_expires_at):
    """When a dispatch's lease runs out: its last renewal, or one lease length after its claim."""
    return lease_expires_at or dispatched_at + lease_length()


class DispatchLease:
    """``with DispatchLease(step): dispatch and record`` keeps ``step``'s lease renewed meanwhile."""

    def __init__(self, step: RunStep):
        self.run_step_id, self.attempt_id = step.pk, str(step.attempt_id)
        self.renewals = 0
        self.held = False
        # The claim's dispatched_at is the first lease: the first renewal is due one interval on.
        self.due = time.monotonic() + settings.LABCORE_DISPATCH_LEASE_RENEW_SECONDS

    def __enter__(self) -> "DispatchLease":
        _renewer.hold(self)
        return self

    def __exit__(self, *exc_info) -> None:
        _renewer.drop(self)


class _Renewer:
    """The process's lease renewer: one thread that wakes when the next held lease is due.

    Holding a lease wakes it only when it was idle (to time the new lease's first renewal, a
    whole interval away), so an action costs the dispatching thread two dictionary operations
    and at most one notify under a lock; dropping the last lease while the thread has a
    connection open wakes it, to close that connection at once.
    """

    def __init__(self):
        self._condition = threading.Condition()
        self._held: dict[int, DispatchLease] = {}
        self._thread: threading.Thread | None = None
        self._connected = False

    def hold(self, lease: DispatchLease) -> None:
        with self._condition:
            lease.held = True
            was_idle = not self._held
            self._held[id(lease)] = lease
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="dispatch-lease-renewer", daemon=True)
                self._thread.start()
            elif was_idle:
                # The idle thread sleeps a whole (possibly since changed) interval: let it time the new lease.
                self._condition.notify()

    def drop(self, lease: DispatchLease) -> None:
        with self._condition:
            lease.held = False
            self._held.pop(id(lease), None)
            if not self._held and self._connected:
                self._condition.notify()

    def _due(self) -> list[DispatchLease]:
        """Wait until some held lease is due; close the connection whenever none is held."""
        with self._condition:
            while True:
                interval = settings.LABCORE_DISPATCH_LEASE_RENEW_SECONDS
                if not self._held:
                    if self._connected:
                        with contextlib.suppress(Exception):
                            connection.close()  # this thread's own connection
                        self._connected = False
                    self._condition.wait(timeout=interval)
                    continue
                now = time.monotonic()
                next_due = min(lease.due for lease in self._held.values())
                if next_due <= now:
                    return [lease for lease in self._held.values() if lease.due <= now]
                self._condition.wait(timeout=min(next_due - now, interval))

    def _run(self) -> None:
        while True:
            for lease in self._due():  # renewed outside the lock: hold and drop never wait on SQL
                self._connected = True
                interval = settings.LABCORE_DISPATCH_LEASE_RENEW_SECONDS
                try:
                    renewed = lease_renew(run_step_id=lease.run_step_id, attempt_id=lease.attempt_id)
                except Exception as exc:  # the database away (a restart): try again soon, reconnected
                    logger.warning("could not renew the lease of run-step %s: %s", lease.run_step_id, exc)
                    with contextlib.suppress(Exception):
                        connection.close()
                    lease.due = time.monotonic() + min(interval, RETRY_AFTER_ERROR_SECONDS)
                    continue
                if renewed:
                    lease.renewals += 1
                    lease.due = time.monotonic() + interval
                else:  # recorded or recovered: nothing left to hold
                    self.drop(lease)

    def after_fork(self) -> None:
        """A forked child (a Celery pool process) has no renewer thread: start afresh."""
        self.__init__()


_renewer = _Renewer()
os.register_at_fork(after_in_child=_renewer.after_fork)
