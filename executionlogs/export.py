"""Streaming every matching execution log entry as NDJSON or CSV without holding them.

Rows come from a PostgreSQL server-side cursor (``QuerySet.iterator``), declared inside a
transaction: outside one Django declares it WITH HOLD, and PostgreSQL then materialises the
whole result when the statement commits, before the first row is sent. With
``DISABLE_SERVER_SIDE_CURSORS`` (PgBouncer in transaction mode) there are no named cursors, and
rows are read in keyset batches of ``(started_at, id) > last`` instead. Either way memory holds
one chunk of rows, whatever the size of the export.
"""

import csv
import io
import json

from django.db import connections, transaction
from django.db.models import F, TextField
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan
from django.db.models.functions import Cast

CHUNK_SIZE = 2000

COLUMNS = [
    "id",
    "device",
    "workflow",
    "run_step",
    "action_type",
    "operation",
    "status",
    "latency_ms",
    "started_at",
    "finished_at",
    "attempt",
    "caused_by",
    "user",
    "created_at",
    "previous_hash",
    "entry_hash",
    "request",
    "response",
]
_QUERY_FIELDS = [
    "id",
    "device_id",
    "workflow_id",
    "run_step_id",
    "action_type",
    "operation",
    "status",
    "latency_ms",
    "started_at",
    "finished_at",
    "attempt",
    "caused_by",
    "user__username",
    "created_at",
    "previous_hash",
    "entry_hash",
    "request_text",
    "response_text",
]
_TIMESTAMPS = {COLUMNS.index(name) for name in ("started_at", "finished_at", "created_at")}
_STARTED_AT, _ID = COLUMNS.index("started_at"), COLUMNS.index("id")


def _timestamp(value) -> str | None:
    # As the API renders it (DRF): ISO 8601, UTC as "Z".
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def export_rows(queryset, *, chunk_size: int = CHUNK_SIZE):
    """Tuples in COLUMNS order, payloads as JSON text, streamed in (started_at, id) order."""
    queryset = (
        queryset.order_by("started_at", "id")
        .annotate(request_text=Cast("request", TextField()), response_text=Cast("response", TextField()))
        .values_list(*_QUERY_FIELDS)
    )
    if connections[queryset.db].settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"):
        yield from _keyset_batches(queryset, chunk_size)
        return
    # Without hold: the cursor streams, and lives as long as this transaction (the response).
    with transaction.atomic(using=queryset.db):
        yield from queryset.iterator(chunk_size=chunk_size)


def _keyset_batches(queryset, chunk_size: int):
    position = None
    while True:
        batch = queryset
        if position is not None:
            batch = batch.filter(TupleGreaterThan(Tuple(F("started_at"), F("id")), position))
        rows = list(batch[:chunk_size])
        yield from rows
        if len(rows) < chunk_size:
            return
        position = (rows[-1][_STARTED_AT], rows[-1][_ID])


def _chunks(lines, size: int = 500):
    """Join lines into blocks so the server writes a few kB at a time, not one row."""
    block = []
    for line in lines:
        block.append(line)
        if len(block) >= size:
            yield "".join(block)
            block = []
    if block:
        yield "".join(block)


def export_ndjson(queryset):
    """One JSON object per line; request and response are embedded as the stored JSON."""
    scalar_names = COLUMNS[:-2]

    def lines():
        for row in export_rows(queryset):
            values = [_timestamp(value) if index in _TIMESTAMPS else value for index, value in enumerate(row[:-2])]
            head = json.dumps(dict(zip(scalar_names, values, strict=True)), ensure_ascii=False)
            request, response = row[-2], row[-1]
            yield f'{head[:-1]}, "request": {request}, "response": {response or "null"}}}\n'

    return _chunks(lines())


def export_csv(queryset):
    """A header line, then one line per entry; request and response as JSON text."""

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        for row in export_rows(queryset):
            writer.writerow(
                [
                    _timestamp(value) if index in _TIMESTAMPS else ("" if value is None else value)
                    for index, value in enumerate(row)
                ]
            )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    return _chunks(lines())
