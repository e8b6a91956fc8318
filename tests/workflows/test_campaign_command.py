"""manage.py run_campaign: creates and starts the campaign, prints live progress, exits 0 when all completed."""

import io

import pytest
from django.core.management import CommandError, call_command

from tests.factories import ProjectFactory
from tests.workflows.executor_support import action_type_make, workers_fixture  # noqa: F401 - workers is a fixture
from tests.workflows.factories import registry_make
from tests.workflows.test_campaign_services import plate_make
from workflows.choices import WorkflowStatus
from workflows.models import Campaign, Workflow
from workflows.services.protocols import protocol_create, protocol_publish


def command(*args, **options) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("run_campaign", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def small_lab(db):
    registry_make()
    action_type_make("test.feed")  # no latency, answers at once (executor_support)
    steps = [{"name": f"Feed {n}", "actions": [{"action_type": "test.feed", "parameters": {}}]} for n in (1, 2)]
    protocol = protocol_publish(protocol=protocol_create(project=ProjectFactory(), name="Small culture", steps=steps))
    plates = [plate_make(f"PLATE-0{index}") for index in range(1, 4)]
    return protocol, plates


def test_it_refuses_unknown_protocols_too_many_plates_and_unknown_barcodes(small_lab):
    with pytest.raises(CommandError, match="no published protocol"):
        command(protocol="No such protocol", plates="1")
    with pytest.raises(CommandError, match="asked for 4 culture plates; there are 3"):
        command(protocol="Small culture", plates="4")
    with pytest.raises(CommandError, match="unknown plate barcode"):
        command(protocol="Small culture", plates="PLATE-01,NOPE-1")
    assert not Campaign.objects.exists() and not Workflow.objects.exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_it_runs_the_first_n_culture_plates_to_completion_and_shows_progress(workers, small_lab):
    workers(name="campaign", env={"LABCORE_MOCK_LATENCY_SCALE": "0.1"})
    out, err = command(protocol="Small culture", plates="2", name="Demo", interval=0.05, timeout=90, time_scale=0.5)
    lines = out.splitlines()
    assert lines[0].startswith("campaign ") and lines[0].endswith("(Demo): 2 runs started")
    assert "LABCORE_TIME_SCALE=0.5" in err  # the workers' scale is theirs: the command can only warn
    assert all("devices in use:" in line for line in lines[1:-2])
    assert lines[-3].startswith("plates done 2/2 | runs: 2 completed | window violations 0 | steps 4/4")
    # The final report: each plate's doubling time (these plates were never imaged).
    assert lines[-2:] == [
        "PLATE-01: completed, no growth fit (not imaged enough)",
        "PLATE-02: completed, no growth fit (not imaged enough)",
    ]
    runs = Workflow.objects.order_by("id")
    assert [run.name for run in runs] == ["Demo / PLATE-01", "Demo / PLATE-02"]
    assert all(run.status == WorkflowStatus.COMPLETED for run in runs)
