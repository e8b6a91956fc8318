"""The live run page (the workflow's admin change view), its polled fragment and its confirmed controls."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import UserFactory
from tests.utils import queries_for
from tests.workflows.executor_support import action_type_make, device_make, run_until_idle, workflow_make
from workflows.choices import RunStepStatus, WorkflowStatus
from workflows.models import RunStep
from workflows.services.dispatch import action_claim, action_dispatch, dispatch_context
from workflows.services.execution import workflow_action_run, workflow_cancel, workflow_pause, workflow_start
from workflows.services.recording import action_record
from workflows.services.recovery import executor_recover

pytestmark = pytest.mark.django_db


def change_url(workflow) -> str:
    return reverse("admin:workflows_workflow_change", args=[workflow.pk])


def live_url(workflow) -> str:
    return reverse("admin:workflows_workflow_live", args=[workflow.pk])


def control_url(workflow, control: str) -> str:
    return reverse("admin:workflows_workflow_control", args=[workflow.pk, control])


def client_for(*roles: str, superuser: bool = False, **client_options) -> Client:
    user = UserFactory(username=f"run-page-{'-'.join(roles) or 'admin'}", is_staff=True, is_superuser=superuser)
    user.groups.set(Group.objects.filter(name__in=roles))
    client = Client(**client_options)
    client.force_login(user)
    return client


@pytest.fixture
def admin_client():
    return client_for(superuser=True)


@pytest.fixture
def transfer():
    return action_type_make("test.run_page_transfer")


def buttons(html: str) -> set[str]:
    return set(re.findall(r'id="run-control-([a-z_]+)"', html))


def test_the_page_shows_progress_current_action_steps_to_the_second_samples_and_history(admin_client, transfer):
    workflow = workflow_make([(transfer, device_make("handler-rp1"))] * 3, samples=2, name="page run")
    workflow_start(workflow=workflow)
    workflow_action_run(workflow_id=workflow.pk)
    first = RunStep.objects.get(workflow=workflow, position=1)
    start = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    RunStep.objects.filter(pk=first.pk).update(started_at=start, finished_at=start + timedelta(seconds=83))
    step = action_claim(workflow_id=workflow.pk)  # step 2 in flight: the current action, with its elapsed time
    RunStep.objects.filter(pk=step.pk).update(dispatched_at=timezone.now() - timedelta(seconds=95))

    html = admin_client.get(change_url(workflow)).content.decode()

    assert 'id="run-live"' in html and "htmx.org-2.0.11/htmx.min.js" in html
    assert "1/3 done" in html and 'id="run-state" class="run-state run-state-running">Running<' in html
    assert re.search(r"step 2: test.run_page_transfer on handler-rp1 \(dispatching\)", html)
    assert re.search(r'id="run-current-elapsed">1 min 3[5-9] s<', html)  # elapsed to the second
    assert "1 min 23 s" in html  # step 1's duration
    shown = timezone.localtime(start)  # its start, to the second (the date is the header's, unless another day)
    assert f'<span title="{shown:%Y-%m-%d %H:%M:%S}">{shown:%H:%M:%S}</span>' in html
    assert "Error / decision" not in html  # no step has one: no empty column
    assert "run-segment-succeeded" in html and "run-segment-in-flight" in html and "run-segment-pending" in html
    for link in workflow.workflow_samples.select_related("sample__plate"):
        sample = link.sample
        assert f"<td>{sample.barcode}</td><td>{sample.plate.barcode}</td><td>{sample.well}</td><td>Cells</td>" in html
    assert "History (every status change)" in html and "<td>created</td><td>running</td>" in html
    assert "Window violations (0)" in html


def test_the_fragment_polls_while_the_run_lives_and_stops_once_it_is_finished(admin_client, transfer):
    workflow = workflow_make([(transfer, device_make("handler-rp2"))] * 2)
    workflow_start(workflow=workflow)
    running = admin_client.get(live_url(workflow), HTTP_HX_REQUEST="true")
    fragment = running.content.decode()
    assert running.status_code == 200 and "<html" not in fragment and "<body" not in fragment
    assert fragment.lstrip().startswith('<div id="run-live"')  # the element htmx swaps, nothing around it
    assert f'hx-get="{live_url(workflow)}" hx-trigger="every 2s"' in fragment and 'data-live="true"' in fragment
    assert "0/2 done" in fragment

    run_until_idle(workflow)
    finished = admin_client.get(live_url(workflow), HTTP_HX_REQUEST="true")
    assert finished.status_code == 286  # htmx's "stop polling"
    fragment = finished.content.decode()
    assert "2/2 done" in fragment and "hx-trigger" not in fragment and 'data-live="false"' in fragment
    page = admin_client.get(change_url(workflow)).content.decode()
    assert "hx-trigger" not in page and "Completed" in page and "updating every" not in page
    # Opened without htmx (a bookmark, a script), the fragment is a plain 200.
    assert admin_client.get(live_url(workflow)).status_code == 200


def test_a_cancel_with_an_action_in_flight_shows_cancelling_until_that_action_is_recorded(admin_client, transfer):
    workflow = workflow_make([(transfer, device_make("handler-rp3"))] * 3)
    workflow_start(workflow=workflow)
    step = action_claim(workflow_id=workflow.pk)
    workflow_cancel(workflow=workflow)

    fragment = admin_client.get(live_url(workflow), HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert fragment.status_code == 200 and 'data-live="true"' in html and "hx-trigger" in html  # still polling
    assert ">Cancelling<" in html and 'id="run-cancelling"' in html and "step 1 (test.run_page_transfer" in html
    assert buttons(html) == set()  # nothing left to control

    result, started_at, finished_at = action_dispatch(step, context=dispatch_context(step))
    action_record(
        run_step_id=step.pk,
        workflow_id=workflow.pk,
        attempt_id=str(step.attempt_id),
        result=result,
        started_at=started_at,
        finished_at=finished_at,
    )
    done = admin_client.get(live_url(workflow), HTTP_HX_REQUEST="true")
    html = done.content.decode()
    assert done.status_code == 286 and ">Cancelled<" in html and "run-cancelling" not in html
    assert "1/3 done, 2 skipped" in html  # a cancelled run does not read as done


def test_only_the_controls_the_state_allows_are_offered(admin_client, transfer):
    workflow = workflow_make([(transfer, device_make("handler-rp4"))] * 2)
    assert buttons(admin_client.get(change_url(workflow)).content.decode()) == {"start", "cancel"}
    workflow_start(workflow=workflow)
    assert buttons(admin_client.get(change_url(workflow)).content.decode()) == {"pause", "cancel"}
    workflow_pause(workflow=workflow)
    assert buttons(admin_client.get(change_url(workflow)).content.decode()) == {"resume", "cancel"}
    workflow_cancel(workflow=workflow)
    assert buttons(admin_client.get(change_url(workflow)).content.decode()) == set()


def test_get_asks_to_confirm_and_post_pauses(admin_client, transfer):
    workflow = workflow_make([(transfer, device_make("handler-rp5"))] * 2)
    workflow_start(workflow=workflow)
    page = admin_client.get(change_url(workflow)).content.decode()
    assert f'href="{control_url(workflow, "pause")}"' in page

    confirm = admin_client.get(control_url(workflow, "pause"))
    html = confirm.content.decode()
    assert confirm.status_code == 200 and 'id="run-confirm-form"' in html and 'method="post"' in html
    assert "Pause this run?" in html and "csrfmiddlewaretoken" in html and 'value="Yes, pause"' in html
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.RUNNING  # asking changes nothing

    done = admin_client.post(control_url(workflow, "pause"), follow=True)
    assert done.redirect_chain[-1][0] == change_url(workflow)
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.PAUSED
    assert f'<li class="success">Run (#{workflow.pk}) paused.</li>' in done.content.decode()
    assert workflow.events.latest("id").by == "run-page-admin"


def test_a_post_without_its_csrf_token_is_refused(transfer):
    client = client_for(superuser=True, enforce_csrf_checks=True)
    workflow = workflow_make([(transfer, device_make("handler-rp6"))])
    workflow_start(workflow=workflow)
    assert client.post(control_url(workflow, "cancel")).status_code == 403
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.RUNNING


def test_a_control_the_state_forbids_is_an_error_message_never_a_500(admin_client, transfer):
    workflow = workflow_make([(transfer, device_make("handler-rp7"))])
    response = admin_client.post(control_url(workflow, "pause"), follow=True)
    assert response.status_code == 200
    assert "only a running workflow can be paused" in response.content.decode()
    # Asking to confirm a control the run has moved past says so instead.
    asked = admin_client.get(control_url(workflow, "resume"), follow=True).content.decode()
    assert "resume is not possible now" in asked and "run-confirm-form" not in asked
    for step in ("x", "-1", "99999999999999999999"):
        refused = admin_client.post(control_url(workflow, "retry"), {"step": step}, follow=True)
        assert refused.status_code == 200 and 'class="error"' in refused.content.decode()
    assert admin_client.post(control_url(workflow, "explode")).status_code == 404
    assert admin_client.get(reverse("admin:workflows_workflow_live", args=[999999])).status_code == 404
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.CREATED


def test_a_step_with_an_unknown_outcome_is_resolved_from_the_page(admin_client):
    unsafe = action_type_make("test.run_page_unsafe", timeout_seconds=1)
    workflow = workflow_make([(unsafe, device_make("handler-rp8"))] * 2)
    workflow_start(workflow=workflow)
    step = action_claim(workflow_id=workflow.pk)
    executor_recover(now=step.dispatched_at + timedelta(seconds=600))
    page = admin_client.get(change_url(workflow)).content.decode()
    assert buttons(page) == {"cancel", "retry", "mark_succeeded", "mark_failed"}  # no resume before a decision
    assert 'id="run-decision"' in page and "Step 1 (test.run_page_unsafe on handler-rp8) has an unknown outcome" in page
    assert f'href="{control_url(workflow, "mark_succeeded")}?step=1"' in page

    confirm = admin_client.get(control_url(workflow, "mark_succeeded") + "?step=1").content.decode()
    assert "Record step 1 as succeeded" in confirm and 'name="step" value="1"' in confirm
    done = admin_client.post(control_url(workflow, "mark_succeeded"), {"step": "1"}, follow=True).content.decode()
    assert "Step 1 of" in done and "resolved (marked succeeded)" in done
    step.refresh_from_db()
    assert step.status == RunStepStatus.SUCCEEDED and step.resolved_by.username == "run-page-admin"
    after = admin_client.get(change_url(workflow)).content.decode()
    assert buttons(after) == {"resume", "cancel"} and "decided: mark_succeeded" in after


def test_a_viewer_sees_the_run_but_no_buttons_and_is_refused_every_control(transfer):
    viewer = client_for("viewer")
    workflow = workflow_make([(transfer, device_make("handler-rp9"))] * 2)
    workflow_start(workflow=workflow)
    page = viewer.get(change_url(workflow))
    assert page.status_code == 200 and 'id="run-live"' in page.content.decode()
    assert buttons(page.content.decode()) == set() and 'id="run-controls"' not in page.content.decode()
    assert buttons(viewer.get(live_url(workflow)).content.decode()) == set()
    for control in ("pause", "cancel", "start", "resume", "retry"):
        assert viewer.get(control_url(workflow, control)).status_code == 403
        assert viewer.post(control_url(workflow, control)).status_code == 403
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.RUNNING


def test_each_control_needs_the_same_capability_as_in_the_api(transfer):
    """A scientist may start a run (run_workflows) but not pause or cancel it (control_workflows)."""
    scientist, operator = client_for("scientist"), client_for("operator")
    workflow = workflow_make([(transfer, device_make("handler-rp10"))] * 2)
    assert buttons(scientist.get(change_url(workflow)).content.decode()) == {"start"}
    assert buttons(operator.get(change_url(workflow)).content.decode()) == {"start", "cancel"}
    assert scientist.post(control_url(workflow, "cancel")).status_code == 403
    scientist.post(control_url(workflow, "start"))
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.RUNNING
    assert buttons(scientist.get(change_url(workflow)).content.decode()) == set()
    assert scientist.post(control_url(workflow, "pause")).status_code == 403
    operator.post(control_url(workflow, "pause"))
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.PAUSED


def test_the_page_and_its_fragment_use_a_constant_number_of_queries(admin_client, transfer):
    def measured(steps: int, samples: int):
        workflow = workflow_make([(transfer, device_make(f"handler-rp11-{steps}"))] * steps, samples=samples)
        workflow_start(workflow=workflow)
        for _ in range(steps - 1):  # every step but the last: run-steps, events and log entries grow
            workflow_action_run(workflow_id=workflow.pk)
        assert workflow.events.count() >= steps
        page = queries_for(lambda: admin_client.get(change_url(workflow)))
        fragment = queries_for(lambda: admin_client.get(live_url(workflow), HTTP_HX_REQUEST="true"))
        assert admin_client.get(change_url(workflow)).status_code == 200
        return page, fragment

    small = measured(steps=2, samples=1)
    large = measured(steps=25, samples=12)
    assert small == large
    page, fragment = large
    print("queries: page", page, "fragment", fragment)
    assert fragment <= 10 and page <= 16, (page, fragment)
