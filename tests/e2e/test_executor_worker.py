"""The executor with real Celery worker processes on PostgreSQL and Redis (hardware: the mock adapter).

Each test starts ``celery -A labcore worker`` subprocesses on this run's test database and a
purged broker, drives workflows through the API or the services, and kills the workers at
teardown. Latencies come from device config overrides (absolute seconds) so timings are exact.
"""

import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from devices.choices import BookingStatus, DeviceKind
from devices.models import Booking
from executionlogs.models import CellAnalysisResult, ExecutionLog
from tests.workflows.executor_support import (  # noqa: F401 - workers is a fixture
    action_type_make,
    device_make,
    status_of,
    wait_for,
    wait_status,
    workers_fixture,
    workflow_make,
)
from workflows.choices import RunStepStatus, WorkflowStatus
from workflows.models import Protocol, RunStep, Workflow
from workflows.services.execution import workflow_start

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def slow_device(device_id: str, action_name: str, seconds: float, **fields):
    return device_make(device_id, config={"mock": {"latency_seconds": {action_name: seconds}}}, **fields)


def test_the_demo_protocol_runs_end_to_end_in_auto_mode(workers, demo_lab, api_client):
    worker = workers(name="demo", env={"LABCORE_MOCK_LATENCY_SCALE": "0.05"})
    protocol = Protocol.objects.get(name="MSC passage P3 -> P4")
    barcodes = ["SAMPLE001", "SAMPLE002", "SAMPLE003"]
    created = api_client.post(
        "/api/workflows",
        {"name": "P3->P4", "protocol": protocol.pk, "sample_barcodes": barcodes, "priority": "normal"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    workflow = Workflow.objects.get(pk=created.json()["id"])
    assert workflow.mode == "auto"
    started = api_client.post(f"/api/workflows/{workflow.pk}/start")
    assert started.status_code == 200 and started.json()["workflow"]["status"] == "running"

    wait_status(workflow, WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.PAUSED, worker=worker)
    assert status_of(workflow) == WorkflowStatus.COMPLETED, Workflow.objects.get(pk=workflow.pk).status_reason
    steps = list(RunStep.objects.filter(workflow=workflow).select_related("action_type").order_by("position"))
    assert len(steps) == 14 and all(step.status == RunStepStatus.SUCCEEDED for step in steps)
    for before, after in zip(steps, steps[1:], strict=False):
        assert before.finished_at <= after.dispatched_at  # strictly one after another, in plan order
    for step in steps:
        log = ExecutionLog.objects.get(run_step=step)
        assert log.status == "success" and log.caused_by == "worker"
        assert log.request["action"] == step.action_type.name and log.response is not None
        assert log.latency_ms is not None and log.started_at <= log.finished_at
    assert ExecutionLog.objects.get(run_step=steps[8]).request["action"] == "incubate"  # long: polled
    results = CellAnalysisResult.objects.filter(workflow=workflow).select_related("sample", "execution_log")
    assert sorted(result.sample.barcode for result in results) == barcodes
    assert {result.execution_log.action_type for result in results} == {"vision.analyse"}
    assert not Booking.objects.filter(workflow=workflow, status=BookingStatus.ACTIVE).exists()
    detail = api_client.get(f"/api/workflows/{workflow.pk}").json()
    assert (
        detail["progress"] == {"done": 14, "skipped": 0, "failed": 0, "unknown": 0, "total": 14}
        and detail["current_action"] is None
    )


def test_pause_stops_before_the_next_action_dispatches_nothing_and_resume_completes(workers, api_client):
    action_type = action_type_make("test.e2e_pause")
    device = slow_device("handler-pause", "test.e2e_pause", 0.4)
    workflow = workflow_make([(action_type, device)] * 6)
    workers(name="pause")
    api_client.post(f"/api/workflows/{workflow.pk}/start")
    in_flight = wait_for(
        lambda: RunStep.objects.filter(workflow=workflow, position__gte=2, status=RunStepStatus.DISPATCHING).first(),
        timeout=20,
        interval=0.02,
        what="step 2+ in flight",
    )
    paused = api_client.post(f"/api/workflows/{workflow.pk}/pause", {"reason": "check the plate"}, format="json")
    assert paused.status_code == 200 and paused.json()["workflow"]["status"] == "paused"
    # The action in flight when the pause landed (at most one) finishes and is recorded...
    seen_at_pause = {step["position"]: step["status"] for step in paused.json()["workflow"]["steps"]}
    flying = [position for position, status in seen_at_pause.items() if status == "dispatching"]
    assert len(flying) <= 1 and in_flight.position <= max(flying or [in_flight.position])
    wait_for(
        lambda: not RunStep.objects.filter(workflow=workflow, status__in=["dispatching", "waiting"]).exists(),
        timeout=10,
        what="the action in flight to be recorded",
    )
    done = set(RunStep.objects.filter(workflow=workflow, status="succeeded").values_list("position", flat=True))
    assert done == {p for p, status in seen_at_pause.items() if status in ("succeeded", "dispatching")}
    logs = ExecutionLog.objects.filter(workflow=workflow).count()
    assert logs == len(done)
    # ...and nothing else is dispatched while paused.
    time.sleep(1.5)
    assert ExecutionLog.objects.filter(workflow=workflow).count() == logs
    assert not RunStep.objects.filter(workflow=workflow, status__in=["dispatching", "waiting"]).exists()
    assert RunStep.objects.filter(workflow=workflow, status="pending").count() == 6 - len(done) > 0
    assert status_of(workflow) == WorkflowStatus.PAUSED

    assert api_client.post(f"/api/workflows/{workflow.pk}/resume").status_code == 200
    wait_status(workflow, WorkflowStatus.COMPLETED, timeout=20)
    assert ExecutionLog.objects.filter(workflow=workflow, status="success").count() == 6


def test_cancel_ends_cancelled_and_hands_every_device_to_its_queue(workers, api_client):
    action_type = action_type_make("test.e2e_cancel")
    first = slow_device("handler-c1", "test.e2e_cancel", 0.3)
    second = slow_device("handler-c2", "test.e2e_cancel", 0.3)
    running = workflow_make([(action_type, first), (action_type, second)] * 4)
    waiting = [workflow_make([(action_type, device)]) for device in (first, second)]
    workers(name="cancel")
    api_client.post(f"/api/workflows/{running.pk}/start")
    for workflow in waiting:
        assert api_client.post(f"/api/workflows/{workflow.pk}/start").json()["workflow"]["status"] == "queued"
    wait_for(lambda: ExecutionLog.objects.filter(workflow=running).exists(), timeout=20, what="a first action")

    cancelled = api_client.post(f"/api/workflows/{running.pk}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["workflow"]["status"] == "cancelled"
    for workflow in waiting:  # each device went to its queue and the executor ran them
        wait_status(workflow, WorkflowStatus.COMPLETED, timeout=20)
    assert status_of(running) == WorkflowStatus.CANCELLED
    assert not Booking.objects.filter(workflow=running, status=BookingStatus.ACTIVE).exists()
    assert RunStep.objects.filter(workflow=running, status=RunStepStatus.SKIPPED).count() >= 5


def _kill_mid_action(workers, *, safe: bool, replacement_after_timeout: bool):
    """Run [slow action, quick action]; SIGKILL the worker during the slow one; start a new worker.

    A replacement started after the step's timeout finds it in its start-up scan (no beat); one
    started before finds it with the periodic (beat) scan.
    """
    name = "test.e2e_kill_safe" if safe else "test.e2e_kill_unsafe"
    slow = action_type_make(name, safe_to_repeat=safe, timeout_seconds=4)
    quick = action_type_make("test.e2e_after_kill")
    device = slow_device("handler-kill", name, 3)
    workflow = workflow_make([(slow, device), (quick, device)])
    # A short visibility timeout makes Redis redeliver the dead worker's task: it must do no harm.
    env = {"LABCORE_VISIBILITY_TIMEOUT": "3"}
    first = workers(name="doomed", env=env)
    workflow_start(workflow=workflow)
    step = wait_for(
        lambda: RunStep.objects.filter(workflow=workflow, position=1, status=RunStepStatus.DISPATCHING).first(),
        timeout=20,
        interval=0.02,
        what="step 1 in flight",
    )
    time.sleep(0.5)
    first.kill()
    if replacement_after_timeout:
        # Past its timeout (4 s) plus the margin (1 s) the outcome is unknown; then a new worker starts.
        wait_for(lambda: timezone.now() > step.dispatched_at + timedelta(seconds=5.5), timeout=10, what="staleness")
    second = workers(name="replacement", beat=not replacement_after_timeout, env=env)
    return workflow, step, second


def test_a_worker_killed_mid_action_not_safe_to_repeat_leaves_it_unknown_until_resolved(workers, api_client):
    workflow, step, worker = _kill_mid_action(workers, safe=False, replacement_after_timeout=True)
    wait_status(workflow, WorkflowStatus.PAUSED, timeout=20, worker=worker)
    step.refresh_from_db()
    assert step.status == RunStepStatus.UNKNOWN and step.attempt == 1
    reason = Workflow.objects.get(pk=workflow.pk).status_reason
    assert "worker lost" in reason and "resolve step 1" in reason
    time.sleep(4)  # the dead worker's task is redelivered (visibility 3 s): it must not dispatch again
    step.refresh_from_db()
    assert step.status == RunStepStatus.UNKNOWN and step.attempt == 1
    assert list(ExecutionLog.objects.filter(run_step=step).values_list("status", flat=True)) == ["unknown"]
    assert status_of(workflow) == WorkflowStatus.PAUSED

    resolved = api_client.post(
        f"/api/workflows/{workflow.pk}/resolve", {"step": 1, "decision": "mark_succeeded"}, format="json"
    )
    assert resolved.status_code == 200
    assert api_client.post(f"/api/workflows/{workflow.pk}/resume").status_code == 200
    wait_status(workflow, WorkflowStatus.COMPLETED, timeout=20, worker=worker)
    assert ExecutionLog.objects.filter(run_step=step).count() == 1  # never sent to the device again


def test_a_worker_killed_mid_action_safe_to_repeat_completes_by_itself(workers):
    workflow, step, worker = _kill_mid_action(workers, safe=True, replacement_after_timeout=False)
    wait_status(workflow, WorkflowStatus.COMPLETED, timeout=30, worker=worker)
    step.refresh_from_db()
    assert step.status == RunStepStatus.SUCCEEDED and step.attempt == 2
    assert list(ExecutionLog.objects.filter(run_step=step).order_by("attempt").values_list("status", flat=True)) == [
        "unknown",
        "success",
    ]


def test_twenty_sixty_second_actions_on_two_worker_processes_take_about_sixty_seconds(workers):
    incubate = action_type_make(
        "test.e2e_incubate", device_kind=DeviceKind.INCUBATOR, is_long_running=True, timeout_seconds=300
    )
    workflows = [
        workflow_make([(incubate, slow_device(f"incubator-{n:02d}", "test.e2e_incubate", 60, kind="incubator"))])
        for n in range(20)
    ]
    workers(name="long", concurrency=2)
    began = time.monotonic()
    for workflow in workflows:
        workflow_start(workflow=workflow)
    for workflow in workflows:
        wait_status(workflow, WorkflowStatus.COMPLETED, timeout=120)
    elapsed = time.monotonic() - began
    assert 60 <= elapsed < 80, elapsed  # 20 x 60 s run side by side: no worker is held while they wait
    logs = ExecutionLog.objects.filter(action_type="test.e2e_incubate")
    assert logs.count() == 20 and all(log.latency_ms >= 60_000 for log in logs)


def test_no_lock_or_transaction_is_held_while_the_device_works(workers):
    slow = action_type_make("test.e2e_nolock")
    device = slow_device("handler-nolock", "test.e2e_nolock", 2)
    workflow = workflow_make([(slow, device)])
    workers(name="nolock")
    workflow_start(workflow=workflow)
    step = wait_for(
        lambda: RunStep.objects.filter(workflow=workflow, status=RunStepStatus.DISPATCHING).first(),
        timeout=20,
        interval=0.02,
        what="the action in flight",
    )
    time.sleep(0.3)
    # Invariant 3: mid-dispatch, every row involved can be locked at once (NOWAIT), and the
    # worker's connection is not inside a transaction.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT id FROM workflows_workflow WHERE id = %s FOR UPDATE NOWAIT", [workflow.pk])
        cursor.execute("SELECT id FROM workflows_runstep WHERE workflow_id = %s FOR UPDATE NOWAIT", [workflow.pk])
        cursor.execute("SELECT id FROM devices_device WHERE id = %s FOR UPDATE NOWAIT", [device.pk])
        cursor.execute("SELECT id FROM devices_booking WHERE device_id = %s FOR UPDATE NOWAIT", [device.pk])
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%%' AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchone()[0] == 0
    assert RunStep.objects.get(pk=step.pk).status == RunStepStatus.DISPATCHING  # still on the device
    wait_status(workflow, WorkflowStatus.COMPLETED, timeout=20)
