"""gunicorn with production settings keeps one database connection across requests, and
replaces one the database dropped before using it (never a failed request).

A new connection per request (a PostgreSQL backend process and its cold catalog caches) cost
more than a small request's whole SQL under load (bench/README.md, "Load (bench/load.py)").
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import requests
from django.conf import settings
from django.db import connection

from tests.faults.servers import free_port
from tests.utils import test_database_url

ROOT = Path(__file__).resolve().parents[2]


def _gunicorn_start(port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "labcore.settings.production",
        "DJANGO_SECRET_KEY": "test-web-db-connections-" + "k" * 40,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "LABCORE_LOG_LEVEL": "WARNING",
    }
    env.pop("LABCORE_DB_CONN_MAX_AGE", None)  # the production default
    command = [sys.executable, "-m", "gunicorn", "labcore.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    return subprocess.Popen(
        [*command, "--workers", "1"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def _health(base: str) -> requests.Response:
    return requests.get(base + "/health", timeout=10)


def _web_backends(monitor: psycopg.Connection, dbname: str, test_pid: int) -> set[int]:
    """Backends connected to the test database other than this test's own two."""
    rows = monitor.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() AND pid <> %s",
        [dbname, test_pid],
    ).fetchall()
    return {pid for (pid,) in rows}


@pytest.mark.django_db
def test_gunicorn_reuses_its_connection_and_replaces_a_dropped_one():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), current_database()")
        test_pid, dbname = cursor.fetchone()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = _gunicorn_start(port)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            try:
                if _health(base).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer /health"
            time.sleep(0.2)
        with psycopg.connect(test_database_url(), autocommit=True) as monitor:
            seen = []
            for _ in range(3):
                assert _health(base).json() == {"status": "healthy"}
                seen.append(_web_backends(monitor, dbname, test_pid))
            assert len(seen[0]) == 1 and seen == [seen[0]] * 3, f"one connection per request: {seen}"

            (kept,) = seen[0]
            monitor.execute("SELECT pg_terminate_backend(%s)", [kept])
            answer = _health(base)
            assert answer.status_code == 200, answer.text  # checked before use, replaced, not failed
            replaced = _web_backends(monitor, dbname, test_pid)
            assert len(replaced) == 1 and kept not in replaced
    finally:
        server.terminate()
        server.wait(timeout=30)
