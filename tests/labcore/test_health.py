"""``/health`` answers 200 when the database and broker answer, 503 naming the failure."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.utils import test_database_url

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
