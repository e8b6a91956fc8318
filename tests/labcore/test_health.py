"""``/health`` answers 200 when the database and broker answer, 503 naming the failure."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import timezone

from labcore.celery import app as celery_app
from tests.utils import test_database_url
from workflows.models import WorkerHeartbeat

ROOT = Path(__file__).resolve().parents[2]
# A port on loopback where nothing listens: a genuinely unreachable service, not a mock.
CLOSED_PORT = 9

HEALTH_IN_A_FRESH_PROCESS = """
import django, json, os
django.setup()
from django.test import Client
response = Client().get("/health", headers={"host": "localhost"})
print(json.dumps({"status": response.status_code, "body": response.json()}))
"""


def health_with_environment(**overrides) -> dict:
    """Run /health in a fresh process whose settings point where ``overrides`` say."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "labcore.settings.test", **overrides}
    completed = subprocess.run(
        [sys.executable, "-c", HEALTH_IN_A_FRESH_PROCESS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/health", "/health/"])
def test_health_is_200_when_database_and_broker_answer(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "healthy"}


def test_health_is_503_naming_the_database_when_it_is_down():
    result = health_with_environment(DATABASE_URL=f"postgres://postgres@127.0.0.1:{CLOSED_PORT}/labcore")
    assert result["status"] == 503
    assert result["body"]["status"] == "unhealthy"
    assert set(result["body"]["failed"]) == {"database"}


@pytest.mark.django_db
def test_health_is_503_naming_the_broker_when_it_is_down():
    result = health_with_environment(
        DATABASE_URL=test_database_url(), CELERY_BROKER_URL=f"redis://127.0.0.1:{CLOSED_PORT}/0"
    )
    assert result["status"] == 503
    assert set(result["body"]["failed"]) == {"broker"}


@pytest.mark.django_db
@override_settings(LABCORE_HEALTH_REQUIRE_WORKER=True)
def test_health_is_503_naming_the_worker_when_required_and_no_heartbeat_is_recent(client):
    WorkerHeartbeat.objects.create(hostname="w1@lab", seen_at=timezone.now() - timedelta(minutes=5))
    response = client.get("/health")
    assert response.status_code == 503
    assert set(response.json()["failed"]) == {"worker"}
    assert response.json()["failed"]["worker"]["worker"] == "w1@lab"


@pytest.mark.django_db
@override_settings(LABCORE_HEALTH_REQUIRE_WORKER=True)
def test_health_is_200_when_required_and_a_worker_beat_recently(client):
    WorkerHeartbeat.objects.create(hostname="w1@lab", seen_at=timezone.now())
    assert client.get("/health").json() == {"status": "healthy"}


@pytest.mark.django_db
def test_health_reports_a_dead_worker_in_detail_without_failing_when_not_required(client):
    response = client.get("/health?detail=1")
    assert response.status_code == 200
    assert response.json()["checks"]["worker"] == {
        "ok": False,
        "detail": {"alive": False, "worker": None, "seconds_since_heartbeat": None},
    }


def test_celery_reconnects_to_the_broker_forever():
    # Celery's default gives up after 100 tries and the worker exits (issue 15, item 1).
    assert celery_app.conf.broker_connection_retry is True
    assert celery_app.conf.broker_connection_max_retries is None
