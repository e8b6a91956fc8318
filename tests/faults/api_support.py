"""API calls made by a fresh web process whose broker and cache (throttling counts there, turned on
here) are a Redis the fault test started: the outage is seen by that process only, never by the
test session's own Redis."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.utils import test_database_url

ROOT = Path(__file__).resolve().parents[2]

# Calls ``calls`` once, then the GETs among them again and again until ``repeat_seconds`` have
# passed since the start; prints every answer as one JSON line.
API_CALLS_IN_A_FRESH_PROCESS = """
import django, json, os, sys, time
django.setup()
from django.conf import settings
from rest_framework.test import APIClient
settings.LABCORE_API_THROTTLE_RATE = "1200/minute"
client = APIClient(HTTP_HOST="localhost", raise_request_exception=False)
client.credentials(HTTP_AUTHORIZATION="Bearer " + os.environ["TEST_TOKEN"])
calls, repeat_seconds = json.loads(sys.argv[1]), float(sys.argv[2])
started, answers = time.monotonic(), []
def call(method, path, body):
    response = getattr(client, method)(path, body, format="json") if body is not None else getattr(client, method)(path)
    answers.append({"call": f"{method.upper()} {path}", "status": response.status_code,
                    "retry_after": response.get("Retry-After")})
for method, path, body in calls:
    call(method, path, body)
reads = [spec for spec in calls if spec[0] == "get"]
while reads and time.monotonic() - started < repeat_seconds:
    for method, path, body in reads:
        call(method, path, body)
    time.sleep(0.25)
print(json.dumps(answers))
"""


def api_calls_command(broker_url: str, token: str, calls: list, *, repeat_seconds: float = 0) -> tuple[list, dict]:
    """The command line and environment of a process making ``calls`` (see the script above)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "labcore.settings.test",
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": broker_url,
        "TEST_TOKEN": token,
    }
    return [sys.executable, "-c", API_CALLS_IN_A_FRESH_PROCESS, json.dumps(calls), str(repeat_seconds)], env


def api_answers(completed_stdout: str) -> list[dict]:
    return json.loads(completed_stdout.strip().splitlines()[-1])


def api_calls_with_broker(broker_url: str, token: str, calls: list) -> list[dict]:
    command, env = api_calls_command(broker_url, token, calls)
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    return api_answers(completed.stdout)
