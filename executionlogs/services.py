"""Writing the execution log. The only way entries are created (the log is append-only)."""

import json
import logging
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction

from executionlogs.chain import canonical_timestamp
from executionlogs.choices import Cause, LogStatus
from executionlogs.models import ExecutionLog, LogAnchor

logger = logging.getLogger("labcore.executionlogs.anchors")


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


@transaction.atomic
def log_anchor_create(*, anchored_by: str = "command") -> LogAnchor | None:
    """Record the chain head (position and hash) now: in the anchor table, the application log and the anchor file.

    None when the log is empty (there is nothing to anchor). No chain lock is needed: writers
    hold it until they commit, so the committed entries are always a prefix of the chain and
    the last of them is a consistent head. The copies outside the database (the application
    log, ``LABCORE_LOG_ANCHOR_FILE``) are what survives someone who can also rewrite the
    anchor table.
    """
    head = ExecutionLog.objects.order_by("-id").values_list("id", "entry_hash").first()
    if head is None:
        return None
    anchor = LogAnchor(head_id=head[0], head_hash=head[1], anchored_by=anchored_by)
    anchor.full_clean(exclude=["anchored_at"])
    anchor.save()
    anchor.refresh_from_db(fields=["anchored_at"])
    record = {
        "anchor": anchor.pk,
        "head_id": anchor.head_id,
        "head_hash": anchor.head_hash,
        "anchored_at": canonical_timestamp(anchor.anchored_at),
    }
    logger.info("execution log anchor %s", json.dumps(record))
    if settings.LABCORE_LOG_ANCHOR_FILE:
        # Written once the anchor row is committed, so the file never names an anchor that was rolled back.
        transaction.on_commit(lambda: _anchor_file_append(record))
    return anchor


def _anchor_file_append(record: dict) -> None:
    with open(settings.LABCORE_LOG_ANCHOR_FILE, "a", encoding="utf-8") as anchor_file:
        anchor_file.write(json.dumps(record) + "\n")
