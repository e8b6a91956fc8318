"""Latency statistics per (device, action type), kept up to date as entries are appended (issue 15,
item 9): which entries count, the median they give, atomic counts under concurrent writers, the
backfill from the log, and an estimate that never reads the log."""

import math
import statistics
import threading

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from devices.wait_time import wait_time_estimate
from executionlogs.chain import CHAIN_LOCK
from executionlogs.choices import Cause
from executionlogs.latency import (
    BUCKET_COUNT,
    bucket_bounds,
    bucket_of,
    histogram_quantile,
    latency_stats_rebuild,
)
from executionlogs.models import ExecutionLog, LatencyStat
from executionlogs.selectors import latency_medians_seconds
from labcore.locking import advisory_lock
from tests.executionlogs.conftest import append_log
from tests.factories import ActionTypeFactory, DeviceFactory, RunStepFactory, WorkflowFactory

MEDIAN_TOLERANCE = 0.05  # a bucket is 9% wide: its geometric middle is within 4.5% of any value in it


def stat(device, action_type="robot.aspirate") -> LatencyStat:
    return LatencyStat.objects.get(device=device, action_type=action_type)


@pytest.mark.django_db
def test_a_successful_entry_is_counted_as_it_is_appended(device):
    append_log(device, latency_ms=120.0)
    append_log(device, latency_ms=480.0)
    kept = stat(device)
    assert kept.count == 2 and kept.sum_ms == 600.0 and kept.mean_ms == 300.0
    assert sum(kept.histogram) == 2 and len(kept.histogram) == BUCKET_COUNT


@pytest.mark.django_db
@pytest.mark.parametrize(
    "entry",
    [
        {"status": "error"},
        {"status": "timeout", "response": None},
        {"status": "unknown", "response": None, "latency_ms": None},
        {"latency_ms": None},
        {"caused_by": Cause.SYNTHETIC},
        {"caused_by": Cause.SYSTEM},  # recovery, and entries seeded before synthetic data was marked
    ],
    ids=["error", "timeout", "unknown", "no latency", "synthetic", "system"],
)
def test_only_real_successful_dispatches_with_a_latency_count(device, entry):
    append_log(device, **entry)
    assert not LatencyStat.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("cause", [Cause.WORKER, Cause.MANUAL, Cause.USER])
def test_every_real_cause_counts(device, cause):
    append_log(device, caused_by=cause)
    assert stat(device).count == 1


@pytest.mark.django_db
def test_the_median_resists_a_stalled_outlier(device):
    for latency_ms in (2000, 4000, 600_000):
        append_log(device, latency_ms=latency_ms)
    assert latency_medians_seconds({("robot.aspirate", device.pk)}) == {
        ("robot.aspirate", device.pk): pytest.approx(4.0, rel=MEDIAN_TOLERANCE)
    }


@pytest.mark.django_db
def test_pairs_are_kept_apart(device):
    other = DeviceFactory(id="other-device")
    append_log(device, latency_ms=100.0)
    append_log(device, action_type="robot.dispense", latency_ms=10_000.0)
    append_log(other, latency_ms=1_000_000.0)
    medians = latency_medians_seconds(
        {("robot.aspirate", device.pk), ("robot.dispense", device.pk), ("robot.aspirate", other.pk), ("x", "y")}
    )
    assert medians == {
        ("robot.aspirate", device.pk): pytest.approx(0.1, rel=MEDIAN_TOLERANCE),
        ("robot.dispense", device.pk): pytest.approx(10.0, rel=MEDIAN_TOLERANCE),
        ("robot.aspirate", other.pk): pytest.approx(1000.0, rel=MEDIAN_TOLERANCE),
    }


def test_the_histogram_median_is_within_its_resolution_of_the_exact_one():
    import random

    rng = random.Random(9)
    for _ in range(50):
        values = [rng.lognormvariate(6, 1.2) for _ in range(rng.randrange(1, 400))]
        histogram = [0] * BUCKET_COUNT
        for value in values:
            histogram[bucket_of(value)] += 1
        assert histogram_quantile(histogram) == pytest.approx(statistics.median(values), rel=0.045)
    for value in (1.0, 7.5, 1234.5, 3.1e10):
        low, high = bucket_bounds(bucket_of(value))
        assert low <= value < high
        assert math.isclose(histogram_quantile([0] * bucket_of(value) + [1]), math.sqrt(low * high))
    assert bucket_of(0.0) == bucket_of(0.99) == 0 and bucket_of(1e13) == BUCKET_COUNT - 1


@pytest.mark.django_db
def test_the_database_puts_each_latency_in_the_bucket_python_reads_it_from(device):
    values = [0.0, 0.3, 1.0, 1.05, 2.0, 17.25, 999.9, 1000.0, 65_432.1, 3.1e10, 5e12]
    for index, value in enumerate(values):
        append_log(device, action_type=f"bucket-{index}", latency_ms=value)
    for index, value in enumerate(values):
        histogram = stat(device, f"bucket-{index}").histogram
        assert histogram.index(1) == bucket_of(value) and sum(histogram) == 1, value


@pytest.mark.django_db
def test_an_entry_appended_by_any_path_counts(device):
    """The trigger counts what the database inserts: the service, a factory, objects.create."""
    from tests.factories import ExecutionLogFactory

    ExecutionLogFactory(device=device, action_type="robot.aspirate", latency_ms=10.0)
    ExecutionLog.objects.create(device=device, action_type="robot.aspirate", status="success", latency_ms=20.0)
    append_log(device, latency_ms=30.0)
    assert stat(device).count == 3 and stat(device).sum_ms == 60.0


@pytest.mark.django_db
def test_one_statement_of_many_entries_is_counted_whole_and_fast(device):
    """A bulk INSERT (or COPY) is counted once per pair and bucket, not row by row.

    Row by row, one transaction updating one stats row 50,000 times walks ever longer version
    chains (quadratic: 200,000 rows ran for more than 15 minutes); per statement it is a few upserts.
    """
    other = DeviceFactory(id="bulk-other")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO executionlogs_executionlog (device_id, action_type, operation, request, status, latency_ms,"
            " started_at, attempt, caused_by, created_at, previous_hash, entry_hash)"
            " SELECT CASE WHEN n %% 5 = 0 THEN %s ELSE %s END, 'bulk.action', '', '{}'::jsonb,"
            " CASE WHEN n %% 10 = 1 THEN 'error' ELSE 'success' END, CASE WHEN n %% 2 = 0 THEN 10 ELSE 1000 END,"
            " now(), 1, 'worker', now(), '', '' FROM generate_series(1, 50000) AS n",
            [other.pk, device.pk],
        )
    mine, theirs = stat(device, "bulk.action"), stat(other, "bulk.action")
    # n % 5 == 0 goes to the other device (10,000 rows, even and odd alike); errors (n % 10 == 1) never count.
    assert (mine.count, theirs.count) == (40_000 - 5_000, 10_000)
    assert mine.histogram[bucket_of(10)] == 20_000 and mine.histogram[bucket_of(1000)] == 15_000
    assert theirs.histogram[bucket_of(10)] == 5_000 and theirs.histogram[bucket_of(1000)] == 5_000
    assert mine.sum_ms == 20_000 * 10 + 15_000 * 1000


@pytest.mark.django_db(transaction=True)
def test_an_entry_rolled_back_takes_its_count_with_it(device):
    append_log(device)
    with pytest.raises(RuntimeError), transaction.atomic():
        append_log(device)
        raise RuntimeError("the caller's transaction fails after logging")
    assert stat(device).count == 1


def _in_threads(count: int, target) -> list:
    """Run ``target(index)`` on ``count`` real threads started together; their exceptions."""
    errors: list = []
    barrier = threading.Barrier(count)

    def run(index):
        try:
            barrier.wait(30)
            target(index)
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


RAW_INSERT = """
INSERT INTO executionlogs_executionlog (device_id, action_type, operation, request, status, latency_ms,
    started_at, attempt, caused_by, created_at, previous_hash, entry_hash)
VALUES (%s, 'race', 'race', '{}', 'success', %s, now(), 1, 'worker', now(), '', '')
"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", [1, 2, 3])
def test_concurrent_counts_are_never_lost(round_):
    """The trigger's upsert alone, without the chain lock that serialises the application's log
    writers: 8 threads insert 25 rows each (raw SQL, outside the chain: only the counting is under
    test) for one new pair at once, so its first row is raced for too, each in its own transaction."""
    device = DeviceFactory(id=f"stats-race-{round_}")
    threads, per_thread = 8, 25

    def add(index):
        for n in range(per_thread):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(RAW_INSERT, [device.pk, float(index * 100 + n)])

    assert _in_threads(threads, add) == []
    kept = stat(device, "race")
    assert kept.count == threads * per_thread
    assert sum(kept.histogram) == threads * per_thread
    assert kept.sum_ms == sum(float(i * 100 + n) for i in range(threads) for n in range(per_thread))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", [1, 2])
def test_concurrent_log_writers_count_every_entry(round_):
    device = DeviceFactory(id=f"stats-writers-{round_}")
    threads, per_thread = 6, 10

    def write(index):
        for _ in range(per_thread):
            append_log(device, latency_ms=50.0 + index)

    assert _in_threads(threads, write) == []
    assert stat(device).count == ExecutionLog.objects.filter(device=device).count() == threads * per_thread


@pytest.mark.django_db
def test_the_backfill_rebuilds_from_the_log_what_appending_kept(device):
    other = DeviceFactory(id="other-device")
    for latency_ms in (0.5, 3.0, 250.0, 250.0, 90_000.0):
        append_log(device, latency_ms=latency_ms)
    append_log(other, action_type="plate.read", latency_ms=42.0)
    append_log(device, status="error", latency_ms=9.0)
    append_log(device, caused_by=Cause.SYSTEM, latency_ms=9.0)  # as seed_logs wrote before item 10
    append_log(device, caused_by=Cause.SYNTHETIC, latency_ms=9.0)
    kept = {(s.device_id, s.action_type): (s.count, s.sum_ms, s.histogram) for s in LatencyStat.objects.all()}
    LatencyStat.objects.all().delete()
    with transaction.atomic(), connection.cursor() as cursor:
        advisory_lock(CHAIN_LOCK)
        assert latency_stats_rebuild(cursor) == 2
    rebuilt = {(s.device_id, s.action_type): (s.count, s.sum_ms, s.histogram) for s in LatencyStat.objects.all()}
    assert rebuilt == kept
    assert kept[(device.pk, "robot.aspirate")][0] == 5


@pytest.mark.django_db
def test_the_migration_backfills_the_table():
    """0007's data step runs the rebuild under the chain lock (checked here through its function)."""
    import importlib

    migration = importlib.import_module("executionlogs.migrations.0007_latency_stats")
    device = DeviceFactory(id="backfilled")
    append_log(device, latency_ms=700.0)
    LatencyStat.objects.all().delete()

    class SchemaEditor:
        connection = connection

    migration.backfill(None, SchemaEditor())
    assert stat(device).count == 1


@pytest.mark.django_db
def test_an_estimate_never_reads_the_log(device):
    action_type = ActionTypeFactory(name="robot.aspirate", device_kind=device.kind)
    for _ in range(3):
        append_log(device, latency_ms=2000.0)
    holder = WorkflowFactory()
    RunStepFactory(workflow=holder, device=device, action_type=action_type)
    from devices.services import booking_create

    booking_create(device=device, workflow=holder)
    with CaptureQueriesContext(connection) as queries:
        estimate = wait_time_estimate(device=device, workflow=WorkflowFactory())
    assert estimate["estimated_wait_seconds"] == pytest.approx(2.0, rel=MEDIAN_TOLERANCE)
    assert not [q["sql"] for q in queries.captured_queries if "executionlogs_executionlog" in q["sql"]]
    assert any("executionlogs_latencystat" in q["sql"] for q in queries.captured_queries)
