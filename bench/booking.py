"""Benchmark the booking services: book/release cycles on one device, and 50-way contention.

Runs against the database of DATABASE_URL (migrated), through the same services the API uses,
and optionally through the HTTP layer in-process (DRF test client). It creates its own device
and workflows and deletes them afterwards.

    createdb -h 127.0.0.1 -U postgres labcore_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/labcore_bench .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/labcore_bench .venv/bin/python bench/booking.py

Figures: bench/README.md, "Booking and queue".
"""

import argparse
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labcore.settings.dev")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from accounts.services import token_issue  # noqa: E402
from devices.models import Booking, Device, QueueEntry  # noqa: E402
from devices.services import booking_create, booking_release  # noqa: E402
from labcore.exceptions import ConflictError  # noqa: E402
from workflows.models import Workflow  # noqa: E402

CREATED_WORKFLOW_IDS: list[int] = []


def cycles_per_second(device, workflow, cycles: int) -> float:
    """Sequential book + release of one device by one workflow, through the services."""
    started = time.perf_counter()
    for _ in range(cycles):
        booking_create(device=device, workflow=workflow)
        booking_release(device=device, workflow=workflow)
    return cycles / (time.perf_counter() - started)


def http_cycles_per_second(device, workflow, token: str, cycles: int) -> float:
    """The same cycle through the API (in-process test client: auth, parsing, serialising)."""
    client = APIClient(SERVER_NAME="localhost")  # an allowed host in every settings module
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    body = {"workflow_id": workflow.pk}
    started = time.perf_counter()
    for _ in range(cycles):
        response = client.post(f"/api/devices/{device.pk}/book", body, format="json")
        assert response.status_code == 201, response.content
        response = client.post(f"/api/devices/{device.pk}/release", body, format="json")
        assert response.status_code == 200, response.content
    return cycles / (time.perf_counter() - started)


def contention(device, contenders: int, rounds: int) -> dict:
    """``contenders`` threads book one device at the same instant; the winner releases. Per round:
    wall time until every contender has its answer, and each contender's own latency."""
    workflows = Workflow.objects.bulk_create(Workflow(name=f"bench contender {i}") for i in range(contenders))
    CREATED_WORKFLOW_IDS.extend(w.pk for w in workflows)
    pool = ThreadPoolExecutor(max_workers=contenders)
    round_seconds, latencies, conflicts = [], [], 0

    def attempt(barrier, workflow):
        barrier.wait(60)
        started = time.perf_counter()
        try:
            booking_create(device=device, workflow=workflow)
            won = True
        except ConflictError:
            won = False
        return won, time.perf_counter() - started

    for _ in range(rounds):
        barrier = threading.Barrier(contenders)
        started = time.perf_counter()
        results = list(pool.map(lambda w, b=barrier: attempt(b, w), workflows))
        round_seconds.append(time.perf_counter() - started)
        winners = [w for w, (won, _) in zip(workflows, results, strict=True) if won]
        assert len(winners) == 1, f"{len(winners)} winners"
        conflicts += contenders - 1
        latencies.extend(latency for _, latency in results)
        booking_release(device=device, workflow=winners[0])
    pool.map(lambda _: connection.close(), range(contenders))
    pool.shutdown()
    latencies.sort()
    return {
        "round_ms_median": statistics.median(round_seconds) * 1000,
        "latency_ms_median": statistics.median(latencies) * 1000,
        "latency_ms_p95": latencies[int(len(latencies) * 0.95)] * 1000,
        "conflicts": conflicts,
        "rounds": rounds,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=500, help="book/release cycles (default 500)")
    parser.add_argument("--contenders", type=int, default=50, help="threads in the contention case (default 50)")
    parser.add_argument("--rounds", type=int, default=20, help="contention rounds (default 20)")
    args = parser.parse_args()

    from django.contrib.auth import get_user_model

    suffix = os.getpid()
    device = Device.objects.create(id=f"bench-booking-{suffix}", name="bench", kind="other")
    workflow = Workflow.objects.create(name="bench booking")
    user = get_user_model().objects.create_superuser(f"bench-booking-{suffix}", password=None)
    _, token = token_issue(user=user, name="bench")
    try:
        print(f"services: {cycles_per_second(device, workflow, args.cycles):.0f} book/release cycles per second")
        rate = http_cycles_per_second(device, workflow, token, max(args.cycles // 5, 1))
        print(f"HTTP API: {rate:.0f} book/release cycles per second")
        result = contention(device, args.contenders, args.rounds)
        print(
            f"{args.contenders}-way contention x{result['rounds']}: exactly 1 winner per round, "
            f"{result['conflicts']} conflicts (409); round {result['round_ms_median']:.0f} ms median; "
            f"per-request latency {result['latency_ms_median']:.1f} ms median, {result['latency_ms_p95']:.1f} ms p95"
        )
    finally:
        QueueEntry.objects.filter(device=device).delete()
        Booking.objects.filter(device=device).delete()
        Workflow.objects.filter(pk__in=[workflow.pk, *CREATED_WORKFLOW_IDS]).delete()
        device.delete()
        user.delete()


if __name__ == "__main__":
    main()
