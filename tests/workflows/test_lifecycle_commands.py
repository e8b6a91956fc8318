"""manage.py run_workflow (with a real worker) and pause_workflow / resume_workflow / cancel_workflow."""

import io

import pytest
from django.core.management import CommandError, call_command

from tests.workflows.executor_support import (  # noqa: F401 - workers is a fixture
    action_type_make,
    device_make,
    workers_fixture,
    workflow_make,
)
from workflows.choices import WorkflowStatus
from workflows.models import Workflow
from workflows.services.execution import workflow_start


def command(name, *args, **options) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


@pytest.mark.django_db
def test_pause_resume_cancel_commands_use_the_services():
    workflow = workflow_make([(action_type_make("test.cmd"), device_make("handler-cmd"))] * 2)
    with pytest.raises(CommandError, match="is created"):
        command("pause_workflow", str(workflow.pk))
    workflow_start(workflow=workflow)
    assert "paused" in command("pause_workflow", str(workflow.pk))
    assert f"workflow {workflow.pk}: running" in command("resume_workflow", str(workflow.pk))
    assert "cancelled" in command("cancel_workflow", str(workflow.pk))
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.CANCELLED
    with pytest.raises(CommandError, match="no workflow"):
        command("cancel_workflow", "999999")


@pytest.mark.django_db
def test_run_workflow_refuses_unknown_protocols_and_samples(demo_lab):
    with pytest.raises(CommandError, match="no published protocol"):
        command("run_workflow", "No such protocol")
    with pytest.raises(CommandError, match="unknown sample"):
        command("run_workflow", "MSC passage P3 -> P4", samples="SAMPLE001,NOPE")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_run_workflow_starts_a_protocol_run_and_shows_progress_until_it_completes(workers, demo_lab):
    workers(name="cmd", env={"LABCORE_MOCK_LATENCY_SCALE": "0.1"})
    output = command("run_workflow", "MSC passage P3 -> P4", samples="SAMPLE001,SAMPLE002", interval=0.05, timeout=60)
    lines = output.splitlines()
    assert lines[0].startswith("workflow ") and lines[0].endswith(": running")
    progress = [line for line in lines[1:] if line.startswith("[")]
    assert len(progress) >= 3 and all("/14 " in line for line in progress)  # the bar moves as steps finish
    assert any(" running - step " in line and " on " in line for line in progress)  # with the current action
    assert lines[-1] == "[" + "#" * 30 + "] 14/14 completed"
    workflow = Workflow.objects.get()
    assert workflow.status == WorkflowStatus.COMPLETED and workflow.workflow_samples.count() == 2


@pytest.mark.django_db
def test_resolve_workflow_records_the_decision_then_resume_goes_on():
    from datetime import timedelta

    from workflows.services.dispatch import action_claim
    from workflows.services.recovery import executor_recover

    workflow = workflow_make([(action_type_make("test.cmd_unsafe", timeout_seconds=1), device_make("handler-cmd2"))])
    workflow_start(workflow=workflow)
    step = action_claim(workflow_id=workflow.pk)
    with pytest.raises(CommandError, match="not unknown"):
        command("resolve_workflow", str(workflow.pk), step=1, decision="retry")
    executor_recover(now=step.dispatched_at + timedelta(seconds=600))
    assert "resolved by system (mark_succeeded)" in command(
        "resolve_workflow", str(workflow.pk), step=1, decision="mark_succeeded"
    )
    assert f"workflow {workflow.pk}: running" in command("resume_workflow", str(workflow.pk))
