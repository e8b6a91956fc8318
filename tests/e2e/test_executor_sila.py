"""A protocol run whose incubator is a SiLA 2 server: onboarded with sila_import, driven by a real worker.

The simulator runs in this process on a free loopback port (plain gRPC); the worker runs with
LABCORE_MOCK_HARDWARE=0 and the base settings, so the device goes through its sila2 adapter.
"""

import io

import pytest
from django.core.management import call_command

from devices.models import ActionType
from devices.sila.simulator import SilaSimulator
from executionlogs.models import ExecutionLog
from tests.factories import ProjectFactory, SampleFactory
from tests.workflows.executor_support import (  # noqa: F401 - workers is a fixture
    status_of,
    wait_for,
    wait_status,
    workers_fixture,
)
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


def test_a_sila_server_stopped_mid_command_leaves_the_step_unknown_for_an_operator(workers):
    simulator = SilaSimulator("incubator", insecure=True, latency_scale=1.0).start()
    try:
        call_command(
            "sila_import",
            host="127.0.0.1",
            port=simulator.port,
            device_id="sila-incubator-2",
            insecure=True,
            stdout=io.StringIO(),
        )
        ActionType.objects.filter(name="sila.IncubationControl.Incubate").update(timeout_seconds=4)
        steps = [
            {
                "name": "Incubate",
                "description": "",
                "actions": [
                    {
                        "action_type": "sila.IncubationControl.Incubate",
                        "parameters": {"Duration": 60, "Temperature": 37, "CarbonDioxide": 5},
                        "device": "sila-incubator-2",
                    }
                ],
            }
        ]
        protocol = protocol_publish(protocol=protocol_create(project=ProjectFactory(), name="SiLA long", steps=steps))
        run = workflow_create_from_protocol(name="sila stop", protocol=protocol, samples=[SampleFactory()], priority=1)
        worker = workers(name="sila-stop", **SILA_WORKER)
        workflow_start(workflow=run)
        wait_for(
            lambda: run.run_steps.filter(status=RunStepStatus.WAITING).exists(), timeout=30, what="the command started"
        )
    finally:
        simulator.stop()  # the server goes away while the incubation runs
    wait_status(run, WorkflowStatus.PAUSED, WorkflowStatus.FAILED, WorkflowStatus.COMPLETED, timeout=60, worker=worker)
    step = run.run_steps.get()
    assert status_of(run) == WorkflowStatus.PAUSED and step.status == RunStepStatus.UNKNOWN, step.error
    assert "does not answer" in step.error and "outcome unknown" in step.error and step.attempt == 1
