"""Writes of plates and samples: registration as a LIMS does it.

Every request is checked whole before anything is written, bad input first (400, naming the
field: ``samples[2].well``), then what is already taken (409). The unique constraints of the
database stay the last line of defence: a barcode or well taken by a concurrent request between
the check and the insert is refused there, and that refusal becomes the same 409.
"""

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from psycopg import errors as pg_errors

from labcore.exceptions import ApplicationError, ConflictError
from labcore.locking import lock_conflicts_as_409
from samples.models import Plate, Sample


def _field_errors(instance, *, prefix: str = "", exclude: list[str] | None = None) -> dict[str, list[str]]:
    """``full_clean`` errors of ``instance`` by field, without the uniqueness checks (those are 409s)."""
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        return {f"{prefix}{field}": list(messages) for field, messages in exc.message_dict.items()}
    return {}


def _taken_key(exc: IntegrityError) -> tuple[str, list[str], list[str]] | None:
    """(table, columns, values) of the unique key an insert collided with, or None for other errors."""
    cause = exc.__cause__
    if not isinstance(cause, pg_errors.UniqueViolation):
        return None
    match = re.match(r"Key \((?P<columns>[^)]*)\)=\((?P<values>.*)\)", cause.diag.message_detail or "")
    if match is None:
        return cause.diag.table_name, [], []
    columns = [column.strip().strip('"') for column in match["columns"].split(",")]
    values = [value.strip() for value in match["values"].split(",")]
    return cause.diag.table_name, columns, values


@contextmanager
def _inserts(*, what: str, conflict) -> Iterator[None]:
    """Run the inserts in a savepoint; a unique key taken meanwhile becomes ``conflict(table, columns, values)``.

    The savepoint is what lets the caller's transaction go on (or answer) after the refusal.
    A deadlock cannot arise between two registrations (samples are inserted in barcode order,
    after their plate), but if PostgreSQL ever reported one it would be a 409 too.
    """
    try:
        with lock_conflicts_as_409(what), transaction.atomic():
            yield
    except IntegrityError as exc:
        key = _taken_key(exc)
        if key is None:
            raise
        raise conflict(*key) from exc


def _registration_conflicts(samples: list[Sample], *, prefix) -> dict[str, list[str]]:
    """Barcodes and wells of ``samples`` that are taken, by the request itself or in the database."""
    conflicts: dict[str, list[str]] = {}
    barcode_counts = Counter(sample.barcode for sample in samples)
    well_counts = Counter((sample.plate_id, sample.well) for sample in samples if sample.plate is not None)
    stored_barcodes = set(Sample.objects.filter(barcode__in=list(barcode_counts)).values_list("barcode", flat=True))
    stored_wells = {}
    plate_ids = {sample.plate_id for sample in samples if sample.plate_id is not None}
    if plate_ids:
        stored_wells = {
            (plate_id, well): barcode
            for plate_id, well, barcode in Sample.objects.filter(
                plate_id__in=plate_ids, well__in=[sample.well for sample in samples]
            ).values_list("plate_id", "well", "barcode")
        }
    for index, sample in enumerate(samples):
        if sample.barcode in stored_barcodes:
            conflicts[f"{prefix(index)}barcode"] = [f"{sample.barcode} is already registered"]
        elif barcode_counts[sample.barcode] > 1:
            conflicts[f"{prefix(index)}barcode"] = [f"{sample.barcode} is given more than once"]
        key = (sample.plate_id, sample.well)
        if sample.plate is not None and key in stored_wells:
            holder = stored_wells[key]
            conflicts[f"{prefix(index)}well"] = [f"{sample.plate.barcode} {sample.well} holds sample {holder}"]
        elif sample.plate is not None and well_counts[key] > 1:
            conflicts[f"{prefix(index)}well"] = [f"{sample.well} is given to more than one sample"]
    return conflicts


@transaction.atomic
def plate_register(*, barcode: str, well_count: int, name: str = "", samples: list[dict] = ()) -> Plate:
    """Register a plate with the samples in its wells, all or nothing.

    ``samples`` are ``{"barcode", "well", "sample_type"[, "collected_at"]}``. A taken plate
    barcode, a taken sample barcode or two samples in one well is a ConflictError naming the
    field; nothing is written unless every sample can be.
    """
    plate = Plate(barcode=barcode, name=name, well_count=well_count)
    rows = [Sample(plate=plate, **spec) for spec in samples]
    errors = _field_errors(plate)
    for index, row in enumerate(rows):
        # The plate is checked on its own above; a sample only needs it for its well.
        errors |= _field_errors(row, prefix=f"samples[{index}].", exclude=["plate"])
    if errors:
        raise ApplicationError(f"invalid plate {barcode}: " + ", ".join(errors), fields=errors)

    conflicts = {}
    if Plate.objects.filter(barcode=barcode).exists():
        conflicts["barcode"] = [f"plate {barcode} is already registered"]
    conflicts |= _registration_conflicts(rows, prefix=lambda index: f"samples[{index}].")
    if conflicts:
        raise ConflictError(f"plate {barcode}: " + ", ".join(conflicts) + " taken", fields=conflicts)

    index_of = {row.barcode: index for index, row in enumerate(rows)}

    def taken_meanwhile(table, columns, values):
        if table == Plate._meta.db_table:
            return ConflictError(f"plate {barcode} is already registered", fields={"barcode": ["already exists"]})
        if columns == ["barcode"] and values and values[0] in index_of:
            field = f"samples[{index_of[values[0]]}].barcode"
            return ConflictError(f"sample {values[0]} is already registered", fields={field: ["already exists"]})
        return ConflictError(f"plate {barcode}: a barcode or well is taken", fields={"samples": ["already exists"]})

    with _inserts(what=f"plate {barcode}", conflict=taken_meanwhile):
        plate.save()
        # Barcode order: two registrations that share barcodes wait for each other in the same
        # order on the unique index, so one fails with a 409 instead of both deadlocking.
        Sample.objects.bulk_create(sorted(rows, key=lambda row: row.barcode))
    return plate


@transaction.atomic
def sample_register(
    *, barcode: str, sample_type: str, plate: Plate | None = None, well: str = "", collected_at=None
) -> Sample:
    """Register one sample, in a well of ``plate`` or (a tube) on none.

    A taken barcode or an occupied well is a ConflictError naming the field.
    """
    sample = Sample(barcode=barcode, sample_type=sample_type, plate=plate, well=well, collected_at=collected_at)
    errors = _field_errors(sample)
    if plate is not None and not well:
        errors.setdefault("well", []).append("A sample on a plate needs a well.")
    if plate is None and well:
        errors.setdefault("well", []).append("A well needs a plate.")
    if errors:
        raise ApplicationError(f"invalid sample {barcode}: " + ", ".join(errors), fields=errors)

    conflicts = _registration_conflicts([sample], prefix=lambda index: "")
    if conflicts:
        raise ConflictError(f"sample {barcode}: " + ", ".join(conflicts) + " taken", fields=conflicts)

    def taken_meanwhile(table, columns, values):
        if columns == ["barcode"]:
            return ConflictError(f"sample {barcode} is already registered", fields={"barcode": ["already exists"]})
        return ConflictError(f"{plate.barcode} {well} holds another sample", fields={"well": ["already taken"]})

    with _inserts(what=f"sample {barcode}", conflict=taken_meanwhile):
        sample.save()
    return sample
