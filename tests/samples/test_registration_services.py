"""The registration services, as the API, the admin and seed_demo share them."""

import pytest

from labcore.exceptions import ApplicationError, ConflictError
from samples.models import Plate, Sample
from samples.services import plate_register, plates_register
from tests.factories import PlateFactory

pytestmark = pytest.mark.django_db


def spec(barcode, *samples, well_count=96):
    return {
        "barcode": barcode,
        "well_count": well_count,
        "samples": [{"barcode": code, "well": well, "sample_type": "cells"} for code, well in samples],
    }


def test_several_plates_are_registered_together():
    plates = plates_register([spec("PLATE-A1", ("SA-1", "A1")), spec("PLATE-A2", ("SA-2", "A1"))])
    assert [plate.barcode for plate in plates] == ["PLATE-A1", "PLATE-A2"]
    assert Sample.objects.get(barcode="SA-2").plate == plates[1]


def test_one_taken_plate_among_several_writes_none_and_names_its_place():
    PlateFactory(barcode="PLATE-A2")
    with pytest.raises(ConflictError) as refused:
        plates_register([spec("PLATE-A1", ("SA-1", "A1")), spec("PLATE-A2", ("SA-2", "A1"))])
    assert list(refused.value.fields) == ["[1].barcode"]
    assert not Plate.objects.filter(barcode="PLATE-A1").exists()


def test_the_same_well_on_two_plates_is_no_conflict_but_one_barcode_on_two_is():
    with pytest.raises(ConflictError) as refused:
        plates_register([spec("PLATE-A1", ("SA-1", "A1")), spec("PLATE-A2", ("SA-1", "A1"))])
    assert set(refused.value.fields) == {"[0].samples[0].barcode", "[1].samples[0].barcode"}


def test_a_well_outside_a_six_well_plate_is_bad_input():
    with pytest.raises(ApplicationError) as refused:
        plate_register(**spec("PLATE-A6", ("SA-1", "B3"), ("SA-2", "C1"), well_count=6))
    assert refused.value.status_code == 400
    assert list(refused.value.fields) == ["samples[1].well"]
