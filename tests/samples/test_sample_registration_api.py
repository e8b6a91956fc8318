"""POST /api/samples registers one sample in a well of a registered plate."""

import pytest

from samples.models import Sample
from tests.factories import PlateFactory, SampleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def plate():
    return PlateFactory(barcode="PLATE-80", well_count=24)


def test_a_sample_is_registered_in_a_well(api_client, plate):
    response = api_client.post(
        "/api/samples",
        {"barcode": "SAMPLE801", "plate": "PLATE-80", "well": "D6", "sample_type": "serum"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["barcode"], body["plate"], body["well"], body["sample_type"]) == (
        "SAMPLE801",
        "PLATE-80",
        "D6",
        "serum",
    )
    assert Sample.objects.get(barcode="SAMPLE801").plate == plate


def test_a_sample_without_a_plate_is_a_tube(api_client):
    response = api_client.post("/api/samples", {"barcode": "TUBE-0001", "sample_type": "blood"}, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["plate"], response.json()["well"]) == (None, "")


def test_a_taken_barcode_is_a_409(api_client, plate):
    SampleFactory(barcode="SAMPLE801")
    body = {"barcode": "SAMPLE801", "plate": "PLATE-80", "well": "A1", "sample_type": "cells"}
    response = api_client.post("/api/samples", body, format="json")
    assert response.status_code == 409
    assert list(response.json()["fields"]) == ["barcode"]


def test_a_taken_well_is_a_409_naming_the_sample_in_it(api_client, plate):
    SampleFactory(barcode="SAMPLE800", plate=plate, well="B2")
    body = {"barcode": "SAMPLE801", "plate": "PLATE-80", "well": "B2", "sample_type": "cells"}
    response = api_client.post("/api/samples", body, format="json")
    assert response.status_code == 409
    assert response.json()["fields"] == {"well": ["PLATE-80 B2 holds sample SAMPLE800"]}
    assert not Sample.objects.filter(barcode="SAMPLE801").exists()


def test_an_unknown_plate_is_a_400_naming_the_field_as_every_body_reference(api_client):
    body = {"barcode": "SAMPLE801", "plate": "PLATE-404", "well": "A1", "sample_type": "cells"}
    response = api_client.post("/api/samples", body, format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["plate"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"well": "A7"}, "well"),  # a 24-well plate has columns 1-6
        ({"well": "E1"}, "well"),  # and rows A-D
        ({"well": None}, "well"),  # a sample on a plate needs a well
        ({"plate": None, "well": "A1"}, "well"),  # a well needs a plate
        ({"well": ""}, "well"),
        ({"barcode": None}, "barcode"),
        ({"barcode": ""}, "barcode"),
        ({"barcode": "sample 1"}, "barcode"),
        ({"barcode": "SAMPLE\x00801"}, "barcode"),
        ({"barcode": 801801}, "barcode"),
        ({"plate": "PLATE\x0080"}, "plate"),
        ({"plate": ["PLATE-80"]}, "plate"),
        ({"plate": {"barcode": {"deeper": "PLATE-80"}}}, "plate"),
        ({"sample_type": "plasmid"}, "sample_type"),
        ({"sample_type": None}, "sample_type"),
        ({"collected_at": "yesterday"}, "collected_at"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api_client, plate, change, field):
    body = {"barcode": "SAMPLE801", "plate": "PLATE-80", "well": "A1", "sample_type": "cells"} | change
    body = {key: value for key, value in body.items() if value is not None}
    response = api_client.post("/api/samples", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"], response.json()
    assert not Sample.objects.exists()
