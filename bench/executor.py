"""Executor benchmark: orchestration overhead per action, and long actions side by side.

Usage (PostgreSQL and Redis on 127.0.0.1; a scratch database is created and migrated):

    .venv/bin/python bench/executor.py                      # both cases
    .venv/bin/python bench/executor.py --actions 1000 --skip-long
    .venv/bin/python bench/executor.py --skip-overhead --long-workflows 20 --long-seconds 60

1. Overhead: one auto workflow of N zero-latency mock actions, one worker process
   (``--concurrency=1``). Every action is its own Celery task (claim, dispatch, record, log,
   enqueue the next), so wall time / N is the executor's cost per action; the gap between one
   action's finish and the next one's dispatch is the orchestration overhead between actions.
2. Long actions: W workflows, each one long-running (polled) action of S seconds on its own
   device, with two worker processes. Ideal: a little more than S, not W x S.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/labcore_bench")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
os.environ["DJANGO_SETTINGS_MODULE"] = "labcore.settings.dev"
os.environ["LABCORE_MOCK_HARDWARE"] = "1"
os.environ["LABCORE_MOCK_LATENCY_SCALE"] = "0"
os.environ.setdefault("LABCORE_LOG_LEVEL", "WARNING")


def database_ensure(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def worker_start(concurrency: int, pool: str = "prefork", *, beat: bool = False) -> subprocess.Popen:
    folder = Path(tempfile.mkdtemp(prefix="labcore-bench-"))
    log = open(folder / "worker.log", "wb")  # noqa: SIM115
    command = [
        *(sys.executable, "-m", "celery", "-A", "labcore", "worker"),
        "--loglevel=" + os.environ.get("BENCH_WORKER_LOG", "WARNING"),
        *(f"--concurrency={concurrency}", f"--pool={pool}", "--without-gossip", "--without-mingle"),
        "--hostname=bench@%h",
        *(("--beat", f"--schedule={folder}/beat-schedule") if beat else ()),
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    from labcore.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.control.ping(timeout=0.5):
            return process
    raise SystemExit("the worker did not start")


def worker_stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def wait_finished(workflow_ids, timeout: float) -> float:
    from workflows.choices import FINISHED_WORKFLOW_STATUSES
    from workflows.models import Workflow

    began = time.monotonic()
    while time.monotonic() - began < timeout:
        left = Workflow.objects.filter(pk__in=workflow_ids).exclude(status__in=FINISHED_WORKFLOW_STATUSES).count()
        if not left:
            return time.monotonic() - began
        time.sleep(0.05)
    raise SystemExit(f"workflows not finished after {timeout} s")


def plan_make(tag: str, *, steps: int, device_id: str, action_type, samples: int = 1):
    from devices.models import Device
    from samples.models import Sample
    from workflows.models import RunStep, Workflow, WorkflowSample

    device, _ = Device.objects.get_or_create(id=device_id, defaults={"name": device_id, "kind": "other"})
    workflow = Workflow.objects.create(name=f"bench {tag}", mode="auto")
    RunStep.objects.bulk_create(
        RunStep(workflow=workflow, position=n, step_name=f"s{n}", action_type=action_type, device=device)
        for n in range(1, steps + 1)
    )
    for position in range(1, samples + 1):
        sample, _ = Sample.objects.get_or_create(barcode=f"BENCH{position:03d}", defaults={"sample_type": "cells"})
        WorkflowSample.objects.create(workflow=workflow, sample=sample, position=position)
    return workflow


def bench_overhead(actions: int, pool: str = "prefork") -> dict:
    from devices.models import ActionType
    from workflows.services.execution import workflow_start

    action_type, _ = ActionType.objects.update_or_create(
        name="bench.noop",
        defaults={"device_kind": "other", "mock_latency_seconds": 0, "mock_latency_jitter": 0, "mock_response": {}},
    )
    tag = f"overhead-{int(time.time())}"
    workflow = plan_make(tag, steps=actions, device_id=f"bench-{tag}", action_type=action_type)
    worker = worker_start(concurrency=1, pool=pool)
    try:
        workflow_start(workflow=workflow)
        elapsed = wait_finished([workflow.pk], timeout=600)
    finally:
        worker_stop(worker)
    steps = list(workflow.run_steps.order_by("position").values_list("dispatched_at", "finished_at"))
    gaps = [(nxt[0] - cur[1]).total_seconds() * 1000 for cur, nxt in zip(steps, steps[1:], strict=False)]
    per_action = [(nxt[0] - cur[0]).total_seconds() * 1000 for cur, nxt in zip(steps, steps[1:], strict=False)]
    return {
        "pool": pool,
        "actions": actions,
        "wall_seconds": round(elapsed, 2),
        "actions_per_second": round(actions / elapsed, 1),
        "median_ms_between_dispatches": round(statistics.median(per_action), 2),
        "median_overhead_ms": round(statistics.median(gaps), 2),
        "p95_overhead_ms": round(statistics.quantiles(gaps, n=20)[18], 2),
    }


def bench_long(workflows: int, seconds: float) -> dict:
    from devices.models import ActionType, Device
    from workflows.services.execution import workflow_start

    action_type, _ = ActionType.objects.update_or_create(
        name="bench.long",
        defaults={"device_kind": "other", "is_long_running": True, "timeout_seconds": seconds * 5, "mock_response": {}},
    )
    tag = f"long-{int(time.time())}"
    plans = []
    for n in range(workflows):
        plan = plan_make(f"{tag}-{n}", steps=1, device_id=f"bench-{tag}-{n}", action_type=action_type)
        Device.objects.filter(pk=f"bench-{tag}-{n}").update(
            config={"mock": {"latency_seconds": {"bench.long": seconds}}}
        )
        plans.append(plan)
    worker = worker_start(concurrency=2)
    try:
        began = time.monotonic()
        for plan in plans:
            workflow_start(workflow=plan)
        wait_finished([p.pk for p in plans], timeout=seconds * workflows + 120)
        elapsed = time.monotonic() - began
    finally:
        worker_stop(worker)
    return {"workflows": workflows, "action_seconds": seconds, "wall_seconds": round(elapsed, 2),
            "serial_would_be_seconds": workflows * seconds}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actions", type=int, default=1000)
    parser.add_argument("--long-workflows", type=int, default=20)
    parser.add_argument("--long-seconds", type=float, default=60)
    parser.add_argument(
        "--pool",
        default="prefork",
        choices=["prefork", "solo"],
        help="worker pool of the overhead case: prefork (as `make worker`; a parent process hands each task "
        "to one child) or solo (the tasks run in the one worker process itself)",
    )
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--skip-long", action="store_true")
    args = parser.parse_args()

    database_ensure(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import redis
    from django.conf import settings

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    if not args.skip_overhead:
        print("overhead:", bench_overhead(args.actions, pool=args.pool), flush=True)
    if not args.skip_long:
        print("long actions:", bench_long(args.long_workflows, args.long_seconds), flush=True)


if __name__ == "__main__":
    main()
