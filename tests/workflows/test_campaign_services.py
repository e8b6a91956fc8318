"""Creating a campaign: one started run per plate on its samples in well order, all or nothing."""

import threading

import pytest
from django.db import connection

from devices.choices import Priority
from devices.models import Booking, QueueEntry
from labcore.exceptions import ApplicationError, ConflictError
from tests.factories import PlateFactory, SampleFactory
from tests.workflows.factories import protocol_make, registry_make
from workflows.choices import WorkflowStatus
from workflows.models import Campaign, RunUnit, Workflow, WorkflowEvent
from workflows.selectors import campaign_detail, campaign_summary
from workflows.services import transitions
from workflows.services.campaigns import campaign_create, plates_by_barcode
from workflows.services.execution import workflow_cancel


def plate_make(barcode: str, wells=("A1", "A2")):
    plate = PlateFactory(barcode=barcode)
    for well in wells:
        SampleFactory(plate=plate, well=well, barcode=f"{barcode}-{well}")
    return plate


@pytest.fixture
def lab(db):
    registry_make()
    return {"protocol": protocol_make(2, published=True)}


def create(protocol, plates, **kwargs):
    kwargs.setdefault("name", "Expansion")
    kwargs.setdefault("priority", Priority.NORMAL)
    return campaign_create(protocol=protocol, plates=plates, **kwargs)


def test_one_started_run_per_plate_named_for_it_on_its_samples_in_well_order(lab):
    plates = [plate_make("PLATE-01", wells=("A10", "B1", "A2")), plate_make("PLATE-02")]
    campaign = create(lab["protocol"], plates, priority=Priority.URGENT)
    runs = list(campaign.workflows.order_by("id"))
    assert [run.name for run in runs] == ["Expansion / PLATE-01", "Expansion / PLATE-02"]
    first = [link.sample.well for link in runs[0].workflow_samples.order_by("position")]
    assert first == ["A2", "A10", "B1"]
    assert all(run.protocol_id == lab["protocol"].pk and run.priority == Priority.URGENT for run in runs)
    # Both run, booked step by step: nothing is held until a step is due; each start left an event.
    assert [run.status for run in runs] == [WorkflowStatus.RUNNING, WorkflowStatus.RUNNING]
    assert not Booking.objects.active().exists() and not QueueEntry.objects.waiting().exists()
    assert RunUnit.objects.filter(workflow__in=runs, position=1, due_at__isnull=False).count() == 2
    assert WorkflowEvent.objects.filter(workflow__campaign=campaign, to_status=WorkflowStatus.CREATED).count() == 2


def test_a_draft_protocol_is_a_conflict_naming_protocol(lab):
    draft = protocol_make(1, name="Draft")
    with pytest.raises(ConflictError) as raised:
        create(draft, [plate_make("PLATE-01")])
    assert "protocol" in raised.value.fields
    assert not Campaign.objects.exists() and not Workflow.objects.exists()


@pytest.mark.parametrize(
    ("barcodes", "message"),
    [([], "must not be empty"), (["PLATE-01", "PLATE-01"], "given twice"), (["PLATE-01", "NOPE-9"], "unknown plate")],
)
def test_bad_plate_lists_are_400s_naming_plates(lab, barcodes, message):
    plate_make("PLATE-01")
    with pytest.raises(ApplicationError) as raised:
        plates_by_barcode(barcodes)
    assert raised.value.status_code == 400 and message in " ".join(raised.value.fields["plates"])


def test_a_plate_without_samples_refuses_the_whole_campaign(lab):
    plates = [plate_make("PLATE-01"), PlateFactory(barcode="PLATE-02")]
    with pytest.raises(ApplicationError) as raised:
        create(lab["protocol"], plates)
    assert raised.value.status_code == 400 and raised.value.fields == {"plates": ["PLATE-02 has no samples"]}
    assert not Workflow.objects.exists()


def test_a_plate_in_an_unfinished_run_of_another_campaign_is_a_conflict(lab):
    first = create(lab["protocol"], [plate_make("PLATE-01")], name="First")
    with pytest.raises(ConflictError) as raised:
        create(lab["protocol"], [plate_make("PLATE-02"), first.workflows.get().samples.first().plate])
    assert "PLATE-01 is in run" in raised.value.fields["plates"][0]
    assert Campaign.objects.count() == 1 and Workflow.objects.count() == 1


def test_a_plate_whose_campaign_run_finished_can_join_a_new_campaign(lab):
    first = create(lab["protocol"], [plate_make("PLATE-01")], name="First")
    run = first.workflows.get()
    workflow_cancel(workflow=run)
    second = create(lab["protocol"], [run.samples.first().plate], name="Second")
    assert second.workflows.get().status == WorkflowStatus.RUNNING


def test_a_refused_start_leaves_no_campaign_no_run_and_no_booking(lab, monkeypatch):
    """The second plate's start is refused after the first run booked its devices: all is rolled back."""
    from workflows.services import campaigns

    started = []

    def start_then_refuse(**kwargs):
        if started:
            raise ConflictError("device handler-a is in maintenance", fields={"device_id": ["maintenance"]})
        started.append(real_start(**kwargs))
        return started[-1]

    real_start = campaigns.workflow_start
    monkeypatch.setattr(campaigns, "workflow_start", start_then_refuse)
    with pytest.raises(ConflictError):
        create(lab["protocol"], [plate_make("PLATE-01"), plate_make("PLATE-02")])
    assert len(started) == 1
    assert not Campaign.objects.exists() and not Workflow.objects.exists() and not Booking.objects.exists()
    assert not WorkflowEvent.objects.exists()


@pytest.mark.parametrize("name", ["", "   ", "x" * 121])
def test_a_blank_or_too_long_name_is_a_400_naming_name(lab, name):
    with pytest.raises(ApplicationError) as raised:
        create(lab["protocol"], [plate_make("PLATE-01")], name=name)
    assert "name" in raised.value.fields and not Workflow.objects.exists()


def test_the_summary_counts_runs_by_status_plates_done_violations_and_progress(lab):
    campaign = create(lab["protocol"], [plate_make("PLATE-01"), plate_make("PLATE-02")])
    first, second = campaign.workflows.order_by("id")
    transitions.workflow_finish(first, status=WorkflowStatus.COMPLETED, by=transitions.EXECUTOR, reason="test")
    # A unit of the second run started 120 s after its window closed (as transitions.unit_begin records it).
    RunUnit.objects.filter(workflow=second).order_by("position").filter(
        pk=RunUnit.objects.filter(workflow=second).order_by("position").values("pk")[:1]
    ).update(window_missed_seconds=120)
    summary = campaign_summary(campaign_detail().get(pk=campaign.pk))
    assert summary.workflows == 2 and summary.plates_done == 1
    assert summary.by_status[WorkflowStatus.COMPLETED] == 1 and summary.by_status[WorkflowStatus.RUNNING] == 1
    assert summary.window_violations == 1
    assert summary.progress.total == 8  # 2 runs x 2 steps x 2 actions
    # Without the list annotation the same count comes from one query.
    assert campaign_summary(Campaign.objects.get(pk=campaign.pk)).window_violations == 1


@pytest.mark.parametrize("attempt", range(2))
@pytest.mark.django_db(transaction=True)
def test_campaigns_started_at_once_on_shared_devices_never_deadlock(attempt, monkeypatch):
    """Four campaigns of three plates each, created in four threads on the same two devices."""
    monkeypatch.setattr("workflows.services.enqueue._send", lambda *args, **kwargs: None)
    registry_make()
    protocol = protocol_make(2, published=True)
    plates = [[plate_make(f"PLATE-{group}{index}") for index in range(3)] for group in "ABCD"]
    barrier = threading.Barrier(len(plates))
    outcomes = []

    def worker(group):
        try:
            barrier.wait()
            outcomes.append(create(protocol, group, name=f"Campaign {group[0].barcode}"))
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(group,)) for group in plates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(isinstance(outcome, Campaign) for outcome in outcomes) and len(outcomes) == 4, outcomes
    statuses = list(Workflow.objects.values_list("status", flat=True))
    assert len(statuses) == 12
    # All twelve run; none holds a device before its first step is due (step-level booking).
    assert statuses.count(WorkflowStatus.RUNNING) == 12
    assert not Booking.objects.active().exists()
    assert RunUnit.objects.filter(position=1, due_at__isnull=False).count() == 12
