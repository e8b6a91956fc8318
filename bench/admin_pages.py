"""The scientist's pages at scale: load time of each admin page at 10,000 workflows and 1M log rows.

Usage (PostgreSQL on 127.0.0.1; a scratch database is created anew, seeded once, then reused):

    .venv/bin/python bench/admin_pages.py                 # seed (first time) and measure
    .venv/bin/python bench/admin_pages.py --reseed        # drop the scratch database and seed again
    .venv/bin/python bench/admin_pages.py --workflows 2000 --logs 200000   # a quicker look

Seeding goes through the real services: the demo lab (seed_demo), ``--workflows`` runs of the
demo protocols created with the creation service (the first hundred run to the end in-process
on mock hardware, so pages have events, results and finished steps to show), and ``--logs``
synthetic execution-log entries (seed_logs). The pages are then served by gunicorn with
production settings, as docker/compose.yml runs it, and fetched by a logged-in superuser: each
page ``--repeat`` times after one warm-up, reporting the median and p95 in milliseconds and
the page's size (query counts are held constant by the admin query-budget tests).
The target (issue 17): every page under 300 ms on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/labcore_bench_admin")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/12")
os.environ["DJANGO_SETTINGS_MODULE"] = "labcore.settings.dev"
os.environ["LABCORE_MOCK_HARDWARE"] = "1"
os.environ["LABCORE_MOCK_LATENCY_SCALE"] = "0"
os.environ.setdefault("LABCORE_LOG_LEVEL", "WARNING")

from bench.campaign import database_fresh  # noqa: E402
from bench.logs import free_port, start_server  # noqa: E402

PASSWORD = "bench-admin-pass"
FINISHED_RUNS = 100


def database_exists(url: str) -> bool:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def lab_seed(workflows: int, logs: int) -> None:
    """The demo lab, ``workflows`` runs (some finished) and ``logs`` synthetic log entries."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from samples.models import Sample
    from workflows.models import Protocol
    from workflows.services.creation import workflow_create_from_protocol
    from workflows.services.execution import workflow_action_run, workflow_start

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    get_user_model().objects.create_superuser("bench-admin", "bench@example.org", PASSWORD)
    protocols = list(Protocol.objects.filter(status="published").order_by("id"))
    samples = list(Sample.objects.order_by("id")[:96])
    began = time.monotonic()
    for index in range(workflows):
        protocol = protocols[index % len(protocols)]
        chosen = [samples[(index + k) % len(samples)] for k in range(4)]
        workflow = workflow_create_from_protocol(
            name=f"bench run {index:05d}", protocol=protocol, samples=chosen, priority=index % 3
        )
        if index < FINISHED_RUNS:
            try:
                workflow_start(workflow=workflow)
                for _ in range(200):
                    if workflow_action_run(workflow_id=workflow.pk) is None:
                        break
            except Exception as exc:  # noqa: BLE001 - a run that cannot go on still makes a page to show
                print(f"  run {workflow.pk} stopped early: {exc}", file=sys.stderr)
        if index % 1000 == 999:
            print(f"  {index + 1} workflows ({time.monotonic() - began:.0f} s)", file=sys.stderr)
    call_command("seed_logs", "--count", str(logs))
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")


def pages() -> dict[str, str]:
    """The pages a scientist opens, by name: path (ids picked from the seeded data)."""
    import django

    django.setup()
    from devices.models import Device
    from executionlogs.models import ExecutionLog
    from samples.models import Sample
    from workflows.models import Campaign, Protocol, Workflow

    busiest = Workflow.objects.exclude(started_at=None).order_by("-id").first() or Workflow.objects.first()
    sample = Sample.objects.order_by("id").first()
    protocol = Protocol.objects.filter(status="published").order_by("id").first()
    device = Device.objects.order_by("id").first()
    entry = ExecutionLog.objects.order_by("-id").first()
    found = {
        "workflow list": "/admin/workflows/workflow/",
        "run page": f"/admin/workflows/workflow/{busiest.pk}/change/",
        "protocol page": f"/admin/workflows/protocol/{protocol.pk}/change/",
        "run from protocol": f"/admin/workflows/protocol/{protocol.pk}/run/",
        "device list": "/admin/devices/device/",
        "execution log list": "/admin/executionlogs/executionlog/",
        "execution log entry": f"/admin/executionlogs/executionlog/{entry.pk}/change/",
        "sample page": f"/admin/samples/sample/{sample.pk}/change/",
        "campaign list": "/admin/workflows/campaign/",
        "device schedule": "/admin/workflows/campaign/schedule/",
        "device timeline": "/admin/workflows/campaign/timeline/",
        "device timeline data": f"/admin/workflows/campaign/timeline/data/?device={device.pk}",
    }
    campaign = Campaign.objects.order_by("id").first()
    if campaign is not None:
        found["campaign page"] = f"/admin/workflows/campaign/{campaign.pk}/change/"
    return found


def login(session, base: str) -> dict:
    """Log in through the admin's form; the session cookie is sent by hand (production marks it Secure)."""
    page = session.get(base + "/admin/login/", headers={"X-Forwarded-Proto": "https"})
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    cookies = {"csrftoken": page.cookies["csrftoken"]}
    answer = session.post(
        base + "/admin/login/?next=/admin/",
        data={"username": "bench-admin", "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers=_headers(cookies, base),
        allow_redirects=False,
    )
    if answer.status_code != 302:
        raise RuntimeError(f"login failed: {answer.status_code}")
    cookies["sessionid"] = answer.cookies["sessionid"]
    return cookies


def _headers(cookies: dict, base: str) -> dict:
    return {
        "X-Forwarded-Proto": "https",
        "Referer": base.replace("http://", "https://") + "/admin/",
        "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
    }


def measure(session, base: str, cookies: dict, path: str, repeat: int) -> dict:
    headers = _headers(cookies, base)
    first = session.get(base + path, headers=headers, allow_redirects=False)
    if first.status_code != 200:
        return {"status": first.status_code}
    timings = []
    for _ in range(repeat):
        began = time.perf_counter()
        response = session.get(base + path, headers=headers, allow_redirects=False)
        timings.append((time.perf_counter() - began) * 1000)
        response.raise_for_status()
    timings.sort()
    return {
        "median_ms": round(statistics.median(timings), 1),
        "p95_ms": round(timings[max(int(len(timings) * 0.95) - 1, 0)], 1),
        "kb": round(len(response.content) / 1024, 1),
    }


def static_collect() -> None:
    """Production serves static files from the collected manifest (WhiteNoise): collect them first."""
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="labcore.settings.production",
        DJANGO_SECRET_KEY=os.environ.get(
            "DJANGO_SECRET_KEY", "bench-only-secret-key-not-for-production-use-0123456789"
        ),
    )
    subprocess.run(
        [str(ROOT / ".venv/bin/python"), "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workflows", type=int, default=10_000)
    parser.add_argument("--logs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--reseed", action="store_true", help="Drop the scratch database and seed it again.")
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    if args.reseed or not database_exists(url):
        database_fresh(url)
        began = time.monotonic()
        lab_seed(args.workflows, args.logs)
        print(f"seeded in {time.monotonic() - began:.0f} s", file=sys.stderr)
    else:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)  # a database seeded by an older checkout
    import requests

    paths = pages()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM workflows_workflow")
        workflows = cursor.fetchone()[0]
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = 'executionlogs_executionlog'::regclass")
        logs = cursor.fetchone()[0]
    connection.close()
    static_collect()
    port = free_port()
    server, _ = start_server(port)
    base = f"http://127.0.0.1:{port}"
    report = {"workflows": workflows, "log_rows_estimated": logs, "pages": {}}
    try:
        session = requests.Session()
        cookies = login(session, base)
        for name, path in paths.items():
            report["pages"][name] = {"path": path, **measure(session, base, cookies, path, args.repeat)}
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
