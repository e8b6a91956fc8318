"""Bulk synthetic execution logs for measurement (``seed_logs``), still a valid hash chain.

Rows are streamed into PostgreSQL with COPY in batches, one transaction per batch. Each batch
takes the chain lock, reads the chain head and reserves a block of ids from the table's
sequence, then hashes its rows in Python exactly as ``chain_append`` would (payloads in their
jsonb text form, computed by ``jsonb_text``). Live writers simply queue between batches.
"""

import random
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone
from psycopg.copy import QueuedLibpqWriter

from devices.models import ActionType, Device
from executionlogs.chain import CHAIN_LOCK, GENESIS_HASH, HASHED_FIELDS, canonical_digest, jsonb_text
from executionlogs.choices import Cause, LogStatus
from executionlogs.models import ExecutionLog
from labcore.locking import advisory_lock

COPY_COLUMNS = (*HASHED_FIELDS, "previous_hash", "entry_hash")
STATUS_WEIGHTS = [("success", 940), ("error", 40), ("timeout", 15), ("unknown", 5)]
VARIANTS_PER_ACTION = 48
FALLBACK_ACTIONS = ["pipette_transfer", "dispense_reagent", "plate_read"]


def _request(rng: random.Random, action: str, device_id: str) -> dict:
    return {
        "action": action,
        "device": device_id,
        "parameters": {
            "volume_ul": round(rng.uniform(5, 500), 1),
            "well": f"{'ABCDEFGH'[rng.randrange(8)]}{rng.randrange(1, 13)}",
            "temperature_c": round(rng.uniform(20, 38), 1),
            "plate": f"PLATE-{rng.randrange(1, 40):02d}",
        },
        "request_id": f"{rng.getrandbits(64):016x}",
    }


def _response(rng: random.Random, status: str) -> dict | None:
    if status == LogStatus.SUCCESS.value:
        return {"ok": True, "result": {"reading": round(rng.uniform(0, 4), 3), "units": "OD600"}, "firmware": "2.4.1"}
    if status == LogStatus.ERROR.value:
        return {"ok": False, "error": rng.choice(["tip not detected", "door open", "liquid level low"]), "code": 500}
    return None  # timeout or unknown: no answer came back


class _Vocabulary:
    """Devices, their action types and pre-rendered payload variants to draw rows from."""

    def __init__(self, rng: random.Random):
        devices = list(Device.objects.order_by("id").values_list("id", "kind"))
        if not devices:
            raise ValueError("no devices: run `python manage.py seed_demo` first")
        actions_by_kind: dict[str, list[str]] = {}
        for name, kind in ActionType.objects.values_list("name", "device_kind"):
            actions_by_kind.setdefault(kind, []).append(name)
        self.devices = [(device_id, actions_by_kind.get(kind) or FALLBACK_ACTIONS) for device_id, kind in devices]
        # Workflows sit above the execution log: reach their table through the log's foreign key.
        workflows = ExecutionLog._meta.get_field("workflow").related_model
        self.workflow_ids = list(workflows.objects.order_by("-id").values_list("id", flat=True)[:200])
        self.statuses = [status for status, weight in STATUS_WEIGHTS for _ in range(weight)]
        # (device, action, status) -> list of (request text, response text): rendering jsonb text is
        # the costly part, so each row picks one of a few dozen variants.
        self.payloads: dict[tuple, list] = {}
        for device_id, actions in self.devices:
            for action in actions:
                for status, _ in STATUS_WEIGHTS:
                    self.payloads[(device_id, action, status)] = [
                        (
                            jsonb_text(_request(rng, action, device_id)),
                            None if (response := _response(rng, status)) is None else jsonb_text(response),
                        )
                        for _ in range(VARIANTS_PER_ACTION)
                    ]


def _reserve(cursor, count: int) -> tuple[int, str]:
    """Under the chain lock: the chain head's hash and the first of ``count`` reserved ids."""
    table = ExecutionLog._meta.db_table
    cursor.execute(f"SELECT entry_hash FROM {table} ORDER BY id DESC LIMIT 1")
    head = cursor.fetchone()
    cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [table])
    first_id = cursor.fetchone()[0]
    # The chain lock serialises every writer, so no other nextval() can interleave here.
    cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, first_id + count - 1])
    return first_id, head[0] if head else GENESIS_HASH


def _copy_field(value) -> str:
    """One field in COPY's text format."""
    if value is None:
        return "\\N"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def logs_seed(
    *, count: int, days: float = 30, end: datetime | None = None, batch_size: int = 100_000, seed=None, progress=None
) -> int:
    """Append ``count`` realistic entries spread over ``days`` days ending at ``end`` (now)."""
    rng = random.Random(seed)
    vocabulary = _Vocabulary(rng)
    end = (end or timezone.now()).astimezone(UTC).replace(tzinfo=None)
    span = timedelta(days=days)
    step = span / max(count, 1)
    start = end - span
    written = 0
    columns = ", ".join(COPY_COLUMNS)
    while written < count:
        size = min(batch_size, count - written)
        with transaction.atomic(), connection.cursor() as cursor:
            advisory_lock(CHAIN_LOCK, timeout_ms=60_000)
            entry_id, previous_hash = _reserve(cursor, size)
            # A queued writer sends COPY data from a thread, so PostgreSQL parses one block
            # while Python renders and hashes the next.
            sql = f"COPY {ExecutionLog._meta.db_table} ({columns}) FROM STDIN"
            with cursor.cursor.copy(sql, writer=QueuedLibpqWriter(cursor.cursor)) as copy:
                lines = []
                for index in range(written, written + size):
                    # Every value is already in its canonical (hashed) form, and COPY parses the
                    # same text into the column: what is hashed is exactly what is stored.
                    row = _row(rng, vocabulary, entry_id, start + index * step)
                    entry_hash = canonical_digest(previous_hash, row)
                    lines.append("\t".join([*map(_copy_field, row), previous_hash, entry_hash]))
                    previous_hash = entry_hash
                    entry_id += 1
                    if len(lines) == 2000:
                        copy.write("\n".join(lines) + "\n")
                        lines.clear()
                if lines:
                    copy.write("\n".join(lines) + "\n")
        written += size
        if progress:
            progress(written)
    return written


def _row(rng: random.Random, vocabulary: _Vocabulary, entry_id: int, around: datetime) -> list:
    """One entry's HASHED_FIELDS in canonical form (naive datetimes here are UTC)."""
    device_id, actions = vocabulary.devices[rng.randrange(len(vocabulary.devices))]
    action = actions[rng.randrange(len(actions))]
    status = vocabulary.statuses[rng.randrange(len(vocabulary.statuses))]
    request_text, response_text = rng.choice(vocabulary.payloads[(device_id, action, status)])
    latency_ms = round(rng.lognormvariate(5.5, 0.8), 3)  # a few hundred ms, with a long tail
    started_at = around + timedelta(microseconds=rng.randrange(0, 500_000))
    finished_at = None if status == "unknown" else started_at + timedelta(milliseconds=latency_ms)
    created_at = started_at + timedelta(milliseconds=latency_ms + 2)
    workflow_id = rng.choice(vocabulary.workflow_ids) if vocabulary.workflow_ids and rng.random() < 0.5 else None
    return [
        entry_id,
        device_id,
        workflow_id,
        None,  # run_step
        action,
        action,  # operation
        request_text,
        response_text,
        status,
        repr(latency_ms),
        started_at.isoformat(timespec="microseconds") + "Z",
        None if finished_at is None else finished_at.isoformat(timespec="microseconds") + "Z",
        1,  # attempt
        Cause.SYSTEM.value,
        None,  # user
        created_at.isoformat(timespec="microseconds") + "Z",
    ]
