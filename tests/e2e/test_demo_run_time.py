"""The demo protocol, at real mock latencies (scale 1), runs end to end in 5 to 30 seconds.

The demo is meant to be watched: long enough to see it move in the admin, short enough to wait for.
"""

import time

import pytest

from tests.workflows.executor_support import wait_status, workers_fixture  # noqa: F401 - workers is a fixture
from workflows.choices import WorkflowStatus
from workflows.models import Protocol
from workflows.services.creation import workflow_create_from_protocol
from workflows.services.execution import workflow_start

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_the_demo_protocol_takes_5_to_30_seconds_at_real_mock_latencies(workers, demo_lab):
    from samples.models import Sample

    worker = workers(name="demo-time", env={"LABCORE_MOCK_LATENCY_SCALE": "1"})
    workflow = workflow_create_from_protocol(
        name="demo timing",
        protocol=Protocol.objects.get(name="MSC passage P3 -> P4"),
        samples=list(Sample.objects.filter(barcode__in=["SAMPLE001", "SAMPLE002"])),
        priority=1,
    )
    started = time.monotonic()
    workflow_start(workflow=workflow)
    finished = (WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.PAUSED)
    wait_status(workflow, *finished, timeout=60, worker=worker)
    elapsed = time.monotonic() - started
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.COMPLETED, workflow.status_reason
    assert 5 <= elapsed <= 30, f"the demo took {elapsed:.1f} s"
