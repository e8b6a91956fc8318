"""POST /api/workflows in both shapes: the original step list, and a published protocol."""

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from accounts.services import token_issue
from tests.factories import UserFactory
from tests.workflows.factories import protocol_make, registry_make
from workflows.models import Workflow


@pytest.mark.django_db
def test_the_original_step_list_shape_creates_a_manual_workflow(api_client, demo_lab):
    response = api_client.post(
        "/api/workflows",
        {
            "name": "My Test Workflow",
            "device_id": "liquid-handler-1",
            "sample_barcodes": ["SAMPLE001", "SAMPLE002"],
            "steps": ["pipette_transfer", "dispense_reagent"],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "created" and body["mode"] == "manual" and body["device_id"] == "liquid-handler-1"
    assert body["samples"] == ["SAMPLE001", "SAMPLE002"]
    assert [(s["position"], s["name"], s["device_id"]) for s in body["steps"]] == [
        (1, "pipette_transfer", "liquid-handler-1"),
        (2, "dispense_reagent", "liquid-handler-1"),
    ]


@pytest.mark.django_db
def test_the_original_shape_works_without_samples(api_client, demo_lab):
    response = api_client.post(
        "/api/workflows",
        {"name": "Test", "device_id": "liquid-handler-1", "steps": ["pipette_transfer"]},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["samples"] == []


@pytest.mark.django_db
def test_the_demo_protocol_creates_an_auto_workflow_with_fourteen_run_steps(api_client, demo_lab):
    protocol = api_client.get("/api/protocols", {"name": "MSC passage P3 -> P4"}).json()["results"][0]
    response = api_client.post(
        "/api/workflows",
        {"name": "P3->P4", "protocol": protocol["id"], "sample_barcodes": ["SAMPLE003"], "priority": "urgent"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["mode"] == "auto" and body["priority"] == "urgent" and body["protocol"] == protocol["id"]
    assert [s["position"] for s in body["steps"]] == list(range(1, 15))
    assert body["steps"][0]["step_name"] == "Pre-warm media @ 37°C"
    assert body["steps"][0]["device_id"] == "incubator-1"


@pytest.mark.django_db
def test_a_draft_protocol_is_a_409(api_client):
    registry_make()
    protocol = protocol_make(1)
    response = api_client.post("/api/workflows", {"name": "x", "protocol": protocol.pk}, format="json")
    assert response.status_code == 409
    assert "protocol" in response.json()["fields"]
    assert not Workflow.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "protocol": 999999}, "protocol"),
        ({"name": "x", "device_id": "nope", "steps": ["pipette_transfer"]}, "device_id"),
        (
            {"name": "x", "device_id": "liquid-handler-1", "steps": ["pipette_transfer"], "sample_barcodes": ["NOPE1"]},
            "sample_barcodes",
        ),
        ({"name": "x", "device_id": "liquid-handler-1", "steps": ["teleport"]}, "steps"),
        ({"name": "x", "device_id": "liquid-handler-1", "steps": ["incubate"]}, "steps"),
        ({"name": "x", "device_id": "liquid-handler-1"}, "steps"),
        ({"name": "x"}, "protocol"),
        ({"name": "x", "protocol": 1, "priority": "asap"}, "priority"),
    ],
)
@pytest.mark.django_db
def test_bad_requests_are_400s_naming_the_field(api_client, demo_lab, body, field):
    response = api_client.post("/api/workflows", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert not Workflow.objects.exists()


@pytest.mark.django_db
def test_creating_needs_the_run_workflows_capability(demo_lab):
    viewer = UserFactory(username="looker")
    viewer.groups.add(Group.objects.get(name="viewer"))
    _, key = token_issue(user=viewer, name="t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    body = {"name": "x", "device_id": "liquid-handler-1", "steps": ["pipette_transfer"]}
    assert client.post("/api/workflows", body, format="json").status_code == 403
    assert not Workflow.objects.exists()


@pytest.mark.django_db
def test_a_bad_priority_is_a_400_listing_the_allowed_values(api_client, demo_lab):
    response = api_client.post(
        "/api/workflows",
        {"name": "Run", "protocol": 1, "sample_barcodes": ["SAMPLE001"], "priority": "highest"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["fields"]["priority"] == ['"highest" is not a priority; use one of: urgent, normal, low.']


@pytest.mark.django_db
def test_a_priority_given_with_the_step_list_shape_is_kept(api_client, demo_lab):
    response = api_client.post(
        "/api/workflows",
        {"name": "Rush", "device_id": "liquid-handler-1", "steps": ["pipette_transfer"], "priority": "urgent"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["priority"] == "urgent"
    assert Workflow.objects.get(pk=response.json()["id"]).get_priority_display() == "urgent"
