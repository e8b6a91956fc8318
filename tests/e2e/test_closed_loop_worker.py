"""Closed loop on real Celery workers: plates are imaged every 12 h until 80 % confluent, then passaged.

Issue 13's acceptance, on seed_demo's "MSC expansion to 80% confluence" (image + analyse every
12 h until confluence >= 80 on all samples, 20 times at most, then passage) over twelve plates,
at a time scale where 12 simulated hours are about 1.3 s. Every assertion reads the order of
records (execution-log entries, results, run units), never wall-clock times, so a slow machine
makes the test slower, not flaky.
"""

import pytest

from executionlogs.models import CellAnalysisResult, ExecutionLog
from samples.models import Plate
from tests.workflows.executor_support import (  # noqa: F401 - workers is a fixture
    wait_for,
    workers_fixture,
)
from workflows.choices import FINISHED_WORKFLOW_STATUSES, RunStepStatus, WorkflowStatus
from workflows.models import Protocol, RunStep, RunUnit, WorkflowSample
from workflows.services.campaigns import campaign_create

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SCALE = "0.00003"  # 12 simulated hours are 1.3 s here; the slowest plate needs ~17 images
PROTOCOL = "MSC expansion to 80% confluence"
LOOP, PASSAGE = "Image + analyse until 80% confluent", "Passage"
THRESHOLD = 80.0


def loop_check(run) -> dict:
    """The closed-loop guarantees for one plate's run, from the database; returns its figures."""
    barcodes = list(WorkflowSample.objects.filter(workflow=run).values_list("sample__barcode", flat=True))
    decisions = list(
        ExecutionLog.objects.filter(workflow=run, action_type="decision", request__condition="until").order_by("pk")
    )
    assert decisions, f"{run.name}: no decision logged"
    outcomes = [entry.response["outcome"] for entry in decisions]
    # The loop stops at the first decision that holds: all earlier ones are false, none after it.
    assert outcomes == [False] * (len(outcomes) - 1) + [True], f"{run.name}: outcomes {outcomes}"
    for entry in decisions:
        values, result_ids = entry.response["values"], entry.response["result_ids"]
        # Each decision is logged with its inputs: a value per sample, and the results it read.
        assert set(values) == set(barcodes) and result_ids, f"{run.name}: decision {entry.pk} without inputs"
        read = dict(CellAnalysisResult.objects.filter(pk__in=result_ids).values_list("sample__barcode", "confluence"))
        assert {b: float(c) for b, c in read.items()} == {b: v for b, v in values.items() if v is not None}
        holds = all(v is not None and v >= THRESHOLD for v in values.values())
        assert holds == entry.response["outcome"], f"{run.name}: decision {entry.pk} disagrees with its values"
    held = decisions[-1]
    # One decision per imaging iteration, evaluated right after it: the first imaging at or above
    # the threshold for all samples is the one the held decision read.
    imaged = RunUnit.objects.filter(workflow=run, step_name=LOOP, started_at__isnull=False).order_by("position")
    assert imaged.count() == len(decisions)
    assert [entry.request["iteration"] for entry in decisions] == [u.iteration for u in imaged]
    # No imaging after the held decision: the results it read are the run's latest (the passage
    # images nothing), and every later iteration was skipped, never started.
    assert max(held.response["result_ids"]) == CellAnalysisResult.objects.filter(workflow=run).latest("pk").pk
    later = RunUnit.objects.filter(workflow=run, step_name=LOOP, iteration__gt=held.request["iteration"])
    assert not later.filter(started_at__isnull=False).exists()
    # The passage ran, after the held decision (its first action's log entry comes later), and
    # no decision or imaging came between them.
    passage = RunStep.objects.filter(workflow=run, step_name=PASSAGE).order_by("position")
    assert set(passage.values_list("status", flat=True)) == {RunStepStatus.SUCCEEDED}
    first_passage_log = ExecutionLog.objects.filter(run_step__in=passage).order_by("pk").first()
    assert first_passage_log is not None and first_passage_log.pk > held.pk
    between = ExecutionLog.objects.filter(workflow=run, pk__gt=held.pk, pk__lt=first_passage_log.pk)
    assert not between.filter(run_step__step_name=LOOP).exists()
    assert min(held.response["values"].values()) >= THRESHOLD  # never passaged below the threshold
    return {"images": len(decisions), "at_passage": held.response["values"]}


# The acceptance campaign: 12 plates (80 samples) of the demo loop protocol.
PLATES = 12


def test_each_plate_is_passaged_right_after_its_first_imaging_at_80_percent(workers, demo_lab, settings):
    settings.LABCORE_TIME_SCALE = float(SCALE)
    protocol = Protocol.objects.filter(name=PROTOCOL, status="published").latest("version_major", "version_minor")
    plates = list(Plate.objects.filter(barcode__startswith="PLATE-").order_by("barcode")[:PLATES])
    assert len(plates) == PLATES
    worker = workers(name="closed-loop", concurrency=2, beat=True, env={"LABCORE_TIME_SCALE": SCALE})
    campaign = campaign_create(name="loop", protocol=protocol, plates=plates, priority=1)
    runs = list(campaign.workflows.order_by("pk"))
    try:
        wait_for(
            lambda: not campaign.workflows.exclude(status__in=FINISHED_WORKFLOW_STATUSES).exists(),
            timeout=240,
            interval=0.5,
            what="every plate's run to finish",
        )
    except AssertionError:
        print(worker.log()[-6000:])
        raise
    assert set(campaign.workflows.values_list("status", flat=True)) == {WorkflowStatus.COMPLETED}
    figures = {run.name: loop_check(run) for run in runs}
    print(figures)
    # The mock's growth differs per sample: not every plate needs the same number of images.
    assert all(1 <= f["images"] < 20 for f in figures.values())
