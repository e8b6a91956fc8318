"""POST /api/devices/{id}/execute: one operation through the device's adapter, logged, exclusive use kept."""

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from accounts.services import token_issue
from devices.models import ActionType, Device
from devices.services import booking_create
from executionlogs.models import ExecutionLog
from tests.factories import UserFactory
from tests.workflows.executor_support import workflow_make

pytestmark = pytest.mark.django_db

URL = "/api/devices/liquid-handler-1/execute"


def test_an_operation_on_a_free_device_runs_through_its_adapter_and_is_logged(api_client, demo_lab):
    response = api_client.post(URL, {"operation": "pipette_transfer", "parameters": {"volume_ul": 250}}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "success" and body["response"]["transferred_ul"] == 250 and body["error"] == ""
    log = ExecutionLog.objects.get(pk=body["execution_log_id"])
    assert log.device_id == "liquid-handler-1" and log.action_type == "pipette_transfer"
    assert log.request["parameters"]["volume_ul"] == 250 and log.caused_by == "user"
    assert log.user.username == "scientist" and log.workflow is None and log.latency_ms is not None


def test_a_device_held_by_a_workflow_runs_operations_only_for_that_workflow(api_client, demo_lab):
    holder = workflow_make(
        [(ActionType.objects.get(name="pipette_transfer"), Device.objects.get(pk="liquid-handler-1"), {})],
        mode="manual",
    )  # noqa: E501
    booking_create(device=Device.objects.get(pk="liquid-handler-1"), workflow=holder)
    refused = api_client.post(URL, {"operation": "pipette_transfer"}, format="json")
    assert refused.status_code == 409 and f"booked by workflow {holder.pk}" in refused.json()["detail"]
    allowed = api_client.post(URL, {"operation": "pipette_transfer", "workflow_id": holder.pk}, format="json")
    assert allowed.status_code == 200
    assert ExecutionLog.objects.get(pk=allowed.json()["execution_log_id"]).workflow_id == holder.pk
    other = workflow_make([], mode="manual")
    assert (
        api_client.post(URL, {"operation": "pipette_transfer", "workflow_id": other.pk}, format="json").status_code
        == 409
    )


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"operation": "no.such"}, 400, "operation"),
        ({"operation": "plate_read"}, 400, "operation"),  # a plate reader's operation
        ({"operation": "pipette_transfer", "parameters": {"volume_ul": -5}}, 400, "parameters.volume_ul"),
        ({"operation": "pipette_transfer", "parameters": "x"}, 400, "parameters"),
        ({}, 400, "operation"),
        ({"operation": "pipette_transfer", "workflow_id": 999999}, 400, "workflow_id"),
    ],
)
def test_bad_requests_name_the_field(api_client, demo_lab, body, status, field):
    response = api_client.post(URL, body, format="json")
    assert response.status_code == status
    assert field in response.json()["fields"]
    assert not ExecutionLog.objects.exists()


def test_long_running_operations_are_refused_outside_workflows(api_client, demo_lab):
    response = api_client.post("/api/devices/incubator-1/execute", {"operation": "incubate"}, format="json")
    assert response.status_code == 400 and "workflow" in response.json()["detail"]


def test_a_device_failure_is_an_outcome_logged_as_an_error(api_client, demo_lab):
    Device.objects.filter(pk="liquid-handler-1").update(config={"mock": {"fail": ["dispense_reagent"]}})
    response = api_client.post(URL, {"operation": "dispense_reagent"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "error" and "injected failure" in response.json()["error"]
    assert ExecutionLog.objects.get().status == "error"


def test_execute_needs_operate_devices(demo_lab):
    viewer = UserFactory(username="role-viewer-x")
    viewer.groups.set(Group.objects.filter(name="viewer"))
    _, key = token_issue(user=viewer, name="t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    refused = client.post(URL, {"operation": "pipette_transfer"}, format="json")
    assert refused.status_code == 403 and "operate devices" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("parameters", "field"),
    [({"model": "msc\u0000v2"}, "parameters.model"), ({"model": "msc-v2", "x\u0000": 1}, "parameters.x\\x00")],
)
def test_a_nul_in_the_parameters_is_a_400_before_any_dispatch(api_client, demo_lab, parameters, field, monkeypatch):
    # PostgreSQL rejects U+0000 in jsonb: it used to reach the hardware, then fail writing the log (a 500
    # and a physical action with no record).
    from devices.adapters.mock import MockAdapter

    dispatched = []
    monkeypatch.setattr(MockAdapter, "dispatch", lambda self, **kwargs: dispatched.append(kwargs))
    response = api_client.post(
        "/api/devices/vision-1/execute", {"operation": "vision.analyse", "parameters": parameters}, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert dispatched == [] and not ExecutionLog.objects.exists()


def test_a_nul_in_a_protocol_action_parameter_is_refused_by_the_registry(demo_lab):
    from devices.registry import parameters_errors

    vision = ActionType.objects.get(name="vision.analyse")
    assert parameters_errors(vision, {"model": "a\u0000"}) == {
        "parameters.model": ["model must not contain the NUL character"]
    }
    assert parameters_errors(vision, {"model": ["ok", "b\u0000"]})["parameters.model.1"]
