"""The mock adapter: templated responses, scaled latency, injected faults, long operations, vision."""

import time

import pytest

from devices.adapters import DispatchContext, DispatchStatus
from devices.adapters.mock import MockAdapter, decode_operation_id
from devices.adapters.responses import cell_analysis, render_template
from devices.choices import DeviceKind
from devices.models import ActionType, Device
from tests.factories import ActionTypeFactory, DeviceFactory

pytestmark = pytest.mark.django_db

CONTEXT = DispatchContext(workflow_id=7, run_step_id=3, attempt_id="a-1", attempt=1)


def dispatch(device, action_type, parameters=None, context=CONTEXT):
    return MockAdapter(device).dispatch(action_type=action_type, parameters=parameters or {}, context=context)


def fresh(device):
    """A new adapter on a device re-read from the database, as another worker process would build."""
    return MockAdapter(Device.objects.get(pk=device.pk))


# -- responses -------------------------------------------------------------------------------


def test_response_renders_parameters_into_the_template_keeping_their_types():
    action_type = ActionTypeFactory(
        mock_response={"dispensed_ul": "{volume_ul}", "note": "{reagent} x{volume_ul}", "on": "{device_id}"},
    )
    result = dispatch(DeviceFactory(id="lh-9"), action_type, {"volume_ul": 150, "reagent": "PBS"})
    assert result.status == DispatchStatus.SUCCESS
    assert result.response == {"dispensed_ul": 150, "note": "PBS x150", "on": "lh-9"}
    assert result.error == ""


def test_response_uses_schema_defaults_and_leaves_unknown_placeholders():
    action_type = ActionTypeFactory(
        parameter_schema={"type": "object", "properties": {"wavelength_nm": {"type": "integer", "default": 450}}},
        mock_response={"wavelength_nm": "{wavelength_nm}", "wells": ["{missing}", 96]},
    )
    result = dispatch(DeviceFactory(), action_type)
    assert result.response == {"wavelength_nm": 450, "wells": ["{missing}", 96]}


def test_request_is_the_http_contract_body():
    action_type = ActionTypeFactory(name="robot.aspirate")
    context = DispatchContext(workflow_id=4, run_step_id=9, attempt_id="xyz", attempt=2, sample_barcodes=("S1",))
    result = dispatch(DeviceFactory(), action_type, {"volume_ul": 5}, context)
    assert result.request == {
        "action": "robot.aspirate",
        "parameters": {"volume_ul": 5},
        "attempt_id": "xyz",
        "attempt": 2,
        "workflow_id": 4,
        "run_step_id": 9,
        "samples": ["S1"],
    }


def test_render_template_recurses_and_passes_non_strings_through():
    rendered = render_template({"a": [{"b": "{x}"}, 3, None, True]}, {"x": {"k": 1}})
    assert rendered == {"a": [{"b": {"k": 1}}, 3, None, True]}


# -- latency ---------------------------------------------------------------------------------


def test_latency_is_scaled_by_the_setting(settings):
    action_type = ActionTypeFactory(mock_latency_seconds=1.0, mock_latency_jitter=0)
    device = DeviceFactory()
    settings.LABCORE_MOCK_LATENCY_SCALE = 0.05
    started = time.monotonic()
    result = dispatch(device, action_type)
    elapsed = time.monotonic() - started
    assert result.status == DispatchStatus.SUCCESS
    assert 0.045 <= elapsed < 0.5
    assert result.latency_ms >= 45

    settings.LABCORE_MOCK_LATENCY_SCALE = 0
    started = time.monotonic()
    dispatch(device, action_type)
    assert time.monotonic() - started < 0.02


def test_latency_jitter_stays_within_its_fraction(settings):
    settings.LABCORE_MOCK_LATENCY_SCALE = 2.0
    action_type = ActionTypeFactory(mock_latency_seconds=1.0, mock_latency_jitter=0.25)
    adapter = MockAdapter(DeviceFactory())
    samples = [adapter.latency_seconds(action_type) for _ in range(200)]
    assert all(1.5 <= value <= 2.5 for value in samples)
    assert max(samples) - min(samples) > 0.3  # it really varies


def test_device_latency_override_is_absolute_and_not_scaled(settings):
    settings.LABCORE_MOCK_LATENCY_SCALE = 0
    action_type = ActionTypeFactory(name="slow.one", mock_latency_seconds=100)
    device = DeviceFactory(config={"mock": {"latency_seconds": {"slow.one": 0.06}}})
    started = time.monotonic()
    assert dispatch(device, action_type).status == DispatchStatus.SUCCESS
    assert 0.055 <= time.monotonic() - started < 0.5


# -- failures and timeouts -------------------------------------------------------------------


def test_injected_failure_is_an_error_with_a_reason():
    action_type = ActionTypeFactory(name="robot.aspirate")
    result = dispatch(DeviceFactory(config={"mock": {"fail": ["robot.aspirate"]}}), action_type)
    assert result.status == DispatchStatus.ERROR
    assert "injected failure" in result.error and "robot.aspirate" in result.error
    other = ActionTypeFactory(name="robot.dispense")
    assert dispatch(DeviceFactory(config={"mock": {"fail": ["robot.aspirate"]}}), other).status == "success"


def test_injected_failure_for_the_first_attempts_only_lets_a_retry_succeed():
    action_type = ActionTypeFactory(name="plate_read")
    device = DeviceFactory(config={"mock": {"fail": {"plate_read": 2}}})
    outcomes = [dispatch(device, action_type, context=DispatchContext(attempt=n)).status for n in (1, 2, 3)]
    assert outcomes == [DispatchStatus.ERROR, DispatchStatus.ERROR, DispatchStatus.SUCCESS]


def test_wildcard_injection_matches_every_action():
    device = DeviceFactory(config={"mock": {"fail": "*"}})
    assert dispatch(device, ActionTypeFactory()).status == DispatchStatus.ERROR


def test_failure_rate_one_always_fails_and_zero_never():
    always = ActionTypeFactory(mock_failure_rate=1.0)
    never = ActionTypeFactory(mock_failure_rate=0.0)
    device = DeviceFactory()
    assert {dispatch(device, always).status for _ in range(20)} == {DispatchStatus.ERROR}
    assert "mock_failure_rate=1" in dispatch(device, always).error
    assert {dispatch(device, never).status for _ in range(20)} == {DispatchStatus.SUCCESS}


def test_injected_timeout_returns_timeout_after_the_simulated_latency():
    action_type = ActionTypeFactory(name="plate_read", timeout_seconds=30)
    device = DeviceFactory(config={"mock": {"timeout": ["plate_read"], "latency_seconds": {"plate_read": 0.05}}})
    started = time.monotonic()
    result = dispatch(device, action_type)
    assert result.status == DispatchStatus.TIMEOUT
    assert "injected timeout" in result.error
    assert 0.045 <= time.monotonic() - started < 0.5


def test_latency_beyond_the_type_timeout_times_out_at_the_timeout():
    action_type = ActionTypeFactory(name="slow.read", timeout_seconds=0.1)
    device = DeviceFactory(config={"mock": {"latency_seconds": {"slow.read": 30}}})
    started = time.monotonic()
    result = dispatch(device, action_type)
    elapsed = time.monotonic() - started
    assert result.status == DispatchStatus.TIMEOUT
    assert "within 0.1 s" in result.error
    assert 0.095 <= elapsed < 0.6


# -- long operations -------------------------------------------------------------------------


def test_long_operation_is_pending_then_succeeds_when_polled_by_another_instance(settings):
    settings.LABCORE_MOCK_LATENCY_SCALE = 0.1
    action_type = ActionTypeFactory(
        name="incubate", is_long_running=True, mock_latency_seconds=2.0, mock_latency_jitter=0, mock_response={"ok": 1}
    )
    device = DeviceFactory(kind=DeviceKind.INCUBATOR)
    started = time.monotonic()
    first = dispatch(device, action_type, {"duration_s": 300})
    assert time.monotonic() - started < 0.05  # it does not hold the caller
    assert first.status == DispatchStatus.PENDING and not first.is_final
    assert first.operation_id.startswith("mock:")
    assert 0.05 <= first.poll_after_seconds <= 0.2

    still = fresh(device).poll(action_type=action_type, operation_id=first.operation_id, context=CONTEXT)
    assert still.status == DispatchStatus.PENDING
    assert still.poll_after_seconds <= 0.2

    time.sleep(0.21)
    done = fresh(device).poll(action_type=action_type, operation_id=first.operation_id, context=CONTEXT)
    assert done.status == DispatchStatus.SUCCESS and done.is_final
    assert done.response == {"ok": 1}


def test_long_operation_completion_time_is_carried_by_its_id(monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(MockAdapter, "clock", staticmethod(lambda: now[0]))
    action_type = ActionTypeFactory(name="incubate", is_long_running=True, timeout_seconds=7200)
    device = DeviceFactory(config={"mock": {"latency_seconds": {"incubate": 3600}}})
    pending = dispatch(device, action_type)
    assert decode_operation_id(pending.operation_id) == (1_003_600.0, "ok")
    assert pending.poll_after_seconds == 60  # capped, so a long wait is checked now and then
    now[0] += 3599
    assert fresh(device).poll(action_type=action_type, operation_id=pending.operation_id, context=CONTEXT).status == (
        DispatchStatus.PENDING
    )
    now[0] += 1
    assert fresh(device).poll(action_type=action_type, operation_id=pending.operation_id, context=CONTEXT).status == (
        DispatchStatus.SUCCESS
    )


def test_long_operation_injected_failure_is_reported_when_it_ends(monkeypatch):
    now = [5000.0]
    monkeypatch.setattr(MockAdapter, "clock", staticmethod(lambda: now[0]))
    action_type = ActionTypeFactory(name="incubate", is_long_running=True, timeout_seconds=600)
    device = DeviceFactory(config={"mock": {"fail": ["incubate"], "latency_seconds": {"incubate": 10}}})
    pending = dispatch(device, action_type)
    assert pending.status == DispatchStatus.PENDING
    now[0] += 10
    result = fresh(device).poll(action_type=action_type, operation_id=pending.operation_id, context=CONTEXT)
    assert result.status == DispatchStatus.ERROR and "injected failure" in result.error


def test_long_operation_injected_timeout_times_out_after_the_type_timeout(monkeypatch):
    now = [5000.0]
    monkeypatch.setattr(MockAdapter, "clock", staticmethod(lambda: now[0]))
    action_type = ActionTypeFactory(name="incubate", is_long_running=True, timeout_seconds=600)
    device = DeviceFactory(config={"mock": {"timeout": ["incubate"]}})
    pending = dispatch(device, action_type)
    now[0] += 599
    assert fresh(device).poll(action_type=action_type, operation_id=pending.operation_id, context=CONTEXT).status == (
        DispatchStatus.PENDING
    )
    now[0] += 1
    result = fresh(device).poll(action_type=action_type, operation_id=pending.operation_id, context=CONTEXT)
    assert result.status == DispatchStatus.TIMEOUT and "600 s" in result.error


def test_long_operation_longer_than_its_timeout_times_out_at_the_timeout(monkeypatch):
    now = [5000.0]
    monkeypatch.setattr(MockAdapter, "clock", staticmethod(lambda: now[0]))
    action_type = ActionTypeFactory(name="incubate", is_long_running=True, timeout_seconds=100)
    device = DeviceFactory(config={"mock": {"latency_seconds": {"incubate": 500}}})
    pending = dispatch(device, action_type)
    assert decode_operation_id(pending.operation_id) == (5100.0, "hang")
    now[0] += 100
    result = fresh(device).poll(action_type=action_type, operation_id=pending.operation_id, context=CONTEXT)
    assert result.status == DispatchStatus.TIMEOUT


def test_long_operation_random_failure_says_so(monkeypatch):
    action_type = ActionTypeFactory(name="incubate", is_long_running=True, mock_failure_rate=1.0)
    pending = dispatch(DeviceFactory(), action_type)
    result = MockAdapter(DeviceFactory()).poll(
        action_type=action_type, operation_id=pending.operation_id, context=CONTEXT
    )
    assert result.status == DispatchStatus.ERROR and "mock_failure_rate" in result.error


def test_polling_an_unknown_operation_is_an_error():
    action_type = ActionTypeFactory(is_long_running=True)
    result = MockAdapter(DeviceFactory()).poll(action_type=action_type, operation_id="nope:1", context=CONTEXT)
    assert result.status == DispatchStatus.ERROR and "unknown operation id" in result.error


# -- vision ----------------------------------------------------------------------------------


def vision_type():
    return ActionTypeFactory(name="vision.analyse", device_kind=DeviceKind.VISION, mock_response={"model": "msc-v2"})


def test_vision_results_per_sample_are_deterministic():
    action_type = vision_type()
    device = DeviceFactory(kind=DeviceKind.VISION)
    context = DispatchContext(sample_barcodes=("SAMPLE001", "SAMPLE002", "SAMPLE003"))
    first = dispatch(device, action_type, {"hours_in_culture": 48}, context)
    second = dispatch(DeviceFactory(kind=DeviceKind.VISION), action_type, {"hours_in_culture": 48}, context)
    assert first.status == DispatchStatus.SUCCESS
    assert first.response == second.response
    assert first.response["model"] == "msc-v2"
    results = first.response["results"]
    assert [row["sample"] for row in results] == ["SAMPLE001", "SAMPLE002", "SAMPLE003"]
    assert len({row["cell_count"] for row in results}) == 3  # each sample grows its own way
    for row in results:
        assert isinstance(row["cell_count"], int) and row["cell_count"] > 0
        assert 0 <= row["confluence"] <= 100 and 0 <= row["viability"] <= 100


@pytest.mark.parametrize("barcode", ["SAMPLE001", "SAMPLE007", "TS00042"])
def test_vision_growth_is_monotone_and_plausible_over_days(barcode):
    # The true curve (no measurement noise): monotone; measured values scatter around it.
    curve = [cell_analysis(barcode, hours, noise=False) for hours in range(0, 24 * 14, 6)]
    counts = [row["cell_count"] for row in curve]
    confluences = [row["confluence"] for row in curve]
    assert counts == sorted(counts) and confluences == sorted(confluences)
    assert counts[-1] > 5 * counts[0]  # two weeks of growth from 12-18 % confluence
    assert confluences[0] < 20 and confluences[-1] > 90
    assert curve[0]["viability"] > 90


def test_vision_time_in_culture_follows_the_clock_from_the_seeding_time(monkeypatch):
    now = [1_800_000_000.0]
    monkeypatch.setattr(MockAdapter, "clock", staticmethod(lambda: now[0]))
    device = DeviceFactory(kind=DeviceKind.VISION, config={"mock": {"culture_started_at": now[0] - 3600}})
    action_type = vision_type()
    context = DispatchContext(sample_barcodes=("SAMPLE001",))
    counts = []
    for _day in range(4):
        result = dispatch(device, action_type, context=context)
        counts.append(result.response["results"][0]["cell_count"])
        now[0] += 86400
    assert counts == sorted(counts) and len(set(counts)) == 4
    assert result.response["results"][0]["hours_in_culture"] == pytest.approx(1 + 3 * 24)


def test_vision_without_a_seeding_time_uses_a_per_sample_weekly_cycle(monkeypatch):
    now = [1_800_000_000.0]
    monkeypatch.setattr(MockAdapter, "clock", staticmethod(lambda: now[0]))
    context = DispatchContext(sample_barcodes=("SAMPLE001", "SAMPLE002"))
    rows = dispatch(DeviceFactory(kind=DeviceKind.VISION), vision_type(), context=context).response["results"]
    assert all(0 <= row["hours_in_culture"] < 168 for row in rows)
    assert rows[0]["hours_in_culture"] != rows[1]["hours_in_culture"]


# -- health ----------------------------------------------------------------------------------


def test_health_is_ok_unless_the_device_config_says_otherwise():
    assert MockAdapter(DeviceFactory()).health() == {"ok": True, "detail": "mock device"}
    unhealthy = MockAdapter(DeviceFactory(config={"mock": {"healthy": False}})).health()
    assert unhealthy["ok"] is False and "unhealthy" in unhealthy["detail"]


def test_demo_action_types_all_dispatch(demo_lab, settings):
    settings.LABCORE_MOCK_LATENCY_SCALE = 0
    context = DispatchContext(sample_barcodes=("SAMPLE001",))
    for action_type in ActionType.objects.all():
        device = Device.objects.filter(kind=action_type.device_kind).first()
        result = dispatch(device, action_type, context=context)
        expected = DispatchStatus.PENDING if action_type.is_long_running else DispatchStatus.SUCCESS
        assert result.status == expected, action_type.name
