"""Creating a culture campaign: one run of a published protocol per plate, created and started at once.

Rules, each kept here:

- **All or nothing.** Validation, every workflow and every start happen in one transaction: a
  plate that cannot run (or a start refused) leaves no campaign and no run behind.
- **A plate is in at most one unfinished campaign run.** Two campaigns feeding and imaging the
  same plate would each act on the other's cells. Plate rows are locked (pk order) before the
  check, so two campaigns created at once on the same plate cannot both pass it; the second
  answers 409 naming ``plates``. A plate in a run outside any campaign (an ad-hoc plate read,
  a manual run) is not refused: that is an operator's deliberate choice.
- **Lock order** (no deadlock however many runs start at once): plates, then every device any
  start may touch, in one pk-ordered statement, then each new workflow. The workflow rows are
  our own uncommitted inserts, which no other transaction can see or wait for, so locking them
  after the devices cannot form a cycle with the lifecycle services (workflow, then devices).
  Each ``workflow_start`` then re-locks device rows this transaction already holds.
"""

from collections.abc import Sequence

from django.db import transaction

from devices.handoff import devices_lock
from labcore.exceptions import ApplicationError, ConflictError
from labcore.locking import lock_rows
from samples.models import Plate, Sample
from workflows.choices import UNFINISHED_WORKFLOW_STATUSES
from workflows.models import Campaign, Protocol, RunStep, Workflow, WorkflowSample
from workflows.models.campaigns import CAMPAIGN_NAME_MAX_LENGTH
from workflows.services.creation import protocol_run_check, workflow_create_from_protocol
from workflows.services.execution import workflow_start

# Runs that still act on their plate: created (not yet started) and every active status.
MAX_PLATES = 500


def plates_by_barcode(barcodes: Sequence[str]) -> list[Plate]:
    """The plates named, in the order given; 400 naming ``plates`` for unknown or repeated barcodes."""
    barcodes = list(barcodes)
    if not barcodes:
        raise ApplicationError("a campaign needs at least one plate", fields={"plates": ["must not be empty"]})
    repeated = sorted({barcode for barcode in barcodes if barcodes.count(barcode) > 1})
    if repeated:
        raise ApplicationError(
            "a plate is given twice: " + ", ".join(repeated),
            fields={"plates": [f"{barcode} is given twice" for barcode in repeated]},
        )
    found = {plate.barcode: plate for plate in Plate.objects.filter(barcode__in=barcodes)}
    unknown = [barcode for barcode in barcodes if barcode not in found]
    if unknown:
        raise ApplicationError(
            "unknown plate barcode(s): " + ", ".join(unknown),
            fields={"plates": [f"unknown plate {barcode!r}" for barcode in unknown]},
        )
    return [found[barcode] for barcode in barcodes]


def well_order(sample: Sample) -> tuple[str, int]:
    """A1, A2, ..., A12, B1: rows by letter, columns by number (not A1, A10, A11, A2)."""
    return (sample.well[:1], int(sample.well[1:] or 0))


def _name_check(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ApplicationError("a campaign needs a name", fields={"name": ["must not be blank"]})
    if len(name) > CAMPAIGN_NAME_MAX_LENGTH:
        raise ApplicationError(
            f"a campaign name has at most {CAMPAIGN_NAME_MAX_LENGTH} characters",
            fields={"name": [f"at most {CAMPAIGN_NAME_MAX_LENGTH} characters"]},
        )
    return name


def _plates_check(plates: Sequence[Plate]) -> dict[int, list[Sample]]:
    """Each plate's samples in well order; 400 for a repeated plate or a plate without samples."""
    if not plates:
        raise ApplicationError("a campaign needs at least one plate", fields={"plates": ["must not be empty"]})
    if len({plate.pk for plate in plates}) != len(plates):
        raise ApplicationError("a plate is given twice", fields={"plates": ["duplicate plates"]})
    samples: dict[int, list[Sample]] = {plate.pk: [] for plate in plates}
    for sample in Sample.objects.filter(plate__in=plates):
        samples[sample.plate_id].append(sample)
    empty = [plate.barcode for plate in plates if not samples[plate.pk]]
    if empty:
        raise ApplicationError(
            "plate(s) without samples: " + ", ".join(empty),
            fields={"plates": [f"{barcode} has no samples" for barcode in empty]},
        )
    return {plate_id: sorted(plate_samples, key=well_order) for plate_id, plate_samples in samples.items()}


def _plates_free_check(plates: Sequence[Plate]) -> None:
    """409 naming ``plates`` when a plate is in an unfinished run of a campaign (under the plate locks)."""
    busy = (
        WorkflowSample.objects.filter(
            sample__plate__in=plates,
            workflow__campaign__isnull=False,
            workflow__status__in=UNFINISHED_WORKFLOW_STATUSES,
        )
        .values_list("sample__plate__barcode", "workflow_id", "workflow__campaign__name")
        .distinct()
        .order_by("sample__plate__barcode", "workflow_id")
    )
    taken: dict[str, str] = {}
    for barcode, workflow_id, campaign_name in busy:
        taken.setdefault(barcode, f"{barcode} is in run {workflow_id} of campaign {campaign_name!r}")
    if taken:
        raise ConflictError(
            "plate(s) already in an unfinished campaign run: " + ", ".join(taken),
            fields={"plates": list(taken.values())},
        )


@transaction.atomic
def campaign_create(
    *, name: str, protocol: Protocol, plates: Sequence[Plate], priority: int, user=None, via: str = ""
) -> Campaign:
    """Create a campaign and one started workflow per plate, "<name> / <barcode>", on the plate's samples.

    400 naming the field for bad input, 409 for a draft protocol or a plate already in an
    unfinished campaign run; nothing is written unless every run was created and started.
    """
    name = _name_check(name)
    protocol_run_check(protocol=protocol, priority=priority)
    plates = list(plates)
    samples = _plates_check(plates)
    # Lock order 1: the plates (pk order), so the "plate in another campaign" check holds to commit.
    lock_rows(Plate.objects.filter(pk__in=[plate.pk for plate in plates]), what="the plates")
    _plates_free_check(plates)
    campaign = Campaign(name=name, protocol=protocol, priority=priority, created_by=user)
    campaign.save()
    # Every run is created before any starts, so all of them resolve unpinned actions against the
    # same device statuses and plan the same device set.
    workflows = [
        workflow_create_from_protocol(
            name=f"{name} / {plate.barcode}", protocol=protocol, samples=samples[plate.pk], priority=priority, user=user
        )
        for plate in plates
    ]
    Workflow.objects.filter(pk__in=[workflow.pk for workflow in workflows]).update(campaign=campaign)
    # Lock order 2: every device a start may touch (its set, and the devices of requests waiting
    # for them, which a hand-off may book), all at once in pk order.
    device_ids = set(RunStep.objects.filter(workflow__in=workflows).values_list("device_id", flat=True))
    devices_lock(lambda: device_ids, what="devices " + ", ".join(sorted(device_ids)))
    # Lock order 3: each workflow, in plate order; its devices are ours already.
    for workflow in workflows:
        workflow_start(workflow=workflow, user=user, via=via)
    return campaign


__all__ = ["campaign_create", "plates_by_barcode", "well_order"]
