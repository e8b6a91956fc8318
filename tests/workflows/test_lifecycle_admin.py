"""Watching and steering a run in the admin: progress, current action, reason, lifecycle actions."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory
from tests.utils import queries_for
from tests.workflows.executor_support import action_type_make, device_make, workflow_make
from workflows.choices import RunStepStatus, WorkflowStatus
from workflows.services.dispatch import action_claim
from workflows.services.execution import workflow_action_run, workflow_start
from workflows.services.recovery import executor_recover

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:workflows_workflow_changelist"


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(UserFactory(username="lab-admin", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def transfer():
    return action_type_make("test.admin_transfer")


def act(client, action: str, *workflows):
    return client.post(
        reverse(CHANGELIST), {"action": action, "_selected_action": [w.pk for w in workflows]}, follow=True
    )


def test_the_change_page_shows_status_progress_current_action_and_run_steps(admin_client, transfer):
    workflow = workflow_make([(transfer, device_make("handler-adm"))] * 3)
    workflow_start(workflow=workflow)
    workflow_action_run(workflow_id=workflow.pk)
    page = admin_client.get(reverse("admin:workflows_workflow_change", args=[workflow.pk])).content.decode()
    assert "1/3" in page
    assert "step 2: test.admin_transfer on handler-adm (pending)" in page
    assert page.count("test.admin_transfer") >= 3 and "Succeeded" in page and "Running" in page


def test_pause_resume_cancel_from_the_admin(admin_client, transfer):
    workflow = workflow_make([(transfer, device_make("handler-adm2"))] * 2)
    assert "1 workflow(s) started" in act(admin_client, "start", workflow).content.decode()
    assert "1 workflow(s) paused" in act(admin_client, "pause", workflow).content.decode()
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.PAUSED
    warned = act(admin_client, "pause", workflow).content.decode()
    assert "only a running workflow can be paused" in warned
    act(admin_client, "resume", workflow)
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.RUNNING
    act(admin_client, "cancel", workflow)
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.CANCELLED and not workflow.bookings.filter(status="active").exists()


def test_resolve_an_unknown_step_from_the_admin(admin_client):
    unsafe = action_type_make("test.admin_unsafe", timeout_seconds=1)
    workflow = workflow_make([(unsafe, device_make("handler-adm3"))])
    workflow_start(workflow=workflow)
    step = action_claim(workflow_id=workflow.pk)
    executor_recover(now=step.dispatched_at + timedelta(seconds=600))
    page = admin_client.get(reverse("admin:workflows_workflow_change", args=[workflow.pk])).content.decode()
    assert "outcome unknown" in page  # the reason is on the page
    assert "1 step(s) resolved" in act(admin_client, "resolve_mark_succeeded", workflow).content.decode()
    step.refresh_from_db()
    assert step.status == RunStepStatus.SUCCEEDED and step.resolved_by.username == "lab-admin"


def test_the_workflow_changelist_queries_do_not_grow_with_rows(admin_client, transfer):
    device = device_make("handler-adm4")

    def make(count):
        for _ in range(count):
            workflow_make([(transfer, device)] * 3)

    make(3)
    few = queries_for(lambda: admin_client.get(reverse(CHANGELIST)))
    make(27)
    many = queries_for(lambda: admin_client.get(reverse(CHANGELIST)))
    assert few == many
    assert "0/3" in admin_client.get(reverse(CHANGELIST)).content.decode()
