"""The dispatch lease: how the recovery scan tells a worker busy with a long action from a dead one.

While a worker dispatches an action and records its result, a thread of that worker renews the
run-step's ``lease_expires_at`` every ``LABCORE_DISPATCH_LEASE_RENEW_SECONDS`` to now plus
``LABCORE_DISPATCH_LEASE_SECONDS``. A dispatching step whose lease has run out lost its worker
(SIGKILL, out of memory, a host gone), whatever its ActionType's timeout, and the recovery scan
settles it (invariant 5: repeated only if safe to repeat, else ``unknown``). Until the first
renewal the claim's ``dispatched_at`` counts as one: an action shorter than the renew interval
never writes a lease, so the hot path costs one thread start and nothing in the database.

Each renewal is one autocommit ``UPDATE ... WHERE pk, attempt_id, status = dispatching``: it
takes no workflow lock and holds nothing while the device works (invariant 3), it is not a status
write (invariant 10), and once the step was recorded or recovered it matches no row and the
renewer stops. The renewer has its own database connection (Django's are per thread), closed
when it ends; a database that is away is tried again every second.
"""

import contextlib
import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from workflows.choices import RunStepStatus
from workflows.models import RunStep

logger = logging.getLogger(__name__)

RETRY_AFTER_ERROR_SECONDS = 1.0
JOIN_SECONDS = 5.0


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
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_until_stopped, name=f"lease-{step.pk}", daemon=True)

    def __enter__(self) -> "DispatchLease":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        # A renewal in progress is one short UPDATE; a thread stuck on an unreachable database
        # is a daemon that ends at its next check of the stop flag.
        self._thread.join(timeout=JOIN_SECONDS)

    def _renew_until_stopped(self) -> None:
        interval = settings.LABCORE_DISPATCH_LEASE_RENEW_SECONDS
        wait = interval  # the claim's dispatched_at is the first lease
        try:
            while not self._stop.wait(wait):
                wait = interval
                try:
                    if not lease_renew(run_step_id=self.run_step_id, attempt_id=self.attempt_id):
                        return  # recorded or recovered: nothing left to hold
                    self.renewals += 1
                except Exception as exc:  # the database away (a restart): try again soon, reconnected
                    logger.warning("could not renew the lease of run-step %s: %s", self.run_step_id, exc)
                    with contextlib.suppress(Exception):
                        connection.close()
                    wait = min(interval, RETRY_AFTER_ERROR_SECONDS)
        finally:
            with contextlib.suppress(Exception):
                connection.close()  # this thread's own connection
