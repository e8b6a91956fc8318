"""A scientist opens the device timeline (headless Chromium): bars for what ran, runs and is planned."""

from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By

from devices.models import Device
from executionlogs.choices import LogStatus
from executionlogs.services import execution_log_create
from samples.models import Plate
from tests.factories import UserFactory
from workflows.choices import IN_FLIGHT_STEP_STATUSES
from workflows.models import Protocol, RunStep
from workflows.services.campaigns import campaign_create
from workflows.services.dispatch import action_claim
from workflows.services.execution import workflow_action_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOUR_MS = 3600 * 1000


def lab_with_past_running_and_planned_work():
    """Two plates of the 7-day protocol: the first plate's seeding step ran (logged), the second
    plate's first action is in flight, and the scheduler plans the rest."""
    protocol = Protocol.objects.get(name="MSC expansion, 7 days")
    plates = list(Plate.objects.filter(barcode__in=["PLATE-03", "PLATE-04"]).order_by("barcode"))
    campaign = campaign_create(name="Timeline demo", protocol=protocol, plates=plates, priority=1)
    first, second = campaign.workflows.order_by("id")
    while workflow_action_run(workflow_id=first.pk) is not None:
        pass
    for _ in range(5):  # the unit is begun (devices booked), then its first action claimed
        if action_claim(workflow_id=second.pk) is not None:
            break
    running = RunStep.objects.get(workflow=second, status__in=IN_FLIGHT_STEP_STATUSES)
    earlier_history(first)
    return first, second, running


# What the lab did this morning, as a real instrument takes it (the test's mocks answer at once).
HISTORY = [
    ("incubator-1", "incubator.warm", 170, 95, LogStatus.SUCCESS),
    ("liquid-handler-1", "pipette_transfer", 160, 12, LogStatus.SUCCESS),
    ("liquid-handler-1", "dispense_reagent", 140, 15, LogStatus.ERROR),
    ("liquid-handler-1", "dispense_reagent", 120, 15, LogStatus.SUCCESS),
    ("robot-arm-1", "robot.aspirate", 100, 8, LogStatus.SUCCESS),
    ("microscope-1", "microscope.image", 80, 25, LogStatus.SUCCESS),
    ("vision-1", "vision.analyse", 50, 20, LogStatus.SUCCESS),
    ("plate-reader-1", "plate_read", 30, 18, LogStatus.SUCCESS),
]


def earlier_history(workflow):
    now = timezone.now()
    for device_id, action, minutes_ago, minutes, status in HISTORY:
        started = now - timedelta(minutes=minutes_ago)
        execution_log_create(
            device=Device.objects.get(pk=device_id),
            action_type=action,
            request={},
            response={},
            status=status,
            latency_ms=minutes * 60_000,
            started_at=started,
            finished_at=started + timedelta(minutes=minutes),
            workflow=workflow,
        )


def visible_window_ms(browser) -> float:
    root = browser.find_element(By.ID, "device-timeline")
    return float(root.get_attribute("data-window-end")) - float(root.get_attribute("data-window-start"))


def test_the_timeline_shows_done_running_and_planned_bars_and_opens_the_run(browser, live_server, demo_lab, page):
    first, second, running = lab_with_past_running_and_planned_work()
    UserFactory(username="scientist-t", password="pw-timeline", is_staff=True, is_superuser=True)
    page.login("scientist-t", "pw-timeline")
    page.open("/admin/workflows/campaign/")
    page.click_to_next_page(page.find("a[href$='/admin/workflows/campaign/timeline/']"))
    page.find("#device-timeline[data-loaded]")
    page.visible(".vis-item.kind-done")
    page.visible(".vis-item.kind-failed")
    page.visible(".vis-item.kind-running")
    page.find(".vis-item.vis-background.kind-held")  # the second plate's run holds its devices
    page.shot("timeline-6-hours")
    labels = page.text()
    assert "Device timeline" in labels and "robot-arm-1" in labels and "microscope-1" in labels
    assert "incubator.warm" in labels and "vision.analyse" in labels  # long bars carry their action

    # Zoom: an hour, then a week (the planned units lie days ahead).
    page.click(page.find("button[data-span-hours='1']"))
    assert abs(visible_window_ms(browser) - HOUR_MS) < 60_000
    page.shot("timeline-1-hour")
    page.click(page.find("button[data-span-hours='168']"))
    assert abs(visible_window_ms(browser) - 168 * HOUR_MS) < 60_000
    page.wait.until(lambda driver: driver.find_elements(By.CSS_SELECTOR, ".vis-item.kind-planned"))
    page.shot("timeline-1-week")
    assert page.find("#timeline-window").text.endswith("(7 d)")
    assert page.external_requests() == []

    # One device alone, by clicking its row label; then a running bar opens its run.
    page.click_to_next_page(page.find(f".timeline-device a[href$='?device={running.device_id}']"))
    page.find("#device-timeline[data-loaded]")
    bar = page.visible(".vis-item.kind-running")
    rows = browser.find_elements(By.CSS_SELECTOR, ".timeline-device-id")
    assert [row.get_attribute("textContent") for row in rows] == [running.device_id]
    page.shot("timeline-one-device")
    page.click_to_next_page(bar)
    assert browser.current_url.endswith(f"/admin/workflows/workflow/{second.pk}/change/")
    assert second.name in page.text()
    assert page.external_requests() == []
