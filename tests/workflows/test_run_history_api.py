"""``GET /api/workflows/{id}/events`` and the run's admin page show who changed what, and why."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.services import token_issue
from tests.factories import UserFactory
from tests.workflows.executor_support import action_type_make, device_make, workflow_make
from workflows.services.execution import workflow_action_run, workflow_pause, workflow_resume, workflow_start

pytestmark = pytest.mark.django_db


def client_for(username: str, token_name: str) -> APIClient:
    user = UserFactory(username=username, is_staff=True, is_superuser=True)
    _, key = token_issue(user=user, name=token_name)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def running():
    workflow = workflow_make([(action_type_make("test.hist"), device_make("handler-hist"))] * 2)
    workflow_start(workflow=workflow)
    return workflow


def test_pause_by_a_and_resume_by_b_are_both_in_the_events_with_their_tokens(running):
    alice, bob = client_for("alice", "laptop"), client_for("bob", "console")
    assert (
        alice.post(f"/api/workflows/{running.pk}/pause", {"reason": "media colour"}, format="json").status_code == 200
    )
    assert bob.post(f"/api/workflows/{running.pk}/resume").status_code == 200
    response = alice.get(f"/api/workflows/{running.pk}/events")
    assert response.status_code == 200
    events = response.json()["results"]
    assert [(e["from"], e["to"], e["by"], e["step"]) for e in events] == [
        ("created", "running", "system", None),
        ("running", "paused", "alice (token laptop)", None),
        ("paused", "running", "bob (token console)", None),
    ]
    assert events[1]["reason"] == "media colour" and set(events[0]) == {
        "id",
        "at",
        "step",
        "from",
        "to",
        "by",
        "reason",
    }


def test_events_of_steps_name_their_position_and_page_by_cursor(running, api_client):
    workflow_action_run(workflow_id=running.pk)
    page = api_client.get(f"/api/workflows/{running.pk}/events?page_size=2").json()
    assert [(e["step"], e["to"]) for e in page["results"]] == [(None, "running"), (1, "dispatching")]
    rest = api_client.get(page["next"]).json()
    assert [(e["step"], e["to"]) for e in rest["results"]] == [(1, "succeeded")]


def test_events_of_an_unknown_workflow_are_a_json_404(api_client):
    response = api_client.get("/api/workflows/999999/events")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_events_query_count_does_not_grow_with_the_history(api_client):
    short = workflow_make([(action_type_make("test.hist_q"), device_make("handler-hist-q"))] * 1)
    long = workflow_make([(action_type_make("test.hist_q2"), device_make("handler-hist-q2"))] * 8)
    api_client.get("/api/workflows/0/events")  # the token's first use writes last_used_at: not measured
    counts = []
    for workflow in (short, long):
        workflow_start(workflow=workflow)
        while workflow_action_run(workflow_id=workflow.pk) is not None:
            pass
        with CaptureQueriesContext(connection) as queries:
            assert api_client.get(f"/api/workflows/{workflow.pk}/events").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_runs_admin_page_shows_both_users_in_its_history(running, client):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    workflow_pause(workflow=running, user=alice, reason="media colour")
    workflow_resume(workflow=running, user=bob)
    admin = UserFactory(username="admin-h", is_staff=True, is_superuser=True)
    client.force_login(admin)
    page = client.get(reverse("admin:workflows_workflow_change", args=[running.pk])).content.decode()
    assert "every status change" in page.lower()
    assert "media colour" in page and ">alice<" in page and ">bob<" in page
