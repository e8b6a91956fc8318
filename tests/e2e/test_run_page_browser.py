"""A scientist watches and steers a run from its live page, in headless Chromium, with real Celery workers.

The run's actions take real time on the mock hardware (a device latency per action), so the page
is seen to change while it is open: the same document (its <html> element never goes stale)
shows the progress move as htmx swaps in the polled fragment.
"""

import re
import time

import pytest
from django.contrib.sessions.models import Session
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from samples.models import Sample
from tests.factories import UserFactory
from tests.workflows.executor_support import (  # noqa: F401 - workers is a fixture
    action_type_make,
    device_make,
    status_of,
    wait_status,
    workers_fixture,
    workflow_make,
)
from workflows.choices import WorkflowStatus
from workflows.models import Protocol
from workflows.services.creation import workflow_create_from_protocol
from workflows.services.execution import workflow_start

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ACTION = "test.run_page_browser"
STEP_SECONDS = 1.5


def slow_run(device_id: str, steps: int, name: str):
    """A created auto run of ``steps`` actions taking STEP_SECONDS each on the mock hardware."""
    action_type = action_type_make(ACTION)
    device = device_make(device_id, config={"mock": {"latency_seconds": {ACTION: STEP_SECONDS}}})
    return workflow_make([(action_type, device)] * steps, samples=3, name=name)


def live_text(page, css: str) -> str:
    """The text of an element of the live part, read in one go (htmx may swap it between two WebDriver calls)."""
    page.find(css)
    return page.driver.execute_script("return document.querySelector(arguments[0]).innerText.trim();", css)


def progress(page) -> str:
    return live_text(page, "#run-progress-text")


def done_count(page) -> int:
    return int(re.match(r"(\d+)/", progress(page)).group(1))


def same_document(html) -> bool:
    """The page was not reloaded: the <html> element seen at the start is still the page's."""
    try:
        html.tag_name  # noqa: B018 - touching it raises once the document was replaced
        return True
    except StaleElementReferenceException:
        return False


def live_requests(page) -> int:
    return page.driver.execute_script(
        "return performance.getEntriesByType('resource').filter(e => e.name.includes('/live/')).length;"
    )


def press(page, control: str) -> None:
    """Press a control's button on the run page (in one go: htmx may swap it) and wait for the next page."""
    old_page = page.driver.find_element(By.TAG_NAME, "html")
    script = "const b = document.querySelector(arguments[0]); if (!b) return false; b.click(); return true;"
    page.wait.until(lambda driver: driver.execute_script(script, f"#run-control-{control}"))
    page.wait.until(ec.staleness_of(old_page))


def confirm(page, control: str) -> None:
    """Press a control's button on the run page, read its confirmation, say yes."""
    press(page, control)
    page.find("#run-confirm-form")
    page.shot(f"confirm-{control}")
    page.click_to_next_page(page.find("#run-confirm-yes"))
    page.find("#run-live")


def scientist_logs_in(page) -> None:
    UserFactory(username="runner", password="pw-run-page", is_staff=True, is_superuser=True)
    page.login("runner", "pw-run-page")


def test_a_run_started_from_its_page_shows_its_progress_change_without_a_reload(workers, page):
    worker = workers(name="run-page-a")
    workflow = slow_run("handler-run-page-a", steps=6, name="Live progress")
    scientist_logs_in(page)
    page.open(f"/admin/workflows/workflow/{workflow.pk}/change/")
    assert live_text(page, "#run-state") == "Created" and progress(page) == "0/6 done"
    page.shot("created")
    confirm(page, "start")
    assert f"{workflow} started." in page.text()

    html = page.driver.find_element(By.TAG_NAME, "html")
    page.wait_for_text("#run-state", "Running")
    seen, elapsed = {done_count(page)}, set()
    deadline = time.monotonic() + 40
    while status_of(workflow) not in (WorkflowStatus.COMPLETED, WorkflowStatus.FAILED) and time.monotonic() < deadline:
        count = done_count(page)
        if count not in seen and 0 < count < 6:
            page.shot(f"running-{count}-done")
        seen.add(count)
        elapsed.add(page.driver.execute_script("return document.querySelector('#run-current-elapsed')?.innerText;"))
        time.sleep(0.3)
    # Between the start and the end the page itself showed intermediate counts, in the same document.
    assert len(seen - {0, 6}) >= 2, f"the page showed only {sorted(seen)} done"
    assert same_document(html)
    # The action in flight showed how long it had been running, to the tenth of a second under 10 s.
    assert {text for text in elapsed if text and re.fullmatch(r"\d\.\d s", text)}, elapsed

    wait_status(workflow, WorkflowStatus.COMPLETED, timeout=30, worker=worker)
    page.wait_for_text("#run-state", "Completed")
    assert progress(page) == "6/6 done" and same_document(html)
    assert live_text(page, "#run-steps").count("Succeeded") == 6
    page.shot("completed")
    # A finished run is no longer polled.
    assert page.driver.execute_script("return document.querySelector('#run-live').dataset.live;") == "false"
    polled = live_requests(page)
    time.sleep(4.5)
    assert live_requests(page) == polled
    assert page.external_requests() == []


def test_pause_and_resume_from_the_run_page_with_confirmation(workers, page):
    worker = workers(name="run-page-b")
    workflow = slow_run("handler-run-page-b", steps=6, name="Pause me")
    scientist_logs_in(page)
    page.open(f"/admin/workflows/workflow/{workflow.pk}/change/")
    confirm(page, "start")
    page.wait.until(lambda _: done_count(page) >= 1)
    page.shot("running")

    press(page, "pause")
    assert "Pause this run?" in live_text(page, "#run-confirm-question")
    page.shot("confirm-pause")
    assert status_of(workflow) == WorkflowStatus.RUNNING  # asking is not doing
    page.click_to_next_page(page.find("#run-confirm-yes"))
    assert status_of(workflow) == WorkflowStatus.PAUSED
    html = page.driver.find_element(By.TAG_NAME, "html")
    # "Pausing" while the action in flight finishes, then "Paused" (the page updates itself).
    page.wait_for_text("#run-state", "Paused")
    assert live_text(page, "#run-state") == "Paused" and same_document(html)
    page.wait.until(lambda _: page.driver.execute_script("return !!document.querySelector('#run-control-resume');"))
    paused_at = done_count(page)
    buttons = set(page.driver.execute_script("return [...document.querySelectorAll('.run-control')].map(b => b.id);"))
    assert buttons == {"run-control-resume", "run-control-cancel"}
    page.shot("paused")
    time.sleep(2 * STEP_SECONDS)
    assert done_count(page) == paused_at < 6 and status_of(workflow) == WorkflowStatus.PAUSED

    confirm(page, "resume")
    html = page.driver.find_element(By.TAG_NAME, "html")
    wait_status(workflow, WorkflowStatus.COMPLETED, timeout=40, worker=worker)
    page.wait_for_text("#run-state", "Completed")
    assert progress(page) == "6/6 done" and same_document(html)
    events = live_text(page, "#run-events")
    assert "paused by runner" in events and "resumed by runner" in events
    page.shot("completed")
    assert page.external_requests() == []


def test_a_demo_run_is_watched_and_cancelled_from_its_page(workers, demo_lab, page):
    """The demo protocol at real mock latencies (meant to be watched), cancelled part way through."""
    worker = workers(name="run-page-c")
    samples = list(Sample.objects.filter(barcode__in=["SAMPLE001", "SAMPLE002", "SAMPLE003"]).order_by("barcode"))
    workflow = workflow_create_from_protocol(
        name="MSC passage, 3 samples",
        protocol=Protocol.objects.get(name="MSC passage P3 -> P4"),
        samples=samples,
        priority=1,
    )
    workflow_start(workflow=workflow)
    scientist_logs_in(page)
    page.open(f"/admin/workflows/workflow/{workflow.pk}/change/")
    html = page.driver.find_element(By.TAG_NAME, "html")
    page.wait.until(lambda _: done_count(page) >= 4)
    assert same_document(html)
    samples_text = " ".join(live_text(page, "#run-samples").split())
    for sample in samples:
        plate = sample.plate.barcode if sample.plate_id else "-"
        assert f"{sample.barcode} {plate} {sample.well or '-'} {sample.get_sample_type_display()}" in samples_text
    page.shot("demo-running")

    confirm(page, "cancel")
    states = set()
    page.wait.until(lambda _: states.add(live_text(page, "#run-state")) or "Cancelled" in states)
    wait_status(workflow, WorkflowStatus.CANCELLED, timeout=5, worker=worker)
    assert states <= {"Cancelling", "Cancelled"}
    assert re.fullmatch(r"\d+/14 done, \d+ skipped", progress(page)), progress(page)
    assert page.driver.execute_script("return document.querySelector('#run-live').dataset.live;") == "false"
    page.shot("demo-cancelled")
    assert page.external_requests() == []


def test_a_signed_out_page_stops_updating_and_says_so_instead_of_showing_the_login_page(page):
    workflow = workflow_make([(action_type_make(ACTION), device_make("handler-run-page-d"))], name="Signed out")
    scientist_logs_in(page)
    page.open(f"/admin/workflows/workflow/{workflow.pk}/change/")
    html = page.driver.find_element(By.TAG_NAME, "html")
    page.wait.until(lambda _: live_requests(page) >= 1)  # it polls (a created run may be started by anyone)
    Session.objects.all().delete()  # signed out on the server
    page.visible("#run-live-stopped")
    assert "stopped updating" in live_text(page, "#run-live-stopped") and same_document(html)
    assert not page.driver.find_elements(By.CSS_SELECTOR, "#run-live #login-form")
    polled = live_requests(page)
    time.sleep(4.5)
    assert live_requests(page) == polled  # and it no longer polls, nor claims to
    assert not page.driver.find_elements(By.CSS_SELECTOR, ".run-updating")
    page.shot("signed-out")
