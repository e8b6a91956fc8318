"""What the admin's growth charts draw: measured points, fitted and forecast curves, the threshold."""

import pytest

from devices.adapters.biology import sample_traits
from executionlogs.growth import growth_fit
from tests.factories import PlateFactory, ProtocolFactory, SampleFactory
from tests.utils import queries_for
from tests.workflows.growth_support import imaged_run
from workflows.growth import runs_growth
from workflows.growth_charts import campaign_growth_charts, run_thresholds, sample_growth_charts
from workflows.models import Campaign

pytestmark = pytest.mark.django_db


def test_a_sample_chart_has_its_points_a_fitted_curve_through_them_a_forecast_and_the_decision_threshold():
    sample = SampleFactory()
    run = imaged_run([sample], hours=range(0, 61, 12), threshold=85)
    (chart,) = sample_growth_charts(sample)
    assert chart["run"] == run.pk and chart["url"] == f"/admin/workflows/workflow/{run.pk}/change/"
    assert chart["threshold"]["value"] == 85 and chart["threshold"]["decision"]
    assert "closed-loop decision" in chart["threshold"]["label"]
    assert [p["hours"] for p in chart["points"]] == pytest.approx(list(range(0, 61, 12)), abs=0.01)
    assert {"confluence", "viability", "cell_count"} <= set(chart["points"][0])
    # The fitted curve is the growth fit's: it passes near the points and agrees with the API's fit.
    (curve,) = chart["fits"]
    fit = runs_growth([run], target=85)[run.pk][sample.barcode]["fit"]
    assert chart["summary"]["doubling_hours"] == fit["doubling_hours"]
    truth = sample_traits(sample.barcode, run.pk).doubling_hours
    assert chart["summary"]["doubling_hours"] == pytest.approx(truth, rel=0.15)
    assert curve[0][0] == pytest.approx(0, abs=0.01) and curve[-1][0] == pytest.approx(60, abs=0.01)
    last = chart["points"][-1]["confluence"]
    assert curve[-1][1] == pytest.approx(last, rel=0.25)
    # The forecast goes on from the last measurement to the threshold at the forecast time.
    forecast = chart["forecast"]
    assert forecast[0][0] == pytest.approx(60, abs=0.01)
    assert forecast[-1][0] == pytest.approx(chart["summary"]["forecast_hours"], abs=0.01)
    assert forecast[-1][1] == pytest.approx(85, abs=0.5)
    assert all(a[1] <= b[1] for a, b in zip(forecast, forecast[1:], strict=False)), "a growth forecast rises"


def test_a_run_without_a_confluence_decision_draws_the_default_target():
    sample = SampleFactory()
    run = imaged_run([sample], hours=[0, 12, 24, 36])
    assert run_thresholds([run.pk])[run.pk]["value"] == 80 and not run_thresholds([run.pk])[run.pk]["decision"]


def test_a_sample_never_measured_has_no_chart():
    assert sample_growth_charts(SampleFactory()) == []


def test_after_the_final_passage_the_chart_keeps_the_fit_of_the_segment_before_it():
    sample = SampleFactory()
    # The passage (trypsin) succeeds after the last imaging: the open segment has no points.
    run = imaged_run([sample], hours=range(0, 61, 12), passage_at=70)
    growth = runs_growth([run])[run.pk][sample.barcode]
    assert growth["fit"] is None and growth["passages_hours"] == [pytest.approx(70, abs=0.01)]
    (chart,) = sample_growth_charts(sample)
    expected = growth_fit([p["hours"] for p in growth["series"]], [p["confluence"] for p in growth["series"]])
    assert chart["summary"]["doubling_hours"] == round(expected.doubling_hours, 3)
    assert len(chart["fits"]) == 1 and chart["forecast"] == []
    assert chart["passages"] == growth["passages_hours"]


def test_a_campaign_chart_has_a_mean_curve_per_plate_with_its_forecast():
    campaign = Campaign.objects.create(name="growth", protocol=ProtocolFactory())
    for _ in range(2):
        plate = PlateFactory()
        samples = [SampleFactory(plate=plate, well=f"A{k + 1}") for k in range(3)]
        imaged_run(samples, hours=range(0, 61, 12), campaign=campaign, threshold=80)
    charts = campaign_growth_charts(campaign)
    assert charts["threshold"]["value"] == 80
    assert len(charts["plates"]) == 2
    for plate in charts["plates"]:
        assert plate["samples"] == 3 and plate["plate"].startswith("PLATE") or plate["plate"]
        assert [p["n"] for p in plate["points"]] == [3] * 6
        assert plate["fit"] and plate["doubling_hours"] > 0
        if plate["forecast_hours"] is not None and not plate["reached"]:
            assert plate["forecast"][-1][0] == pytest.approx(plate["forecast_hours"], abs=0.01)


def test_campaign_charts_read_in_the_same_number_of_queries_for_two_plates_or_six():
    counts = []
    for plates in (2, 6):
        campaign = Campaign.objects.create(name=f"growth {plates}", protocol=ProtocolFactory())
        for _ in range(plates):
            plate = PlateFactory()
            imaged_run([SampleFactory(plate=plate, well="A1")], hours=[0, 12, 24, 36], campaign=campaign)
        counts.append(queries_for(lambda campaign=campaign: campaign_growth_charts(campaign)))
    assert counts[0] == counts[1]
