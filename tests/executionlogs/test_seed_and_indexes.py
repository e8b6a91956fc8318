"""seed_logs writes a valid chain fast, and the planner serves the log's reads from indexes.

The EXPLAIN test seeds enough rows (and ANALYZEs) that a sequential scan plus sort would be
the planner's choice for any query no index serves.
"""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan
from django.utils import timezone

from executionlogs.api.pagination import KeysetCursorPagination
from executionlogs.models import ExecutionLog
from executionlogs.seeding import logs_seed
from executionlogs.selectors import execution_log_list, execution_logs_in_range
from tests.executionlogs.conftest import append_log

EXPLAIN_ROWS = 60_000


@pytest.mark.django_db
def test_seed_logs_spreads_entries_over_days_and_keeps_the_chain(demo_lab):
    device = ExecutionLog._meta.get_field("device").related_model.objects.get(pk="incubator-1")
    live = append_log(device)  # entries written before and after the seed chain through it
    out = StringIO()
    call_command("seed_logs", "--count", "3000", "--days", "10", "--batch-size", "1000", stdout=out)
    assert "Seeded 3000" in out.getvalue()
    after = append_log(device)
    assert ExecutionLog.objects.count() == 3002
    seeded = ExecutionLog.objects.exclude(pk__in=[live.pk, after.pk])
    assert seeded.values("device").distinct().count() == 7  # one synthetic device per kind
    assert set(seeded.values_list("status", flat=True)) >= {"success", "error"}
    span = seeded.order_by("-started_at")[0].started_at - seeded.order_by("started_at")[0].started_at
    assert timedelta(days=9) < span <= timedelta(days=10, seconds=1)
    verified = StringIO()
    call_command("verify_logs", stdout=verified)
    assert "OK: 3002" in verified.getvalue()


@pytest.mark.django_db
def test_seed_logs_needs_no_lab_of_its_own():
    """It brings its synthetic devices and workflows (it used to need seed_demo's devices)."""
    call_command("seed_logs", "--count", "10", stdout=StringIO())
    assert ExecutionLog.objects.count() == 10


@pytest.mark.django_db
def test_seed_logs_rejects_bad_arguments():
    with pytest.raises(CommandError, match="positive"):
        call_command("seed_logs", "--count", "0")


def plan_of(queryset) -> dict:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        return cursor.fetchone()[0][0]["Plan"]


def scans(plan: dict) -> list[tuple[str, str | None]]:
    found = [(plan["Node Type"], plan.get("Index Name"))] if "Scan" in plan["Node Type"] else []
    for child in plan.get("Plans", []):
        found += scans(child)
    return found


def first_page(queryset, cursor_row=None):
    """The query a page of the API runs: keyset filter, order, LIMIT page size + 1."""
    queryset = queryset.order_by("started_at", "id")
    if cursor_row:
        queryset = queryset.filter(TupleGreaterThan(Tuple(F("started_at"), F("id")), cursor_row))
    return queryset[: KeysetCursorPagination.page_size + 1]


@pytest.mark.django_db
def test_search_and_listing_use_an_index(demo_lab):
    logs_seed(count=EXPLAIN_ROWS, days=30, batch_size=EXPLAIN_ROWS, seed=6)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE executionlogs_executionlog")
    day = timezone.now() - timedelta(days=12)
    middle = ExecutionLog.objects.order_by("started_at", "id").values_list("started_at", "id")[EXPLAIN_ROWS // 2]
    queries = {
        "list, first page": first_page(execution_log_list()),
        "list, deep page": first_page(execution_log_list(), middle),
        "search one day": first_page(
            execution_logs_in_range(execution_log_list(), start=day, end=day + timedelta(days=1))
        ),
        "search, next page": first_page(
            execution_logs_in_range(execution_log_list(), start=day, end=day + timedelta(days=1)), middle
        ),
        "device": first_page(execution_log_list().filter(device_id="synthetic-incubator")),
        "status, rare": first_page(execution_log_list().filter(status="error")),
        "status, common": first_page(execution_log_list().filter(status="success")),
        "action type": first_page(execution_log_list().filter(action_type="plate_read")),
    }
    for label, queryset in queries.items():
        plan = plan_of(queryset)
        log_scans = [(node, index) for node, index in scans(plan) if index is None or index.startswith("execlog_")]
        assert log_scans, (label, json.dumps(plan))
        assert all(node in {"Index Scan", "Index Only Scan"} for node, _ in log_scans), (label, json.dumps(plan))
    # Listing and search walk the (started_at, id) index itself: no sort of the matching rows.
    for label in ["list, first page", "list, deep page", "search one day", "search, next page"]:
        assert ("Index Scan", "execlog_started_id") in scans(plan_of(queries[label])), label
