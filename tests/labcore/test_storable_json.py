"""JSON typed into the admin that PostgreSQL's jsonb cannot hold (U+0000, NaN, 1e400) is an error
under the field, never a DataError 500."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from devices.models import ActionType, Device
from labcore.validators import unstorable_json_paths, validate_storable_json
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

UNSTORABLE = ['{"a": "x\\u0000"}', '{"a\\u0000": 1}', '{"a": NaN}', '{"a": [1, 1e400]}', '{"a": -Infinity}']


@pytest.fixture
def admin_client():
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("typed", UNSTORABLE)
def test_a_device_config_jsonb_cannot_hold_is_a_form_error(admin_client, typed):
    response = admin_client.post(
        "/admin/devices/device/add/",
        {"id": "dev-x", "name": "X", "kind": "incubator", "status": "available", "adapter": "mock", "config": typed},
    )
    assert response.status_code == 200
    assert "config" in response.context["adminform"].form.errors
    assert not Device.objects.filter(pk="dev-x").exists()


@pytest.mark.parametrize("field", ["parameter_schema", "mock_response"])
@pytest.mark.parametrize("typed", UNSTORABLE)
def test_an_action_type_json_jsonb_cannot_hold_is_a_form_error(admin_client, field, typed):
    form = {
        "name": "t.odd",
        "device_kind": "incubator",
        "parameter_schema": "{}",
        "mock_response": "{}",
        "estimated_duration_seconds": 1,
        "timeout_seconds": 1,
        "on_failure": "fail",
        "max_retries": 1,
        "mock_latency_seconds": 0,
        "mock_latency_jitter": 0,
        "mock_failure_rate": 0,
        field: typed,
    }
    response = admin_client.post("/admin/devices/actiontype/add/", form)
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not ActionType.objects.filter(name="t.odd").exists()


def test_the_paths_are_named():
    assert unstorable_json_paths({"a": [1, float("nan")], "b\x00": 1, "c": {"d": "\x00"}}) == ["a.1", "b\\x00", "c.d"]
    assert unstorable_json_paths({"fine": [1.5, "text", None, True]}) == []
    with pytest.raises(ValidationError, match="a.1"):
        validate_storable_json({"a": [0, float("inf")]})
