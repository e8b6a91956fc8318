"""The sila2 adapter, sila_import and the SiLA 2 simulator, end to end on loopback."""

import io
import threading
import time

import pytest
from django.core.management import call_command

from devices.adapters import DispatchContext, DispatchStatus, adapter_for
from devices.adapters.contract import action_request
from devices.adapters.mock import MockAdapter
from devices.adapters.sila2 import Sila2Adapter
from devices.choices import AdapterName, DeviceKind
from devices.management.commands.run_sila_simulator import Command as RunSilaSimulator
from devices.models import ActionType, Device
from devices.sila.definitions import parameter_schema, shipped_feature
from devices.sila.simulator import SilaSimulator
from tests.factories import ActionTypeFactory, DeviceFactory

pytestmark = pytest.mark.django_db

CONTEXT = DispatchContext(workflow_id=1, run_step_id=2, attempt_id="attempt-1", attempt=1)


@pytest.fixture
def incubator():
    with SilaSimulator("incubator", insecure=True, latency_scale=0) as simulator:
        yield simulator


@pytest.fixture
def tls_incubator(tmp_path):
    with SilaSimulator("incubator", latency_scale=0) as simulator:
        ca = tmp_path / "ca.pem"
        ca.write_bytes(simulator.ca_certificate)
        simulator.ca_path = str(ca)
        yield simulator


def imported(simulator, device_id="incubator-sila", **tls) -> Device:
    out = io.StringIO()
    call_command("sila_import", host="127.0.0.1", port=simulator.port, device_id=device_id, stdout=out, **tls)
    return Device.objects.get(pk=device_id)


def poll_to_completion(adapter, action_type, result, limit=20.0):
    deadline = time.monotonic() + limit
    polls = []
    while not result.is_final and time.monotonic() < deadline:
        time.sleep(min(result.poll_after_seconds, 0.2))
        result = adapter.poll(action_type=action_type, operation_id=result.operation_id, context=CONTEXT)
        polls.append(result)
    return result, polls


# -- the JSON Schema of a feature definition --------------------------------------------------


def test_parameter_schema_carries_types_constraints_and_units():
    feature = shipped_feature("IncubationControl")
    schema = parameter_schema(feature.commands["Incubate"], feature)
    assert schema["required"] == ["Duration", "Temperature", "CarbonDioxide"]
    assert schema["additionalProperties"] is False
    temperature = schema["properties"]["Temperature"]
    assert (temperature["type"], temperature["minimum"], temperature["maximum"]) == ("number", 4, 45)
    assert "[unit: degC]" in temperature["description"]
    imaging = shipped_feature("ImagingControl")
    images = parameter_schema(imaging.commands["AcquireImages"], imaging)["properties"]
    assert images["Magnification"] == {**images["Magnification"], "type": "integer", "enum": [4, 10, 20, 40]}
    assert images["Channels"]["type"] == "array"
    assert images["Channels"]["items"] == {"type": "string", "minLength": 1, "maxLength": 40}


# -- onboarding --------------------------------------------------------------------------------


def test_sila_import_registers_the_device_and_one_action_type_per_command(incubator):
    out = io.StringIO()
    call_command("sila_import", host="127.0.0.1", port=incubator.port, device_id="inc-9", insecure=True, stdout=out)
    device = Device.objects.get(pk="inc-9")
    assert (device.adapter, device.kind) == (AdapterName.SILA2, DeviceKind.INCUBATOR)
    assert device.config == {"host": "127.0.0.1", "port": incubator.port, "insecure": True}
    names = set(ActionType.objects.filter(name__startswith="sila.").values_list("name", flat=True))
    assert names == {
        "sila.TemperatureController.SetTargetTemperature",
        "sila.TemperatureController.CurrentTemperature",
        "sila.IncubationControl.Incubate",
    }
    incubate = ActionType.objects.get(name="sila.IncubationControl.Incubate")
    assert incubate.is_long_running and not incubate.safe_to_repeat
    assert ActionType.objects.get(name="sila.TemperatureController.CurrentTemperature").safe_to_repeat
    assert "device inc-9: created" in out.getvalue()
    assert "action type sila.IncubationControl.Incubate: created" in out.getvalue()


def test_sila_import_is_idempotent_and_keeps_operator_tuning(incubator):
    imported(incubator, insecure=True)
    ActionType.objects.filter(name="sila.IncubationControl.Incubate").update(timeout_seconds=99)
    out = io.StringIO()
    call_command(
        "sila_import", host="127.0.0.1", port=incubator.port, device_id="incubator-sila", insecure=True, stdout=out
    )
    assert "device incubator-sila: unchanged" in out.getvalue()
    assert "created" not in out.getvalue() and "updated" not in out.getvalue()
    assert ActionType.objects.get(name="sila.IncubationControl.Incubate").timeout_seconds == 99


def test_sila_import_with_wrong_tls_settings_is_a_clear_error(tls_incubator):
    with pytest.raises(Exception, match="SiLA connection error.*plain gRPC"):
        call_command("sila_import", host="127.0.0.1", port=tls_incubator.port, insecure=True, stdout=io.StringIO())
    assert not Device.objects.exists()


# -- dispatch through the adapter -----------------------------------------------------------------


def test_unobservable_command_returns_its_responses_over_tls(tls_incubator):
    device = imported(tls_incubator, ca_cert=tls_incubator.ca_path)
    action_type = ActionType.objects.get(name="sila.TemperatureController.SetTargetTemperature")
    parameters = {"TargetTemperature": 30}
    result = Sila2Adapter(device).dispatch(action_type=action_type, parameters=parameters, context=CONTEXT)
    assert result.status == DispatchStatus.SUCCESS, result.error
    assert result.response == {"TargetTemperature": 30.0, "Stable": True}
    assert result.request == action_request(action_type=action_type, parameters=parameters, context=CONTEXT)
    assert result.extra["sila_call"] == "TemperatureController/SetTargetTemperature"


def test_a_property_is_read_as_an_action(incubator):
    device = imported(incubator, insecure=True)
    action_type = ActionType.objects.get(name="sila.TemperatureController.CurrentTemperature")
    result = Sila2Adapter(device).dispatch(action_type=action_type, parameters={}, context=CONTEXT)
    assert (result.status, result.response) == (DispatchStatus.SUCCESS, {"CurrentTemperature": 37.0})


def test_observable_command_is_polled_to_completion_by_any_adapter_instance(incubator):
    incubator.state.latency_scale = 1.0  # Duration seconds of real time
    device = imported(incubator, insecure=True)
    action_type = ActionType.objects.get(name="sila.IncubationControl.Incubate")
    parameters = {"Duration": 0.6, "Temperature": 37, "CarbonDioxide": 5}
    started = Sila2Adapter(device).dispatch(action_type=action_type, parameters=parameters, context=CONTEXT)
    assert started.status == DispatchStatus.PENDING, started.error
    execution_uuid = started.response["command_execution_uuid"]
    assert started.operation_id.endswith(f"IncubationControl/Incubate/{execution_uuid}")
    final, polls = poll_to_completion(Sila2Adapter(device), action_type, started)
    assert final.status == DispatchStatus.SUCCESS, final.error
    assert final.response == {"Completed": True, "IncubatedSeconds": 0.6}
    running = [poll for poll in polls if poll.status == DispatchStatus.PENDING]
    assert running and running[-1].response["sila_status"] == "running"
    assert 0 < running[-1].response["progress"] <= 1
    assert running[-1].response["estimated_remaining_seconds"] is not None


def test_microscope_imaging_is_an_observable_command():
    with SilaSimulator("microscope", insecure=True, latency_scale=0.2) as microscope:
        device = imported(microscope, device_id="microscope-sila", insecure=True)
        assert device.kind == DeviceKind.MICROSCOPE
        action_type = ActionType.objects.get(name="sila.ImagingControl.AcquireImages")
        adapter = Sila2Adapter(device)
        started = adapter.dispatch(
            action_type=action_type, parameters={"Magnification": 10, "Channels": ["brightfield"]}, context=CONTEXT
        )
        final, _ = poll_to_completion(adapter, action_type, started)
    assert final.status == DispatchStatus.SUCCESS, final.error
    assert final.response == {"Images": 96, "Channels": ["brightfield"]}


# -- failures are results, never exceptions ----------------------------------------------------


def test_a_sila_validation_error_is_a_clear_failure(incubator):
    device = imported(incubator, insecure=True)
    action_type = ActionType.objects.get(name="sila.TemperatureController.SetTargetTemperature")
    result = Sila2Adapter(device).dispatch(
        action_type=action_type, parameters={"TargetTemperature": 99}, context=CONTEXT
    )
    assert result.status == DispatchStatus.ERROR
    assert result.error.startswith("SiLA validation error")
    assert "MaximalInclusive" in result.error
    assert result.response["sila_error"]["kind"] == "validation"
    assert result.extra["sila_error_kind"] == "validation"


def test_a_defined_execution_error_names_its_identifier(incubator):
    device = imported(incubator, insecure=True)
    incubator.state.door_open = True
    action_type = ActionType.objects.get(name="sila.TemperatureController.SetTargetTemperature")
    result = Sila2Adapter(device).dispatch(
        action_type=action_type, parameters={"TargetTemperature": 30}, context=CONTEXT
    )
    assert result.status == DispatchStatus.ERROR
    assert result.response["sila_error"]["kind"] == "defined_execution"
    assert result.response["sila_error"]["identifier"].endswith("DefinedExecutionError/DoorOpen")


def test_an_undefined_execution_error_is_a_failure(incubator):
    device = imported(incubator, insecure=True)
    incubator.state.fail = {"SetTargetTemperature"}
    action_type = ActionType.objects.get(name="sila.TemperatureController.SetTargetTemperature")
    result = Sila2Adapter(device).dispatch(
        action_type=action_type, parameters={"TargetTemperature": 30}, context=CONTEXT
    )
    assert (result.status, result.extra["sila_error_kind"]) == (DispatchStatus.ERROR, "undefined_execution")
    assert "simulated device fault during SetTargetTemperature" in result.error


def test_wrong_tls_settings_are_a_clear_error(tls_incubator, tmp_path):
    action_type = ActionTypeFactory(name="sila.TemperatureController.CurrentTemperature", safe_to_repeat=False)
    base = {"host": "127.0.0.1", "port": tls_incubator.port}
    cases = {
        "plain gRPC": {**base, "insecure": True},
        "system trust store": base,  # the simulator's self-signed certificate is not trusted by default
        "cannot read the CA certificate": {**base, "ca_cert": str(tmp_path / "missing.pem")},
    }
    for expected, config in cases.items():
        device = DeviceFactory(adapter=AdapterName.SILA2, config=config)
        result = Sila2Adapter(device).dispatch(action_type=action_type, parameters={}, context=CONTEXT)
        assert result.status == DispatchStatus.ERROR
        assert expected in result.error and result.extra["sila_error_kind"] == "connection"
        assert not Sila2Adapter(device).health()["ok"]


def test_a_type_without_a_sila_call_is_a_failure_naming_the_fix(incubator):
    device = imported(incubator, insecure=True)
    result = Sila2Adapter(device).dispatch(
        action_type=ActionTypeFactory(name="robot.aspirate"), parameters={}, context=CONTEXT
    )
    assert result.status == DispatchStatus.ERROR and '"commands"' in result.error


def test_only_types_safe_to_repeat_are_sent_again_after_a_connection_error(incubator):
    device = DeviceFactory(
        adapter=AdapterName.SILA2, config={"host": "127.0.0.1", "port": 1, "insecure": True, "backoff_seconds": 0}
    )
    unsafe = ActionTypeFactory(name="sila.A.B", safe_to_repeat=False)
    safe = ActionTypeFactory(name="sila.A.C", safe_to_repeat=True)
    once = Sila2Adapter(device).dispatch(action_type=unsafe, parameters={}, context=CONTEXT)
    again = Sila2Adapter(device).dispatch(action_type=safe, parameters={}, context=CONTEXT)
    assert once.extra["sila_attempts"] == 1 and "connection refused" in once.error
    assert again.extra["sila_attempts"] == 3


def test_the_server_stopping_mid_command_ends_as_a_timeout_not_a_crash():
    simulator = SilaSimulator("incubator", insecure=True, latency_scale=1.0).start()
    try:
        device = imported(simulator, insecure=True)
        action_type = ActionType.objects.get(name="sila.IncubationControl.Incubate")
        action_type.timeout_seconds = 2
        adapter = Sila2Adapter(device)
        started = adapter.dispatch(
            action_type=action_type, parameters={"Duration": 60, "Temperature": 37, "CarbonDioxide": 5}, context=CONTEXT
        )
        assert started.status == DispatchStatus.PENDING
    finally:
        simulator.stop()
    lost = adapter.poll(action_type=action_type, operation_id=started.operation_id, context=CONTEXT)
    assert lost.status == DispatchStatus.PENDING and lost.extra["poll_failed"]  # may come back: look again
    assert "SiLA connection error" in lost.error
    time.sleep(2.1)
    final = adapter.poll(action_type=action_type, operation_id=started.operation_id, context=CONTEXT)
    assert final.status == DispatchStatus.TIMEOUT
    assert "did not complete within 2 s" in final.error


def test_mock_hardware_swaps_a_sila2_device_for_the_mock(settings):
    settings.LABCORE_MOCK_HARDWARE = True
    device = DeviceFactory(adapter=AdapterName.SILA2, config={"host": "127.0.0.1", "port": 1})
    assert isinstance(adapter_for(device), MockAdapter)
    settings.LABCORE_MOCK_HARDWARE = False
    assert isinstance(adapter_for(device), Sila2Adapter)


def test_run_sila_simulator_serves_tls_with_a_generated_certificate_until_stopped(tmp_path):
    command = RunSilaSimulator(stdout=io.StringIO())
    ca_out = tmp_path / "sim.pem"
    thread = threading.Thread(
        target=command.run_from_argv,
        args=(["manage.py", "run_sila_simulator", "--kind", "incubator", "--port", "0", "--ca-out", str(ca_out)],),
    )
    thread.start()
    try:
        assert command.ready.wait(20)
        device = DeviceFactory(
            adapter=AdapterName.SILA2,
            config={"host": "127.0.0.1", "port": command.simulator.port, "ca_cert": str(ca_out)},
        )
        assert Sila2Adapter(device).health()["ok"]
    finally:
        command.stop()
        thread.join(10)
    assert "TLS" in command.stdout.getvalue() and str(ca_out) in command.stdout.getvalue()
