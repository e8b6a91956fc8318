"""/api/action-types: list, detail by name, create and update with schema validation."""

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from accounts.services import token_issue
from devices.models import ActionType
from tests.factories import ActionTypeFactory, UserFactory
from tests.utils import queries_for

NEW_TYPE = {
    "name": "shaker.shake",
    "device_kind": "other",
    "description": "Orbital shaking.",
    "parameter_schema": {
        "type": "object",
        "properties": {"rpm": {"type": "integer", "minimum": 100, "maximum": 1500, "default": 300}},
        "additionalProperties": False,
    },
    "estimated_duration_seconds": 120,
    "timeout_seconds": 300,
    "safe_to_repeat": True,
    "mock_response": {"shaken": True},
    "mock_latency_seconds": 0.2,
    "mock_failure_rate": 0.1,
}


@pytest.mark.django_db
def test_a_new_instrument_capability_is_registered_as_data(api_client):
    response = api_client.post("/api/action-types", NEW_TYPE, format="json")
    assert response.status_code == 201, response.json()
    detail = api_client.get("/api/action-types/shaker.shake").json()
    assert {key: detail[key] for key in NEW_TYPE} == NEW_TYPE
    response = api_client.patch("/api/action-types/shaker.shake", {"timeout_seconds": 600}, format="json")
    assert response.status_code == 200
    assert ActionType.objects.get(name="shaker.shake").timeout_seconds == 600


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "objekt"},
        {"type": "object", "properties": {"rpm": {"type": "integer", "default": "fast"}}},
        {"$ref": "https://example.org/schema.json"},
        [1, 2],
    ],
)
@pytest.mark.django_db
def test_an_invalid_parameter_schema_is_a_400_on_that_field(api_client, schema):
    response = api_client.post("/api/action-types", {**NEW_TYPE, "parameter_schema": schema}, format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["parameter_schema"]
    assert not ActionType.objects.filter(name="shaker.shake").exists()


@pytest.mark.django_db
def test_out_of_range_mock_settings_are_400s(api_client):
    response = api_client.post(
        "/api/action-types", {**NEW_TYPE, "mock_failure_rate": 2, "device_kind": "toaster"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"mock_failure_rate", "device_kind"}


@pytest.mark.django_db
def test_action_types_filter_by_kind(api_client, demo_lab):
    names = [t["name"] for t in api_client.get("/api/action-types", {"device_kind": "robot_arm"}).json()["results"]]
    assert names == ["robot.aspirate", "robot.dispense", "robot.move_plate"]


@pytest.mark.django_db
def test_registering_needs_the_edit_definitions_capability(db):
    viewer = UserFactory(username="v")
    viewer.groups.add(Group.objects.get(name="viewer"))
    _, key = token_issue(user=viewer, name="t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/action-types").status_code == 200
    assert client.post("/api/action-types", NEW_TYPE, format="json").status_code == 403


@pytest.mark.django_db
def test_action_type_list_queries_do_not_grow_with_rows(api_client):
    ActionTypeFactory.create_batch(2)
    few = queries_for(lambda: api_client.get("/api/action-types"))
    ActionTypeFactory.create_batch(20)
    assert queries_for(lambda: api_client.get("/api/action-types")) == few


@pytest.mark.django_db
def test_the_admin_shows_a_bad_schema_on_its_field(client):
    from django.urls import reverse

    client.force_login(UserFactory(username="admin-user", is_staff=True, is_superuser=True))
    data = {
        **{k: v for k, v in NEW_TYPE.items() if k not in {"parameter_schema", "mock_response", "safe_to_repeat"}},
        "parameter_schema": '{"type": "objekt"}',
        "mock_response": "{}",
        "on_failure": "fail",
        "max_retries": 3,
        "mock_latency_jitter": 0.1,
    }
    response = client.post(reverse("admin:devices_actiontype_add"), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["parameter_schema"] and "not a valid JSON Schema" in errors["parameter_schema"][0]
    data["parameter_schema"] = '{"type": "object"}'
    assert client.post(reverse("admin:devices_actiontype_add"), data).status_code == 302
    assert ActionType.objects.filter(name="shaker.shake").exists()


@pytest.mark.parametrize("field", ["estimated_duration_seconds", "timeout_seconds", "mock_latency_seconds"])
@pytest.mark.django_db
def test_durations_beyond_a_year_are_refused_naming_the_field(api_client, field):
    # 1e20 s overflowed timedelta in the stall check and 1e308 summed to inf in the wait time.
    response = api_client.post("/api/action-types", {**NEW_TYPE, field: 1e20}, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert not ActionType.objects.filter(name="shaker.shake").exists()


@pytest.mark.django_db
def test_wait_time_with_the_longest_allowed_actions_answers(api_client, settings):
    from devices.models import MAX_ACTION_SECONDS

    settings.LABCORE_MOCK_LATENCY_SCALE = 1  # estimates without history scale like the mock (0 in tests)

    response = api_client.post(
        "/api/action-types",
        {**NEW_TYPE, "device_kind": "incubator", "estimated_duration_seconds": MAX_ACTION_SECONDS},
        format="json",
    )
    assert response.status_code == 201, response.json()
    from tests.factories import DeviceFactory

    DeviceFactory(id="incubator-9", kind="incubator")
    ids = []
    for name in ("holder", "waiter"):
        created = api_client.post(
            "/api/workflows",
            {"name": name, "device_id": "incubator-9", "steps": ["shaker.shake"] * 50},
            format="json",
        )
        assert created.status_code == 201, created.json()
        ids.append(created.json()["id"])
    assert api_client.post(f"/api/workflows/{ids[0]}/start").status_code == 200
    assert api_client.post("/api/devices/incubator-9/queue", {"workflow_id": ids[1]}, format="json").status_code == 201
    response = api_client.get(f"/api/devices/incubator-9/wait-time?workflow_id={ids[1]}")
    assert response.status_code == 200
    # The holder is a manual run: its operator's part (the fallback) counts on top of its steps.
    assert response.json()["estimated_wait_seconds"] == 50 * MAX_ACTION_SECONDS + settings.LABCORE_WAIT_FALLBACK_SECONDS


@pytest.mark.parametrize("name", ["a/b", "two words", "tab\tname"])
@pytest.mark.django_db
def test_a_name_that_cannot_be_a_url_key_is_refused(api_client, name):
    response = api_client.post("/api/action-types", {**NEW_TYPE, "name": name}, format="json")
    assert response.status_code == 400, response.json()
    assert "name" in response.json()["fields"]


@pytest.mark.parametrize(("field", "value"), [("device_kind", "incubator"), ("name", "robot.suck")])
@pytest.mark.django_db
def test_a_type_used_by_protocols_keeps_its_name_and_kind(api_client, demo_lab, field, value):
    # Changing them re-planned published protocols on other devices and orphaned the logs' names.
    response = api_client.patch("/api/action-types/robot.aspirate", {field: value}, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert ActionType.objects.get(name="robot.aspirate").device_kind == "robot_arm"


@pytest.mark.django_db
def test_an_unused_type_can_still_be_renamed_and_moved(api_client):
    assert api_client.post("/api/action-types", NEW_TYPE, format="json").status_code == 201
    response = api_client.patch(
        "/api/action-types/shaker.shake", {"name": "shaker.orbit", "device_kind": "incubator"}, format="json"
    )
    assert response.status_code == 200, response.json()
