"""Reads of plates and samples."""

import json
from itertools import groupby

from django.db.models import F, IntegerField, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Cast, NullIf, Substr

from samples.models import Plate, Sample
from samples.validators import is_valid_barcode


def sample_list() -> QuerySet[Sample]:
    return Sample.objects.select_related("plate").order_by("barcode")


def plate_list() -> QuerySet[Plate]:
    """Plates with their samples (by barcode): two queries for any number of plates."""
    return Plate.objects.prefetch_related(Prefetch("samples", queryset=Sample.objects.order_by("barcode"))).order_by(
        "barcode"
    )


def samples_validate(barcodes: list) -> dict:
    """Sort ``barcodes`` into those that exist, those that do not, and malformed ones.

    One query whatever the number of barcodes; input order is kept and duplicates collapse.
    """
    malformed, well_formed, seen = [], [], set()
    for barcode in barcodes:
        # Any JSON value may arrive; compare by its JSON text so lists and objects dedupe too.
        key = json.dumps(barcode, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        (well_formed if is_valid_barcode(barcode) else malformed).append(barcode)
    existing = set(Sample.objects.filter(barcode__in=well_formed).values_list("barcode", flat=True))
    valid = [barcode for barcode in well_formed if barcode in existing]
    return {
        "valid": not malformed and len(valid) == len(well_formed),
        "existing": valid,
        "missing": [barcode for barcode in well_formed if barcode not in existing],
        "malformed": malformed,
    }


def samples_by_plate(*, search: str = "", limit: int = 2000) -> tuple[list[tuple[Plate | None, list[Sample]]], bool]:
    """Samples grouped by plate (plates by barcode, wells A1, A2, ..., A12, B1), plate-less ones last.

    One query. ``search`` narrows to plates or samples whose barcode contains it; at most ``limit``
    samples are returned, and the second value says whether more were left out.
    """
    samples = Sample.objects.select_related("plate").order_by(
        F("plate__barcode").asc(nulls_last=True),
        Substr("well", 1, 1),
        Cast(NullIf(Substr("well", 2), Value("")), IntegerField()),
        "barcode",
    )
    if search:
        samples = samples.filter(Q(plate__barcode__icontains=search) | Q(barcode__icontains=search))
    rows = list(samples[: limit + 1])
    groups = [(plate, list(group)) for plate, group in groupby(rows[:limit], key=lambda sample: sample.plate)]
    return groups, len(rows) > limit
