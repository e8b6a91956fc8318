"""The samples read API and barcode validation."""

import pytest

from tests.factories import SampleFactory
from tests.utils import queries_for


@pytest.mark.django_db
def test_sample_detail_by_barcode(api_client, demo_lab):
    response = api_client.get("/api/samples/SAMPLE001")
    assert response.status_code == 200
    body = response.json()
    assert body["barcode"] == "SAMPLE001"
    assert body["plate"] == "PLATE-01"
    assert body["well"] == "A1"


@pytest.mark.django_db
def test_sample_list_filters_by_plate(api_client, demo_lab):
    response = api_client.get("/api/samples", {"plate": "PLATE-02", "page_size": 100})
    assert response.status_code == 200
    barcodes = [sample["barcode"] for sample in response.json()["results"]]
    assert barcodes == [f"SAMPLE{n:03d}" for n in range(13, 21)]


@pytest.mark.django_db
def test_validate_sorts_existing_unknown_and_malformed_barcodes(api_client, demo_lab):
    response = api_client.post(
        "/api/samples/validate",
        {"barcodes": ["SAMPLE001", "SAMPLE999", "bad barcode!", "SAMPLE002", 42]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {
        "valid": False,
        "existing": ["SAMPLE001", "SAMPLE002"],
        "missing": ["SAMPLE999"],
        "malformed": ["bad barcode!", 42],
    }


@pytest.mark.django_db
def test_validate_is_valid_when_every_barcode_exists(api_client, demo_lab):
    response = api_client.post("/api/samples/validate", {"barcodes": ["SAMPLE003", "SAMPLE004"]}, format="json")
    assert response.json()["valid"] is True


@pytest.mark.django_db
def test_validate_rejects_a_non_list(api_client):
    response = api_client.post("/api/samples/validate", {"barcodes": "SAMPLE001"}, format="json")
    assert response.status_code == 400
    assert "barcodes" in response.json()["fields"]


@pytest.mark.django_db
def test_sample_list_queries_do_not_grow_with_rows(api_client):
    SampleFactory.create_batch(3)
    few = queries_for(lambda: api_client.get("/api/samples", {"page_size": 100}))
    SampleFactory.create_batch(27)
    many = queries_for(lambda: api_client.get("/api/samples", {"page_size": 100}))
    assert few == many


@pytest.mark.django_db
def test_validate_reports_non_string_items_as_malformed_once(api_client, demo_lab):
    response = api_client.post(
        "/api/samples/validate", {"barcodes": [["SAMPLE001"], {"a": 1}, ["SAMPLE001"], 7]}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["malformed"] == [["SAMPLE001"], {"a": 1}, 7]
