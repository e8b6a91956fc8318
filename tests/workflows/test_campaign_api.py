"""/api/campaigns: 201 with the runs and summary, 400 naming the field, 409 for a draft, constant queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.workflows.factories import protocol_make, registry_make
from tests.workflows.test_campaign_services import plate_make
from workflows.models import Campaign, Workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def protocol(db):
    registry_make()
    return protocol_make(2, published=True)


def post(api_client, **body):
    return api_client.post("/api/campaigns", body, format="json")


def test_post_creates_and_starts_one_run_per_plate(api_client, protocol):
    plate_make("PLATE-01"), plate_make("PLATE-02")
    response = post(api_client, name="MSC", protocol=protocol.pk, plates=["PLATE-01", "PLATE-02"], priority="urgent")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["workflows"] == list(Workflow.objects.order_by("id").values_list("id", flat=True))
    assert [(run["plate"], run["status"]) for run in body["runs"]] == [("PLATE-01", "running"), ("PLATE-02", "running")]
    assert body["priority"] == "urgent" and body["created_by"] == "scientist"
    assert body["summary"]["by_status"]["running"] == 2 and body["summary"]["progress"]["total"] == 8
    detail = api_client.get(f"/api/campaigns/{body['id']}").json()
    assert detail["runs"] == body["runs"] and detail["summary"] == body["summary"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"plates": ["PLATE-99"]}, "plates"),
        ({"plates": []}, "plates"),
        ({"plates": ["PLATE-01", "PLATE-01"]}, "plates"),
        ({"plates": "PLATE-01"}, "plates"),
        ({"protocol": 999999}, "protocol"),
        ({"protocol": "x"}, "protocol"),
        ({"priority": "asap"}, "priority"),
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api_client, protocol, body, field):
    plate_make("PLATE-01")
    response = post(api_client, **{"name": "MSC", "protocol": protocol.pk, "plates": ["PLATE-01"], **body})
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert not Campaign.objects.exists() and not Workflow.objects.exists()


def test_a_draft_protocol_is_a_409_naming_protocol(api_client, protocol):
    plate_make("PLATE-01")
    draft = protocol_make(1, name="Draft")
    response = post(api_client, name="MSC", protocol=draft.pk, plates=["PLATE-01"])
    assert response.status_code == 409 and "protocol" in response.json()["fields"]


def test_an_unknown_campaign_is_a_404(api_client):
    assert api_client.get("/api/campaigns/999999").status_code == 404


def test_the_list_costs_the_same_queries_at_3_and_30_campaigns(api_client, protocol, django_assert_num_queries):
    def grow_to(count):
        while Campaign.objects.count() < count:
            index = Campaign.objects.count()
            barcodes = [plate_make(f"PLATE-{index:02d}{n}").barcode for n in range(2)]
            assert post(api_client, name=f"C{index}", protocol=protocol.pk, plates=barcodes).status_code == 201

    counts = []
    for size in (3, 30):
        grow_to(size)
        with CaptureQueriesContext(connection) as captured:
            response = api_client.get("/api/campaigns", {"page_size": 50})
        assert response.status_code == 200 and len(response.json()["results"]) == size
        counts.append(len(captured))
    assert counts[0] == counts[1]
    with django_assert_num_queries(counts[0]):
        api_client.get("/api/campaigns", {"page_size": 50})


def test_the_status_counts_schema_names_every_workflow_status():
    from workflows.api.campaigns import StatusCountsSerializer
    from workflows.choices import WorkflowStatus

    assert set(StatusCountsSerializer().fields) == set(WorkflowStatus.values)
