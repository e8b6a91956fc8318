"""POST /api/workflows/{id}/start, /execute-step, /complete, /pause, /resume, /cancel, /resolve."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from accounts.services import token_issue
from devices.choices import BookingStatus
from devices.models import Booking
from executionlogs.models import ExecutionLog
from tests.factories import UserFactory
from tests.utils import queries_for
from tests.workflows.executor_support import action_type_make, device_make, workflow_make
from workflows.choices import RunStepStatus, WorkflowStatus
from workflows.services.dispatch import action_claim
from workflows.services.recovery import executor_recover

pytestmark = pytest.mark.django_db


def client_for(*roles) -> APIClient:
    user = UserFactory(username="role-" + "-".join(roles))
    user.groups.set(Group.objects.filter(name__in=roles))
    _, key = token_issue(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def manual_create(client, name: str, barcode: str, steps=("pipette_transfer",)) -> int:
    body = {"name": name, "device_id": "liquid-handler-1", "sample_barcodes": [barcode], "steps": list(steps)}
    response = client.post("/api/workflows", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


@pytest.fixture
def manual_workflow(demo_lab, api_client):
    response = api_client.post(
        "/api/workflows",
        {"name": "manual", "device_id": "liquid-handler-1", "sample_barcodes": ["SAMPLE001"],
         "steps": ["pipette_transfer", "dispense_reagent"]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def test_manual_lifecycle_start_execute_steps_complete_like_the_original_api(api_client, manual_workflow):
    started = api_client.post(f"/api/workflows/{manual_workflow}/start")
    assert started.status_code == 200
    body = started.json()
    assert body["message"] == "Workflow started"
    assert body["workflow"]["status"] == "running" and body["workflow"]["id"] == manual_workflow
    assert Booking.objects.get(device_id="liquid-handler-1", status=BookingStatus.ACTIVE).workflow_id == manual_workflow

    executed = api_client.post(f"/api/workflows/{manual_workflow}/execute-step")
    assert executed.status_code == 200
    assert executed.json()["step"]["status"] == "succeeded" and executed.json()["step"]["name"] == "pipette_transfer"
    assert executed.json()["workflow"]["progress"] == {"done": 1, "skipped": 0, "failed": 0, "unknown": 0, "total": 2}
    assert executed.json()["workflow"]["current_action"]["name"] == "dispense_reagent"
    log = ExecutionLog.objects.get(workflow_id=manual_workflow)
    assert log.caused_by == "manual" and log.user.username == "scientist" and log.action_type == "pipette_transfer"

    api_client.post(f"/api/workflows/{manual_workflow}/execute-step")
    nothing_left = api_client.post(f"/api/workflows/{manual_workflow}/execute-step")
    assert nothing_left.status_code == 409 and "no step left" in nothing_left.json()["detail"]

    completed = api_client.post(f"/api/workflows/{manual_workflow}/complete")
    assert completed.status_code == 200 and completed.json()["workflow"]["status"] == "completed"
    assert not Booking.objects.filter(device_id="liquid-handler-1", status=BookingStatus.ACTIVE).exists()
    assert ExecutionLog.objects.filter(workflow_id=manual_workflow).count() == 2


def test_start_of_a_manual_workflow_on_a_busy_device_is_409(api_client, manual_workflow):
    other = manual_create(api_client, "other", "SAMPLE002")
    assert api_client.post(f"/api/workflows/{manual_workflow}/start").status_code == 200
    busy = api_client.post(f"/api/workflows/{other}/start")
    assert busy.status_code == 409 and "liquid-handler-1" in busy.json()["detail"]
    assert api_client.get(f"/api/workflows/{other}").json()["status"] == "created"


def test_complete_hands_the_device_to_the_next_in_its_queue(api_client, manual_workflow):
    api_client.post(f"/api/workflows/{manual_workflow}/start")
    other = manual_create(api_client, "next", "SAMPLE003")
    queued = api_client.post(
        "/api/devices/liquid-handler-1/queue", {"workflow_id": other, "priority": "urgent"}, format="json"
    )
    assert queued.status_code in (200, 201, 202)
    api_client.post(f"/api/workflows/{manual_workflow}/complete")
    assert Booking.objects.get(device_id="liquid-handler-1", status=BookingStatus.ACTIVE).workflow_id == other


def test_wrong_states_are_409_naming_the_state(api_client, manual_workflow):
    for path in ("pause", "resume", "complete", "execute-step"):
        response = api_client.post(f"/api/workflows/{manual_workflow}/{path}")
        assert response.status_code == 409, path
        assert "is created" in response.json()["detail"] or "start it" in response.json()["detail"]
    api_client.post(f"/api/workflows/{manual_workflow}/start")
    again = api_client.post(f"/api/workflows/{manual_workflow}/start")
    assert again.status_code == 409 and again.json()["fields"] == {"status": ["running"]}
    assert api_client.post(f"/api/workflows/{manual_workflow}/cancel").status_code == 200
    assert api_client.post(f"/api/workflows/{manual_workflow}/cancel").status_code == 409


def test_pause_resume_cancel_through_the_api(api_client, manual_workflow):
    api_client.post(f"/api/workflows/{manual_workflow}/start")
    paused = api_client.post(f"/api/workflows/{manual_workflow}/pause", {"reason": "refill tips"}, format="json")
    assert paused.status_code == 200
    assert (
        paused.json()["workflow"]["status"] == "paused" and paused.json()["workflow"]["status_reason"] == "refill tips"
    )
    assert api_client.post(f"/api/workflows/{manual_workflow}/execute-step").status_code == 409
    assert api_client.post(f"/api/workflows/{manual_workflow}/resume").json()["workflow"]["status"] == "running"
    cancelled = api_client.post(f"/api/workflows/{manual_workflow}/cancel")
    assert cancelled.json()["workflow"]["status"] == "cancelled"
    assert [s["status"] for s in cancelled.json()["workflow"]["steps"]] == ["skipped", "skipped"]
    assert not Booking.objects.filter(workflow_id=manual_workflow, status=BookingStatus.ACTIVE).exists()


def test_resolve_validates_its_body_and_the_step_state(api_client):
    unsafe = action_type_make("test.api_unsafe", timeout_seconds=1)
    workflow = workflow_make([(unsafe, device_make("handler-api"))])
    api_client.post(f"/api/workflows/{workflow.pk}/start")
    step = action_claim(workflow_id=workflow.pk)

    bad = api_client.post(f"/api/workflows/{workflow.pk}/resolve", {"step": "one", "decision": "ignore"}, format="json")
    assert bad.status_code == 400 and set(bad.json()["fields"]) == {"step", "decision"}
    assert "mark_succeeded" in str(bad.json()["fields"]["decision"])
    not_unknown = api_client.post(
        f"/api/workflows/{workflow.pk}/resolve", {"step": 1, "decision": "retry"}, format="json"
    )
    assert not_unknown.status_code == 409 and "not unknown" in not_unknown.json()["detail"]
    missing = api_client.post(f"/api/workflows/{workflow.pk}/resolve", {"step": 7, "decision": "retry"}, format="json")
    assert missing.status_code == 400 and "step" in missing.json()["fields"]

    executor_recover(now=step.dispatched_at + timedelta(seconds=600))
    detail = api_client.get(f"/api/workflows/{workflow.pk}").json()
    assert detail["status"] == "paused" and "outcome unknown" in detail["status_reason"]
    assert detail["steps"][0]["status"] == "unknown" and detail["current_action"]["status"] == "unknown"
    resolved = api_client.post(
        f"/api/workflows/{workflow.pk}/resolve", {"step": 1, "decision": "mark_succeeded"}, format="json"
    )
    assert resolved.status_code == 200 and resolved.json()["workflow"]["steps"][0]["resolution"] == "mark_succeeded"
    resumed = api_client.post(f"/api/workflows/{workflow.pk}/resume")
    assert resumed.status_code == 200
    workflow.refresh_from_db()
    assert workflow.run_steps.get().status == RunStepStatus.SUCCEEDED
    assert workflow.status in (WorkflowStatus.RUNNING, WorkflowStatus.COMPLETED)


def test_start_needs_run_workflows_and_control_actions_need_control_workflows(manual_workflow):
    viewer, scientist, operator = client_for("viewer"), client_for("scientist"), client_for("operator")
    assert viewer.post(f"/api/workflows/{manual_workflow}/start").status_code == 403
    assert scientist.post(f"/api/workflows/{manual_workflow}/start").status_code == 200
    for path in ("pause", "resume", "cancel", "complete", "execute-step", "resolve"):
        refused = scientist.post(f"/api/workflows/{manual_workflow}/{path}")
        assert refused.status_code == 403 and "control workflows" in refused.json()["detail"], path
    assert operator.post(f"/api/workflows/{manual_workflow}/execute-step").status_code == 200
    assert viewer.get(f"/api/workflows/{manual_workflow}").status_code == 200


def test_workflow_detail_queries_do_not_grow_with_its_steps(api_client):
    transfer = action_type_make("test.api_count")
    device = device_make("handler-count")
    small = workflow_make([(transfer, device)] * 2, samples=2)
    large = workflow_make([(transfer, device)] * 25, samples=12)
    few = queries_for(lambda: api_client.get(f"/api/workflows/{small.pk}"))
    many = queries_for(lambda: api_client.get(f"/api/workflows/{large.pk}"))
    assert few == many
    body = api_client.get(f"/api/workflows/{large.pk}").json()
    assert (
        body["progress"] == {"done": 0, "skipped": 0, "failed": 0, "unknown": 0, "total": 25}
        and body["current_action"]["position"] == 1
    )
    assert {"dispatched_at", "duration_seconds", "attempt", "resolution"} <= set(body["steps"][0])


def test_execute_step_refuses_a_device_the_workflow_no_longer_holds(api_client, demo_lab):
    holder = manual_create(api_client, "released", "SAMPLE001")
    other = manual_create(api_client, "other", "SAMPLE002")
    assert api_client.post(f"/api/workflows/{holder}/start").status_code == 200
    released = api_client.post("/api/devices/liquid-handler-1/release", {"workflow_id": holder}, format="json")
    assert released.status_code == 200
    booked = api_client.post("/api/devices/liquid-handler-1/book", {"workflow_id": other}, format="json")
    assert booked.status_code == 201
    response = api_client.post(f"/api/workflows/{holder}/execute-step")
    assert response.status_code == 409, "dispatched to a device booked by another workflow (invariant 1)"
    assert not ExecutionLog.objects.filter(workflow_id=holder).exists()


def test_a_manual_run_whose_device_is_released_pauses_and_resume_books_it_again(
    api_client, demo_lab, django_capture_on_commit_callbacks
):
    run = manual_create(api_client, "loses its device", "SAMPLE001", steps=("pipette_transfer", "dispense_reagent"))
    assert api_client.post(f"/api/workflows/{run}/start").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        released = api_client.post("/api/devices/liquid-handler-1/release", {"workflow_id": run}, format="json")
    assert released.status_code == 200
    detail = api_client.get(f"/api/workflows/{run}").json()
    assert detail["status"] == "paused" and "lost liquid-handler-1" in detail["status_reason"]
    # It cannot be completed over steps it could never run while it holds nothing.
    assert api_client.post(f"/api/workflows/{run}/complete").status_code == 409
    assert api_client.post(f"/api/workflows/{run}/resume").json()["workflow"]["status"] == "running"
    assert Booking.objects.active().filter(workflow_id=run, device_id="liquid-handler-1").exists()
    assert api_client.post(f"/api/workflows/{run}/execute-step").status_code == 200


def test_a_device_handed_to_a_workflow_never_started_is_given_back_after_the_limit(
    api_client, demo_lab, settings, django_capture_on_commit_callbacks
):
    settings.LABCORE_UNSTARTED_BOOKING_SECONDS = 60
    holder = manual_create(api_client, "holder", "SAMPLE001")
    idle = manual_create(api_client, "never started", "SAMPLE002")
    waiting = manual_create(api_client, "waiting", "SAMPLE003")
    assert api_client.post(f"/api/workflows/{holder}/start").status_code == 200
    for queued in (idle, waiting):
        body = {"workflow_id": queued, "priority": "normal"}
        assert api_client.post("/api/devices/liquid-handler-1/queue", body, format="json").status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.post(f"/api/workflows/{holder}/complete").status_code == 200
    granted = Booking.objects.active().get(device_id="liquid-handler-1")
    assert granted.workflow_id == idle  # handed on to a workflow that is still "created"
    executor_recover()
    assert Booking.objects.active().get(device_id="liquid-handler-1").workflow_id == idle  # within the limit
    Booking.objects.filter(pk=granted.pk).update(booked_at=granted.booked_at - timedelta(seconds=61))
    with django_capture_on_commit_callbacks(execute=True):
        assert executor_recover()["given_back"] == 1
    assert Booking.objects.active().get(device_id="liquid-handler-1").workflow_id == waiting
    assert "not started within 60 s" in Booking.objects.get(pk=granted.pk).release_reason
