"""The http adapter drives the shipped device simulator over loopback, from a real Celery worker.

The worker runs with LABCORE_MOCK_HARDWARE=0 (the base settings, not the test overlay that
forces the mock), so every device goes through its ``http`` adapter to the simulator.
"""

import pytest

from devices.choices import AdapterName
from devices.models import ActionType, Device
from devices.simulator import DeviceSimulator
from executionlogs.models import CellAnalysisResult, ExecutionLog
from tests.workflows.executor_support import status_of, wait_status, workers_fixture  # noqa: F401 - fixture
from workflows.choices import RunStepStatus, WorkflowStatus
from workflows.models import Protocol, RunStep, Workflow

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

HTTP_WORKER = {"env": {"LABCORE_MOCK_HARDWARE": "0"}, "settings_module": "labcore.settings.dev"}


@pytest.fixture
def simulator(demo_lab):
    with DeviceSimulator(list(ActionType.objects.all()), latency_scale=0.02) as sim:
        for device in Device.objects.all():
            device.adapter = AdapterName.HTTP
            device.endpoint = f"{sim.url}/{device.pk}"
            device.config = {"http": {"retries": 1, "backoff_seconds": 0.05}}
            device.save()
        yield sim


def demo_run(api_client, barcodes=("SAMPLE001", "SAMPLE002")) -> Workflow:
    protocol = Protocol.objects.get(name="MSC passage P3 -> P4")
    body = {"name": "over http", "protocol": protocol.pk, "sample_barcodes": list(barcodes), "priority": "urgent"}
    created = api_client.post("/api/workflows", body, format="json")
    assert created.status_code == 201, created.json()
    workflow = Workflow.objects.get(pk=created.json()["id"])
    assert api_client.post(f"/api/workflows/{workflow.pk}/start").status_code == 200
    return workflow


def test_the_http_adapter_runs_the_demo_protocol_against_the_simulator(workers, simulator, api_client):
    worker = workers(name="http", **HTTP_WORKER)
    workflow = demo_run(api_client)
    wait_status(
        workflow, WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.PAUSED, timeout=60, worker=worker
    )
    assert status_of(workflow) == WorkflowStatus.COMPLETED, Workflow.objects.get(pk=workflow.pk).status_reason
    assert RunStep.objects.filter(workflow=workflow, status=RunStepStatus.SUCCEEDED).count() == 14
    assert ExecutionLog.objects.filter(workflow=workflow, status="success").count() == 14
    executed = simulator.state.stats()["executed"]  # the device really did each action, once
    assert sum(executed.values()) == 14 and executed["robot.aspirate"] == 3
    assert sorted(CellAnalysisResult.objects.filter(workflow=workflow).values_list("sample__barcode", flat=True)) == [
        "SAMPLE001",
        "SAMPLE002",
    ]


def test_a_simulator_answering_500_fails_the_workflow_with_the_reason(workers, simulator, api_client):
    simulator.state.configure({"fail": ["robot.aspirate"]})
    worker = workers(name="http500", **HTTP_WORKER)
    workflow = demo_run(api_client)
    wait_status(workflow, WorkflowStatus.FAILED, WorkflowStatus.COMPLETED, timeout=60, worker=worker)
    failed = Workflow.objects.get(pk=workflow.pk)
    assert failed.status == WorkflowStatus.FAILED and "robot.aspirate" in failed.status_reason
    step = RunStep.objects.get(workflow=workflow, status=RunStepStatus.FAILED)
    assert step.action_type.name == "robot.aspirate" and step.attempt == 1  # not safe to repeat: no retry
    assert ExecutionLog.objects.get(run_step=step).status == "error"
    assert not failed.bookings.filter(status="active").exists()


def test_a_simulator_that_times_out_retries_a_safe_action_then_fails(workers, simulator, api_client):
    ActionType.objects.filter(name="incubator.warm").update(timeout_seconds=0.5, max_retries=1)
    simulator.state.configure({"hang": ["incubator.warm"]})
    worker = workers(
        name="httphang",
        **HTTP_WORKER,
    )
    workflow = demo_run(api_client)
    wait_status(workflow, WorkflowStatus.FAILED, WorkflowStatus.COMPLETED, timeout=60, worker=worker)
    failed = Workflow.objects.get(pk=workflow.pk)
    assert failed.status == WorkflowStatus.FAILED and "timeout" in failed.status_reason
    step = RunStep.objects.get(workflow=workflow, position=1)
    assert step.status == RunStepStatus.FAILED and step.attempt == 2  # safe to repeat: retried once
    assert list(ExecutionLog.objects.filter(run_step=step).values_list("status", flat=True)) == ["timeout", "timeout"]
