"""Campaign benchmark: the 7-day demo protocol on 24 plates with real workers, in simulated time.

Usage (PostgreSQL and Redis on 127.0.0.1; a scratch database is created anew and seeded):

    .venv/bin/python bench/campaign.py                       # 24 plates, time scale 0.0008 (~8 min)
    .venv/bin/python bench/campaign.py --plates 4 --time-scale 0.002

What it reports, from the database after the run (timestamps are real; simulated figures are
real seconds divided by the time scale):
- window violations (booking units that started after their window closed) out of windowed units;
- makespan, against a lower bound: the larger of the busiest device's total work per slot and
  the longest chain of one run (its due-time offsets plus its own work); see bench/README.md;
- the microscope's utilisation: time booked, and time acting, over the makespan;
- statements per step start with 1 and with 50 other active runs (it must not grow).
The same campaign under whole-run booking is simulated by bench/scheduler.py (at real speed it
would take 24 x 7 days).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/labcore_bench_campaign")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/13")
os.environ["DJANGO_SETTINGS_MODULE"] = "labcore.settings.dev"
os.environ["LABCORE_MOCK_HARDWARE"] = "1"
os.environ["LABCORE_MOCK_LATENCY_SCALE"] = "1"
os.environ.setdefault("LABCORE_LOG_LEVEL", "WARNING")

from bench.executor import worker_start, worker_stop  # noqa: E402

PROTOCOL = "MSC expansion, 7 days"


def database_fresh(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def lab_fresh() -> None:
    """A new scratch database of DATABASE_URL, migrated and seeded, and the bench's broker db emptied."""
    database_fresh(os.environ["DATABASE_URL"])
    import django

    django.setup()
    import redis
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()  # the bench's own database, never db 0


def campaign_run(plates: int, timeout: float) -> dict:
    from samples.models import Plate
    from workflows.choices import FINISHED_WORKFLOW_STATUSES
    from workflows.models import Protocol
    from workflows.services.campaigns import campaign_create

    protocol = Protocol.objects.filter(name=PROTOCOL, status="published").latest("version_major", "version_minor")
    chosen = list(Plate.objects.filter(barcode__startswith="PLATE-").order_by("barcode")[:plates])
    began = time.monotonic()
    campaign = campaign_create(name="bench", protocol=protocol, plates=chosen, priority=1, user=None)
    while time.monotonic() - began < timeout:
        left = campaign.workflows.exclude(status__in=FINISHED_WORKFLOW_STATUSES).count()
        if not left:
            break
        time.sleep(1)
    else:
        raise SystemExit(f"campaign not finished after {timeout} s")
    return {"campaign": campaign, "wall_seconds": round(time.monotonic() - began, 1)}


def campaign_figures(campaign, scale: float) -> dict:
    from django.db.models import Max, Min, Sum

    from devices.models import Booking, Device
    from executionlogs.models import ExecutionLog
    from workflows.models import RunUnit
    from workflows.services.units import scaled_seconds

    runs = campaign.workflows.all()
    statuses = sorted(set(runs.values_list("status", flat=True)))
    span = runs.aggregate(start=Min("started_at"), end=Max("finished_at"))
    makespan = (span["end"] - span["start"]).total_seconds()
    windowed = RunUnit.objects.filter(workflow__in=runs, window_seconds__isnull=False, started_at__isnull=False)
    late = [u.window_missed_seconds for u in windowed if u.window_missed_seconds is not None]
    acting = ExecutionLog.objects.filter(workflow__in=runs, latency_ms__isnull=False).exclude(
        action_type__in=["decision", "window_missed"]
    )
    per_device = {
        row["device_id"]: row["ms"] / 1000 for row in acting.values("device_id").annotate(ms=Sum("latency_ms"))
    }
    capacity = dict(Device.objects.values_list("pk", "capacity"))
    busiest = max(per_device.items(), key=lambda item: item[1] / capacity[item[0]])
    chains = []
    for run in runs:
        waits = sum(
            scaled_seconds(u.start_after_seconds)
            for u in RunUnit.objects.filter(workflow=run, started_at__isnull=False)
        )
        work = (acting.filter(workflow=run).aggregate(ms=Sum("latency_ms"))["ms"] or 0) / 1000
        chains.append(waits + work)
    booked = sum(
        ((b.released_at or span["end"]) - b.booked_at).total_seconds()
        for b in Booking.objects.filter(workflow__in=runs, device_id="microscope-1")
    )
    hours = 1 / scale / 3600  # real seconds -> simulated hours
    return {
        "runs": runs.count(),
        "statuses": statuses,
        "window_violations": f"{len(late)} of {windowed.count()} windowed units",
        "worst_lateness_min": round(max(late, default=0) / scale / 60, 1),
        "makespan_h": round(makespan * hours, 1),
        "lower_bound_h": round(max(busiest[1] / capacity[busiest[0]], max(chains)) * hours, 1),
        "busiest_device": busiest[0],
        "microscope_booked_pct": round(100 * booked / makespan, 1),
        "microscope_acting_pct": round(100 * per_device.get("microscope-1", 0) / makespan, 1),
    }


def statements_per_step_start(others: int) -> int:
    """Statements of one step start (a due unit booked and its first step claimed) beside ``others`` runs."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from samples.models import Plate
    from workflows.models import Protocol, RunUnit
    from workflows.services.creation import workflow_create_from_protocol
    from workflows.services.dispatch import action_claim
    from workflows.services.execution import workflow_start

    protocol = Protocol.objects.filter(name=PROTOCOL, status="published").latest("version_major", "version_minor")
    samples = list(Plate.objects.get(barcode="PLATE-03").samples.all())
    runs = []
    with transaction.atomic():
        for n in range(others + 1):
            run = workflow_create_from_protocol(name=f"stmts {n}", protocol=protocol, samples=samples, priority=1)
            workflow_start(workflow=run)
            runs.append(run)
        RunUnit.objects.filter(workflow__in=runs).update(due_at=timezone.now())
        with CaptureQueriesContext(connection) as queries:
            # The first run ranks first (arrival), so its unit is booked and claimed: the whole path.
            claimed = action_claim(workflow_id=runs[0].pk)
        assert claimed is not None, "the measured step start did not claim"
        transaction.set_rollback(True)
    return len([q for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plates", type=int, default=24)
    parser.add_argument("--time-scale", type=float, default=0.0008)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (concurrency)")
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument("--statements-only", action="store_true", help="only the statements per step start")
    args = parser.parse_args()
    os.environ["LABCORE_TIME_SCALE"] = str(args.time_scale)  # the workers and this process alike

    lab_fresh()
    if not args.statements_only:
        worker = worker_start(concurrency=args.workers, beat=True)
        try:
            outcome = campaign_run(args.plates, args.timeout)
        finally:
            worker_stop(worker)
        print(f"campaign: {args.plates} plates, time scale {args.time_scale}, wall {outcome['wall_seconds']} s")
        print("figures:", campaign_figures(outcome["campaign"], args.time_scale), flush=True)
    counts = {others: statements_per_step_start(others) for others in (1, 50)}
    print("statements per step start (other active runs -> statements):", counts, flush=True)
    assert statistics.mean(counts.values()) == counts[1], "statements per step start grow with the runs"


if __name__ == "__main__":
    main()
