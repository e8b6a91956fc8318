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
    # Keyed by the plate object, not plate_id: the plates of a plate registration have no id yet.
    well_counts = Counter((id(sample.plate), sample.well) for sample in samples if sample.plate is not None)
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
        if sample.plate is not None and sample.plate_id is not None and key in stored_wells:
            holder = stored_wells[key]
            conflicts[f"{prefix(index)}well"] = [f"{sample.plate.barcode} {sample.well} holds sample {holder}"]
        elif sample.plate is not None and well_counts[id(sample.plate), sample.well] > 1:
            conflicts[f"{prefix(index)}well"] = [f"{sample.well} is given to more than one sample"]
    return conflicts


@transaction.atomic
def plate_register(*, barcode: str, well_count: int, name: str = "", samples: list[dict] = ()) -> Plate:
    """Register a plate with the samples in its wells, all or nothing.

    ``samples`` are ``{"barcode", "well", "sample_type"[, "collected_at"]}``. A taken plate
    barcode, a taken sample barcode or two samples in one well is a ConflictError naming the
    field (``barcode``, ``samples[1].well``); nothing is written unless every sample can be.
    """
    spec = {"barcode": barcode, "well_count": well_count, "name": name, "samples": samples}
    return _plates_register([spec], prefixes=[""])[0]


@transaction.atomic
def plates_register(specs: list[dict]) -> list[Plate]:
    """Several plates as ``plate_register`` takes them, all or nothing, in a few statements
    whatever their number (the demo lab's 22 culture plates); fields are named ``[2].samples[1].well``."""
    return _plates_register(specs, prefixes=[f"[{index}]." for index in range(len(specs))])


def _plates_register(specs: list[dict], *, prefixes: list[str]) -> list[Plate]:
    plates, rows, sample_prefixes = [], [], []
    errors = {}
    for spec, prefix in zip(specs, prefixes, strict=True):
        plate = Plate(barcode=spec["barcode"], name=spec.get("name", ""), well_count=spec["well_count"])
        plates.append(plate)
        errors |= _field_errors(plate, prefix=prefix)
        for index, sample_spec in enumerate(spec.get("samples", ())):
            row = Sample(plate=plate, **sample_spec)
            rows.append(row)
            sample_prefixes.append(f"{prefix}samples[{index}].")
            # The plate is checked on its own above; a sample only needs it for its well.
            errors |= _field_errors(row, prefix=sample_prefixes[-1], exclude=["plate"])
    what = "plate " + ", ".join(plate.barcode for plate in plates)
    if errors:
        raise ApplicationError(f"invalid {what}: " + ", ".join(errors), fields=errors)

    conflicts = {}
    plate_counts = Counter(plate.barcode for plate in plates)
    stored_plates = set(Plate.objects.filter(barcode__in=list(plate_counts)).values_list("barcode", flat=True))
    for plate, prefix in zip(plates, prefixes, strict=True):
        if plate.barcode in stored_plates:
            conflicts[f"{prefix}barcode"] = [f"plate {plate.barcode} is already registered"]
        elif plate_counts[plate.barcode] > 1:
            conflicts[f"{prefix}barcode"] = [f"plate {plate.barcode} is given more than once"]
    # Wells are told apart by plate object: none of these plates has an id yet.
    conflicts |= _registration_conflicts(rows, prefix=lambda index: sample_prefixes[index])
    if conflicts:
        raise ConflictError(f"{what}: " + ", ".join(conflicts) + " taken", fields=conflicts)

    plate_field = {plate.barcode: f"{prefix}barcode" for plate, prefix in zip(plates, prefixes, strict=True)}
    sample_field = {row.barcode: f"{prefix}barcode" for row, prefix in zip(rows, sample_prefixes, strict=True)}

    def taken_meanwhile(table, columns, values):
        value = values[0] if len(values) == 1 else None
        if table == Plate._meta.db_table and value in plate_field:
            field, message = plate_field[value], f"plate {value} is already registered"
        elif columns == ["barcode"] and value in sample_field:
            field, message = sample_field[value], f"sample {value} is already registered"
        else:
            field, message = "barcode", f"{what}: a barcode is taken"
        return ConflictError(message, fields={field: ["already exists"]})

    with _inserts(what=what, conflict=taken_meanwhile):
        # Barcode order, plates before samples: two registrations that share barcodes wait for
        # each other in the same order on the unique indexes, so one fails with a 409 instead
        # of both deadlocking.
        Plate.objects.bulk_create(sorted(plates, key=lambda plate: plate.barcode))
        Sample.objects.bulk_create(sorted(rows, key=lambda row: row.barcode))
    return plates


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
