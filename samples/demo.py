"""The demo lab's culture plates: PLATE-03..PLATE-24, so a campaign has 24 plates to run on.

PLATE-01 and PLATE-02 (with SAMPLE001..SAMPLE020, which other demos and tests name) come from
the lab's demo data; this adds the other 22 plates, each with its MSC samples in row A.
"""

from django.db import transaction

from samples.choices import SampleType
from samples.models import Plate, Sample
from samples.services import plates_register, sample_register

CULTURE_PLATE_NUMBERS = range(3, 25)
SAMPLES_PER_PLATE = 6


def demo_culture_plates() -> list[dict]:
    """Each plate as ``plate_register`` takes it: PLATE-07 holds MSC-07-A1..MSC-07-A6."""
    return [
        {
            "barcode": f"PLATE-{number:02d}",
            "name": f"MSC culture plate {number}",
            "well_count": 96,
            "samples": [
                {"barcode": f"MSC-{number:02d}-A{column}", "well": f"A{column}", "sample_type": SampleType.CELLS}
                for column in range(1, SAMPLES_PER_PLATE + 1)
            ],
        }
        for number in CULTURE_PLATE_NUMBERS
    ]


@transaction.atomic
def demo_plates_seed() -> int:
    """Register whatever of the demo culture plates and samples is missing; returns how many plates there are.

    Idempotent: a second run writes nothing (so it records no audit event). It creates what is
    missing through the registration services, and leaves rows that exist as they are.
    """
    specs = demo_culture_plates()
    plates = {plate.barcode: plate for plate in Plate.objects.filter(barcode__in=[spec["barcode"] for spec in specs])}
    existing_samples = set(Sample.objects.filter(plate__in=list(plates.values())).values_list("barcode", flat=True))
    # Missing plates in one registration (a few statements, not a few per plate: the demo lab is
    # seeded before many tests); missing samples of existing plates one by one.
    missing = [spec for spec in specs if spec["barcode"] not in plates]
    if missing:
        plates_register(missing)
    for spec in specs:
        plate = plates.get(spec["barcode"])
        for sample in spec["samples"] if plate is not None else ():
            if sample["barcode"] not in existing_samples:
                sample_register(plate=plate, **sample)
    return len(specs)
