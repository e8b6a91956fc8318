"""A run's admin page is a record: nothing of it is edited once created, and no empty run is added."""

import pytest
from django.urls import reverse

from devices.choices import Priority
from tests.factories import UserFactory
from tests.workflows.executor_support import action_type_make, device_make, workflow_make
from workflows.models import Workflow
from workflows.services.execution import workflow_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="admin-r", is_staff=True, is_superuser=True))
    return client


def test_a_queued_or_running_run_cannot_be_edited_through_its_page(admin_client):
    run = workflow_make([(action_type_make("test.admin_ro"), device_make("handler-admin-ro"))], name="before")
    workflow_start(workflow=run)
    url = reverse("admin:workflows_workflow_change", args=[run.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="priority"' not in page and 'name="name"' not in page and 'name="_save"' not in page
    response = admin_client.post(url, {"name": "after", "priority": Priority.URGENT, "mode": "manual"})
    assert response.status_code in (200, 302)
    run.refresh_from_db()
    assert (run.name, run.priority, run.mode) == ("before", Priority.NORMAL, "auto")


def test_the_admin_offers_no_empty_run(admin_client):
    assert admin_client.get(reverse("admin:workflows_workflow_add")).status_code == 403
    assert (
        'href="/admin/workflows/workflow/add/"'
        not in admin_client.get(reverse("admin:workflows_workflow_changelist")).content.decode()
    )
    assert not Workflow.objects.exists()
