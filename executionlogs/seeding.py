"""Bulk synthetic execution logs for measurement (``seed_logs``), still a valid hash chain.

Synthetic data stays apart from the lab's own: the entries go on synthetic devices (``synthetic-*``,
one per device kind, kept offline so nothing is ever booked on them) and synthetic workflows
(``synthetic-*``, created by the seed and dated before their first entry), never on real ones,
and every entry carries the cause ``synthetic``, which the latency statistics and so the
wait-time estimates never count (executionlogs.latency). The log is append-only: whatever the
seed writes stays, so it must never be mixed into real records. It refuses to run with
production settings (``seeding_check``).

Rows are streamed into PostgreSQL with COPY in batches, one transaction per batch. Each batch
takes the chain lock, reads the chain head and reserves a block of ids from the table's
sequence, then hashes its rows in Python exactly as ``chain_append`` would (payloads in their
jsonb text form, computed by ``jsonb_text``). Live writers simply queue between batches.
"""

import random
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg.copy import QueuedLibpqWriter

from devices.choices import DeviceKind, DeviceStatus
from devices.inventory import device_create
from devices.models import ActionType, Device
from devices.services import device_status_set
from executionlogs.chain import CHAIN_LOCK, GENESIS_HASH, HASHED_FIELDS, canonical_digest, jsonb_text
from executionlogs.choices import Cause, LogStatus
from executionlogs.models import ExecutionLog
from labcore.locking import advisory_lock

COPY_COLUMNS = (*HASHED_FIELDS, "previous_hash", "entry_hash")
STATUS_WEIGHTS = [("success", 940), ("error", 40), ("timeout", 15), ("unknown", 5)]
VARIANTS_PER_ACTION = 48
FALLBACK_ACTIONS = ["pipette_transfer", "dispense_reagent", "plate_read"]
SYNTHETIC_PREFIX = "synthetic-"
# At most this many synthetic workflows per seed, each owning an equal slice of the time span.
SYNTHETIC_WORKFLOWS = 200


class SeedingRefused(ValueError):
    """Synthetic data was asked for where it must not go."""


def seeding_check() -> None:
    """Refuse production settings: synthetic entries in a real, append-only log would stay forever.

    Allowed with DEBUG on (development) or with ``LABCORE_ALLOW_SEED`` (a scratch database run with
    DEBUG off, the test suite); the production settings force that off.
    """
    if not settings.DEBUG and not getattr(settings, "LABCORE_ALLOW_SEED", False):
        raise SeedingRefused(
            "seed_logs writes synthetic data into the append-only execution log, where it stays: it refuses "
            "to run with production settings (DEBUG is off). For a scratch database use the dev settings "
            "or set LABCORE_ALLOW_SEED=1."
        )


def synthetic_devices() -> list[Device]:
    """One offline device per kind, ``synthetic-<kind>``: created the first time, reused after.

    Offline, so no booking, queue or scheduler ever uses them (devices taken out of service are
    skipped everywhere a device is chosen); named so no one takes them for instruments.
    """
    devices = []
    for kind in DeviceKind:
        device_id = SYNTHETIC_PREFIX + kind.value.replace("_", "-")
        device = Device.objects.filter(pk=device_id).first()
        if device is None:
            device = device_create(id=device_id, name=f"Synthetic {kind.label.lower()} (seed_logs data)", kind=kind)
        if device.status != DeviceStatus.OFFLINE:
            device_status_set(device=device, status=DeviceStatus.OFFLINE)
        devices.append(device)
    return devices


def synthetic_workflows(*, count: int, start: datetime, span: timedelta) -> list[int]:
    """``count`` synthetic workflows, the i-th created at ``start + i * span / count``: entries in its
    slice of the span come after it. Workflows sit above the execution log: their table is reached
    through the log's foreign key, and they are only ever created here, never run."""
    workflows = ExecutionLog._meta.get_field("workflow").related_model
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    created = workflows.objects.bulk_create(
        [
            workflows(name=f"{SYNTHETIC_PREFIX}{stamp}-{index + 1:03d} (seed_logs data, never run)", mode="manual")
            for index in range(count)
        ]
    )
    for index, workflow in enumerate(created):
        workflow.created_at = start.replace(tzinfo=UTC) + span * index / count  # auto_now_add set it to now
    workflows.objects.bulk_update(created, ["created_at"])
    return [workflow.pk for workflow in created]


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
    """Synthetic devices, their kinds' action types, synthetic workflows and pre-rendered payload
    variants to draw rows from."""

    def __init__(self, rng: random.Random, *, workflow_count: int, start: datetime, span: timedelta):
        actions_by_kind: dict[str, list[str]] = {}
        for name, kind in ActionType.objects.order_by("name").values_list("name", "device_kind"):
            actions_by_kind.setdefault(kind, []).append(name)
        with transaction.atomic():
            devices = synthetic_devices()
            self.workflow_ids = synthetic_workflows(count=workflow_count, start=start, span=span)
        self.devices = [(device.pk, actions_by_kind.get(device.kind) or FALLBACK_ACTIONS) for device in devices]
        self.start = start
        self.workflow_span = span / workflow_count
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
    """Append ``count`` realistic synthetic entries spread over ``days`` days ending at ``end`` (now).

    Refused with production settings (SeedingRefused, a ValueError).
    """
    seeding_check()
    rng = random.Random(seed)
    end = (end or timezone.now()).astimezone(UTC).replace(tzinfo=None)
    span = timedelta(days=days)
    step = span / max(count, 1)
    start = end - span
    vocabulary = _Vocabulary(rng, workflow_count=max(1, min(SYNTHETIC_WORKFLOWS, count)), start=start, span=span)
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
    workflow_id = None
    if rng.random() < 0.5:  # half the entries belong to a run: the one whose slice of time this is
        index = min(int((around - vocabulary.start) / vocabulary.workflow_span), len(vocabulary.workflow_ids) - 1)
        workflow_id = vocabulary.workflow_ids[index]
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
        Cause.SYNTHETIC.value,
        None,  # user
        created_at.isoformat(timespec="microseconds") + "Z",
    ]
