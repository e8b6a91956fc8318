"""/api/projects and /api/protocols: nested reads, filters, draft edits, publish and new version."""

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from accounts.services import token_issue
from tests.factories import ProjectFactory, UserFactory
from tests.utils import queries_for
from tests.workflows.factories import protocol_make, registry_make, steps_spec
from workflows.models import Protocol


@pytest.mark.django_db
def test_the_demo_protocol_reads_with_its_steps_actions_and_summary(api_client, demo_lab):
    response = api_client.get("/api/protocols", {"name": "MSC passage P3 -> P4"})
    assert response.status_code == 200
    (protocol,) = response.json()["results"]
    assert protocol["version"] == "0.4" and protocol["status"] == "published"
    assert [len(step["actions"]) for step in protocol["steps"]] == [1, 2, 4, 3, 4]
    assert protocol["steps"][1]["actions"][1] == {
        "id": protocol["steps"][1]["actions"][1]["id"],
        "position": 2,
        "action_type": "robot.aspirate",
        "parameters": {"volume_ul": 2000},
        "device": "robot-arm-1",
    }
    summary = protocol["summary"]
    assert summary["step_count"] == 5 and summary["action_count"] == 14
    assert len(summary["devices"]) >= 4
    assert summary["estimated_duration_seconds"] > 0


@pytest.mark.django_db
def test_protocols_filter_by_status_and_name(api_client):
    registry_make()
    protocol_make(1, name="Alpha", published=True)
    protocol_make(1, name="Beta")
    drafts = api_client.get("/api/protocols", {"status": "draft"}).json()["results"]
    assert [p["name"] for p in drafts] == ["Beta"]
    assert [p["name"] for p in api_client.get("/api/protocols", {"name": "Alpha"}).json()["results"]] == ["Alpha"]
    assert api_client.get("/api/protocols", {"status": "frozen"}).status_code == 400


@pytest.mark.django_db
def test_protocols_filter_by_part_of_the_name_or_a_search(api_client):
    registry_make()
    protocol_make(1, name="MSC passage P3 -> P4")
    feed = protocol_make(1, name="Feed")
    Protocol.objects.filter(pk=feed.pk).update(description="Medium change for MSC plates")

    def names(params):
        return [p["name"] for p in api_client.get("/api/protocols", params).json()["results"]]

    assert names({"name__contains": "passage"}) == ["MSC passage P3 -> P4"]
    assert sorted(names({"search": "msc"})) == ["Feed", "MSC passage P3 -> P4"]


@pytest.mark.django_db
def test_a_draft_is_created_and_its_graph_replaced(api_client):
    registry_make()
    project = ProjectFactory()
    response = api_client.post(
        "/api/protocols", {"project": project.pk, "name": "New", "steps": steps_spec(2)}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "draft" and body["version"] == "0.1"
    assert [s["name"] for s in body["steps"]] == ["Step 1", "Step 2"]
    response = api_client.patch(f"/api/protocols/{body['id']}", {"steps": steps_spec(1)}, format="json")
    assert response.status_code == 200
    assert [s["name"] for s in response.json()["steps"]] == ["Step 1"]


@pytest.mark.django_db
def test_a_bad_parameter_is_a_400_naming_its_place(api_client):
    registry_make()
    steps = steps_spec(2)
    steps[1]["actions"][0]["parameters"] = {"volume_ul": -5}
    steps[0]["actions"][1]["action_type"] = "no.such"
    response = api_client.post(
        "/api/protocols", {"project": ProjectFactory().pk, "name": "Bad", "steps": steps}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {
        "steps[1].actions[0].parameters.volume_ul",
        "steps[0].actions[1].action_type",
    }
    # The place keeps the parameter's name; the message is plain words with its unit.
    assert response.json()["fields"]["steps[1].actions[0].parameters.volume_ul"] == ["volume must be more than 0 µL"]
    assert not Protocol.objects.exists()


@pytest.mark.django_db
def test_publishing_freezes_and_edits_answer_409(api_client):
    registry_make()
    protocol = protocol_make(2)
    response = api_client.post(f"/api/protocols/{protocol.pk}/publish")
    assert response.status_code == 200 and response.json()["status"] == "published"
    assert response.json()["published_at"]
    response = api_client.patch(f"/api/protocols/{protocol.pk}", {"name": "Changed"}, format="json")
    assert response.status_code == 409
    assert "published" in response.json()["detail"]
    assert api_client.post(f"/api/protocols/{protocol.pk}/publish").status_code == 409
    protocol.refresh_from_db()
    assert protocol.name == "Passage"


@pytest.mark.django_db
def test_new_version_is_the_next_draft(api_client):
    registry_make()
    protocol = protocol_make(2, published=True)
    response = api_client.post(f"/api/protocols/{protocol.pk}/new-version")
    assert response.status_code == 201
    draft = response.json()
    assert draft["version"] == "0.2" and draft["status"] == "draft" and draft["previous_version"] == protocol.pk
    assert api_client.post(f"/api/protocols/{protocol.pk}/new-version").status_code == 409
    assert api_client.post(f"/api/protocols/{draft['id']}/new-version").status_code == 409


@pytest.mark.django_db
def test_projects_are_listed_and_created(api_client):
    response = api_client.post("/api/projects", {"name": "Organoids", "description": "3D"}, format="json")
    assert response.status_code == 201
    assert api_client.post("/api/projects", {"name": "Organoids"}, format="json").status_code == 400
    assert [p["name"] for p in api_client.get("/api/projects").json()["results"]] == ["Organoids"]


@pytest.mark.django_db
def test_editing_definitions_needs_the_capability(demo_lab):
    registry_make()
    protocol = protocol_make(1)
    operator = UserFactory(username="op")
    operator.groups.add(Group.objects.get(name="operator"))
    _, key = token_issue(user=operator, name="t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get(f"/api/protocols/{protocol.pk}").status_code == 200
    assert client.post(f"/api/protocols/{protocol.pk}/publish").status_code == 403
    assert client.patch(f"/api/protocols/{protocol.pk}", {"name": "x"}, format="json").status_code == 403
    assert client.post("/api/projects", {"name": "x"}, format="json").status_code == 403


@pytest.mark.django_db
def test_protocol_list_and_detail_queries_do_not_grow_with_steps(api_client, django_assert_num_queries):
    registry_make()
    small = protocol_make(2, name="Small")
    list_queries = queries_for(lambda: api_client.get("/api/protocols"))
    detail_queries = queries_for(lambda: api_client.get(f"/api/protocols/{small.pk}"))
    large = protocol_make(20, name="Large")
    with django_assert_num_queries(list_queries):
        listed = api_client.get("/api/protocols").json()["results"]
    with django_assert_num_queries(detail_queries):
        detail = api_client.get(f"/api/protocols/{large.pk}").json()
    assert len(detail["steps"]) == 20 and detail["summary"]["action_count"] == 40
    assert sum(len(p["steps"]) for p in listed) == 22


@pytest.mark.django_db
def test_project_list_queries_do_not_grow_with_rows(api_client, django_assert_num_queries):
    ProjectFactory.create_batch(2)
    few = queries_for(lambda: api_client.get("/api/projects"))
    ProjectFactory.create_batch(20)
    with django_assert_num_queries(few):
        assert len(api_client.get("/api/projects").json()["results"]) == 22
