"""A scientist opens the campaigns in the admin and reads the device schedule (headless Chromium)."""

import pytest

from samples.models import Plate
from tests.e2e.browser_support import Page
from tests.factories import UserFactory
from workflows.models import Protocol
from workflows.services.campaigns import campaign_create
from workflows.services.execution import workflow_action_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_device_schedule_shows_what_ran_and_what_is_planned_per_device(browser, live_server, demo_lab, request):
    protocol = Protocol.objects.get(name="MSC expansion, 7 days")
    plates = list(Plate.objects.filter(barcode__in=["PLATE-03", "PLATE-04"]).order_by("barcode"))
    campaign = campaign_create(name="Schedule demo", protocol=protocol, plates=plates, priority=1)
    first = campaign.workflows.order_by("id").first()
    while workflow_action_run(workflow_id=first.pk) is not None:  # its seeding step, done now
        pass
    UserFactory(username="scientist-s", password="pw-schedule", is_staff=True, is_superuser=True)
    page = Page(browser, live_server.url, name=request.node.name)
    page.login("scientist-s", "pw-schedule")
    browser.get(live_server.url + "/admin/workflows/campaign/")
    page.click_to_next_page(page.find("a[href$='/admin/workflows/campaign/schedule/']"))
    page.find("table.schedule")
    page.shot("device-schedule")
    text = browser.find_element("tag name", "body").text
    assert "Device schedule" in text and "microscope-1" in text and "robot-arm-1" in text
    assert "Schedule demo / PLATE-03" in text and "Schedule demo / PLATE-04" in text
    states = {row.get_attribute("class") for row in browser.find_elements("css selector", "table.schedule tr[class]")}
    assert {"state-done", "state-planned"} <= states
    assert "Image + analyse" in text


def test_the_api_docs_render_from_labcores_own_files(browser, live_server, request):
    """Swagger UI comes from LabCore's static files (drf-spectacular-sidecar): it renders with no internet."""
    page = Page(browser, live_server.url, name=request.node.name)
    browser.get(live_server.url + "/api/docs/")
    page.find(".swagger-ui .info .title")
    page.find(".opblock-tag")  # the operations are listed: the schema was fetched and rendered
    page.shot("api-docs")
    assert "LabCore API" in browser.find_element("tag name", "body").text
    scripts = [s.get_attribute("src") or "" for s in browser.find_elements("tag name", "script")]
    assert all(src.startswith(live_server.url) or not src for src in scripts)
