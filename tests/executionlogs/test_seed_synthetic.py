"""seed_logs keeps synthetic data apart (issue 15, item 10): its own devices and workflows, marked,
dated after their workflows, never counted in latency statistics, and never with production settings."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F

from devices.choices import DeviceStatus
from devices.models import Device
from executionlogs.choices import Cause
from executionlogs.models import ExecutionLog, LatencyStat
from executionlogs.seeding import logs_seed
from tests.executionlogs.conftest import append_log
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


def seed(count=2000, **options):
    call_command("seed_logs", "--count", str(count), "--days", "5", "--seed", "15", stdout=StringIO(), **options)


def test_synthetic_entries_never_go_on_the_labs_own_workflows_or_devices(demo_lab):
    real_workflows = set(Workflow.objects.values_list("pk", flat=True))
    real_devices = set(Device.objects.values_list("pk", flat=True))
    real_workflows |= {Workflow.objects.create(name=f"real run {n}").pk for n in range(5)}
    seed()
    seeded = ExecutionLog.objects.all()
    assert seeded.count() == 2000
    assert not seeded.filter(workflow_id__in=real_workflows).exists()
    assert not seeded.filter(device_id__in=real_devices).exists()
    assert seeded.filter(workflow__isnull=False).exists()  # half of them belong to a (synthetic) run


def test_synthetic_devices_and_workflows_are_named_and_out_of_service():
    seed()
    devices = Device.objects.filter(pk__in=ExecutionLog.objects.values("device_id"))
    assert devices.count() == 7
    for device in devices:
        assert device.pk.startswith("synthetic-") and "seed_logs" in device.name
        assert device.status == DeviceStatus.OFFLINE  # never booked, queued or planned
    workflows = Workflow.objects.filter(pk__in=ExecutionLog.objects.values("workflow_id"))
    assert workflows.exists()
    assert all(workflow.name.startswith("synthetic-") for workflow in workflows)
    assert set(workflows.values_list("status", flat=True)) == {"created"}  # created by the seed, never run


def test_a_second_seed_reuses_the_synthetic_devices_and_brings_its_own_workflows():
    seed(500)
    first_workflows = set(ExecutionLog.objects.exclude(workflow=None).values_list("workflow_id", flat=True))
    seed(500)
    assert Device.objects.filter(pk__startswith="synthetic-").count() == 7
    second = ExecutionLog.objects.exclude(workflow=None).order_by("-id")[:200]
    assert not {entry.workflow_id for entry in second} & first_workflows


def test_every_entry_starts_after_its_workflow_was_created():
    seed(3000)
    with_run = ExecutionLog.objects.exclude(workflow=None)
    assert with_run.count() > 1000
    assert not with_run.filter(started_at__lt=F("workflow__created_at")).exists()
    # ... and the runs are spread over the span, not all created just now.
    created = Workflow.objects.filter(name__startswith="synthetic-").values_list("created_at", flat=True)
    assert max(created) - min(created) > (with_run.order_by("-started_at")[0].started_at - min(created)) / 2


def test_synthetic_entries_are_marked_and_feed_no_latency_statistics():
    device = Device.objects.create(id="reader-real", name="Reader", kind="plate_reader")
    append_log(device, action_type="plate_read", latency_ms=1000.0)
    seed()
    assert set(ExecutionLog.objects.exclude(device=device).values_list("caused_by", flat=True)) == {Cause.SYNTHETIC}
    assert list(LatencyStat.objects.values_list("device_id", "action_type", "count")) == [
        ("reader-real", "plate_read", 1)
    ]


def test_the_command_refuses_production_settings(settings):
    settings.DEBUG = False
    settings.LABCORE_ALLOW_SEED = False
    with pytest.raises(CommandError, match="production settings"):
        seed(10)
    with pytest.raises(ValueError, match="production settings"):
        logs_seed(count=10)  # the function itself refuses too, for any other caller
    assert not ExecutionLog.objects.exists() and not Device.objects.exists() and not Workflow.objects.exists()


def test_the_production_settings_module_forbids_seeding():
    import ast
    from pathlib import Path

    source = (Path(__file__).resolve().parents[2] / "labcore/settings/production.py").read_text()
    assigned = {
        target.id: node.value
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert ast.literal_eval(assigned["DEBUG"]) is False
    assert ast.literal_eval(assigned["LABCORE_ALLOW_SEED"]) is False


def test_debug_or_the_explicit_switch_allows_it(settings):
    settings.DEBUG, settings.LABCORE_ALLOW_SEED = True, False
    seed(10)
    settings.DEBUG, settings.LABCORE_ALLOW_SEED = False, True
    seed(10)
    assert ExecutionLog.objects.count() == 20
