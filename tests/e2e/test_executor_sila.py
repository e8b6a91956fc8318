"""A protocol run whose incubator is a SiLA 2 server: onboarded with sila_import, driven by a real worker.

The simulator runs in this process on a free loopback port (plain gRPC); the worker runs with
LABCORE_MOCK_HARDWARE=0 and the base settings, so the device goes through its sila2 adapter.
"""

import io

import pytest
from django.core.management import call_command

from devices.sila.simulator import SilaSimulator
from executionlogs.models import ExecutionLog
from tests.factories import ProjectFactory, SampleFactory
from tests.workflows.executor_support import status_of, wait_status, workers_fixture  # noqa: F401 - fixture
from workflows.choices import RunStepStatus, WorkflowStatus
from workflows.services.creation import workflow_create_from_protocol
from workflows.services.execution import workflow_start
from workflows.services.protocols import protocol_create, protocol_publish

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SILA_WORKER = {"env": {"LABCORE_MOCK_HARDWARE": "0"}, "settings_module": "labcore.settings.dev"}


def test_a_protocol_run_drives_a_sila_incubator_through_an_observable_command(workers):
    with SilaSimulator("incubator", insecure=True, latency_scale=0.2) as simulator:
        out = io.StringIO()
        call_command(
            "sila_import", host="127.0.0.1", port=simulator.port, device_id="sila-incubator", insecure=True, stdout=out
        )
        steps = [
            {
                "name": "Warm up",
                "description": "",
                "actions": [
                    {
                        "action_type": "sila.TemperatureController.SetTargetTemperature",
                        "parameters": {"TargetTemperature": 37},
                        "device": "sila-incubator",
                    }
                ],
            },
            {
                "name": "Incubate",
                "description": "",
                "actions": [
                    {
                        "action_type": "sila.IncubationControl.Incubate",
                        "parameters": {"Duration": 2, "Temperature": 37, "CarbonDioxide": 5},
                        "device": "sila-incubator",
                    }
                ],
            },
        ]
        protocol = protocol_publish(protocol=protocol_create(project=ProjectFactory(), name="SiLA warm", steps=steps))
        run = workflow_create_from_protocol(name="sila", protocol=protocol, samples=[SampleFactory()], priority=1)
        worker = workers(name="sila", **SILA_WORKER)
        workflow_start(workflow=run)
        wait_status(
            run, WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.PAUSED, timeout=60, worker=worker
        )
    assert status_of(run) == WorkflowStatus.COMPLETED, run.run_steps.values_list("status", "error")
    assert list(run.run_steps.order_by("position").values_list("status", flat=True)) == [RunStepStatus.SUCCEEDED] * 2
    incubate = ExecutionLog.objects.get(workflow=run, action_type="sila.IncubationControl.Incubate")
    assert incubate.status == "success" and incubate.response, incubate.response
    assert incubate.latency_ms >= 300  # observed as a long operation, polled to its end
