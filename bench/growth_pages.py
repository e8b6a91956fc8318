"""Growth pages benchmark: a sample's page (charts + history) and a campaign's page (24 plates) in the admin.

Usage (PostgreSQL on 127.0.0.1; a scratch database is created anew and seeded):

    .venv/bin/python bench/growth_pages.py                     # 24 plates imaged 15 times
    .venv/bin/python bench/growth_pages.py --logs 1000000      # plus 1M synthetic log rows first

Each plate of seed_demo gets one run of a campaign, imaged every 12 simulated hours through
the services the executor uses (tests/workflows/growth_support.py), with a closed-loop threshold.
Then both pages are fetched with Django's test client (server-side time: view, selectors, fits,
template), and the median of ``--repeat`` requests and the query count are printed.
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
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/labcore_bench_growth_pages")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")

from bench.campaign import lab_fresh  # noqa: E402 - sets the mock-hardware environment too


def lab_grown(plates: int, images: int, logs: int):
    from django.core.management import call_command

    from samples.models import Plate
    from tests.workflows.growth_support import imaged_run
    from workflows.models import Campaign, Protocol

    if logs:
        call_command("seed_logs", count=logs, verbosity=0)
    protocol = Protocol.objects.filter(status="published").first()
    campaign = Campaign.objects.create(name="growth bench", protocol=protocol)
    chosen = list(Plate.objects.filter(barcode__startswith="PLATE-").order_by("barcode")[:plates])
    for plate in chosen:
        imaged_run(list(plate.samples.all()), hours=range(0, 12 * images, 12), campaign=campaign, threshold=80)
    return campaign, chosen[0].samples.order_by("well").first()


def page_time(client, url: str, repeat: int) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm: first-request caches
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as context:
        client.get(url)
    return statistics.median(times), len(context.captured_queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plates", type=int, default=24)
    parser.add_argument("--images", type=int, default=15)
    parser.add_argument("--logs", type=int, default=0, help="synthetic execution-log rows seeded first")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    lab_fresh()
    from django.conf import settings
    from django.test import Client
    from django.test.utils import setup_test_environment

    from executionlogs.models import CellAnalysisResult, ExecutionLog
    from tests.factories import UserFactory

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["*"]
    began = time.monotonic()
    campaign, sample = lab_grown(args.plates, args.images, args.logs)
    print(
        f"lab: {args.plates} plates, {CellAnalysisResult.objects.count()} results, "
        f"{ExecutionLog.objects.count()} log rows (made in {time.monotonic() - began:.0f} s)"
    )
    client = Client()
    client.force_login(UserFactory(username="bench-growth", is_staff=True, is_superuser=True))
    for name, url in (
        ("sample page", f"/admin/samples/sample/{sample.pk}/change/"),
        ("campaign page", f"/admin/workflows/campaign/{campaign.pk}/change/"),
    ):
        median, queries = page_time(client, url, args.repeat)
        print(f"{name}: median {median:.0f} ms over {args.repeat} requests, {queries} queries")


if __name__ == "__main__":
    main()
