"""The execution log's admin page: time-range filter to the second, latency in ms, links to run and
device, read-only, a count that never scans a huge table, and constant queries (invariant 8)."""

from datetime import datetime, timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from executionlogs.admin import EstimatedCountPaginator, instant_parse, table_row_estimate
from executionlogs.models import ExecutionLog
from tests.executionlogs.conftest import append_log
from tests.factories import UserFactory, WorkflowFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:executionlogs_executionlog_changelist")
BASE = timezone.make_aware(datetime(2026, 11, 30, 14, 0, 0))


@pytest.fixture
def admin_client(db):
    client = Client()
    client.force_login(UserFactory(username="logs", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def timed_logs(device):
    """Five entries, one every 10 s from 14:00:00: 14:00:00, :10, :20, :30, :40."""
    run = WorkflowFactory(name="Passage run")
    return [
        append_log(device, started_at=BASE + timedelta(seconds=10 * index), workflow=run, latency_ms=1234.4 + index)
        for index in range(5)
    ]


def shown_ids(response) -> list[int]:
    return [entry.pk for entry in response.context["cl"].result_list]


def warnings(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_time_range_filter_keeps_entries_from_from_to_to_inclusive_to_the_second(admin_client, timed_logs):
    params = {"started_from": "2026-11-30 14:00:10", "started_to": "2026-11-30 14:00:30"}
    response = admin_client.get(CHANGELIST, params)
    assert response.status_code == 200
    assert sorted(shown_ids(response)) == [entry.pk for entry in timed_logs[1:4]]
    page = response.content.decode()
    assert 'value="2026-11-30 14:00:10"' in page and 'value="2026-11-30 14:00:30"' in page
    assert "3 execution logs" in page


def test_a_from_bound_alone_and_a_whole_day_work(admin_client, timed_logs):
    response = admin_client.get(CHANGELIST, {"started_from": "2026-11-30T14:00:35"})
    assert shown_ids(response) == [timed_logs[4].pk]
    response = admin_client.get(CHANGELIST, {"started_to": "2026-11-30"})  # the whole day
    assert len(shown_ids(response)) == 5
    response = admin_client.get(CHANGELIST, {"started_to": "2026-11-29"})
    assert shown_ids(response) == []


def test_the_range_filter_keeps_the_other_filters(admin_client, timed_logs, device):
    append_log(device, started_at=BASE + timedelta(seconds=15), status="error", latency_ms=5.0)
    params = {"started_from": "2026-11-30 14:00:00", "started_to": "2026-11-30 14:00:20", "status__exact": "error"}
    response = admin_client.get(CHANGELIST, params)
    assert len(shown_ids(response)) == 1
    page = response.content.decode()
    assert '<input type="hidden" name="status__exact" value="error">' in page


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"started_from": "yesterday"}, "'yesterday' is not a date and time"),
        ({"started_to": "2026-13-45 99:00"}, "is not a date and time"),
        ({"started_from": "2026-02-30"}, "is not a date and time"),
        ({"started_from": "2026-11-30 14:00:00\x01"}, "is not a date and time"),
    ],
)
def test_an_unreadable_bound_is_a_message_not_a_500(admin_client, timed_logs, params, message):
    response = admin_client.get(CHANGELIST, params)
    assert response.status_code == 200
    assert any(message in text and "ignored" in text for text in warnings(response))
    assert len(shown_ids(response)) == 5  # the bad bound is ignored, not guessed at
    assert "range-error" in response.content.decode()


def test_from_after_to_says_so_and_shows_nothing(admin_client, timed_logs):
    response = admin_client.get(CHANGELIST, {"started_from": "2026-11-30 15:00", "started_to": "2026-11-30 14:00"})
    assert response.status_code == 200 and shown_ids(response) == []
    assert any("'to' is not after 'from'" in text for text in warnings(response))


def test_instant_parse_stretches_a_to_bound_to_what_was_typed():
    assert instant_parse("2026-11-30", end=True) - instant_parse("2026-11-30", end=False) == timedelta(days=1)
    assert instant_parse("2026-11-30 14:03", end=True) - instant_parse("2026-11-30 14:03", end=False) == timedelta(
        minutes=1
    )
    assert instant_parse("2026-11-30 14:03:27", end=True).second == 28
    with pytest.raises(ValueError, match="use YYYY-MM-DD HH:MM:SS"):
        instant_parse("14:03", end=False)


def test_latency_is_in_ms_and_run_and_device_are_links(admin_client, timed_logs, device):
    append_log(device, started_at=BASE, latency_ms=7.25)
    page = admin_client.get(CHANGELIST).content.decode()
    assert "1,234 ms" in page and "7.2 ms" in page
    run = timed_logs[0].workflow
    assert f'<a href="{reverse("admin:workflows_workflow_change", args=[run.pk])}">Passage run (#{run.pk})</a>' in page
    assert f'<a href="{reverse("admin:devices_device_change", args=[device.pk])}">{device.pk}</a>' in page
    assert "2026-11-30 14:00:40" in page  # started, to the second


def test_the_log_is_read_only_in_the_admin(admin_client, timed_logs):
    entry = timed_logs[0]
    change = reverse("admin:executionlogs_executionlog_change", args=[entry.pk])
    page = admin_client.get(change)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert admin_client.post(change, {"status": "error"}).status_code == 403
    delete = reverse("admin:executionlogs_executionlog_delete", args=[entry.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert admin_client.get(reverse("admin:executionlogs_executionlog_add")).status_code == 403
    response = admin_client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [entry.pk]})
    assert response.status_code in (200, 302)
    assert ExecutionLog.objects.filter(pk=entry.pk, status="success").exists()


def _changelist_queries(client, params=None) -> int:
    client.get(CHANGELIST, params or {})
    with CaptureQueriesContext(connection) as captured:
        assert client.get(CHANGELIST, params or {}).status_code == 200
    return len(captured)


def test_the_changelist_queries_do_not_grow_with_rows(admin_client, device):
    def add_logs(count):
        for index in range(count):
            run = WorkflowFactory()
            append_log(device, started_at=BASE + timedelta(seconds=index), workflow=run)

    add_logs(3)
    few = _changelist_queries(admin_client)
    few_filtered = _changelist_queries(admin_client, {"started_from": "2026-11-30", "status__exact": "success"})
    add_logs(60)
    assert _changelist_queries(admin_client) == few
    assert _changelist_queries(admin_client, {"started_from": "2026-11-30", "status__exact": "success"}) == few_filtered
    assert few <= 6


def test_a_filtered_count_stops_at_the_cap(admin_client, timed_logs, monkeypatch):
    monkeypatch.setattr(EstimatedCountPaginator, "count_cap", 3)
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(CHANGELIST, {"started_to": "2026-11-30"})
    counts = [q["sql"] for q in captured if q["sql"].startswith("SELECT COUNT(*)")]
    # Bounded (LIMIT cap + 1) and unordered: sorting would read every match before counting.
    assert len(counts) == 1 and "LIMIT 4" in counts[0] and "ORDER BY" not in counts[0]
    paginator = response.context["cl"].paginator
    assert paginator.is_capped and paginator.count == 3
    assert "more than 3 execution logs" in response.content.decode()


def _bulk_insert(device_id: str, rows: int) -> None:
    """``rows`` entries in one INSERT ... SELECT (no hash chain: test data only, rolled back)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {ExecutionLog._meta.db_table}
                (device_id, action_type, operation, request, status, latency_ms, started_at, attempt, caused_by,
                 created_at, previous_hash, entry_hash)
                SELECT %s, 'bulk.action', '', '{{}}'::jsonb, 'success', 10, now() - make_interval(secs => n), 1,
                       'worker', now(), '', ''
                FROM generate_series(1, %s) AS n""",
            [device_id, rows],
        )


def test_a_large_unfiltered_log_is_counted_from_the_planner_estimate_not_a_scan(admin_client, device):
    table = ExecutionLog._meta.db_table
    try:
        with transaction.atomic():  # a savepoint: the 200k rows go away before the test ends
            _bulk_insert(device.pk, 200_000)
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {table}")
            assert table_row_estimate(table) > 150_000
            with CaptureQueriesContext(connection) as captured:
                response = admin_client.get(CHANGELIST)
            assert response.status_code == 200
            paginator = response.context["cl"].paginator
            assert paginator.is_estimate and paginator.count > 150_000
            assert not [q["sql"] for q in captured if "COUNT(" in q["sql"].upper()]
            assert "about 2" in response.content.decode() and "estimate" in response.content.decode()
            # Filtered: an exact count, but capped (never more than cap + 1 rows counted).
            response = admin_client.get(CHANGELIST, {"started_from": "2020-01-01"})
            paginator = response.context["cl"].paginator
            assert not paginator.is_estimate and paginator.is_capped and paginator.count == 100_000
            raise _RollBack
    except _RollBack:
        pass
    finally:
        # ANALYZE writes pg_class in place (not rolled back): re-measure so later tests see the small table.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")
    assert (table_row_estimate(table) or 0) < 1000


def test_a_small_table_is_counted_exactly(admin_client, timed_logs):
    response = admin_client.get(CHANGELIST)
    paginator = response.context["cl"].paginator
    assert paginator.count == 5 and not paginator.is_estimate and not paginator.is_capped


class _RollBack(Exception):
    pass
