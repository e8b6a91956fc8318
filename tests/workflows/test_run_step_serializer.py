"""The run-step's hand-built representation (the workflow list's hot path) equals DRF's own."""

import pytest
from rest_framework import serializers

from samples.models import Sample
from workflows.api.serializers import RunStepSerializer
from workflows.models import Protocol, RunStep, RunUnit
from workflows.services.creation import workflow_create_from_protocol
from workflows.services.execution import workflow_action_run, workflow_start


def drf_representation(step: RunStep) -> dict:
    """What DRF's field-by-field walk over the declared fields gives."""
    return dict(serializers.ModelSerializer.to_representation(RunStepSerializer(), step))


@pytest.mark.django_db
def test_every_field_of_every_step_is_shown_as_drf_would(demo_lab):
    protocol = Protocol.objects.filter(status="published").order_by("id").first()
    run = workflow_create_from_protocol(
        name="shape", protocol=protocol, samples=list(Sample.objects.order_by("id")[:2]), priority=1
    )
    workflow_start(workflow=run)
    for _ in range(3):  # a few steps done: times, durations and results set
        workflow_action_run(workflow_id=run.pk)
    RunUnit.objects.filter(pk=RunUnit.objects.filter(workflow=run).order_by("position").values("pk")[:1]).update(
        window_missed_seconds=12.5
    )
    steps = list(RunStep.objects.filter(workflow=run).select_related("action_type", "unit").order_by("position"))
    done = [s for s in steps if s.finished_at is not None]
    assert done and len(done) < len(steps), "the run should have finished and unfinished steps"
    assert any(s.unit is not None and s.unit.window_missed_seconds == 12.5 for s in steps)
    for step in steps:
        assert RunStepSerializer(step).data == drf_representation(step), step.position
        assert list(RunStepSerializer(step).data) == RunStepSerializer.Meta.fields


@pytest.mark.django_db
def test_a_step_without_a_booking_unit_shows_no_due_time(demo_lab):
    from tests.workflows.executor_support import action_type_make, device_make, workflow_make

    run = workflow_make([(action_type_make("test.shape"), device_make("shape-device"))])
    step = RunStep.objects.select_related("action_type", "unit").get(workflow=run)
    assert step.unit is None
    shown = RunStepSerializer(step).data
    assert shown == drf_representation(step)
    assert (shown["due_at"], shown["window_missed_seconds"]) == (None, None)
