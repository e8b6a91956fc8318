"""A scientist reads a sample's growth curves and history, and a campaign's per-plate curves (headless Chromium).

The data is made as the lab makes it: a closed-loop campaign ("MSC expansion to 80% confluence")
on three demo plates runs on real Celery workers with the mock hardware at a fast time scale:
images every 12 simulated hours, decisions, the passage. Nothing is written by hand.
"""

from datetime import datetime

import pytest

from executionlogs.models import CellAnalysisResult
from samples.models import Plate, Sample
from tests.factories import UserFactory
from tests.workflows.executor_support import (  # noqa: F401 - workers is a fixture
    wait_for,
    workers_fixture,
)
from workflows.choices import FINISHED_WORKFLOW_STATUSES, WorkflowStatus
from workflows.models import Protocol
from workflows.services.campaigns import campaign_create

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SCALE = "0.00003"  # 12 simulated hours are about 1.3 s
PROTOCOL = "MSC expansion to 80% confluence"
PLATES = 3


@pytest.fixture
def grown_campaign(workers, demo_lab, settings):
    settings.LABCORE_TIME_SCALE = float(SCALE)
    protocol = Protocol.objects.filter(name=PROTOCOL, status="published").latest("version_major", "version_minor")
    plates = list(Plate.objects.filter(barcode__startswith="PLATE-").order_by("barcode")[:PLATES])
    worker = workers(name="growth", concurrency=2, beat=True, env={"LABCORE_TIME_SCALE": SCALE})
    campaign = campaign_create(name="Growth demo", protocol=protocol, plates=plates, priority=1)
    try:
        wait_for(
            lambda: not campaign.workflows.exclude(status__in=FINISHED_WORKFLOW_STATUSES).exists(),
            timeout=180,
            interval=0.5,
            what="every plate's run to finish",
        )
    except AssertionError:
        print(worker.log()[-6000:])
        raise
    assert set(campaign.workflows.values_list("status", flat=True)) == {WorkflowStatus.COMPLETED}
    return campaign


def test_a_sample_shows_its_growth_curves_and_its_chain_of_custody(grown_campaign, page):
    sample = Sample.objects.filter(plate__barcode="PLATE-01").order_by("well").first()
    results = CellAnalysisResult.objects.filter(sample=sample).count()
    assert results >= 4
    UserFactory(username="scientist-g", password="pw-growth", is_staff=True, is_superuser=True)
    page.driver.set_window_size(1400, 1600)
    page.login("scientist-g", "pw-growth")
    page.open(f"/admin/samples/sample/{sample.pk}/change/")
    chart = page.find("#sample-growth .growth-chart canvas")
    assert chart.size["width"] > 400 and chart.size["height"] > 200
    legend = page.find("#sample-growth .u-legend").text
    assert "confluence (%)" in legend and "fitted curve" in legend and "threshold 80 %" in legend
    assert "viability (%)" in legend and "cell count" in legend
    assert "closed-loop decision" in page.find("#sample-growth .growth-summary").text
    page.driver.execute_script("document.getElementById('sample-growth').scrollIntoView();")
    page.shot("sample-growth")

    rows = page.driver.find_elements("css selector", "table.sample-history tbody tr")
    kinds = [row.get_attribute("class") for row in rows]
    assert {"history-run", "history-action", "history-result"} <= set(kinds)
    assert kinds.count("history-result") == results
    times = [datetime.strptime(row.find_element("css selector", "td").text, "%Y-%m-%d %H:%M:%S") for row in rows]
    assert times == sorted(times), "the history is in time order"
    assert kinds[0] == "history-run" and "run created" in rows[0].text
    # A result row is right after the imaging action it came from (same log entry).
    first_result = kinds.index("history-result")
    result_log = rows[first_result].find_element("css selector", "a.history-log").text
    before = [r for r in rows[:first_result] if r.get_attribute("class") == "history-action"]
    assert before[-1].find_element("css selector", "a.history-log").text == result_log
    page.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", rows[first_result])
    page.shot("sample-history")
    assert page.external_requests() == []

    page.click_to_next_page(rows[first_result].find_element("css selector", "a.history-log"))
    assert f"/admin/executionlogs/executionlog/{result_log.lstrip('#')}/change/" in page.driver.current_url
    page.find("#content")
    page.driver.back()
    run_link = page.find("table.sample-history a.history-run")
    run_name = run_link.text
    page.click_to_next_page(run_link)
    assert "/admin/workflows/workflow/" in page.driver.current_url and run_name in page.text()


def test_a_campaign_shows_a_curve_per_plate_with_fit_forecast_and_threshold(grown_campaign, page):
    UserFactory(username="scientist-c", password="pw-campaign", is_staff=True, is_superuser=True)
    page.driver.set_window_size(1400, 2000)
    page.login("scientist-c", "pw-campaign")
    page.open(f"/admin/workflows/campaign/{grown_campaign.pk}/change/")
    page.find("#campaign-growth-overview canvas")
    legend = page.find("#campaign-growth-overview .u-legend").text
    for barcode in ("PLATE-01", "PLATE-02", "PLATE-03"):
        assert barcode in legend
    assert "threshold 80 %" in legend
    plates = page.driver.find_elements("css selector", "#campaign-growth-plates figure.growth-plate")
    assert len(plates) == PLATES
    assert all(plate.find_elements("css selector", "canvas") for plate in plates)
    assert "doubling" in plates[0].text and "passaged at" in plates[0].text
    page.driver.execute_script("document.getElementById('campaign-growth').scrollIntoView();")
    page.shot("campaign-growth")
    # The overview switches measure without a reload.
    page.click(page.find("#campaign-growth-metric"))
    page.find("#campaign-growth-metric option[value='viability']").click()
    page.wait.until(lambda driver: "threshold" not in page.find("#campaign-growth-overview .u-legend").text)
    assert "PLATE-01" in page.find("#campaign-growth-overview .u-legend").text
    page.shot("campaign-growth-viability")
    assert page.external_requests() == []
