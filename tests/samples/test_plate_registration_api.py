"""POST /api/plates registers a plate with its samples as a LIMS does: all or nothing."""

import pytest

from samples.models import Plate, Sample
from tests.factories import PlateFactory, SampleFactory

pytestmark = pytest.mark.django_db


def plate_body(**overrides):
    body = {
        "barcode": "PLATE-90",
        "name": "Donor 7 expansion",
        "well_count": 96,
        "samples": [
            {"barcode": "SAMPLE901", "well": "A1", "sample_type": "cells"},
            {"barcode": "SAMPLE902", "well": "H12", "sample_type": "blood"},
        ],
    }
    return body | overrides


def nothing_written():
    return (
        not Plate.objects.filter(barcode="PLATE-90").exists()
        and not Sample.objects.filter(barcode__in=["SAMPLE901", "SAMPLE902"]).exists()
    )


def test_a_plate_is_registered_with_its_samples(api_client):
    response = api_client.post("/api/plates", plate_body(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["barcode"], body["name"], body["well_count"]) == ("PLATE-90", "Donor 7 expansion", 96)
    assert [(s["barcode"], s["well"], s["sample_type"]) for s in body["samples"]] == [
        ("SAMPLE901", "A1", "cells"),
        ("SAMPLE902", "H12", "blood"),
    ]
    assert set(Sample.objects.filter(plate__barcode="PLATE-90").values_list("barcode", flat=True)) == {
        "SAMPLE901",
        "SAMPLE902",
    }
    assert api_client.get("/api/samples/SAMPLE902").json()["plate"] == "PLATE-90"


def test_a_plate_without_samples_or_name_is_registered(api_client):
    response = api_client.post("/api/plates", {"barcode": "PLATE-91", "well_count": 6}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["samples"] == [] and response.json()["name"] == ""


def test_a_taken_plate_barcode_is_a_409_and_writes_nothing(api_client):
    PlateFactory(barcode="PLATE-90")
    response = api_client.post("/api/plates", plate_body(), format="json")
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    assert list(response.json()["fields"]) == ["barcode"]
    assert not Sample.objects.filter(barcode__in=["SAMPLE901", "SAMPLE902"]).exists()


def test_a_taken_sample_barcode_is_a_409_naming_the_sample_and_writes_nothing(api_client):
    SampleFactory(barcode="SAMPLE902")
    response = api_client.post("/api/plates", plate_body(), format="json")
    assert response.status_code == 409
    assert list(response.json()["fields"]) == ["samples[1].barcode"]
    assert not Plate.objects.filter(barcode="PLATE-90").exists()
    assert not Sample.objects.filter(barcode="SAMPLE901").exists()


def test_two_samples_in_one_well_of_the_request_are_a_409(api_client):
    samples = [
        {"barcode": "SAMPLE901", "well": "B3", "sample_type": "cells"},
        {"barcode": "SAMPLE902", "well": "B3", "sample_type": "cells"},
    ]
    response = api_client.post("/api/plates", plate_body(samples=samples), format="json")
    assert response.status_code == 409
    assert set(response.json()["fields"]) == {"samples[0].well", "samples[1].well"}
    assert nothing_written()


def test_one_barcode_twice_in_the_request_is_a_409(api_client):
    samples = [
        {"barcode": "SAMPLE901", "well": "A1", "sample_type": "cells"},
        {"barcode": "SAMPLE901", "well": "A2", "sample_type": "cells"},
    ]
    response = api_client.post("/api/plates", plate_body(samples=samples), format="json")
    assert response.status_code == 409
    assert set(response.json()["fields"]) == {"samples[0].barcode", "samples[1].barcode"}
    assert nothing_written()


@pytest.mark.parametrize(
    ("well_count", "well"), [(96, "H13"), (96, "I1"), (6, "C1"), (6, "A4"), (24, "E1"), (384, "Q1")]
)
def test_a_well_the_plate_does_not_have_is_a_400_naming_it(api_client, well_count, well):
    samples = [
        {"barcode": "SAMPLE901", "well": "A1", "sample_type": "cells"},
        {"barcode": "SAMPLE902", "well": well, "sample_type": "cells"},
    ]
    response = api_client.post("/api/plates", plate_body(well_count=well_count, samples=samples), format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["samples[1].well"]
    assert nothing_written()


def test_the_last_well_of_a_384_well_plate_is_accepted(api_client):
    samples = [{"barcode": "SAMPLE901", "well": "P24", "sample_type": "cells"}]
    response = api_client.post("/api/plates", plate_body(well_count=384, samples=samples), format="json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"barcode": None}, "barcode"),
        ({"barcode": ""}, "barcode"),
        ({"barcode": "   "}, "barcode"),
        ({"barcode": "plate 90"}, "barcode"),
        ({"barcode": "PLATE\x0090"}, "barcode"),
        ({"barcode": 12345}, "barcode"),
        ({"barcode": ["PLATE-90"]}, "barcode"),
        ({"name": ""}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"name": {"deep": {"er": 1}}}, "name"),
        ({"well_count": 95}, "well_count"),
        ({"well_count": "96"}, "well_count"),
        ({"well_count": True}, "well_count"),
        ({"well_count": None}, "well_count"),
        ({"samples": "SAMPLE901"}, "samples"),
        ({"samples": {"barcode": "SAMPLE901"}}, "samples"),
        ({"samples": [["SAMPLE901", "A1", "cells"]]}, "samples[0]"),
        ({"samples": [{"barcode": "SAMPLE901", "well": "A1"}]}, "samples[0].sample_type"),
        ({"samples": [{"barcode": "SAMPLE901", "well": "A1", "sample_type": "plasmid"}]}, "samples[0].sample_type"),
        ({"samples": [{"barcode": "SAMPLE901", "well": "", "sample_type": "cells"}]}, "samples[0].well"),
        ({"samples": [{"barcode": "SAMPLE901", "well": "a1", "sample_type": "cells"}]}, "samples[0].well"),
        ({"samples": [{"barcode": "SAMPLE901", "well": "A\x001", "sample_type": "cells"}]}, "samples[0].well"),
        ({"samples": [{"barcode": {"x": [1]}, "well": "A1", "sample_type": "cells"}]}, "samples[0].barcode"),
        ({"samples": [{"barcode": "S\x00901", "well": "A1", "sample_type": "cells"}]}, "samples[0].barcode"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api_client, change, field):
    body = {key: value for key, value in (plate_body() | change).items() if value is not None}
    response = api_client.post("/api/plates", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid"
    assert field in response.json()["fields"], response.json()
    assert nothing_written()


def test_a_missing_field_is_a_400_naming_it(api_client):
    response = api_client.post("/api/plates", {"name": "no barcode"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"barcode", "well_count"}


def test_a_body_that_is_not_an_object_is_a_400(api_client):
    assert api_client.post("/api/plates", [plate_body()], format="json").status_code == 400


def test_json_nested_too_deep_is_a_400(api_client):
    deep = '{"barcode": "PLATE-90", "well_count": 96, "samples": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = api_client.post("/api/plates", deep, content_type="application/json")
    assert response.status_code == 400, response.content
    assert nothing_written()


def test_one_bad_sample_among_many_writes_nothing(api_client):
    samples = [{"barcode": f"SAMPLE{900 + n}", "well": f"B{n}", "sample_type": "cells"} for n in range(1, 12)]
    samples.append({"barcode": "SAMPLE999", "well": "B13", "sample_type": "cells"})
    response = api_client.post("/api/plates", plate_body(samples=samples), format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["samples[11].well"]
    assert not Sample.objects.filter(barcode__startswith="SAMPLE9").exists()
