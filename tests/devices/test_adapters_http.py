"""The http adapter against the shipped device simulator over loopback, and adapter_for()."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from devices.adapters import AdapterError, DispatchContext, DispatchStatus, adapter_for
from devices.adapters.http import HttpAdapter
from devices.adapters.mock import MockAdapter
from devices.adapters.responses import vision_results
from devices.choices import AdapterName, DeviceKind
from devices.models import Device
from devices.simulator import DeviceSimulator
from tests.factories import ActionTypeFactory, DeviceFactory

pytestmark = pytest.mark.django_db

CONTEXT = DispatchContext(workflow_id=1, run_step_id=2, attempt_id="attempt-1", attempt=1)


@pytest.fixture
def action_types(db):
    return {
        "aspirate": ActionTypeFactory(
            name="robot.aspirate",
            device_kind=DeviceKind.ROBOT_ARM,
            parameter_schema={
                "type": "object",
                "properties": {"volume_ul": {"type": "number", "exclusiveMinimum": 0}},
                "required": ["volume_ul"],
            },
            mock_response={"aspirated_ul": "{volume_ul}"},
            timeout_seconds=0.5,
            safe_to_repeat=False,
        ),
        "read": ActionTypeFactory(
            name="plate_read",
            device_kind=DeviceKind.PLATE_READER,
            mock_response={"wells_read": 96},
            timeout_seconds=0.5,
            safe_to_repeat=True,
        ),
        "incubate": ActionTypeFactory(
            name="incubate",
            device_kind=DeviceKind.INCUBATOR,
            is_long_running=True,
            mock_response={"completed": True},
            mock_latency_seconds=2.0,
            mock_latency_jitter=0,
            timeout_seconds=30,
        ),
        "vision": ActionTypeFactory(
            name="vision.analyse", device_kind=DeviceKind.VISION, mock_response={"model": "msc-v2"}
        ),
    }


@pytest.fixture
def simulator(action_types):
    with DeviceSimulator(action_types.values(), latency_scale=0.05, hang_seconds=5) as running:
        yield running


def http_device(url, **config):
    http_options = {"backoff_seconds": 0.01, **config}
    return DeviceFactory(adapter=AdapterName.HTTP, endpoint=url, config={"http": http_options})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- success paths ---------------------------------------------------------------------------


def test_short_action_succeeds_with_the_device_result(simulator, action_types):
    adapter = HttpAdapter(http_device(f"{simulator.url}/robot-arm-1"))
    result = adapter.dispatch(action_type=action_types["aspirate"], parameters={"volume_ul": 200}, context=CONTEXT)
    assert result.status == DispatchStatus.SUCCESS, result.error
    assert result.response == {"aspirated_ul": 200}
    assert result.request["action"] == "robot.aspirate" and result.request["attempt_id"] == "attempt-1"
    assert result.extra == {"http_status": 200, "http_attempts": 1}
    assert simulator.state.by_device == {"robot-arm-1": 1}


def test_vision_over_http_matches_the_mock_model(simulator, action_types):
    context = DispatchContext(sample_barcodes=("SAMPLE001", "SAMPLE002"))
    parameters = {"hours_in_culture": 36}
    result = HttpAdapter(http_device(simulator.url)).dispatch(
        action_type=action_types["vision"], parameters=parameters, context=context
    )
    assert result.status == DispatchStatus.SUCCESS
    assert result.response["results"] == vision_results(["SAMPLE001", "SAMPLE002"], parameters=parameters)


def test_long_operation_is_answered_202_then_polled_to_success(simulator, action_types):
    device = http_device(simulator.url)
    incubate = action_types["incubate"]
    started = time.monotonic()
    pending = HttpAdapter(device).dispatch(action_type=incubate, parameters={}, context=CONTEXT)
    assert time.monotonic() - started < 0.09  # the start returns before the 0.1 s operation ends
    assert pending.status == DispatchStatus.PENDING, pending.error
    assert pending.extra["http_status"] == 202
    assert 0 < pending.poll_after_seconds <= 0.1

    running = HttpAdapter(device).poll(action_type=incubate, operation_id=pending.operation_id, context=CONTEXT)
    assert running.status == DispatchStatus.PENDING
    time.sleep(0.11)
    done = HttpAdapter(device).poll(action_type=incubate, operation_id=pending.operation_id, context=CONTEXT)
    assert done.status == DispatchStatus.SUCCESS and done.response == {"completed": True}
    assert done.operation_id == pending.operation_id


def test_same_attempt_id_is_acted_on_once(simulator, action_types):
    adapter = HttpAdapter(http_device(simulator.url))
    first = adapter.dispatch(action_type=action_types["aspirate"], parameters={"volume_ul": 5}, context=CONTEXT)
    again = adapter.dispatch(action_type=action_types["aspirate"], parameters={"volume_ul": 5}, context=CONTEXT)
    assert first.response == again.response == {"aspirated_ul": 5}
    assert simulator.state.received["robot.aspirate"] == 2
    assert simulator.state.executed["robot.aspirate"] == 1


# -- failure paths ---------------------------------------------------------------------------


def test_simulator_500_is_an_error_with_the_device_message(simulator, action_types):
    simulator.state.configure({"fail": ["robot.aspirate"]})
    result = HttpAdapter(http_device(simulator.url)).dispatch(
        action_type=action_types["aspirate"], parameters={"volume_ul": 5}, context=CONTEXT
    )
    assert result.status == DispatchStatus.ERROR
    assert result.error == "device error HTTP 500: simulated device fault during robot.aspirate"
    assert result.extra["http_status"] == 500


def test_hanging_device_times_out_within_the_type_timeout(simulator, action_types):
    simulator.state.configure({"hang": ["plate_read"]})
    started = time.monotonic()
    result = HttpAdapter(http_device(simulator.url)).dispatch(
        action_type=action_types["read"], parameters={}, context=CONTEXT
    )
    elapsed = time.monotonic() - started
    assert result.status == DispatchStatus.TIMEOUT
    assert "within 0.5 s" in result.error
    assert 0.5 <= elapsed < 1.2
    # A read timeout is never sent again, even for a safe type: the device may have acted.
    assert simulator.state.received["plate_read"] == 1


def test_safe_to_repeat_action_is_retried_on_5xx_until_it_gives_up(simulator, action_types):
    simulator.state.configure({"fail": ["plate_read"]})
    result = HttpAdapter(http_device(simulator.url, retries=2)).dispatch(
        action_type=action_types["read"], parameters={}, context=CONTEXT
    )
    assert result.status == DispatchStatus.ERROR and "HTTP 500" in result.error
    assert result.extra["http_attempts"] == 3
    assert simulator.state.received["plate_read"] == 3


def test_safe_to_repeat_action_succeeds_on_a_retry(simulator, action_types):
    simulator.state.configure({"fail": {"plate_read": 1}})
    result = HttpAdapter(http_device(simulator.url)).dispatch(
        action_type=action_types["read"], parameters={}, context=CONTEXT
    )
    assert result.status == DispatchStatus.SUCCESS and result.response == {"wells_read": 96}
    assert result.extra["http_attempts"] == 2
    assert simulator.state.received["plate_read"] == 2 and simulator.state.executed["plate_read"] == 1


def test_action_not_safe_to_repeat_is_never_retried(simulator, action_types):
    simulator.state.configure({"fail": {"robot.aspirate": 1}})
    result = HttpAdapter(http_device(simulator.url, retries=5)).dispatch(
        action_type=action_types["aspirate"], parameters={"volume_ul": 5}, context=CONTEXT
    )
    assert result.status == DispatchStatus.ERROR
    assert simulator.state.received["robot.aspirate"] == 1


def test_4xx_is_an_error_with_the_message_and_not_retried(simulator, action_types):
    action_types["read"].parameter_schema = {"type": "object", "additionalProperties": False}
    action_types["read"].save()
    with DeviceSimulator([action_types["read"]], latency_scale=0) as strict:
        result = HttpAdapter(http_device(strict.url)).dispatch(
            action_type=action_types["read"], parameters={"bogus": 1}, context=CONTEXT
        )
        assert strict.state.received["plate_read"] == 0  # refused before it counted as an action
    assert result.status == DispatchStatus.ERROR
    assert result.error.startswith("device refused the request, HTTP 422: invalid parameters")


def test_unknown_action_is_a_404_error(action_types):
    with DeviceSimulator([action_types["read"]], kind=DeviceKind.PLATE_READER, latency_scale=0) as reader:
        result = HttpAdapter(http_device(reader.url)).dispatch(
            action_type=action_types["aspirate"], parameters={"volume_ul": 1}, context=CONTEXT
        )
    assert result.status == DispatchStatus.ERROR
    assert "HTTP 404: unknown action 'robot.aspirate'" in result.error


def test_connection_refused_is_an_error(action_types):
    url = f"http://127.0.0.1:{free_port()}"
    result = HttpAdapter(http_device(url)).dispatch(
        action_type=action_types["aspirate"], parameters={"volume_ul": 5}, context=CONTEXT
    )
    assert result.status == DispatchStatus.ERROR
    assert result.error == f"could not connect to {url}/actions: connection refused"
    assert result.extra["http_attempts"] == 1


def test_connection_refused_is_retried_for_a_safe_type(action_types):
    result = HttpAdapter(http_device(f"http://127.0.0.1:{free_port()}", retries=2)).dispatch(
        action_type=action_types["read"], parameters={}, context=CONTEXT
    )
    assert result.status == DispatchStatus.ERROR and "connection refused" in result.error
    assert result.extra["http_attempts"] == 3


def test_invalid_json_is_an_error_that_quotes_the_body(action_types):
    class NotJson(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b"<html>oh!")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotJson)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        result = HttpAdapter(http_device(f"http://127.0.0.1:{server.server_address[1]}")).dispatch(
            action_type=action_types["read"], parameters={}, context=CONTEXT
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.status == DispatchStatus.ERROR
    assert "answered HTTP 200 with invalid JSON: '<html>oh!'" in result.error


def test_failed_long_operation_is_an_error(simulator, action_types):
    simulator.state.configure({"fail_operations": ["incubate"], "latency_scale": 0})
    device = http_device(simulator.url)
    pending = HttpAdapter(device).dispatch(action_type=action_types["incubate"], parameters={}, context=CONTEXT)
    result = HttpAdapter(device).poll(
        action_type=action_types["incubate"], operation_id=pending.operation_id, context=CONTEXT
    )
    assert result.status == DispatchStatus.ERROR
    assert result.error == "device reports incubate failed: simulated failure of incubate while it ran"


def test_long_operation_that_never_ends_times_out_at_the_type_timeout(simulator, action_types):
    incubate = action_types["incubate"]
    incubate.timeout_seconds = 0.2
    simulator.state.configure({"hang": ["incubate"]})
    device = http_device(simulator.url)
    pending = HttpAdapter(device).dispatch(action_type=incubate, parameters={}, context=CONTEXT)
    assert pending.status == DispatchStatus.PENDING
    polled = HttpAdapter(device).poll(action_type=incubate, operation_id=pending.operation_id, context=CONTEXT)
    assert polled.status == DispatchStatus.PENDING and polled.poll_after_seconds <= 0.2
    time.sleep(0.2)
    result = HttpAdapter(device).poll(action_type=incubate, operation_id=pending.operation_id, context=CONTEXT)
    assert result.status == DispatchStatus.TIMEOUT and "did not complete within 0.2 s" in result.error


def test_poll_keeps_the_operation_when_the_device_is_unreachable(action_types):
    incubate = action_types["incubate"]
    device = http_device(f"http://127.0.0.1:{free_port()}", retries=0)
    operation_id = f"{time.time() + 60:.3f}:abc"
    result = HttpAdapter(device).poll(action_type=incubate, operation_id=operation_id, context=CONTEXT)
    assert result.status == DispatchStatus.PENDING
    assert "connection refused" in result.error and result.extra["poll_failed"] is True


def test_polling_an_unknown_operation_is_an_error(simulator, action_types):
    operation_id = f"{time.time() + 60:.3f}:nope"
    result = HttpAdapter(http_device(simulator.url)).poll(
        action_type=action_types["incubate"], operation_id=operation_id, context=CONTEXT
    )
    assert result.status == DispatchStatus.ERROR and "HTTP 404: unknown operation 'nope'" in result.error


def test_device_without_endpoint_fails_each_dispatch_clearly(action_types):
    device = DeviceFactory(adapter=AdapterName.HTTP, endpoint="")
    result = HttpAdapter(device).dispatch(action_type=action_types["read"], parameters={}, context=CONTEXT)
    assert result.status == DispatchStatus.ERROR and result.error == f"device {device.pk} has no endpoint configured"


def test_configured_headers_are_sent(action_types):
    seen = {}

    class Echo(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.update(self.headers)
            self.send_response(200)
            self.send_header("Content-Length", "11")
            self.end_headers()
            self.wfile.write(b'{"ok": true}'[:11])

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        device = http_device(f"http://127.0.0.1:{server.server_address[1]}", headers={"X-Api-Key": "k1"})
        HttpAdapter(device).health()
    finally:
        server.shutdown()
        server.server_close()
    assert seen["X-Api-Key"] == "k1"


# -- health ----------------------------------------------------------------------------------


def test_health_reports_the_simulator_state(simulator):
    adapter = HttpAdapter(http_device(simulator.url))
    assert adapter.health() == {"ok": True, "detail": "simulated device ready"}
    simulator.state.configure({"healthy": False})
    health = adapter.health()
    assert health["ok"] is False and "HTTP 503" in health["detail"]


def test_health_of_an_unreachable_device_says_why():
    health = HttpAdapter(http_device(f"http://127.0.0.1:{free_port()}")).health()
    assert health["ok"] is False and "connection refused" in health["detail"]


# -- choosing an adapter ---------------------------------------------------------------------


def test_adapter_for_gives_every_device_the_mock_when_mock_hardware_is_on(settings):
    settings.LABCORE_MOCK_HARDWARE = True
    assert isinstance(adapter_for(http_device("http://127.0.0.1:1")), MockAdapter)
    assert isinstance(adapter_for(DeviceFactory()), MockAdapter)


def test_adapter_for_uses_the_device_adapter_when_mock_hardware_is_off(settings):
    settings.LABCORE_MOCK_HARDWARE = False
    assert isinstance(adapter_for(http_device("http://127.0.0.1:1")), HttpAdapter)
    assert isinstance(adapter_for(DeviceFactory(adapter=AdapterName.MOCK)), MockAdapter)


def test_adapter_for_refuses_an_adapter_missing_from_settings(settings):
    settings.LABCORE_MOCK_HARDWARE = False
    settings.LABCORE_ADAPTERS = {"mock": "devices.adapters.mock.MockAdapter"}
    device = Device.objects.get(pk=http_device("http://127.0.0.1:1").pk)
    with pytest.raises(AdapterError, match="no adapter named 'http'"):
        adapter_for(device)


def test_the_simulator_is_reachable_only_on_loopback(simulator):
    assert simulator.server.server_address[0] == "127.0.0.1"
    assert requests.get(f"{simulator.url}/health", timeout=2).json()["ok"] is True


def test_every_demo_action_runs_through_the_simulator_in_protocol_order(demo_lab):
    from devices.models import ActionType
    from workflows.demo_data import PROTOCOL

    samples = ("SAMPLE001", "SAMPLE002")
    plan = [action for _step, actions in PROTOCOL["steps"] for action in actions]
    with DeviceSimulator(ActionType.objects.all(), latency_scale=0) as simulator:
        for number, (name, parameters, device_id) in enumerate(plan):
            device = Device.objects.get(pk=device_id)
            device.adapter, device.endpoint = AdapterName.HTTP, f"{simulator.url}/{device_id}"
            action_type = ActionType.objects.get(name=name)
            context = DispatchContext(workflow_id=1, attempt_id=f"run-1-{number}", sample_barcodes=samples)
            result = HttpAdapter(device).dispatch(action_type=action_type, parameters=parameters, context=context)
            if action_type.is_long_running:
                assert result.status == DispatchStatus.PENDING, result.error
                result = HttpAdapter(device).poll(
                    action_type=action_type, operation_id=result.operation_id, context=context
                )
            assert result.status == DispatchStatus.SUCCESS, (name, result.error)
            if name == "vision.analyse":
                assert [row["sample"] for row in result.response["results"]] == list(samples)
        assert sum(simulator.state.executed.values()) == len(plan) == 14
        assert simulator.state.by_device["robot-arm-1"] == 6


@pytest.mark.parametrize(
    ("payload", "stored"),
    [
        (
            b'{"state": "succeeded", "result": {"note": "a\\u0000b", "k\\u0000": 1}}',
            {"note": "a\\u0000b", "k\\u0000": 1},
        ),
        (
            b'{"state": "succeeded", "result": {"od": NaN, "max": 1e400, "ok": 1.5}}',
            {"od": "NaN", "max": "1e400", "ok": 1.5},
        ),
    ],
)
def test_a_device_answer_postgresql_cannot_store_is_kept_as_text_and_logged(
    api_client, action_types, settings, payload, stored
):
    # A device answering U+0000 or NaN made the execution log write fail (jsonb) after the action ran.
    from executionlogs.models import ExecutionLog

    settings.LABCORE_MOCK_HARDWARE = False

    class Odd(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Odd)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        device = http_device(f"http://127.0.0.1:{server.server_address[1]}")
        device.kind = DeviceKind.PLATE_READER
        device.save()
        response = api_client.post(f"/api/devices/{device.pk}/execute", {"operation": "plate_read"}, format="json")
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code == 200, response.content
    log = ExecutionLog.objects.get(pk=response.json()["execution_log_id"])
    assert log.response["result"] == stored
