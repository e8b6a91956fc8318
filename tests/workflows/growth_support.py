"""Runs whose samples are imaged over simulated days, made through LabCore's own services.

A run is created and moved to running by ``workflows.services.transitions`` (so it has its
events), each imaging is an execution-log entry appended by ``execution_log_create`` with the
mock vision response of every sample, and its results are stored by
``cell_analysis_results_create``, exactly as the executor does after a vision action.
"""

from datetime import timedelta

from django.utils import timezone

from devices.adapters.biology import PASSAGE, CultureEvent, measurement
from executionlogs.cell_analysis import cell_analysis_results_create
from executionlogs.choices import LogStatus
from executionlogs.services import execution_log_create
from tests.factories import DeviceFactory, RunStepFactory, WorkflowFactory
from workflows.choices import RunStepStatus
from workflows.models import RunUnit, WorkflowSample
from workflows.services.transitions import EXECUTOR, workflow_created, workflow_run

IMAGING_HOURS = range(0, 109, 12)


def imaged_run(
    samples, *, hours=IMAGING_HOURS, campaign=None, threshold=None, name="imaging run", device=None, passage_at=None
):
    """A running run on ``samples`` started ``max(hours)`` h ago, imaged at each of ``hours``.

    With ``threshold``, its plan has a closed-loop ``until`` on confluence at that value; with
    ``passage_at`` (hours), a passage step (trypsin) succeeded then and the cultures were split.
    """
    start = timezone.now() - timedelta(hours=max(hours) + 1)
    run = WorkflowFactory(name=name, campaign=campaign)
    for position, sample in enumerate(samples):
        WorkflowSample.objects.create(workflow=run, sample=sample, position=position)
    if threshold is not None:
        RunUnit.objects.create(
            workflow=run,
            position=1,
            step_name="Image + analyse",
            step_position=1,
            until={"metric": "confluence", "op": ">=", "value": threshold, "samples": "all"},
        )
    workflow_created(run, by=EXECUTOR)
    run.started_at = start
    run = workflow_run(run, by=EXECUTOR, reason="imaging")
    device = device or DeviceFactory(id=f"imager-of-run-{run.pk}")
    events = ()
    if passage_at is not None:
        RunStepFactory(
            workflow=run,
            step_name="Passage",
            parameters={"reagent": "trypsin", "volume_ul": 500},
            status=RunStepStatus.SUCCEEDED,
            finished_at=start + timedelta(hours=passage_at),
        )
        events = (CultureEvent(PASSAGE, passage_at),)
    for at in hours:
        done = tuple(event for event in events if event.hours <= at)
        response = {
            "samples": [
                {"barcode": s.barcode, **measurement(s.barcode, at, workflow_id=run.pk, events=done)} for s in samples
            ]
        }
        log = execution_log_create(
            device=device,
            workflow=run,
            action_type="vision.analyse",
            request={"samples": [s.barcode for s in samples]},
            response=response,
            status=LogStatus.SUCCESS,
            latency_ms=40.0,
            started_at=start + timedelta(hours=at),
            finished_at=start + timedelta(hours=at, seconds=1),
        )
        cell_analysis_results_create(execution_log=log, workflow=run, response=response)
    return run
