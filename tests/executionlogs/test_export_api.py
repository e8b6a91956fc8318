"""GET /api/execution-logs/export: every matching entry, streamed from a server-side cursor."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from executionlogs import export
from tests.executionlogs.conftest import append_log, append_logs
from tests.factories import DeviceFactory

EXPORT = "/api/execution-logs/export"


def body_of(response) -> str:
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


@pytest.mark.django_db
def test_ndjson_export_has_every_entry_in_order_with_full_payloads(api_client, device):
    entries = append_logs(device, 7)
    append_log(device, request={"nested": {"b": [1, 2]}, "text": "line\nbreak"}, response=None, status="timeout")
    response = api_client.get(EXPORT, {"format": "ndjson"})
    assert response["Content-Type"] == "application/x-ndjson"
    assert 'filename="execution-logs.ndjson"' in response["Content-Disposition"]
    lines = [json.loads(line) for line in body_of(response).splitlines()]
    assert [line["id"] for line in lines[:7]] == [entry.pk for entry in entries]
    assert lines[0]["request"] == {"volume_ul": 50} and lines[0]["entry_hash"] == entries[0].entry_hash
    assert lines[-1]["request"] == {"nested": {"b": [1, 2]}, "text": "line\nbreak"} and lines[-1]["response"] is None
    # Same shape as the list endpoint.
    listed = api_client.get("/api/execution-logs").json()["results"][0]
    assert lines[0] == listed


@pytest.mark.django_db
def test_ndjson_is_the_default_format(api_client, device):
    append_log(device)
    response = api_client.get(EXPORT)
    assert response["Content-Type"] == "application/x-ndjson"
    assert len(body_of(response).splitlines()) == 1


@pytest.mark.django_db
def test_csv_export_has_a_header_and_one_row_per_entry(api_client, device):
    entries = append_logs(device, 3)
    response = api_client.get(EXPORT, {"format": "csv"})
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(body_of(response))))
    assert [int(row["id"]) for row in rows] == [entry.pk for entry in entries]
    assert json.loads(rows[0]["request"]) == {"volume_ul": 50}
    assert rows[0]["workflow"] == "" and rows[0]["device"] == device.pk


@pytest.mark.django_db
def test_export_takes_the_list_filters_and_a_time_range(api_client, device):
    other = DeviceFactory()
    wanted = append_log(device, started_at=datetime(2025, 1, 1, 12, tzinfo=UTC), status="error")
    append_log(device, started_at=datetime(2025, 1, 1, 13, tzinfo=UTC), status="success")
    append_log(other, started_at=datetime(2025, 1, 1, 14, tzinfo=UTC), status="error")
    append_log(device, started_at=datetime(2025, 1, 2, 12, tzinfo=UTC), status="error")
    params = {"device": device.pk, "status": "error", "start": "2025-01-01", "end": "2025-01-02", "format": "csv"}
    rows = list(csv.DictReader(io.StringIO(body_of(api_client.get(EXPORT, params)))))
    assert [int(row["id"]) for row in rows] == [wanted.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params, field",
    [({"format": "xml"}, "format"), ({"start": "soon"}, "start"), ({"status": "nope"}, "status")],
)
def test_bad_export_parameters_are_json_400_naming_them(api_client, params, field):
    response = api_client.get(EXPORT, params)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert field in response.json()["fields"]


@pytest.mark.django_db
def test_export_streams_from_a_server_side_cursor_without_hold(api_client, device, monkeypatch):
    monkeypatch.setattr(export, "CHUNK_SIZE", 10)
    monkeypatch.setattr(export, "LINES_PER_BLOCK", 5)
    append_logs(device, 60)
    response = api_client.get(EXPORT)
    assert response.streaming
    stream = iter(response.streaming_content)
    first_block = next(stream).decode()
    assert len(first_block.splitlines()) == 5
    with connection.cursor() as cursor:
        cursor.execute("SELECT is_holdable, statement FROM pg_cursors WHERE statement ILIKE %s", ["%executionlog%"])
        open_cursors = cursor.fetchall()
    # A named cursor is open mid-stream, and it is not WITH HOLD (which would have materialised
    # every row before the first was sent).
    assert len(open_cursors) == 1 and open_cursors[0][0] is False
    rest = b"".join(stream).decode()
    assert len((first_block + rest).splitlines()) == 60


@pytest.mark.django_db
def test_export_without_server_side_cursors_reads_keyset_batches(api_client, device, monkeypatch):
    # Behind PgBouncer in transaction mode DISABLE_SERVER_SIDE_CURSORS is set: still every row,
    # in order, a batch at a time.
    monkeypatch.setitem(connection.settings_dict, "DISABLE_SERVER_SIDE_CURSORS", True)
    monkeypatch.setattr(export, "CHUNK_SIZE", 7)
    monkeypatch.setattr(export, "LINES_PER_BLOCK", 3)
    entries = append_logs(device, 20, step=timedelta(0))  # all at one instant: the key needs the id
    stream = iter(api_client.get(EXPORT).streaming_content)
    first_block = next(stream).decode()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors")
        assert cursor.fetchone()[0] == 0
    lines = [json.loads(line) for line in (first_block + b"".join(stream).decode()).splitlines()]
    assert [line["id"] for line in lines] == [entry.pk for entry in entries]


@pytest.mark.django_db
def test_export_timestamps_are_rendered_exactly_as_the_list_renders_them(api_client, device):
    append_log(
        device,
        started_at=datetime(2025, 1, 1, 9, 30, tzinfo=UTC),  # no fraction: none printed
        finished_at=datetime(2025, 1, 1, 9, 30, 0, 250000, tzinfo=UTC),
    )
    append_log(device, started_at=datetime(999, 12, 31, 23, 59, 59, 1, tzinfo=UTC), status="unknown", response=None)
    listed = api_client.get("/api/execution-logs").json()["results"]
    exported = [json.loads(line) for line in body_of(api_client.get(EXPORT)).splitlines()]
    assert exported == listed
    assert [entry["started_at"] for entry in exported] == ["0999-12-31T23:59:59.000001Z", "2025-01-01T09:30:00Z"]
    assert exported[1]["finished_at"] == "2025-01-01T09:30:00.250000Z"
