"""Benchmark of the device timeline's data and the devices page on a large execution log.

Runs against the database in DATABASE_URL (a dedicated one: it is seeded, never cleaned):

    createdb -h 127.0.0.1 -U postgres labcore_bench_timeline
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/labcore_bench_timeline
    .venv/bin/python manage.py migrate && .venv/bin/python manage.py seed_demo
    .venv/bin/python manage.py seed_logs --count 1000000
    .venv/bin/python bench/timeline.py [--repeat 15]

Requests go through Django's test client in this process (session login, the admin's own views,
JSON encoding), so the figures are server time without the network: median and worst of
``--repeat`` requests after one warm-up, and the number of SQL queries of one request.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def django_setup():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labcore.settings.dev")
    import django

    django.setup()


def measure(client, path: str, params: dict, repeat: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(path, params)  # warm-up
    assert response.status_code == 200, (path, response.status_code, response.content[:300])
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path, params)
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(path, params)
    items = len(response.json()["items"]) if response["Content-Type"] == "application/json" else None
    return {"median_ms": statistics.median(times), "max_ms": max(times), "queries": len(queries), "items": items}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    django_setup()
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from executionlogs.models import ExecutionLog
    from workflows.models import Workflow

    user, _ = get_user_model().objects.get_or_create(
        username="bench-timeline", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    newest = ExecutionLog.objects.order_by("-started_at").values_list("started_at", flat=True).first()
    middle = (newest or timezone.now()) - timedelta(days=10)
    print(
        f"log rows: {ExecutionLog.objects.count():,}; workflows: {Workflow.objects.count():,}; "
        f"windows centred on {middle:%Y-%m-%d %H:%M} (inside the seeded log)"
    )
    data = "/admin/workflows/campaign/timeline/data/"
    cases = [
        ("timeline page", "/admin/workflows/campaign/timeline/", {}),
        ("devices changelist", "/admin/devices/device/", {}),
    ]
    for label, hours, device in [
        ("data, 1 h, all devices", 1, None),
        ("data, 6 h, all devices", 6, None),
        ("data, 1 day, all devices", 24, None),
        ("data, 1 week, all devices", 168, None),
        ("data, 1 week, liquid-handler-1", 168, "liquid-handler-1"),
    ]:
        params = {
            "from": (middle - timedelta(hours=hours / 2)).isoformat(),
            "to": (middle + timedelta(hours=hours / 2)).isoformat(),
        }
        if device:
            params["device"] = device
        cases.append((label, data, params))
    cases.append(("data, default window (now -6 h .. +18 h)", data, {}))
    print("| case | median ms | max ms | queries | bars |\n| --- | --- | --- | --- | --- |")
    for label, path, params in cases:
        result = measure(client, path, params, args.repeat)
        items = "" if result["items"] is None else result["items"]
        print(f"| {label} | {result['median_ms']:.0f} | {result['max_ms']:.0f} | {result['queries']} | {items} |")


if __name__ == "__main__":
    main()
