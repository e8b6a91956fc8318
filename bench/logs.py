"""Benchmark of the execution log at scale: search, first and deep pages, full export.

Runs against the database in DATABASE_URL (a dedicated one: it is seeded, never cleaned):

    createdb -h 127.0.0.1 -U postgres labcore_bench6
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/labcore_bench6
    .venv/bin/python manage.py migrate && .venv/bin/python manage.py seed_demo
    .venv/bin/python manage.py seed_logs --count 10000000
    .venv/bin/python bench/logs.py            # add --seed N to seed N more entries first

It starts the real web server (gunicorn, one sync worker, production settings) and measures
over HTTP, with a bearer token, what a client sees:

- search for one day (first page of 50), first page of the listing, the page 1,000 pages deep
  (its cursor is the key of row 50 x 999, exactly what following 999 ``next`` links gives);
  median and p95 of repeated requests, plus the database's own execution time (EXPLAIN ANALYZE);
- a full NDJSON export: rows per second, and the web worker's resident memory before and its
  peak during the export (VmRSS sampled, and the kernel's VmHWM high-water mark);
- the cost of a wait-time estimate's latency figures at this log size (``--wait-time-only``
  measures just this, without the web server): before, the median aggregated over the log for
  the (action type, device) pairs of a seeded device (the query the estimate ran until issue 15);
  after, the same pairs read from the latency statistics, and one whole ``wait_time_estimate``
  behind a holder with a step of each pair (set up and rolled back in one transaction).
"""

import argparse
import base64
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def django_setup():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labcore.settings.dev")
    import django

    django.setup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proc_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def start_server(port: int) -> tuple[subprocess.Popen, int]:
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="labcore.settings.production",
        DJANGO_SECRET_KEY=os.environ.get(
            "DJANGO_SECRET_KEY", "bench-only-secret-key-not-for-production-use-0123456789"
        ),
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        LABCORE_API_THROTTLE_RATE="",
        LABCORE_API_ANON_THROTTLE_RATE="",
    )
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "labcore.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "0",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        time.sleep(0.2)
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        if children:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return server, int(children[0])
            except OSError:
                continue
    server.terminate()
    raise RuntimeError("gunicorn did not start")


def timed_get(session, url: str, repeat: int) -> dict:
    timings = []
    for _ in range(repeat):
        began = time.perf_counter()
        response = session.get(url)
        elapsed = (time.perf_counter() - began) * 1000
        response.raise_for_status()
        timings.append(elapsed)
    timings.sort()
    return {
        "median_ms": round(statistics.median(timings), 1),
        "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 1),
        "results": len(response.json()["results"]),
    }


def sql_ms(queryset) -> float:
    """The database's execution time for ``queryset`` (EXPLAIN ANALYZE, median of 5)."""
    from django.db import connection

    sql, params = queryset.query.sql_with_params()
    times = []
    with connection.cursor() as cursor:
        for _ in range(5):
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
            times.append(cursor.fetchone()[0][0]["Execution Time"])
    return round(statistics.median(times), 2)


def cursor_for(started_at, entry_id) -> str:
    data = {"p": [started_at.isoformat(), entry_id]}
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def measure_export(session, url: str, worker_pid: int) -> dict:
    baseline_rss = proc_kib(worker_pid, "VmRSS")
    baseline_hwm = proc_kib(worker_pid, "VmHWM")
    peak = [baseline_rss]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], proc_kib(worker_pid, "VmRSS"))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rows = size = 0
    began = time.perf_counter()
    with session.get(url, stream=True) as response:
        response.raise_for_status()
        for block in response.iter_content(chunk_size=1 << 20):
            rows += block.count(b"\n")
            size += len(block)
    elapsed = time.perf_counter() - began
    done.set()
    sampler.join()
    hwm = proc_kib(worker_pid, "VmHWM")
    return {
        "rows": rows,
        "megabytes": round(size / 1e6, 1),
        "seconds": round(elapsed, 1),
        "rows_per_second": round(rows / elapsed),
        "worker_rss_before_mb": round(baseline_rss / 1024, 1),
        "worker_rss_peak_mb": round(peak[0] / 1024, 1),
        "worker_rss_growth_mb": round((peak[0] - baseline_rss) / 1024, 1),
        "worker_hwm_growth_mb": round((hwm - baseline_hwm) / 1024, 1),
    }


def timed_ms(call, repeat: int) -> dict:
    timings = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        timings.append((time.perf_counter() - began) * 1000)
    timings.sort()
    return {"median_ms": round(statistics.median(timings), 2), "max_ms": round(timings[-1], 2)}


class _RolledBack(Exception):
    pass


def measure_wait_time(repeat: int) -> dict:
    """Latency figures of one estimate, before (aggregated over the log) and after (statistics)."""
    from django.db import transaction
    from django.db.models import Aggregate, FloatField

    from devices.models import ActionType, Booking, Device
    from devices.wait_time import wait_time_estimate
    from executionlogs.latency import BUCKET_COUNT, bucket_of
    from executionlogs.models import ExecutionLog, LatencyStat
    from workflows.models import RunStep, Workflow
    from workflows.remaining_work import measured_medians

    class Median(Aggregate):  # the aggregate the estimate used until issue 15
        function = "PERCENTILE_CONT"
        template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
        output_field = FloatField()

    def legacy_medians(pairs):
        rows = (
            ExecutionLog.objects.filter(
                action_type__in={name for name, _ in pairs},
                device_id__in={device_id for _, device_id in pairs},
                status="success",
                latency_ms__isnull=False,
            )
            .order_by()
            .values("action_type", "device_id")
            .annotate(median_ms=Median("latency_ms"))
        )
        return {(row["action_type"], row["device_id"]): row["median_ms"] / 1000.0 for row in rows}

    # The first seeded (synthetic) device whose kind has action types (seed_demo registers them).
    device, action_types = next(
        (device, list(ActionType.objects.filter(device_kind=device.kind).order_by("name")[:4]))
        for device in Device.objects.filter(pk__startswith="synthetic-").order_by("pk")
        if ActionType.objects.filter(device_kind=device.kind).exists()
    )
    pairs = {(action_type.name, device.pk) for action_type in action_types}
    rows_on_device = ExecutionLog.objects.filter(device=device, action_type__in=[n for n, _ in pairs]).count()
    report = {"device": device.pk, "pairs": len(pairs), "log_rows_of_those_pairs": rows_on_device}
    report["before_median_over_the_log"] = timed_ms(lambda: legacy_medians(pairs), max(3, repeat // 5))
    try:
        with transaction.atomic():
            # Seeded entries are synthetic and never counted: give the pairs statistics, a holder
            # with one step of each and a waiter, all rolled back after the measurement.
            for name, _ in pairs:
                histogram = [0] * BUCKET_COUNT
                for latency_ms in (900.0, 1100.0, 1300.0):
                    histogram[bucket_of(latency_ms)] += 1
                LatencyStat.objects.create(device=device, action_type=name, count=3, sum_ms=3300.0, histogram=histogram)
            holder, waiter = Workflow.objects.create(name="bench holder"), Workflow.objects.create(name="bench waiter")
            for position, action_type in enumerate(action_types):
                RunStep.objects.create(
                    workflow=holder,
                    position=position,
                    step_name=action_type.name,
                    action_type=action_type,
                    device=device,
                )
            RunStep.objects.create(
                workflow=waiter, position=0, step_name=action_types[0].name, action_type=action_types[0], device=device
            )
            Booking.objects.create(device=device, workflow=holder)
            report["after_latency_statistics"] = timed_ms(lambda: measured_medians(pairs), repeat)
            report["after_whole_estimate"] = timed_ms(
                lambda: wait_time_estimate(device=device, workflow=waiter), repeat
            )
            report["estimated_wait_seconds"] = wait_time_estimate(device=device, workflow=waiter)[
                "estimated_wait_seconds"
            ]
            raise _RolledBack
    except _RolledBack:
        pass
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0, help="Append this many entries with seed_logs first.")
    parser.add_argument("--repeat", type=int, default=30, help="Requests per latency figure.")
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--wait-time-only", action="store_true", help="Only the wait-time figures (no web server).")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        sys.exit("Set DATABASE_URL to a dedicated benchmark database.")
    django_setup()
    import requests
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from accounts.services import token_issue
    from executionlogs.models import ExecutionLog
    from executionlogs.selectors import execution_log_list, execution_logs_in_range

    if args.seed:
        call_command("seed_logs", "--count", str(args.seed))
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) executionlogs_executionlog")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint, pg_total_relation_size('executionlogs_executionlog') FROM pg_class "
            "WHERE oid = 'executionlogs_executionlog'::regclass"
        )
        estimated_rows, table_bytes = cursor.fetchone()
    if args.wait_time_only:
        print(json.dumps({"rows": estimated_rows, "wait_time": measure_wait_time(args.repeat)}, indent=2))
        return
    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_superuser": True})
    _, token = token_issue(user=user, name=f"bench-{time.time():.0f}")

    first = ExecutionLog.objects.order_by("started_at", "id").values_list("started_at", flat=True)[0]
    last = ExecutionLog.objects.order_by("-started_at", "-id").values_list("started_at", flat=True)[0]
    day = first + (last - first) / 2
    day = day.replace(hour=0, minute=0, second=0, microsecond=0)
    deep_key = ExecutionLog.objects.order_by("started_at", "id").values_list("started_at", "id")[50 * 1000 - 1]
    # The cursor of page 1,001 is the key of the last row of page 1,000.
    deep_cursor = cursor_for(*deep_key)

    port = free_port()
    server, worker_pid = start_server(port)
    base = f"http://127.0.0.1:{port}/api/execution-logs"
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    report = {"rows": estimated_rows, "table_and_indexes_gb": round(table_bytes / 1e9, 2)}
    try:
        session.get(base).raise_for_status()  # warm up: imports, connection
        search_url = f"{base}/search?start={day.date().isoformat()}&end={(day + timedelta(days=1)).date().isoformat()}"
        report["search_one_day"] = timed_get(session, search_url, args.repeat)
        report["first_page"] = timed_get(session, f"{base}?page_size=50", args.repeat)
        report["page_1000_deep"] = timed_get(session, f"{base}?page_size=50&cursor={deep_cursor}", args.repeat)
        from django.db.models import F
        from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan

        listing = execution_log_list()
        report["sql_ms"] = {
            "search_one_day": sql_ms(
                execution_logs_in_range(listing, start=day, end=day + timedelta(days=1)).order_by("started_at", "id")[
                    :51
                ]
            ),
            "first_page": sql_ms(listing.order_by("started_at", "id")[:51]),
            "page_1000_deep": sql_ms(
                listing.filter(TupleGreaterThan(Tuple(F("started_at"), F("id")), deep_key)).order_by(
                    "started_at", "id"
                )[:51]
            ),
        }
        report["wait_time"] = measure_wait_time(args.repeat)
        if not args.skip_export:
            report["export_ndjson"] = measure_export(session, f"{base}/export?format=ndjson", worker_pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
