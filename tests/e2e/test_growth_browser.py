"""A scientist reads a sample's growth curves and history, and a campaign's per-plate curves (headless Chromium).

Two kinds of data. For the charts, runs on the demo lab's plates imaged every 12 simulated
hours through LabCore's services (``tests.workflows.growth_support``: execution-log entries and
cell-analysis results as the executor writes them), so the curves are the same on a loaded
machine. For the chain of custody, the closed-loop protocol really runs on Celery workers
(images, decisions, passage), and the sample's page must show it all in order with working links.
"""

from datetime import datetime

import pytest
from selenium.webdriver.support.ui import Select

from devices.models import Device
from executionlogs.models import CellAnalysisResult, ExecutionLog
from samples.models import Plate, Sample
from tests.factories import UserFactory
from tests.workflows.executor_support import (  # noqa: F401 - workers is a fixture
    wait_for,
    workers_fixture,
)
from tests.workflows.growth_support import imaged_run
from workflows.choices import FINISHED_WORKFLOW_STATUSES, WorkflowStatus
from workflows.models import Campaign, Protocol
from workflows.services.campaigns import campaign_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCALE = "0.00003"  # 12 simulated hours are about 1.3 s
PROTOCOL = "MSC expansion to 80% confluence"


def scientist(page, name):
    UserFactory(username=name, password="pw-growth", is_staff=True, is_superuser=True)
    page.login(name, "pw-growth")


def section_shot(page, css, name):
    page.driver.execute_script("document.querySelector(arguments[0]).scrollIntoView();", css)
    return page.shot(name)


def test_a_sample_chart_shows_points_fit_forecast_threshold_and_passage(demo_lab, page):
    plate = Plate.objects.get(barcode="PLATE-01")
    sample = plate.samples.order_by("well").first()
    # Imaged every 12 h for 5 days, passaged at 100 h, imaged twice since: two segments, a forecast.
    run = imaged_run(
        list(plate.samples.all()),
        hours=range(0, 169, 12),
        threshold=80,
        name="Expansion / PLATE-01",
        passage_at=100,
        device=Device.objects.get(pk="vision-1"),
    )
    page.driver.set_window_size(1400, 1600)
    scientist(page, "scientist-g")
    page.open(f"/admin/samples/sample/{sample.pk}/change/")
    chart = page.find("#sample-growth .growth-chart canvas")
    assert chart.size["width"] > 600 and chart.size["height"] > 300
    legend = page.find("#sample-growth .u-legend").text
    for name in ("confluence (%)", "fitted curve", "forecast", "threshold 80 %", "viability (%)", "cell count"):
        assert name in legend
    assert "fitted curve, before passage 1" in legend
    summary = page.find("#sample-growth .growth-summary").text
    assert "Doubling time" in summary and "Forecast: 80 %" in summary and "closed-loop decision" in summary
    assert (
        page.find("#sample-growth h3 a").get_attribute("href").endswith(f"/admin/workflows/workflow/{run.pk}/change/")
    )
    section_shot(page, "#sample-growth", "sample-growth")
    rows = page.driver.find_elements("css selector", "table.sample-history tbody tr.history-result")
    assert len(rows) == CellAnalysisResult.objects.filter(sample=sample).count() == 15
    assert page.external_requests() == []


def test_a_campaign_shows_a_curve_per_plate_with_fit_forecast_and_threshold(demo_lab, page):
    protocol = Protocol.objects.get(name=PROTOCOL, status="published")
    campaign = Campaign.objects.create(name="Twelve plates", protocol=protocol)
    plates = list(Plate.objects.filter(barcode__startswith="PLATE-").order_by("barcode")[:12])
    vision = Device.objects.get(pk="vision-1")
    for index, plate in enumerate(plates):
        # Plates started at different times: some have reached 80 %, some are still growing.
        hours = range(0, 61 + 36 * (index % 5), 12)
        samples = list(plate.samples.all())
        imaged_run(samples, hours=hours, campaign=campaign, threshold=80, name=f"Twelve / {plate}", device=vision)
    page.driver.set_window_size(1400, 3400)
    scientist(page, "scientist-c")
    page.open(f"/admin/workflows/campaign/{campaign.pk}/change/")
    page.find("#campaign-growth-overview canvas")
    legend = page.find("#campaign-growth-overview .u-legend").text
    assert all(plate.barcode in legend for plate in plates) and "threshold 80 %" in legend
    section_shot(page, "#campaign-growth", "campaign-growth")
    figures = page.driver.find_elements("css selector", "#campaign-growth-plates figure.growth-plate")
    assert [f.find_element("css selector", "figcaption a").text for f in figures] == [p.barcode for p in plates]
    assert all(f.find_elements("css selector", "canvas") for f in figures)
    assert all("doubling" in f.text for f in figures)
    assert any("(forecast)" in f.text for f in figures) and any("(measured)" in f.text for f in figures)
    # The overview switches measure without a reload.
    Select(page.find("#campaign-growth-metric")).select_by_value("viability")
    page.wait.until(lambda driver: "threshold" not in page.find("#campaign-growth-overview .u-legend").text)
    assert "PLATE-01" in page.find("#campaign-growth-overview .u-legend").text
    assert len(page.driver.find_elements("css selector", "#campaign-growth-overview canvas")) == 1
    section_shot(page, "#campaign-growth", "campaign-growth-viability")
    assert page.external_requests() == []


@pytest.mark.worker
def test_a_closed_loop_samples_history_lists_runs_actions_decisions_and_results_in_order(
    workers, demo_lab, settings, page
):
    settings.LABCORE_TIME_SCALE = float(SCALE)
    protocol = Protocol.objects.filter(name=PROTOCOL, status="published").latest("version_major", "version_minor")
    plates = list(Plate.objects.filter(barcode__in=["PLATE-01", "PLATE-02"]).order_by("barcode"))
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
    sample = Sample.objects.filter(plate__barcode="PLATE-01").order_by("well").first()
    run = campaign.workflows.get(name__endswith="PLATE-01")
    results = CellAnalysisResult.objects.filter(sample=sample).count()
    entries = ExecutionLog.objects.filter(workflow=run).count()
    assert results >= 1

    page.driver.set_window_size(1400, 1400)
    scientist(page, "scientist-h")
    page.open(f"/admin/samples/sample/{sample.pk}/change/")
    page.find("#sample-growth .growth-chart canvas")
    assert "threshold 80 %" in page.find("#sample-growth .u-legend").text
    rows = page.driver.find_elements("css selector", "table.sample-history tbody tr")
    kinds = [row.get_attribute("class") for row in rows]
    assert kinds.count("history-result") == results and kinds.count("history-action") == entries
    times = [datetime.strptime(row.find_element("css selector", "td").text, "%Y-%m-%d %H:%M:%S") for row in rows]
    assert times == sorted(times), "the history is in time order"
    assert "run created" in rows[0].text and "run completed" in rows[-1].text
    decisions = [row for row in rows if ": decision" in row.text]
    assert decisions and "confluence >= 80" in decisions[-1].text and sample.barcode in decisions[-1].text
    assert any("Passage" in row.text for row in rows)
    # A result row comes after the imaging action it came from, and links to the same log entry.
    first_result = kinds.index("history-result")
    result_log = rows[first_result].find_element("css selector", "a.history-log").text
    actions = [
        row.find_element("css selector", "a.history-log").text
        for row in rows[:first_result]
        if "action" in row.get_attribute("class")
    ]
    assert result_log in actions
    page.driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", rows[first_result - 3])
    page.shot("sample-history")
    assert page.external_requests() == []

    page.click_to_next_page(rows[first_result].find_element("css selector", "a.history-log"))
    assert page.driver.current_url.endswith(f"/admin/executionlogs/executionlog/{result_log.lstrip('#')}/change/")
    assert "vision" in page.text()
    page.driver.back()
    run_link = page.find("table.sample-history a.history-run")
    assert run_link.text == run.name
    page.click_to_next_page(run_link)
    assert page.driver.current_url.endswith(f"/admin/workflows/workflow/{run.pk}/change/")
