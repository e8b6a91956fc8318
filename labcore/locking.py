"""The one place LabCore takes database locks.

Rules every caller gets for free:

- a lock is only taken inside a transaction (outside one it would be released at once);
- ``lock_timeout`` bounds the wait, and a timeout or deadlock becomes a ConflictError (409);
- rows are locked in primary-key order, so two transactions that lock overlapping sets
  always queue behind each other instead of deadlocking;
- ``of=("self",)`` locks only the rows of the model asked for, never joined rows.
"""

import zlib
from contextlib import contextmanager

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import QuerySet

from labcore.exceptions import ConflictError

# SQLSTATEs: 55P03 lock_not_available (lock_timeout), 40P01 deadlock_detected.
LOCK_CONFLICT_SQLSTATES = {"55P03", "40P01"}


class LockOutsideTransaction(RuntimeError):
    """A lock was asked for outside ``transaction.atomic``: a programming error."""


def _require_transaction() -> None:
    if not connection.in_atomic_block:
        raise LockOutsideTransaction("locks must be taken inside transaction.atomic()")


def _set_lock_timeout(timeout_ms: int | None) -> None:
    timeout_ms = settings.LABCORE_LOCK_TIMEOUT_MS if timeout_ms is None else timeout_ms
    with connection.cursor() as cursor:
        # SET LOCAL lasts until the end of the current transaction only.
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(timeout_ms)}ms"])


def is_lock_conflict(exc: BaseException) -> bool:
    cause = getattr(exc, "__cause__", None)
    return getattr(cause, "sqlstate", None) in LOCK_CONFLICT_SQLSTATES


@contextmanager
def lock_conflicts_as_409(what: str):
    """Turn a lock timeout or deadlock raised inside the block into a ConflictError."""
    try:
        yield
    except OperationalError as exc:
        if is_lock_conflict(exc):
            raise ConflictError(f"{what} is busy; try again") from exc
        raise


def lock_rows(queryset: QuerySet, *, what: str = "resource", timeout_ms: int | None = None) -> list:
    """Lock the rows of ``queryset`` FOR UPDATE in primary-key order and return them."""
    _require_transaction()
    _set_lock_timeout(timeout_ms)
    with lock_conflicts_as_409(what):
        return list(queryset.select_for_update(of=("self",)).order_by("pk"))


def lock_row(queryset: QuerySet, *, what: str = "resource", timeout_ms: int | None = None):
    """Lock one row (``queryset`` must match at most one); None when it matches nothing."""
    rows = lock_rows(queryset, what=what, timeout_ms=timeout_ms)
    return rows[0] if rows else None


def advisory_lock_key(name: str) -> int:
    """The stable 32-bit advisory-lock key of ``name``."""
    return zlib.crc32(name.encode())


def locked_batch(statements: list[tuple[str, list]], *, what: str = "resource", timeout_ms: int | None = None) -> list:
    """Set ``lock_timeout``, then run ``statements`` (which take locks and read), in ONE round trip.

    For hot paths (the executor runs this per action): the statements go as one simple-protocol
    query, so PostgreSQL still runs them one after another, each with its own snapshot (READ
    COMMITTED) - a read placed after a lock sees what the previous holder committed - but the
    client waits for the network once instead of once per statement. Returns each statement's
    rows (a list of tuples; [] for a statement that returns none).
    """
    _require_transaction()
    timeout_ms = settings.LABCORE_LOCK_TIMEOUT_MS if timeout_ms is None else timeout_ms
    sql = ";\n".join(["SELECT set_config('lock_timeout', %s, true)", *(statement for statement, _ in statements)])
    params = [f"{int(timeout_ms)}ms"]
    for _, statement_params in statements:
        params.extend(statement_params)
    results = []
    with lock_conflicts_as_409(what), connection.cursor() as cursor:
        cursor.execute(sql, params)
        # One result per statement, the first being set_config's; select each by index.
        for index in range(1, len(statements) + 1):
            cursor.set_result(index)
            results.append(cursor.fetchall() if cursor.description else [])
    return results


def advisory_lock(name: str, *, timeout_ms: int | None = None) -> None:
    """Take a transaction-scoped advisory lock named ``name`` (released at commit/rollback).

    For serialising work that has no single row to lock, such as appending to a hash chain.
    """
    _require_transaction()
    _set_lock_timeout(timeout_ms)
    key = advisory_lock_key(name)
    with lock_conflicts_as_409(name), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


__all__ = [
    "advisory_lock",
    "advisory_lock_key",
    "locked_batch",
    "lock_conflicts_as_409",
    "lock_row",
    "lock_rows",
    "transaction",
    "LockOutsideTransaction",
]
