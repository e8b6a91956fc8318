"""GET /api/plates and /api/plates/{barcode}: plates with their samples."""

import pytest

from tests.factories import PlateFactory, SampleFactory
from tests.utils import queries_for

pytestmark = pytest.mark.django_db


def test_plate_detail_lists_its_samples(api_client, demo_lab):
    response = api_client.get("/api/plates/PLATE-02")
    assert response.status_code == 200
    body = response.json()
    assert (body["barcode"], body["well_count"]) == ("PLATE-02", 96)
    assert [sample["barcode"] for sample in body["samples"]] == [f"SAMPLE{n:03d}" for n in range(13, 21)]


def test_an_unknown_plate_is_a_404(api_client):
    assert api_client.get("/api/plates/PLATE-404").status_code == 404


def test_plate_list_filters_by_well_count(api_client):
    PlateFactory(barcode="PLATE-S6", well_count=6)
    PlateFactory(barcode="PLATE-S96", well_count=96)
    response = api_client.get("/api/plates", {"well_count": 6})
    assert [plate["barcode"] for plate in response.json()["results"]] == ["PLATE-S6"]


def test_plate_list_queries_do_not_grow_with_plates_or_samples(api_client):
    for plate in PlateFactory.create_batch(3):
        SampleFactory.create_batch(2, plate=plate)
    few = queries_for(lambda: api_client.get("/api/plates", {"page_size": 100}))
    for plate in PlateFactory.create_batch(27):
        SampleFactory.create_batch(4, plate=plate)
    many = queries_for(lambda: api_client.get("/api/plates", {"page_size": 100}))
    assert few == many
