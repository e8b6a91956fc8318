"""With no broker server at all, real Celery workers still run workflows (kombu's filesystem transport).

This is the laptop default when neither ``CELERY_BROKER_URL`` nor a Redis on 127.0.0.1 exists:
the web process (here ``manage.py run_workflow``) and a real worker process exchange messages
through files under ``.data/broker``.
"""

import os
import shutil
import subprocess
import sys

import pytest

from labcore.services import DATA_DIR
from tests.utils import test_database_url
from tests.workflows.executor_support import workers_fixture  # noqa: F401 - workers is a fixture
from workflows.choices import RunStepStatus, WorkflowStatus
from workflows.models import RunStep, Workflow

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

FILESYSTEM = {"CELERY_BROKER_URL": "filesystem://", "LABCORE_MOCK_LATENCY_SCALE": "0"}


@pytest.fixture
def empty_filesystem_broker():
    """Start from an empty message folder: messages of an earlier run name other databases' rows."""
    shutil.rmtree(DATA_DIR / "broker", ignore_errors=True)
    yield
    shutil.rmtree(DATA_DIR / "broker", ignore_errors=True)


def test_the_demo_protocol_runs_on_the_filesystem_transport(workers, demo_lab, empty_filesystem_broker):
    worker = workers(name="filesystem", env=FILESYSTEM)
    assert "transport:   filesystem://" in worker.log()  # the worker really has no broker server
    completed = subprocess.run(
        [sys.executable, "manage.py", "run_workflow", "MSC passage P3 -> P4", "--samples", "SAMPLE001,SAMPLE002"]
        + ["--timeout", "120"],
        cwd=DATA_DIR.parent,
        env={
            **os.environ,
            **FILESYSTEM,
            "DJANGO_SETTINGS_MODULE": "labcore.settings.test",
            "DATABASE_URL": test_database_url(),
        },
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    workflow = Workflow.objects.get()
    assert workflow.status == WorkflowStatus.COMPLETED
    statuses = set(RunStep.objects.filter(workflow=workflow).values_list("status", flat=True))
    assert statuses == {RunStepStatus.SUCCEEDED}
