"""With the broker's Redis down, the API keeps answering: reads 200, writes done or 503 with
Retry-After, never a 500 (issue 15, item 2).

The web side runs in a fresh process whose settings point the broker and the cache (throttling
counts there, turned on here) at a private Redis this test starts, then stops.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from accounts.services import token_issue
from tests.factories import UserFactory
from tests.utils import test_database_url
from tests.workflows.executor_support import action_type_make, device_make, workflow_make

ROOT = Path(__file__).resolve().parents[2]

API_CALLS_IN_A_FRESH_PROCESS = """
import django, json, os, sys
django.setup()
from django.conf import settings
from rest_framework.test import APIClient
settings.LABCORE_API_THROTTLE_RATE = "1200/minute"
client = APIClient(HTTP_HOST="localhost", raise_request_exception=False)
client.credentials(HTTP_AUTHORIZATION="Bearer " + os.environ["TEST_TOKEN"])
answers = []
for method, path, body in json.loads(sys.argv[1]):
    response = getattr(client, method)(path, body, format="json") if body is not None else getattr(client, method)(path)
    answers.append({"call": f"{method.upper()} {path}", "status": response.status_code,
                    "retry_after": response.get("Retry-After")})
print(json.dumps(answers))
"""


def api_calls_with_broker(broker_url: str, token: str, calls: list) -> list[dict]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "labcore.settings.test",
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": broker_url,
        "TEST_TOKEN": token,
    }
    completed = subprocess.run(
        [sys.executable, "-c", API_CALLS_IN_A_FRESH_PROCESS, json.dumps(calls)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.django_db(transaction=True)
def test_api_answers_reads_and_writes_without_a_500_while_redis_is_down(private_redis):
    user = UserFactory(username="operator-1", is_staff=True, is_superuser=True)
    _, token = token_issue(user=user, name="outage")
    pipette = action_type_make("pipette_transfer")
    device_make("liquid-handler-1")
    device_make("liquid-handler-2")
    auto_run = workflow_make([(pipette, device_make("liquid-handler-3"))], name="auto")
    manual_run = workflow_make([(pipette, device_make("liquid-handler-4"))], name="manual", mode="manual")
    reads = [
        ["get", "/api/devices", None],
        ["get", "/api/workflows", None],
        ["get", f"/api/workflows/{auto_run.pk}", None],
        ["get", "/api/execution-logs", None],
    ]
    writes = [
        ["post", f"/api/workflows/{auto_run.pk}/start", {}],  # enqueues its first action
        ["post", f"/api/workflows/{manual_run.pk}/start", {}],
        ["post", "/api/devices/liquid-handler-1/book", {"workflow_id": manual_run.pk}],
        ["post", f"/api/workflows/{manual_run.pk}/execute-step", {}],
    ]
    private_redis.stop()

    answers = api_calls_with_broker(private_redis.url, token, reads + writes)

    assert [answer["status"] for answer in answers[: len(reads)]] == [200] * len(reads), answers
    for answer in answers[len(reads) :]:
        assert answer["status"] < 500 or (answer["status"] == 503 and int(answer["retry_after"]) > 0), answer
