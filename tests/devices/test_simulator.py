"""The device simulator: the HTTP contract, its fault switches, and the management command."""

import threading
import time

import pytest
import requests
from django.core.management import CommandError, call_command
from django.db import connections

from devices.choices import DeviceKind
from devices.management.commands.run_device_simulator import Command
from devices.simulator import DeviceSimulator, parse_switches
from devices.simulator.state import ALWAYS
from tests.factories import ActionTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def warm(db):
    return ActionTypeFactory(
        name="incubator.warm",
        device_kind=DeviceKind.INCUBATOR,
        mock_response={"temperature_c": "{temperature_c}"},
        parameter_schema={"type": "object", "properties": {"temperature_c": {"type": "number", "default": 37}}},
        mock_latency_seconds=1.0,
        mock_latency_jitter=0,
    )


@pytest.fixture
def aspirate(db):
    return ActionTypeFactory(name="robot.aspirate", device_kind=DeviceKind.ROBOT_ARM, mock_response={"ok": True})


def post_action(url, action, **body):
    return requests.post(f"{url}/actions", json={"action": action, "parameters": {}, **body}, timeout=5)


def test_parse_switches_reads_names_and_counts():
    assert parse_switches("a, b:2") == {"a": ALWAYS, "b": 2}
    assert parse_switches(["c"]) == {"c": ALWAYS}
    assert parse_switches({"d": True, "e": 3, "f": 0}) == {"d": ALWAYS, "e": 3}
    assert parse_switches("") == {}


def test_action_answers_200_with_the_rendered_result_after_the_scaled_latency(warm):
    with DeviceSimulator([warm], latency_scale=0.05) as simulator:
        started = time.monotonic()
        response = post_action(simulator.url, "incubator.warm", parameters={"temperature_c": 30})
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.json() == {"status": "succeeded", "result": {"temperature_c": 30}}
    assert 0.045 <= elapsed < 0.5


def test_kind_simulator_refuses_actions_of_other_kinds(warm, aspirate):
    with DeviceSimulator([warm, aspirate], kind=DeviceKind.INCUBATOR, latency_scale=0) as simulator:
        assert post_action(simulator.url, "incubator.warm").status_code == 200
        refused = post_action(simulator.url, "robot.aspirate")
    assert refused.status_code == 404
    assert refused.json()["message"] == "unknown action 'robot.aspirate' for this device"


def test_one_process_serves_many_devices_by_path_prefix(warm, aspirate):
    with DeviceSimulator([warm, aspirate], latency_scale=0) as simulator:
        assert post_action(f"{simulator.url}/incubator-1", "incubator.warm").status_code == 200
        assert post_action(f"{simulator.url}/robot-arm-1", "robot.aspirate").status_code == 200
        assert post_action(f"{simulator.url}/robot-arm-1", "robot.aspirate").status_code == 200
        assert requests.get(f"{simulator.url}/robot-arm-1/health", timeout=5).json()["ok"] is True
        stats = requests.get(f"{simulator.url}/_simulator", timeout=5).json()
    assert stats["by_device"] == {"incubator-1": 1, "robot-arm-1": 2}
    assert stats["received"] == {"incubator.warm": 1, "robot.aspirate": 2}


def test_control_endpoint_switches_faults_on_and_resets(warm):
    with DeviceSimulator([warm], latency_scale=0) as simulator:
        control = f"{simulator.url}/_simulator"
        assert requests.post(control, json={"fail": {"incubator.warm": 1}}, timeout=5).json()["fail"] == {
            "incubator.warm": 1
        }
        failed = post_action(simulator.url, "incubator.warm")
        assert failed.status_code == 500 and "simulated device fault" in failed.json()["message"]
        assert post_action(simulator.url, "incubator.warm").status_code == 200  # the count is used up
        stats = requests.post(control, json={"reset": True}, timeout=5).json()
        assert stats["received"] == {} and stats["fail"] == {}
        assert requests.post(control, data=b"not json", timeout=5).status_code == 400
        assert requests.post(control, json={"fail": {"x": "many"}}, timeout=5).status_code == 400


def test_long_operation_is_202_then_running_then_succeeded(db):
    incubate = ActionTypeFactory(
        name="incubate", device_kind=DeviceKind.INCUBATOR, is_long_running=True, mock_latency_seconds=0.1,
        mock_latency_jitter=0, mock_response={"completed": True},
    )  # fmt: skip
    with DeviceSimulator([incubate], latency_scale=1.0) as simulator:
        started = post_action(simulator.url, "incubate")
        assert started.status_code == 202
        operation_id = started.json()["operation_id"]
        assert started.json()["status"] == "running"
        assert requests.get(f"{simulator.url}/operations/{operation_id}", timeout=5).json()["status"] == "running"
        time.sleep(0.11)
        done = requests.get(f"{simulator.url}/operations/{operation_id}", timeout=5).json()
        missing = requests.get(f"{simulator.url}/operations/unknown", timeout=5)
    assert done == {"operation_id": operation_id, "status": "succeeded", "result": {"completed": True}}
    assert missing.status_code == 404


def test_hanging_action_is_released_when_the_simulator_stops(warm):
    simulator = DeviceSimulator([warm], latency_scale=0, hang={"incubator.warm": ALWAYS}, hang_seconds=30).start()
    with pytest.raises(requests.ReadTimeout):
        requests.post(f"{simulator.url}/actions", json={"action": "incubator.warm", "parameters": {}}, timeout=0.2)
    started = time.monotonic()
    simulator.stop()
    assert time.monotonic() - started < 2


def test_bad_requests_are_4xx_json(warm):
    with DeviceSimulator([warm], latency_scale=0) as simulator:
        not_json = requests.post(f"{simulator.url}/actions", data=b"{oops", timeout=5)
        bad_parameters = post_action(simulator.url, "incubator.warm", parameters={"temperature_c": "hot"})
        nowhere = requests.get(f"{simulator.url}/nowhere", timeout=5)
    assert not_json.status_code == 400
    assert bad_parameters.status_code == 422 and "invalid parameters" in bad_parameters.json()["message"]
    assert nowhere.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_management_command_serves_the_registry_until_stopped(db):
    ActionTypeFactory(name="plate_read", device_kind=DeviceKind.PLATE_READER, mock_response={"wells_read": 96})
    command = Command()

    def serve():
        try:
            call_command(command, "--kind", "plate_reader", "--port", "0", "--latency-scale", "0")
        finally:
            connections.close_all()  # this thread's connection, so the test database can be dropped

    runner = threading.Thread(target=serve, daemon=True)
    runner.start()
    assert command.ready.wait(10)
    try:
        url = command.simulator.url
        assert url.startswith("http://127.0.0.1:")
        response = post_action(url, "plate_read")
        assert response.json() == {"status": "succeeded", "result": {"wells_read": 96}}
        assert requests.get(f"{url}/health", timeout=5).json()["kind"] == "plate_reader"
    finally:
        command.stop()
        runner.join(5)
    assert not runner.is_alive()


def test_management_command_refuses_an_empty_registry(db):
    with pytest.raises(CommandError, match="no action types registered for vision"):
        call_command("run_device_simulator", "--kind", "vision", "--port", "0")


def test_management_command_needs_a_kind_or_all(db):
    with pytest.raises(CommandError):
        call_command("run_device_simulator", "--port", "0")
