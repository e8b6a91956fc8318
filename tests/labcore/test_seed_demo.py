"""``seed_demo`` creates exactly the demo lab of DESIGN.md, and running it twice changes nothing."""

import pytest
from django.core.management import call_command
from django.db import connection

from devices.models import ActionType, Device
from samples.models import Plate, Sample
from workflows.models import Action, Protocol, Step

DEMO_DEVICES = {
    "liquid-handler-1",
    "liquid-handler-2",
    "incubator-1",
    "plate-reader-1",
    "microscope-1",
    "robot-arm-1",
    "vision-1",
}
REQUIRED_ACTION_TYPES = {
    "incubator.warm",
    "robot.aspirate",
    "robot.dispense",
    "microscope.image",
    "vision.analyse",
    "pipette_transfer",
    "dispense_reagent",
    "incubate",
    "plate_read",
}


def database_snapshot() -> dict:
    """Every row of the seeded tables, so two runs can be compared exactly."""
    snapshot = {}
    with connection.cursor() as cursor:
        for table in [
            "devices_device",
            "devices_actiontype",
            "samples_plate",
            "samples_sample",
            "workflows_project",
            "workflows_protocol",
            "workflows_step",
            "workflows_action",
            "auth_user",
        ]:
            cursor.execute(f"SELECT * FROM {table} ORDER BY 1")  # noqa: S608 - fixed table names
            columns = [column.name for column in cursor.description]
            volatile = {"updated_at", "last_login"}
            snapshot[table] = [
                {key: value for key, value in zip(columns, row, strict=True) if key not in volatile}
                for row in cursor.fetchall()
            ]
    return snapshot


@pytest.mark.django_db
def test_seed_demo_twice_gives_the_same_data():
    call_command("seed_demo")
    first = database_snapshot()
    call_command("seed_demo")
    assert database_snapshot() == first


@pytest.mark.django_db
def test_seed_demo_creates_the_demo_lab():
    call_command("seed_demo")
    assert set(Device.objects.values_list("id", flat=True)) == DEMO_DEVICES
    assert set(ActionType.objects.values_list("name", flat=True)) >= REQUIRED_ACTION_TYPES
    barcodes = set(Sample.objects.values_list("barcode", flat=True))
    assert {f"SAMPLE{n:03d}" for n in range(1, 21)} <= barcodes
    assert Sample.objects.filter(barcode="SAMPLE001", plate__barcode="PLATE-01").exists()


@pytest.mark.django_db
def test_seed_demo_has_24_culture_plates_each_with_samples():
    call_command("seed_demo")
    culture = {f"PLATE-{n:02d}" for n in range(1, 25)}
    assert culture <= set(Plate.objects.values_list("barcode", flat=True))
    plates_with_samples = set(
        Sample.objects.filter(plate__barcode__in=culture).values_list("plate__barcode", flat=True)
    )
    assert plates_with_samples == culture
    # The first two plates keep the samples other demos name.
    assert set(
        Sample.objects.filter(plate__barcode__in=["PLATE-01", "PLATE-02"]).values_list("barcode", flat=True)
    ) == {f"SAMPLE{n:03d}" for n in range(1, 21)}


@pytest.mark.django_db
def test_seed_demo_registers_a_missing_demo_sample_again():
    call_command("seed_demo")
    Sample.objects.filter(barcode="MSC-24-A3").delete()
    call_command("seed_demo")
    assert Sample.objects.filter(barcode="MSC-24-A3", plate__barcode="PLATE-24", well="A3").exists()


@pytest.mark.django_db
def test_seed_demo_gives_the_incubator_room_for_44_plates_and_every_other_device_one():
    call_command("seed_demo")
    capacities = dict(Device.objects.values_list("id", "capacity"))
    assert capacities.pop("incubator-1") == 44
    assert set(capacities.values()) == {1}


@pytest.mark.django_db
def test_demo_protocol_is_published_with_5_steps_and_14_actions_over_4_devices():
    call_command("seed_demo")
    protocol = Protocol.objects.get(name="MSC passage P3 -> P4", project__name="Stem cell expansion")
    assert protocol.is_published
    assert Step.objects.filter(protocol=protocol).count() == 5
    actions = Action.objects.filter(step__protocol=protocol).select_related("action_type")
    assert actions.count() == 14
    assert len({action.device_id for action in actions}) >= 4


@pytest.mark.django_db
def test_demo_protocol_mock_latency_is_between_5_and_30_seconds():
    call_command("seed_demo")
    actions = Action.objects.filter(step__protocol__name="MSC passage P3 -> P4").select_related("action_type")
    total = sum(action.action_type.mock_latency_seconds for action in actions)
    assert 5 <= total <= 30


@pytest.mark.django_db
def test_seed_demo_creates_the_demo_and_viewer_users(django_user_model):
    call_command("seed_demo")
    assert django_user_model.objects.filter(username="demo").exists()
    demo = django_user_model.objects.get(username="demo")
    assert set(demo.groups.values_list("name", flat=True)) == {"scientist", "operator"}
    assert not demo.is_superuser
    viewer = django_user_model.objects.get(username="viewer")
    assert set(viewer.groups.values_list("name", flat=True)) == {"viewer"}
    assert not viewer.is_superuser


def audit_event_counts() -> dict:
    from audit.models import TRACKED_MODELS

    counts = {}
    with connection.cursor() as cursor:
        for model in TRACKED_MODELS:
            table = f"audit_{model.__name__.lower()}event"
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names
            counts[table] = cursor.fetchone()[0]
    return counts


@pytest.mark.django_db
def test_seed_demo_twice_records_no_edit_in_the_audit_trail():
    call_command("seed_demo")
    before, updated_at = audit_event_counts(), list(Device.objects.order_by("pk").values_list("updated_at", flat=True))
    call_command("seed_demo")
    assert audit_event_counts() == before
    assert list(Device.objects.order_by("pk").values_list("updated_at", flat=True)) == updated_at


@pytest.mark.django_db
def test_seed_demo_brings_a_changed_demo_object_back_and_records_that_one_edit():
    call_command("seed_demo")
    ActionType.objects.filter(name="plate_read").update(timeout_seconds=1)
    before = audit_event_counts()
    call_command("seed_demo")
    assert ActionType.objects.get(name="plate_read").timeout_seconds != 1
    after = audit_event_counts()
    assert after["audit_actiontypeevent"] == before["audit_actiontypeevent"] + 1
    assert {k: v for k, v in after.items() if k != "audit_actiontypeevent"} == {
        k: v for k, v in before.items() if k != "audit_actiontypeevent"
    }


def expansion_timeline(protocol) -> list[tuple[str, float]]:
    """When each run of each step is due, in hours after the run starts, were every action instant."""
    clock, timeline = 0.0, []
    for step in protocol.steps.order_by("position"):
        clock += step.start_after_seconds or 0
        for run in range(step.repeat_max or 1):
            if run:
                clock += step.repeat_every_seconds
            timeline.append((step.name, clock / 3600))
    return timeline


@pytest.mark.django_db
def test_the_7_day_expansion_protocol_images_every_12_h_feeds_every_48_h_and_passages_on_day_5():
    from workflows.services.protocols import protocol_problems

    call_command("seed_demo")
    protocol = Protocol.objects.get(name="MSC expansion, 7 days", project__name="Stem cell expansion")
    assert protocol.is_published and protocol_problems(protocol) == {}
    timeline = expansion_timeline(protocol)
    images = [hour for name, hour in timeline if "analyse" in name or "count" in name]
    assert images == [12.0 * n for n in range(1, 15)]  # 14 imaging sessions, 12 h to 168 h
    assert [hour for name, hour in timeline if name.startswith("Feed")] == [48, 96, 144]
    assert [hour for name, hour in timeline if name.startswith("Passage")] == [120, 120]
    assert timeline[-1][1] == 168  # 7 days
    windows = {step.name: step.window_seconds for step in protocol.steps.all()}
    assert all(windows[name] == 1800 for name in windows if name.startswith("Image"))
    devices = set(Action.objects.filter(step__protocol=protocol).values_list("device_id", flat=True))
    assert devices == {"microscope-1", "vision-1", "robot-arm-1", "incubator-1", None}  # None: any liquid handler
    kinds = set(Action.objects.filter(step__protocol=protocol).values_list("action_type__device_kind", flat=True))
    assert "liquid_handler" in kinds
    chained = [step.name for step in protocol.steps.all() if step.keep_devices]
    assert chained == ["Passage: detach, day 5"]


@pytest.mark.django_db
def test_seeding_keeps_the_passage_protocol_as_it_was():
    call_command("seed_demo")
    protocol = Protocol.objects.get(name="MSC passage P3 -> P4")
    assert not any(step.start_after_seconds or step.repeat_every_seconds for step in protocol.steps.all())
    assert Protocol.objects.filter(project__name="Stem cell expansion").count() == 3


@pytest.mark.django_db
def test_seeding_adds_the_closed_loop_protocol_imaging_until_80_percent_then_passage():
    call_command("seed_demo")
    protocol = Protocol.objects.get(name="MSC expansion to 80% confluence")
    assert protocol.is_published
    image, passage = protocol.steps.order_by("position")
    assert image.repeat_every_seconds == 12 * 3600 and image.repeat_max == 20
    assert image.until == {"metric": "confluence", "op": ">=", "value": 80, "samples": "all"}
    reagents = [action.parameters.get("reagent") for action in passage.actions.order_by("position")]
    assert "trypsin" in reagents  # what the mock's growth model counts as a passage
