"""An operator reads the devices page (headless Chromium): who holds what, who waits how long, and links."""

import pytest
from django.test import override_settings
from selenium.webdriver.common.by import By

from devices.choices import Priority
from devices.models import ActionType, Device
from devices.services import booking_create, queue_entry_create
from executionlogs.choices import LogStatus
from executionlogs.services import execution_log_create
from tests.factories import UserFactory
from tests.workflows.executor_support import workflow_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def busy_demo_lab(user):
    """liquid-handler-1 held with three runs waiting (one urgent); incubator-1 shared by three plates."""
    handler = Device.objects.get(pk="liquid-handler-1")
    incubator = Device.objects.get(pk="incubator-1")
    transfer = ActionType.objects.get(name="pipette_transfer")
    warm = ActionType.objects.get(name="incubator.warm")
    holder = workflow_make([(transfer, handler)] * 3, name="Passage PLATE-01", created_by=user)
    booking_create(device=handler, workflow=holder)
    waiting = [workflow_make([(transfer, handler)] * 2, name=f"Passage PLATE-0{n}", created_by=user) for n in (2, 3, 4)]
    for workflow in waiting[:2]:
        queue_entry_create(device=handler, workflow=workflow, priority=Priority.NORMAL)
    queue_entry_create(device=handler, workflow=waiting[2], priority=Priority.URGENT)
    for n in (5, 6, 7):
        booking_create(device=incubator, workflow=workflow_make([(warm, incubator)], name=f"Culture PLATE-0{n}"))
    execution_log_create(
        device=handler, action_type="pipette_transfer", request={}, response={}, status=LogStatus.SUCCESS,
        latency_ms=2000, workflow=holder,
    )  # fmt: skip
    return holder, waiting


@override_settings(LABCORE_MOCK_LATENCY_SCALE=1.0)
def test_the_devices_page_shows_holders_queues_with_waits_and_links(browser, live_server, demo_lab, page):
    operator = UserFactory(username="operator-d", password="pw-devices", is_staff=True, is_superuser=True)
    holder, waiting = busy_demo_lab(operator)
    page.login("operator-d", "pw-devices")
    page.open("/admin/devices/device/")
    page.find("#result_list")
    page.shot("devices-list")
    row = page.find("#result_list tr:has(a[href$='/admin/devices/device/liquid-handler-1/change/'])")
    held = row.find_element(By.CSS_SELECTOR, "td.field-holders").text
    assert "Passage PLATE-01" in held and "by operator-d · since 20" in held and "left" in held
    queue = row.find_element(By.CSS_SELECTOR, "td.field-queue_head")
    entries = [item.text for item in queue.find_elements(By.CSS_SELECTOR, "li")]
    assert [entry.split(" (#")[0] for entry in entries] == ["Passage PLATE-04", "Passage PLATE-02", "Passage PLATE-03"]
    waits_listed = [entry.splitlines()[0].split(" waits ")[1] for entry in entries]
    assert all(wait.startswith("~ ") for wait in waits_listed), entries
    assert entries[0].splitlines()[1] == "urgent · by operator-d"
    positions = [item.get_attribute("value") for item in queue.find_elements(By.CSS_SELECTOR, "li")]
    assert positions == ["1", "2", "3"]
    assert row.find_element(By.CSS_SELECTOR, "td.field-queue_length").text == "3"
    incubator = page.find("#result_list tr:has(a[href$='/admin/devices/device/incubator-1/change/'])")
    shared = incubator.find_element(By.CSS_SELECTOR, "td.field-holders").text
    assert "3 of 44 slots in use" in shared and "slot 2: Culture PLATE-07" in shared
    assert page.external_requests() == []

    # The device's timeline, then its execution log, from its row.
    page.click_to_next_page(row.find_element(By.CSS_SELECTOR, "a.device-timeline-link"))
    page.find("#device-timeline[data-loaded]")
    page.visible(".vis-item.kind-done")
    labels = browser.find_elements(By.CSS_SELECTOR, ".timeline-device-id")
    assert [label.get_attribute("textContent") for label in labels] == ["liquid-handler-1"]
    page.shot("device-timeline")
    browser.back()
    row = page.find("#result_list tr:has(a[href$='/admin/devices/device/liquid-handler-1/change/'])")
    page.click_to_next_page(row.find_element(By.CSS_SELECTOR, "a.device-log-link"))
    page.find("#result_list")
    assert "device__id__exact=liquid-handler-1" in browser.current_url
    assert "pipette_transfer" in page.text()
    page.shot("device-log")

    # The device's own page lists the whole queue with the same waits, and links to the runs.
    page.open("/admin/devices/device/liquid-handler-1/change/")
    table = page.find("table.device-queue-table")
    rows = table.find_elements(By.CSS_SELECTOR, "tr")[1:]
    waits = [r.find_elements(By.TAG_NAME, "td")[5].text for r in rows]
    assert waits == waits_listed
    page.shot("device-page")
    page.click_to_next_page(rows[0].find_element(By.CSS_SELECTOR, "a"))
    assert browser.current_url.endswith(f"/admin/workflows/workflow/{waiting[2].pk}/change/")
