"""The admin's audit review page: edits and run events in one list, filtered by who, what and when, and as CSV."""

import csv
import io

import pytest
from django.test import Client

from tests.workflows.test_signatures import client_of, person

pytestmark = pytest.mark.django_db

REVIEW = "/admin/pghistory/events/review/"


@pytest.fixture
def activity(demo_lab):
    """alice creates a project and runs a manual workflow; bob renames it."""
    alice, bob = person("alice-audit"), person("bob-audit", "scientist")
    project = client_of(alice).post("/api/projects", {"name": "Audit me", "description": ""}, format="json").json()
    body = {
        "name": "audited run",
        "device_id": "liquid-handler-1",
        "sample_barcodes": ["SAMPLE001"],
        "steps": ["pipette_transfer"],
    }  # noqa: E501
    workflow_id = client_of(alice).post("/api/workflows", body, format="json").json()["id"]
    client_of(alice).post(f"/api/workflows/{workflow_id}/start")
    renamed = client_of(bob).patch(f"/api/projects/{project['id']}", {"name": "Audited"}, format="json")
    assert renamed.status_code == 200
    reviewer = person("rita-reviewer")
    reviewer.is_superuser = reviewer.is_staff = True
    reviewer.save()
    client = Client()
    client.force_login(reviewer)
    return client, workflow_id, project["id"]


def test_the_review_lists_edits_and_run_events_newest_first(activity):
    client, workflow_id, project_id = activity
    page = client.get(REVIEW)
    assert page.status_code == 200
    rows = page.context["rows"]
    whats = [row.what for row in rows]
    # (Inside a test everything shares the transaction's clock: the seeded demo lab's edits tie
    # with alice's, so only the kinds are checked here; the filters pick out her rows.)
    assert f"workflow {workflow_id}" in whats and any(what.startswith("samples.Sample ") for what in whats)
    assert [row.at for row in rows] == sorted((row.at for row in rows), reverse=True)


def test_filter_by_who_and_what(activity):
    client, workflow_id, project_id = activity
    by_bob = client.get(REVIEW, {"who": "bob-audit"}).context["rows"]
    assert by_bob and all(row.who == "bob-audit" for row in by_bob)
    assert {row.action for row in by_bob} == {"update"}
    by_alice = client.get(REVIEW, {"who": "alice-audit"}).context["rows"]
    assert {row.what for row in by_alice} >= {f"workflows.Project {project_id}", f"workflow {workflow_id}"}
    runs = client.get(REVIEW, {"what": "run"}).context["rows"]
    assert runs and all(row.what.startswith("workflow ") for row in runs)
    assert any(row.action == "created -> running" for row in runs)
    projects = client.get(REVIEW, {"what": "workflows.Project"}).context["rows"]
    assert projects and all(row.what.startswith("workflows.Project ") for row in projects)


def test_filter_by_when(activity):
    client, _, _ = activity
    assert client.get(REVIEW, {"end": "2000-01-01"}).context["rows"] == []
    assert client.get(REVIEW, {"start": "2000-01-01"}).context["rows"]
    bad = client.get(REVIEW, {"start": "yesterday"})
    assert bad.status_code == 200 and "start" in bad.context["form"].errors


def test_the_review_exports_as_csv(activity):
    client, workflow_id, _ = activity
    response = client.get(REVIEW, {"who": "alice-audit", "export": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["at", "who", "what", "action", "detail"]
    assert any(row[2] == f"workflow {workflow_id}" for row in rows[1:])


def test_the_review_needs_the_audit_view_permission(activity):
    viewer = person("no-staff", "viewer")
    client = Client()
    client.force_login(viewer)
    assert client.get(REVIEW).status_code in (302, 403)
