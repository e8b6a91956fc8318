"""A scientist reads the execution log in the admin (headless Chromium): a time range to the second,
latency in ms, and links to the run and the device."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By

from devices.models import Device
from executionlogs.services import execution_log_create
from tests.factories import UserFactory, WorkflowFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASE = timezone.make_aware(datetime(2026, 11, 30, 9, 0, 0))


@pytest.fixture
def logged_lab(demo_lab):
    """Twelve entries a minute apart from 09:00:00, alternating two devices, the first six in one run."""
    run = WorkflowFactory(name="Morning passage")
    devices = [Device.objects.get(pk="liquid-handler-1"), Device.objects.get(pk="microscope-1")]
    for index in range(12):
        execution_log_create(
            device=devices[index % 2],
            action_type="liquid.aspirate" if index % 2 == 0 else "microscope.image",
            request={"index": index},
            response={"ok": True},
            status="success",
            latency_ms=150.0 + index * 1000.25,
            started_at=BASE + timedelta(minutes=index),
            workflow=run if index < 6 else None,
        )
    UserFactory(username="scientist-l", password="pw-logs", is_staff=True, is_superuser=True)
    return run


def rows(page) -> list[dict[str, str]]:
    """Each row's cells by column (the admin's field-<name> classes)."""
    return [
        {
            cell.get_attribute("class").split("field-")[1].split()[0]: cell.text
            for cell in row.find_elements(By.CSS_SELECTOR, "td[class*=field-], th[class*=field-]")
        }
        for row in page.driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    ]


def test_filter_the_log_by_a_time_range_and_follow_the_links(page, logged_lab):
    page.login("scientist-l", "pw-logs")
    page.open("/admin/executionlogs/executionlog/")
    page.find("#started-range-filter")
    assert len(rows(page)) == 12
    page.type_into("#id_started_from", "2026-11-30 09:02:00")
    page.type_into("#id_started_to", "2026-11-30 09:04:00")
    page.click_to_next_page(page.find("#started-range-apply"))
    page.wait_for_text("#log-count", "3 execution logs")
    shown = rows(page)
    assert [row["started"] for row in shown] == ["2026-11-30 09:04:00", "2026-11-30 09:03:00", "2026-11-30 09:02:00"]
    assert [row["latency"] for row in shown] == ["4,151 ms", "3,151 ms", "2,150 ms"]
    page.shot("log-filtered")
    assert page.external_requests() == []
    # The filter keeps its values, and survives another filter (status) being chosen.
    assert page.find("#id_started_from").get_attribute("value") == "2026-11-30 09:02:00"
    run_link = page.find("#result_list td.field-run_link a")
    assert run_link.text == f"Morning passage (#{logged_lab.pk})"
    page.click_to_next_page(run_link)
    assert page.driver.current_url.endswith(f"/admin/workflows/workflow/{logged_lab.pk}/change/")
    page.driver.back()
    device_link = page.find("#result_list td.field-device_link a")
    device_id = device_link.text
    page.click_to_next_page(device_link)
    assert page.driver.current_url.endswith(f"/admin/devices/device/{device_id}/change/")


def test_an_unreadable_time_is_a_message_not_an_error_page(page, logged_lab):
    page.login("scientist-l", "pw-logs")
    page.open("/admin/executionlogs/executionlog/")
    page.type_into("#id_started_from", "30/11/2026 9am")
    page.click_to_next_page(page.find("#started-range-apply"))
    page.wait_for_text("ul.messagelist", "is not a date and time (use YYYY-MM-DD HH:MM:SS)")
    assert "range-error" in page.find("#id_started_from").get_attribute("class")
    assert len(rows(page)) == 12
    page.shot("log-bad-time")
