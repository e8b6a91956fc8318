"""The hash chain that makes the execution log tamper-evident.

Each entry's ``entry_hash`` is SHA-256 over ``previous_hash`` and the entry's content *as
PostgreSQL stores it*: the JSON payloads as their ``jsonb::text`` rendering (key order, spacing
and number formatting are PostgreSQL's, not Python's), timestamps in UTC to the microsecond,
floats by their exact ``repr``. So the writer and ``verify_logs`` (which reads rows back) hash
the same bytes.

Appends are serialised by one transaction-scoped advisory lock: the id, the previous hash and
the database clock are all read while it is held, so concurrent writers queue and the chain
never forks. The lock lasts until the surrounding transaction commits, so callers should not
wrap ``execution_log_create`` in a long transaction.
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from labcore.locking import advisory_lock_key, locked_batch

CHAIN_LOCK = "executionlogs.chain"
GENESIS_HASH = "0" * 64

# The hashed content, in this order. ``request`` and ``response`` are their jsonb text.
HASHED_FIELDS = (
    "id",
    "device_id",
    "workflow_id",
    "run_step_id",
    "action_type",
    "operation",
    "request",
    "response",
    "status",
    "latency_ms",
    "started_at",
    "finished_at",
    "attempt",
    "caused_by",
    "user_id",
    "created_at",
)


def canonical_timestamp(value: datetime) -> str:
    """``2025-01-31T09:30:00.000000Z``: UTC, always to the microsecond (PostgreSQL's precision)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _canonical(value):
    if isinstance(value, datetime):
        return canonical_timestamp(value)
    if isinstance(value, float):
        return repr(value)  # exact, and never confused with an integer
    return value


def canonical_digest(previous_hash: str, values: Sequence) -> str:
    """The hash over values already in canonical form (str, int or None), in HASHED_FIELDS order."""
    content = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{previous_hash}\n{content}".encode()).hexdigest()


def entry_digest(previous_hash: str, values: Sequence) -> str:
    """The hash of one entry: ``values`` are the HASHED_FIELDS as stored, in order."""
    return canonical_digest(previous_hash, [_canonical(value) for value in values])


def dump_json(value) -> str | None:
    """The JSON text the model field sends to PostgreSQL (same encoder), or None for SQL NULL."""
    return None if value is None else json.dumps(value, cls=DjangoJSONEncoder)


def jsonb_text(value) -> str:
    """What ``value::jsonb::text`` returns, computed in Python (for seed_logs's bulk path).

    jsonb sorts object keys by byte length, then bytewise, and prints ``", "`` and ``": "``.
    Only plain decimal floats are accepted: PostgreSQL reprints exponents as plain numerals.
    verify_logs reads the real text back, so a mismatch here would be caught, not hidden.
    """
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: (len(item[0].encode()), item[0].encode()))
        return "{" + ", ".join(f"{json.dumps(key, ensure_ascii=False)}: {jsonb_text(val)}" for key, val in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(jsonb_text(item) for item in value) + "]"
    if value is None or isinstance(value, bool | int | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and "e" not in repr(value) and repr(value) not in {"nan", "inf", "-inf"}:
        return repr(value)
    raise ValueError(f"jsonb_text: unsupported value {value!r}")


def _aware_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value.astimezone(UTC)


def _referenced_rows_statements(entry) -> list[tuple[str, list]]:
    """Statements taking the FOR KEY SHARE locks the foreign-key checks will need, before the chain lock.

    Lock order: referenced rows, then the chain. The insert's foreign-key checks (deferred to
    commit) lock the device, workflow, run-step and user rows FOR KEY SHARE. Taken only then,
    a writer holding the chain lock could wait on a device row that another transaction holds
    FOR UPDATE (a booking) while that transaction waits for the chain lock: a deadlock. Taken
    first, the wait happens before this writer holds anything others need.
    """
    statements = []
    for field_name in ("device", "workflow", "run_step", "user"):
        field = entry._meta.get_field(field_name)
        value = getattr(entry, field.attname)
        if value is None:
            continue
        target = field.related_model._meta
        # Django's select_for_update has no KEY SHARE mode; this is the weakest lock that still
        # keeps the referenced row from being deleted before commit.
        statements.append((f"SELECT 1 FROM {target.db_table} WHERE {target.pk.column} = %s FOR KEY SHARE", [value]))
    return statements


def chain_append(entry, *save_args, **save_kwargs) -> None:
    """Seal ``entry`` (unsaved) into the chain and insert it, under the chain lock.

    Fills what the database decides: the id (from the table's sequence, so id order is chain
    order), ``created_at`` (the database clock, read under the lock, so it never goes
    backwards along the chain), ``started_at`` when the caller gave none (the database clock
    less the latency), and both hashes.
    """
    table = entry._meta.db_table
    request_json, response_json = dump_json(entry.request), dump_json(entry.response)
    # savepoint=False: nested in the executor's record transaction a savepoint would only add
    # round trips; an error here aborts the enclosing transaction either way.
    with transaction.atomic(savepoint=False):
        # One round trip for: the referenced rows' KEY SHARE locks, then the chain lock, then
        # (a separate statement, so with a snapshot taken once the lock is held: the head read
        # is never stale) the clock, the payloads as jsonb will store them, the head of the
        # chain and the next id. PostgreSQL runs them in this order (locked_batch).
        *_, (head_row,) = locked_batch(
            [
                *_referenced_rows_statements(entry),
                ("SELECT pg_advisory_xact_lock(%s)", [advisory_lock_key(CHAIN_LOCK)]),
                (
                    f"""
                    SELECT clock_timestamp(), %s::jsonb::text, %s::jsonb::text,
                           (SELECT entry_hash FROM {table} ORDER BY id DESC LIMIT 1),
                           nextval(pg_get_serial_sequence(%s, 'id'))
                    """,
                    [request_json, response_json, table],
                ),
            ],
            what=f"{CHAIN_LOCK} (or the device or workflow of this log entry)",
        )
        now, request_text, response_text, head_hash, next_id = head_row
        entry.id = next_id
        entry.created_at = now
        if not isinstance(entry.started_at, datetime):  # unset (still the db_default expression)
            latency = entry.latency_ms if isinstance(entry.latency_ms, int | float) else 0
            entry.started_at = now - timedelta(milliseconds=max(latency, 0))
        entry.started_at = _aware_utc(entry.started_at)
        if entry.finished_at is None and getattr(entry, "_finished_now", False):
            entry.finished_at = now
        entry.finished_at = _aware_utc(entry.finished_at)
        if entry.latency_ms is not None:
            entry.latency_ms = float(entry.latency_ms)
        entry.previous_hash = head_hash or GENESIS_HASH
        values = [getattr(entry, name) for name in HASHED_FIELDS]
        values[HASHED_FIELDS.index("request")] = request_text
        values[HASHED_FIELDS.index("response")] = response_text
        entry.entry_hash = entry_digest(entry.previous_hash, values)
        entry._sealed = True
        entry.save(*save_args, **save_kwargs)
