"""Writing the execution log. The only way entries are created (the log is append-only)."""

from datetime import datetime

from django.db import connection, transaction

from executionlogs.choices import Cause, LogStatus
from executionlogs.models import ExecutionLog


def database_now() -> datetime:
    """The database clock. Callers that stamp ``started_at`` themselves should use this."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


# savepoint=False: inside a caller's transaction (the executor's record) a savepoint would cost
# two round trips per entry and buy nothing, since no caller catches an error from here and goes
# on in the same transaction; any failure rolls the whole transaction back, as it should.
@transaction.atomic(savepoint=False)
def execution_log_create(
    *,
    device,
    action_type: str,
    request: dict,
    response: dict | None,
    status: str,
    latency_ms: float | None,
    started_at=None,
    finished_at=None,
    workflow=None,
    run_step=None,
    operation: str = "",
    attempt: int = 1,
    caused_by: str = Cause.WORKER,
    user=None,
) -> ExecutionLog:
    """Append one entry recording a dispatch and its outcome, sealed into the hash chain.

    Timestamps come from the database clock unless given: ``created_at`` always; a missing
    ``started_at`` is the clock less ``latency_ms``; a missing ``finished_at`` is the clock,
    except for status ``unknown`` (the outcome, and so the finish, is not known).
    Holds the chain lock until the surrounding transaction commits: keep that transaction short.
    """
    entry = ExecutionLog(
        device=device,
        workflow=workflow,
        run_step=run_step,
        action_type=action_type,
        operation=operation or action_type,
        request=request if request is not None else {},
        response=response,
        status=status,
        latency_ms=latency_ms,
        finished_at=finished_at,
        attempt=attempt,
        caused_by=caused_by,
        user=user,
    )
    if started_at is not None:
        entry.started_at = started_at
    entry._finished_now = finished_at is None and status != LogStatus.UNKNOWN
    # Foreign keys are checked by the database; validating them here would cost a query each.
    entry.full_clean(
        exclude=["device", "workflow", "run_step", "user", "started_at", "created_at"],
        validate_unique=False,
        validate_constraints=False,
    )
    entry.save()
    return entry
