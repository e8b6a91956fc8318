"""GET /api/cell-analysis-results: per-sample results, filtered, newest first, in cursor pages."""

from datetime import UTC, datetime, timedelta

import pytest

from executionlogs.models import CellAnalysisResult
from tests.executionlogs.conftest import append_log
from tests.factories import SampleFactory, WorkflowFactory
from tests.utils import queries_for

RESULTS = "/api/cell-analysis-results"
NOON = datetime(2025, 3, 1, 12, tzinfo=UTC)


def make_result(log, *, sample, workflow=None, measured_at=NOON):
    return CellAnalysisResult.objects.create(
        sample=sample,
        workflow=workflow,
        execution_log=log,
        cell_count=120_000,
        confluence=71.5,
        viability=96.0,
        measured_at=measured_at,
    )


@pytest.fixture
def vision_log(device):
    return append_log(device, action_type="vision.analyse")


@pytest.mark.django_db
def test_results_are_listed_newest_first_with_the_sample_barcode(api_client, vision_log):
    sample = SampleFactory()
    older = make_result(vision_log, sample=sample, measured_at=NOON - timedelta(hours=1))
    newer = make_result(vision_log, sample=sample)
    results = api_client.get(RESULTS).json()["results"]
    assert [result["id"] for result in results] == [newer.pk, older.pk]
    assert results[0]["sample"] == sample.barcode and results[0]["execution_log"] == vision_log.pk
    assert results[0]["confluence"] == 71.5


@pytest.mark.django_db
def test_filters_by_sample_workflow_and_time(api_client, vision_log):
    sample, other_sample, workflow = SampleFactory(), SampleFactory(), WorkflowFactory()
    wanted = make_result(vision_log, sample=sample, workflow=workflow)
    make_result(vision_log, sample=other_sample, workflow=workflow)
    make_result(vision_log, sample=sample)
    make_result(vision_log, sample=sample, workflow=workflow, measured_at=NOON + timedelta(days=1))
    params = {
        "sample": sample.barcode,
        "workflow": workflow.pk,
        "measured_after": "2025-03-01T00:00:00Z",
        "measured_before": "2025-03-02T00:00:00Z",
    }
    assert [result["id"] for result in api_client.get(RESULTS, params).json()["results"]] == [wanted.pk]


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["measured_after", "measured_before", "workflow"])
def test_bad_filters_are_400_naming_them(api_client, field):
    response = api_client.get(RESULTS, {field: "not-a-value"})
    assert response.status_code == 400
    assert field in response.json()["fields"]


@pytest.mark.django_db
def test_cursor_pages_cover_every_result_once(api_client, vision_log):
    sample = SampleFactory()
    created = [make_result(vision_log, sample=sample, measured_at=NOON - timedelta(minutes=n % 3)) for n in range(11)]
    seen, page = [], api_client.get(RESULTS, {"page_size": 4}).json()
    while True:
        seen += [result["id"] for result in page["results"]]
        if not page["next"]:
            break
        page = api_client.get(page["next"]).json()
    assert sorted(seen) == sorted(result.pk for result in created) and len(seen) == len(set(seen))


@pytest.mark.django_db
def test_list_runs_the_same_queries_for_5_and_50_results(api_client, vision_log):
    for _ in range(5):
        make_result(vision_log, sample=SampleFactory(), workflow=WorkflowFactory())
    few = queries_for(lambda: api_client.get(RESULTS, {"page_size": 100}))
    for _ in range(45):
        make_result(vision_log, sample=SampleFactory(), workflow=WorkflowFactory())
    many = queries_for(lambda: api_client.get(RESULTS, {"page_size": 100}))
    assert few == many


@pytest.mark.django_db
def test_one_result_by_id_and_404_for_unknown(api_client, vision_log):
    result = make_result(vision_log, sample=SampleFactory())
    assert api_client.get(f"{RESULTS}/{result.pk}").json()["id"] == result.pk
    assert api_client.get(f"{RESULTS}/999999").status_code == 404
    assert api_client.post(RESULTS, {}, format="json").status_code == 405


@pytest.mark.django_db
def test_time_filters_take_any_offset_python_accepts_and_reject_overflow(api_client, vision_log):
    # PostgreSQL refuses a +17:53 offset that Python parses: the filter converts to UTC first.
    wanted = make_result(vision_log, sample=SampleFactory())
    response = api_client.get(RESULTS, {"measured_after": "2025-03-02T05:53:00+17:53", "measured_before": "2025-03-02"})
    assert [result["id"] for result in response.json()["results"]] == [wanted.pk]
    overflow = api_client.get(RESULTS, {"measured_after": "0001-01-01T00:00:00+05:00"})
    assert overflow.status_code == 400 and "measured_after" in overflow.json()["fields"]
