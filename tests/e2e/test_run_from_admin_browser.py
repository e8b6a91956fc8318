"""A scientist runs a published protocol on a whole plate, and starts a campaign on two plates, from the
admin in headless Chromium."""

import pytest
from selenium.webdriver.common.by import By

from samples.models import Plate
from tests.factories import UserFactory
from workflows.choices import WorkflowStatus
from workflows.models import Campaign, Protocol, Workflow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSAGE = "MSC passage P3 -> P4"


@pytest.fixture
def scientist(demo_lab):
    return UserFactory(username="scientist-r", password="pw-run", is_staff=True, is_superuser=True)


def test_run_a_whole_plate_and_start_it_now(page, scientist):
    protocol = Protocol.objects.get(name=PASSAGE)
    plate = Plate.objects.get(barcode="PLATE-05")
    page.login("scientist-r", "pw-run")
    page.open(f"/admin/workflows/protocol/{protocol.pk}/change/")
    page.click_to_next_page(page.find("#protocol-run"))
    page.find("#sample-table")
    page.type_into("#id_name", "Passage of PLATE-05")
    page.type_into("#picker-find", "PLATE-05")
    whole = page.visible(f"#plate-{plate.pk}")
    page.click(whole)
    group = page.find(f"tbody[data-plate='{plate.pk}']")
    ticked = [box.is_selected() for box in group.find_elements(By.CSS_SELECTOR, "input[name=samples]")]
    assert ticked == [True] * 6  # the plate's box ticked every well
    page.wait_for_text("#picker-count", "6 sample(s) picked on 1 plate(s)")
    other_plates = page.driver.find_elements(By.CSS_SELECTOR, "tbody.plate-group:not(.hidden)")
    assert len(other_plates) == 1  # "Find" narrowed the list to PLATE-05
    page.click(page.find("#id_start_now"))
    page.find("#id_priority option[value=urgent]").click()
    page.shot("run-form-whole-plate")
    assert page.external_requests() == []
    page.click_to_next_page(page.find("#run-submit"))
    workflow = Workflow.objects.get(name="Passage of PLATE-05")
    assert page.driver.current_url.endswith(f"/admin/workflows/workflow/{workflow.pk}/change/")
    page.wait_for_text("ul.messagelist", "Created and started workflow")
    page.shot("run-page-after-start")
    assert workflow.status in (WorkflowStatus.RUNNING, WorkflowStatus.QUEUED)
    samples = workflow.workflow_samples.order_by("position").values_list("sample__barcode", flat=True)
    assert list(samples) == [f"MSC-05-A{column}" for column in range(1, 7)]


def test_untick_one_well_of_a_whole_plate_and_see_an_empty_pick_refused(page, scientist):
    protocol = Protocol.objects.get(name=PASSAGE)
    plate = Plate.objects.get(barcode="PLATE-06")
    page.login("scientist-r", "pw-run")
    page.open(f"/admin/workflows/protocol/{protocol.pk}/run/")
    page.click_to_next_page(page.find("#run-submit"))  # nothing picked
    page.wait_for_text(".sample-picker .errorlist", "Pick at least one sample")
    assert not Workflow.objects.exists()
    page.type_into("#id_name", "Five wells")
    page.click(page.find(f"#plate-{plate.pk}"))
    first = page.find(f"tbody[data-plate='{plate.pk}'] input[name=samples]")
    page.click(first)  # untick A1: the plate's box follows (half-ticked), so only five wells go
    assert page.driver.execute_script(f"return document.getElementById('plate-{plate.pk}').indeterminate")
    page.shot("run-form-five-wells")
    page.click_to_next_page(page.find("#run-submit"))
    workflow = Workflow.objects.get(name="Five wells")
    assert workflow.status == WorkflowStatus.CREATED  # "start now" was not ticked
    assert workflow.workflow_samples.count() == 5


def test_start_a_campaign_on_two_plates(page, scientist):
    page.login("scientist-r", "pw-run")
    page.open("/admin/workflows/campaign/")
    page.click_to_next_page(page.find("#campaign-start"))
    page.find("#plate-table")
    page.find("#id_protocol")
    protocol = Protocol.objects.get(name=PASSAGE)
    page.find(f"#id_protocol option[value='{protocol.pk}']").click()
    page.type_into("#id_name", "Two-plate passage")
    for barcode in ("PLATE-07", "PLATE-08"):
        page.type_into("#plate-find", barcode)
        page.click(page.visible(f"#plate-{Plate.objects.get(barcode=barcode).pk}"))
    page.wait_for_text("#plate-count", "2 plate(s) picked")
    page.type_into("#plate-find", "PLATE-0")
    page.shot("campaign-start-form")
    assert page.external_requests() == []
    page.click_to_next_page(page.find("#campaign-submit"))
    campaign = Campaign.objects.get(name="Two-plate passage")
    assert page.driver.current_url.endswith(f"/admin/workflows/campaign/{campaign.pk}/change/")
    page.wait_for_text("ul.messagelist", "Started campaign 'Two-plate passage': 2 run(s)")
    text = page.text()
    assert "Two-plate passage / PLATE-07" in text and "Two-plate passage / PLATE-08" in text
    page.shot("campaign-page")
    assert all(run.status != WorkflowStatus.CREATED for run in campaign.workflows.all())
