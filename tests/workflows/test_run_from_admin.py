"""Running from the admin: a protocol's Run form (plate-grouped sample picker, whole plates, start now)
and the Start campaign page; bad input is a form error that writes nothing, and the pages' queries
do not grow with plates and samples (invariant 8)."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from accounts.roles import SCIENTIST, VIEWER
from samples.models import Plate, Sample
from samples.services import plate_register
from tests.factories import BookingFactory, SampleFactory, UserFactory
from tests.utils import queries_for
from tests.workflows.factories import protocol_make, registry_make
from workflows.choices import WorkflowStatus
from workflows.models import Campaign, Protocol, Workflow, WorkflowEvent
from workflows.services.protocols import protocol_new_version

pytestmark = pytest.mark.django_db

PASSAGE = "MSC passage P3 -> P4"
CAMPAIGN_START = reverse("admin:workflows_campaign_start")


@pytest.fixture
def admin_client(db):
    client = Client()
    client.force_login(UserFactory(username="boss", is_staff=True, is_superuser=True))
    return client


def run_url(protocol):
    return reverse("admin:workflows_protocol_run", args=[protocol.pk])


def plate(barcode):
    return Plate.objects.get(barcode=barcode)


def test_the_picker_groups_samples_by_plate_with_well_and_type(admin_client, demo_lab):
    page = admin_client.get(run_url(Protocol.objects.get(name=PASSAGE))).content.decode()
    plate_07 = plate("PLATE-07")
    assert f'<input type="checkbox" name="plates" value="{plate_07.pk}"' in page
    assert "whole plate, 6 samples (96-well)" in page
    group = page.split(f'data-plate="{plate_07.pk}"')[1].split("</tbody>")[0]
    rows = group.split('<tr class="sample-row">')[1:]
    assert [row.split("<td>")[2].split("</td>")[0] for row in rows] == ["A1", "A2", "A3", "A4", "A5", "A6"]
    assert "MSC-07-A1" in rows[0] and "<td>Cells</td>" in rows[0]


def test_a_whole_plate_started_now_is_running_or_queued_with_its_samples_in_well_order(admin_client, demo_lab):
    protocol = Protocol.objects.get(name=PASSAGE)
    plate_register(
        barcode="PLATE-90",
        well_count=96,
        samples=[{"barcode": f"P90-{well}", "well": well, "sample_type": "cells"} for well in ("A10", "A2", "B1")],
    )
    response = admin_client.post(
        run_url(protocol),
        {
            "name": "Whole plate",
            "plates": [plate("PLATE-90").pk],
            "priority": "urgent",
            "mode": "auto",
            "start_now": "on",
        },
    )
    workflow = Workflow.objects.get(name="Whole plate")
    assert response.status_code == 302
    assert response.url == reverse("admin:workflows_workflow_change", args=[workflow.pk])
    assert workflow.status in (WorkflowStatus.RUNNING, WorkflowStatus.QUEUED)
    samples = list(workflow.workflow_samples.order_by("position").values_list("sample__barcode", flat=True))
    assert samples == ["P90-A2", "P90-A10", "P90-B1"]
    start = WorkflowEvent.objects.filter(workflow=workflow, from_status=WorkflowStatus.CREATED).get()
    assert start.by == "boss (admin)"
    messages = [str(message) for message in response.wsgi_request._messages]
    assert any("Created and started" in message for message in messages)


def test_single_wells_and_a_plate_together_without_start_now_stay_created(admin_client, demo_lab):
    protocol = Protocol.objects.get(name=PASSAGE)
    single = Sample.objects.get(barcode="MSC-05-A3")
    data = {"name": "Mixed", "plates": [plate("PLATE-04").pk], "samples": [single.pk], "priority": "normal"}
    response = admin_client.post(run_url(protocol), {**data, "mode": "auto"})
    assert response.status_code == 302
    workflow = Workflow.objects.get(name="Mixed")
    assert workflow.status == WorkflowStatus.CREATED
    assert workflow.workflow_samples.count() == 7


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({}, "Pick at least one sample"),
        ({"samples": ["abc"]}, "is not a valid value"),
        ({"samples": ["999999999"]}, "Select a valid choice"),
        ({"plates": ["999999999"]}, "Select a valid choice"),
        ({"samples": ["1\x00"]}, "valid"),
        ({"priority": "asap"}, "Select a valid choice"),
    ],
)
def test_bad_run_input_is_a_form_error_and_writes_nothing(admin_client, demo_lab, data, error):
    protocol = Protocol.objects.get(name=PASSAGE)
    before = (Workflow.objects.count(), WorkflowEvent.objects.count())
    response = admin_client.post(run_url(protocol), {"name": "Bad", "priority": "normal", "mode": "auto", **data})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert (Workflow.objects.count(), WorkflowEvent.objects.count()) == before


def test_a_draft_cannot_be_run_from_the_form(admin_client, demo_lab):
    draft = protocol_new_version(protocol=Protocol.objects.get(name=PASSAGE), user=None)
    page = admin_client.get(run_url(draft)).content.decode()
    assert "publish it before running it" in page and 'id="run-submit" disabled' in page
    response = admin_client.post(
        run_url(draft), {"name": "Draft", "plates": [plate("PLATE-03").pk], "priority": "normal", "mode": "auto"}
    )
    assert response.status_code == 200 and "publish it before running it" in response.content.decode()
    assert not Workflow.objects.filter(name="Draft").exists()


def test_a_refused_start_keeps_the_created_run_and_says_why(admin_client):
    registry = registry_make()
    protocol = protocol_make(1, published=True)
    BookingFactory(device=registry["handler"])  # another run holds the liquid handler
    sample = SampleFactory()
    response = admin_client.post(
        run_url(protocol),
        {"name": "Refused", "samples": [sample.pk], "priority": "normal", "mode": "manual", "start_now": "on"},
        follow=True,
    )
    workflow = Workflow.objects.get(name="Refused")
    assert workflow.status == WorkflowStatus.CREATED and workflow.workflow_samples.count() == 1
    page = response.content.decode()
    assert "could not start" in page and "handler-a" in page


def test_the_run_page_queries_do_not_grow_with_plates_and_samples(admin_client, demo_lab):
    url = run_url(Protocol.objects.get(name=PASSAGE))
    few = queries_for(lambda: admin_client.get(url))
    for number in range(60, 66):
        plate_register(
            barcode=f"PLATE-{number}",
            well_count=96,
            samples=[{"barcode": f"X{number}-{c}", "well": f"B{c}", "sample_type": "cells"} for c in range(1, 13)],
        )
    assert queries_for(lambda: admin_client.get(url)) == few


def test_a_campaign_starts_on_two_plates_from_the_admin(admin_client, demo_lab):
    protocol = Protocol.objects.get(name=PASSAGE)
    page = admin_client.get(CAMPAIGN_START, {"protocol": protocol.pk}).content.decode()
    assert f'<option value="{protocol.pk}" selected>' in page
    response = admin_client.post(
        CAMPAIGN_START,
        {
            "protocol": protocol.pk,
            "name": "Two plates",
            "plates": [plate("PLATE-09").pk, plate("PLATE-08").pk],
            "priority": "normal",
        },
    )
    campaign = Campaign.objects.get(name="Two plates")
    assert response.status_code == 302
    assert response.url == reverse("admin:workflows_campaign_change", args=[campaign.pk])
    runs = list(campaign.workflows.order_by("id"))
    assert [run.name for run in runs] == ["Two plates / PLATE-08", "Two plates / PLATE-09"]
    assert all(run.status != WorkflowStatus.CREATED for run in runs)
    page = admin_client.get(CAMPAIGN_START).content.decode()
    assert page.count("in a campaign run") == 2


def test_a_plate_already_in_a_campaign_run_is_a_form_error_and_nothing_is_written(admin_client, demo_lab):
    protocol = Protocol.objects.get(name=PASSAGE)
    data = {"protocol": protocol.pk, "name": "First", "plates": [plate("PLATE-10").pk], "priority": "normal"}
    assert admin_client.post(CAMPAIGN_START, data).status_code == 302
    before = (Campaign.objects.count(), Workflow.objects.count(), WorkflowEvent.objects.count())
    data = {**data, "name": "Second", "plates": [plate("PLATE-11").pk, plate("PLATE-10").pk]}
    response = admin_client.post(CAMPAIGN_START, data)
    assert response.status_code == 200
    assert "PLATE-10 is in run" in response.content.decode()
    assert (Campaign.objects.count(), Workflow.objects.count(), WorkflowEvent.objects.count()) == before


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"plates": []}, "Pick at least one plate"),
        ({"name": "   "}, "This field is required"),
        ({"priority": "asap"}, "Select a valid choice"),
        ({"plates": ["x"]}, "is not a valid value"),
        ({"protocol": "999999"}, "Select a valid choice"),
    ],
)
def test_bad_campaign_input_is_a_form_error(admin_client, demo_lab, change, error):
    protocol = Protocol.objects.get(name=PASSAGE)
    data = {"protocol": protocol.pk, "name": "Bad", "plates": [plate("PLATE-12").pk], "priority": "normal", **change}
    before = (Campaign.objects.count(), Workflow.objects.count())
    response = admin_client.post(CAMPAIGN_START, data)
    assert response.status_code == 200 and error in response.content.decode()
    assert (Campaign.objects.count(), Workflow.objects.count()) == before


def test_a_draft_protocol_or_an_empty_plate_is_refused_by_the_service_as_a_form_error(admin_client, demo_lab):
    draft = protocol_new_version(protocol=Protocol.objects.get(name=PASSAGE), user=None)
    empty = plate_register(barcode="PLATE-99", well_count=96)
    data = {"protocol": draft.pk, "name": "Draft campaign", "plates": [plate("PLATE-13").pk], "priority": "normal"}
    response = admin_client.post(CAMPAIGN_START, data)
    assert response.status_code == 200 and "draft protocols cannot be run" in response.content.decode()
    published = Protocol.objects.get(name=PASSAGE, status="published")
    response = admin_client.post(CAMPAIGN_START, {**data, "protocol": published.pk, "plates": [empty.pk]})
    assert response.status_code == 200 and "PLATE-99 has no samples" in response.content.decode()
    assert not Campaign.objects.exists()


def test_the_campaign_start_page_queries_do_not_grow_with_plates(admin_client, demo_lab):
    few = queries_for(lambda: admin_client.get(CAMPAIGN_START))
    for number in range(70, 80):
        plate_register(
            barcode=f"PLATE-{number}",
            well_count=96,
            samples=[{"barcode": f"Y{number}-1", "well": "A1", "sample_type": "cells"}],
        )
    assert queries_for(lambda: admin_client.get(CAMPAIGN_START)) == few


def test_the_campaign_list_links_to_start_a_campaign(admin_client, demo_lab):
    page = admin_client.get(reverse("admin:workflows_campaign_changelist")).content.decode()
    assert f'href="{CAMPAIGN_START}" id="campaign-start"' in page


def test_a_published_protocol_links_to_a_campaign_start_with_itself_chosen(admin_client, demo_lab):
    from workflows.models import Protocol

    protocol = Protocol.objects.filter(status="published").order_by("id").first()
    page = admin_client.get(reverse("admin:workflows_protocol_change", args=[protocol.pk])).content.decode()
    link = f"{CAMPAIGN_START}?protocol={protocol.pk}"
    assert f'href="{link}" id="protocol-campaign-start"' in page
    form = admin_client.get(link).context["form"]
    assert form.initial["protocol"] == protocol.pk


@pytest.mark.parametrize(("role", "allowed"), [(VIEWER, False), (SCIENTIST, True)])
def test_only_roles_that_may_run_workflows_open_the_run_and_campaign_pages(demo_lab, role, allowed):
    user = UserFactory(username=f"a-{role}", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    protocol = Protocol.objects.get(name=PASSAGE)
    for url in (run_url(protocol), CAMPAIGN_START):
        assert client.get(url).status_code == (200 if allowed else 403), url
    data = {"protocol": protocol.pk, "name": "By role", "plates": [plate("PLATE-14").pk], "priority": "normal"}
    assert client.post(CAMPAIGN_START, data).status_code == (302 if allowed else 403)
    assert Campaign.objects.filter(name="By role").exists() == allowed
