"""GET /api/samples/{barcode}/growth and /api/campaigns/{id}/growth: series in time in culture, fit, forecast."""

import math
from datetime import timedelta

import pytest
from django.utils import timezone

from devices.adapters.biology import measurement, sample_traits
from executionlogs.models import CellAnalysisResult
from tests.factories import ExecutionLogFactory, PlateFactory, ProtocolFactory, SampleFactory, WorkflowFactory
from workflows.models import Campaign, WorkflowSample

pytestmark = pytest.mark.django_db


def measured_run(samples, *, hours=range(0, 109, 12), scale=1.0, campaign=None):
    """A run started ``max(hours)`` simulated hours ago with one mock measurement per sample every 12 h."""
    start = timezone.now() - timedelta(hours=max(hours) * scale + 1)
    run = WorkflowFactory(started_at=start, campaign=campaign)
    for position, sample in enumerate(samples):
        WorkflowSample.objects.create(workflow=run, sample=sample, position=position)
    log = ExecutionLogFactory(workflow=run)
    for at in hours:
        for sample in samples:
            values = measurement(sample.barcode, at, workflow_id=run.pk)
            CellAnalysisResult.objects.create(
                sample=sample,
                workflow=run,
                execution_log=log,
                cell_count=values["cell_count"],
                confluence=values["confluence"],
                viability=values["viability"],
                measured_at=start + timedelta(hours=at * scale),
            )
    return run


def test_sample_growth_has_the_series_a_fit_near_the_models_rate_and_a_forecast(api_client):
    sample = SampleFactory()
    run = measured_run([sample])
    body = api_client.get(f"/api/samples/{sample.barcode}/growth").json()
    assert body["workflow"] == run.pk and body["sample"] == sample.barcode
    assert [p["hours"] for p in body["series"]] == pytest.approx(list(range(0, 109, 12)), abs=0.01)
    truth = sample_traits(sample.barcode, run.pk).doubling_hours
    assert body["fit"]["doubling_hours"] == pytest.approx(truth, rel=0.1)
    forecast = body["forecast"]
    assert forecast["target"] == 80
    assert forecast["reached"] or forecast["hours"] > 0


def test_time_in_culture_is_real_time_divided_by_the_time_scale(api_client, settings):
    settings.LABCORE_MOCK_HARDWARE = True
    settings.LABCORE_TIME_SCALE = 0.001
    sample = SampleFactory()
    measured_run([sample], scale=0.001)
    body = api_client.get(f"/api/samples/{sample.barcode}/growth", {"target": 90}).json()
    assert body["series"][-1]["hours"] == pytest.approx(108, abs=0.01)
    assert body["forecast"]["target"] == 90


def test_a_sample_never_measured_has_an_empty_series_and_a_bad_target_is_a_400(api_client):
    sample = SampleFactory()
    body = api_client.get(f"/api/samples/{sample.barcode}/growth").json()
    assert body["series"] == [] and body["fit"] is None and body["forecast"]["hours"] is None
    response = api_client.get(f"/api/samples/{sample.barcode}/growth", {"target": "lots"})
    assert response.status_code == 400 and "target" in response.json()["fields"]
    assert api_client.get("/api/samples/NO-SUCH/growth").status_code == 404


def test_campaign_growth_is_per_plate_with_the_plates_forecast(api_client, django_assert_max_num_queries):
    campaign = Campaign.objects.create(name="growth", protocol=ProtocolFactory())
    for _ in range(2):
        plate = PlateFactory()
        measured_run([SampleFactory(plate=plate, well=f"A{k + 1}") for k in range(2)], campaign=campaign)
    with django_assert_max_num_queries(12):
        body = api_client.get(f"/api/campaigns/{campaign.pk}/growth").json()
    assert len(body["plates"]) == 2
    for plate in body["plates"]:
        assert len(plate["samples"]) == 2 and plate["plate"] is not None
        forecasts = [s["forecast"]["hours"] for s in plate["samples"]]
        assert plate["forecast_hours"] == max(forecasts)
        assert math.isfinite(plate["doubling_hours"])
