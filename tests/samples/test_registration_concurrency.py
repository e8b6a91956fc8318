"""Concurrent registrations of one barcode or one well: exactly one 201, the others 409, never a 500.

Real threads against PostgreSQL, each case repeated. The services check what is taken first;
two requests can both pass that check, and then the database's unique constraints refuse the
second insert, which must still answer 409 naming the field.
"""

import threading
from collections import Counter

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from samples.models import Plate, Sample
from tests.factories import PlateFactory

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 10


def poster(token, path, body):
    def call():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        response = client.post(path, body, format="json")
        return response.status_code, response.json()

    return call


def one_winner(results) -> tuple[dict, dict]:
    assert Counter(status for status, _ in results) == {201: 1, 409: 1}, results
    return next(b for s, b in results if s == 201), next(b for s, b in results if s == 409)


def test_two_plates_with_one_barcode_at_once(token, contenders):
    run_together = contenders(2).run
    for round_ in range(ROUNDS):
        barcode = f"PLATE-R{round_:02d}"
        bodies = [
            {
                "barcode": barcode,
                "well_count": 96,
                "samples": [{"barcode": f"R{round_}-{n}", "well": "A1", "sample_type": "cells"}],
            }
            for n in (1, 2)
        ]
        winner, loser = one_winner(run_together([poster(token, "/api/plates", body) for body in bodies]))
        assert list(loser["fields"]) == ["barcode"]
        # All or nothing: the loser's sample was not written.
        assert list(Sample.objects.filter(plate__barcode=barcode).values_list("barcode", flat=True)) == [
            winner["samples"][0]["barcode"]
        ]


def test_two_plates_sharing_sample_barcodes_in_crossed_order_at_once(token, contenders):
    """Crossed order would deadlock if samples were inserted as given; one must win cleanly."""
    run_together = contenders(2).run
    for round_ in range(ROUNDS):
        shared = [f"X{round_}-{n:02d}" for n in range(20)]
        bodies = [
            {
                "barcode": f"PLATE-X{round_:02d}-{side}",
                "well_count": 96,
                "samples": [
                    {"barcode": barcode, "well": f"{'ABCD'[n // 12]}{n % 12 + 1}", "sample_type": "cells"}
                    for n, barcode in enumerate(order)
                ],
            }
            for side, order in (("A", shared), ("B", shared[::-1]))
        ]
        winner, loser = one_winner(run_together([poster(token, "/api/plates", body) for body in bodies]))
        assert all(field.startswith("samples[") and field.endswith("].barcode") for field in loser["fields"])
        assert Plate.objects.filter(barcode__startswith=f"PLATE-X{round_:02d}-").count() == 1
        assert Sample.objects.filter(barcode__in=shared, plate__barcode=winner["barcode"]).count() == 20


def test_two_samples_with_one_barcode_at_once(token, contenders):
    plate = PlateFactory(barcode="PLATE-RB")
    run_together = contenders(2).run
    for round_ in range(ROUNDS):
        bodies = [
            {
                "barcode": f"RB-{round_}",
                "plate": plate.barcode,
                "well": f"{'AB'[n]}{round_ + 1}",
                "sample_type": "cells",
            }
            for n in (0, 1)
        ]
        _, loser = one_winner(run_together([poster(token, "/api/samples", body) for body in bodies]))
        assert list(loser["fields"]) == ["barcode"]
        assert Sample.objects.filter(barcode=f"RB-{round_}").count() == 1


def test_two_samples_in_one_well_at_once(token, contenders):
    plate = PlateFactory(barcode="PLATE-RW")
    run_together = contenders(2).run
    for round_ in range(ROUNDS):
        well = f"C{round_ + 1}"
        bodies = [
            {"barcode": f"RW-{round_}-{n}", "plate": plate.barcode, "well": well, "sample_type": "cells"}
            for n in (1, 2)
        ]
        _, loser = one_winner(run_together([poster(token, "/api/samples", body) for body in bodies]))
        assert list(loser["fields"]) == ["well"]
        assert Sample.objects.filter(plate=plate, well=well).count() == 1


def racing(insert_uncommitted, request):
    """``request`` while another transaction holds an uncommitted row with the same key, committed
    half a second later: the request passes its own check, then its insert waits on the unique
    index and fails. This is the path the database constraint alone decides, every time."""
    holding, answered = threading.Event(), {}

    def other_transaction():
        try:
            with transaction.atomic():
                insert_uncommitted()
                holding.set()
                threading.Event().wait(0.5)
        finally:
            connection.close()

    def the_request():
        holding.wait(5)
        try:
            answered["response"] = request()
        finally:
            connection.close()

    threads = [threading.Thread(target=other_transaction), threading.Thread(target=the_request)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    return answered["response"]


@pytest.mark.parametrize(
    ("taken", "body", "fields"),
    [
        ("plate", {"barcode": "PLATE-RC", "well_count": 96, "samples": []}, ["barcode"]),
        (
            "sample",
            {
                "barcode": "PLATE-RD",
                "well_count": 96,
                "samples": [
                    {"barcode": "RC-OTHER", "well": "A1", "sample_type": "cells"},
                    {"barcode": "RC-1", "well": "A2", "sample_type": "cells"},
                ],
            },
            ["samples[1].barcode"],
        ),
    ],
)
def test_a_plate_or_sample_barcode_taken_meanwhile_is_a_409_from_the_constraint(token, taken, body, fields):
    def insert():
        if taken == "plate":
            Plate.objects.create(barcode="PLATE-RC")
        else:
            Sample.objects.create(barcode="RC-1", sample_type="cells")

    status, answer = racing(insert, poster(token, "/api/plates", body))
    assert status == 409, answer
    assert list(answer["fields"]) == fields
    assert not Sample.objects.filter(barcode="RC-OTHER").exists()


@pytest.mark.parametrize(
    ("other", "fields"),
    [({"barcode": "RE-1", "well": "H1"}, ["barcode"]), ({"barcode": "RE-2", "well": "A1"}, ["well"])],
)
def test_a_sample_barcode_or_well_taken_meanwhile_is_a_409_from_the_constraint(token, other, fields):
    plate = PlateFactory(barcode="PLATE-RE")
    body = {"barcode": "RE-1", "plate": plate.barcode, "well": "A1", "sample_type": "cells"}
    status, answer = racing(
        lambda: Sample.objects.create(plate=plate, sample_type="cells", **other), poster(token, "/api/samples", body)
    )
    assert status == 409, answer
    assert list(answer["fields"]) == fields
