"""Protocol runs are booked step by step: each step (a booking unit) when it becomes due.

Driven action by action in the test process, like test_execution_services.py; the real-worker
versions (interleaving runs, restarts) are in tests/e2e/test_campaign_worker.py.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from devices.choices import BookingStatus, DeviceKind
from devices.models import Booking
from devices.services import booking_create, booking_release
from executionlogs.choices import Cause, LogStatus
from executionlogs.models import CellAnalysisResult, ExecutionLog
from executionlogs.services import execution_log_create
from tests.factories import ActionTypeFactory, DeviceFactory, ProjectFactory, SampleFactory, UserFactory
from tests.workflows.executor_support import action_type_make, device_make, run_until_idle, workflow_make
from workflows.choices import RunStepStatus, WorkflowStatus
from workflows.models import RunUnit, Step, WorkflowEvent
from workflows.services.creation import workflow_create_from_protocol
from workflows.services.execution import workflow_action_run, workflow_granted_start, workflow_start
from workflows.services.protocols import protocol_create, protocol_publish

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_backoff(settings):
    settings.LABCORE_EXECUTOR_RETRY_BACKOFF_SECONDS = 0
    settings.LABCORE_TIME_SCALE = 1.0


@pytest.fixture
def lab():
    """Two liquid handlers, a microscope, and their action types."""
    return {
        "transfer": action_type_make("test.unit_transfer"),
        "image": action_type_make("test.unit_image", device_kind=DeviceKind.MICROSCOPE, safe_to_repeat=True),
        "handler-1": device_make("unit-handler-1"),
        "handler-2": device_make("unit-handler-2"),
        "microscope": device_make("unit-microscope", kind=DeviceKind.MICROSCOPE),
    }


def protocol_run(steps: list[dict], *, samples: int = 2, name: str = "run"):
    """A published protocol of ``steps`` (``{"name", "actions": [(type name, device id or None)], **timing}``)
    and an auto run of it on ``samples`` new samples, created (not started)."""
    spec = [
        {
            "name": step["name"],
            "description": "",
            "actions": [{"action_type": t, "parameters": {}, "device": d} for t, d in step["actions"]],
        }
        for step in steps
    ]
    protocol = protocol_create(project=ProjectFactory(), name=f"Protocol {name}", steps=spec)
    for step, wanted in zip(protocol.steps.order_by("position"), steps, strict=True):
        timing = {key: value for key, value in wanted.items() if key not in ("name", "actions")}
        if timing:
            Step.objects.filter(pk=step.pk).update(**timing)
    protocol = protocol_publish(protocol=protocol)
    return workflow_create_from_protocol(
        name=name, protocol=protocol, samples=[SampleFactory() for _ in range(samples)], priority=1
    )


def held(workflow) -> set[str]:
    return set(
        Booking.objects.filter(workflow=workflow, status=BookingStatus.ACTIVE).values_list("device_id", flat=True)
    )


def make_due(workflow) -> None:
    RunUnit.objects.filter(workflow=workflow, started_at__isnull=True).exclude(due_at=None).update(
        due_at=timezone.now() - timedelta(seconds=0.001)
    )


def measure(workflow, confluence: float) -> None:
    """A cell-analysis result for every sample of the run, as a vision action would leave."""
    step = workflow.run_steps.order_by("position").first()
    log = execution_log_create(
        device=step.device,
        workflow=workflow,
        run_step=step,
        action_type="test.vision",
        request={},
        response={},
        status=LogStatus.SUCCESS,
        latency_ms=1,
        caused_by=Cause.WORKER,
    )
    for link in workflow.workflow_samples.select_related("sample"):
        CellAnalysisResult.objects.create(
            sample=link.sample,
            workflow=workflow,
            execution_log=log,
            cell_count=1000,
            confluence=confluence,
            viability=95,
        )


def test_each_step_is_booked_when_it_is_due_and_released_when_it_ends(lab):
    run = protocol_run(
        [
            {"name": "Seed", "actions": [("test.unit_transfer", "unit-handler-1")]},
            {"name": "Image", "actions": [("test.unit_image", "unit-microscope")], "start_after_seconds": 3600},
        ]
    )
    workflow_start(workflow=run)
    assert held(run) == set()  # nothing is booked at start: the first step books when it is due
    assert workflow_action_run(workflow_id=run.pk) is not None  # Seed: books the handler, runs
    image = RunUnit.objects.get(workflow=run, step_name="Image")
    assert held(run) == set(), "between steps a run holds nothing (invariant 9)"
    assert image.due_at > timezone.now() + timedelta(seconds=3500)
    assert workflow_action_run(workflow_id=run.pk) is None  # not due: nothing booked, nothing run
    assert held(run) == set() and run.run_steps.get(step_name="Image").status == RunStepStatus.PENDING
    make_due(run)
    run_until_idle(run)
    run.refresh_from_db()
    assert run.status == WorkflowStatus.COMPLETED and held(run) == set()
    bookings = Booking.objects.filter(workflow=run).order_by("booked_at")
    assert [b.device_id for b in bookings] == ["unit-handler-1", "unit-microscope"]
    assert bookings[0].released_at <= bookings[1].booked_at


def test_an_unpinned_action_takes_a_free_device_of_its_kind_at_booking_time(lab):
    run = protocol_run([{"name": "Feed", "actions": [("test.unit_transfer", None)]}])
    assert run.run_steps.get().device_id == "unit-handler-1"  # planned on the first of its kind
    other = workflow_make([(lab["transfer"], lab["handler-1"])], name="other")
    booking_create(device=lab["handler-1"], workflow=other)  # taken after the run was created
    workflow_start(workflow=run)
    step = workflow_action_run(workflow_id=run.pk)
    assert step is not None and step.device_id == "unit-handler-2"  # not waiting while handler-2 is idle
    assert run.run_steps.get().device_id == "unit-handler-2"


def test_a_busy_step_queues_the_run_whole_and_the_release_hands_it_over(lab):
    other = workflow_make([(lab["image"], lab["microscope"])], name="other")
    booking_create(device=lab["microscope"], workflow=other)
    run = protocol_run([{"name": "Image", "actions": [("test.unit_image", "unit-microscope")]}])
    workflow_start(workflow=run)
    assert workflow_action_run(workflow_id=run.pk) is None
    run.refresh_from_db()
    assert run.status == WorkflowStatus.QUEUED and held(run) == set()
    event = WorkflowEvent.objects.filter(workflow=run).last()
    assert (event.from_status, event.to_status, event.by) == ("running", "queued", "executor")
    assert "waiting for unit-microscope" in event.reason
    booking_release(device=lab["microscope"], workflow=other)
    assert held(run) == {"unit-microscope"}  # handed over in the releasing transaction
    workflow_granted_start(workflow_id=run.pk)
    run_until_idle(run)
    run.refresh_from_db()
    assert run.status == WorkflowStatus.COMPLETED


def test_a_start_after_its_window_is_recorded_on_the_unit_the_log_and_the_event(lab):
    run = protocol_run([{"name": "Image", "actions": [("test.unit_image", "unit-microscope")], "window_seconds": 60}])
    workflow_start(workflow=run)
    RunUnit.objects.filter(workflow=run).update(due_at=timezone.now() - timedelta(seconds=300))
    run_until_idle(run)
    unit = RunUnit.objects.get(workflow=run)
    assert unit.window_missed_seconds == pytest.approx(240, abs=5)
    log = ExecutionLog.objects.get(workflow=run, action_type="window_missed")
    assert log.response["late_seconds"] == pytest.approx(240, abs=5)
    claim = WorkflowEvent.objects.get(workflow=run, to_status=RunStepStatus.DISPATCHING)
    assert "window missed by" in claim.reason
    run.refresh_from_db()
    assert run.status == WorkflowStatus.COMPLETED  # run_late is the default


def test_a_missed_window_fails_the_run_under_on_window_missed_fail(lab):
    run = protocol_run(
        [
            {
                "name": "Image",
                "actions": [("test.unit_image", "unit-microscope")],
                "window_seconds": 60,
                "on_window_missed": "fail",
            }
        ]
    )
    workflow_start(workflow=run)
    RunUnit.objects.filter(workflow=run).update(due_at=timezone.now() - timedelta(seconds=300))
    assert workflow_action_run(workflow_id=run.pk) is None
    run.refresh_from_db()
    assert run.status == WorkflowStatus.FAILED and "window missed" in run.status_reason
    assert held(run) == set() and not ExecutionLog.objects.filter(workflow=run, action_type="test.unit_image").exists()


def test_a_start_within_its_window_is_no_violation(lab):
    run = protocol_run([{"name": "Image", "actions": [("test.unit_image", "unit-microscope")], "window_seconds": 600}])
    workflow_start(workflow=run)
    run_until_idle(run)
    assert RunUnit.objects.get(workflow=run).window_missed_seconds is None
    assert not ExecutionLog.objects.filter(workflow=run, action_type="window_missed").exists()


def test_run_if_false_skips_the_step_and_the_decision_is_logged_with_its_values(lab):
    rule = {"metric": "confluence", "op": ">=", "value": 80, "samples": "all"}
    run = protocol_run(
        [
            {"name": "Image", "actions": [("test.unit_image", "unit-microscope")]},
            {"name": "Passage", "actions": [("test.unit_transfer", "unit-handler-1")], "run_if": rule},
        ]
    )
    workflow_start(workflow=run)
    workflow_action_run(workflow_id=run.pk)
    measure(run, confluence=55)
    run_until_idle(run)
    run.refresh_from_db()
    passage = run.run_steps.get(step_name="Passage")
    assert passage.status == RunStepStatus.SKIPPED and run.status == WorkflowStatus.COMPLETED
    decision = ExecutionLog.objects.get(workflow=run, action_type="decision")
    assert decision.request["condition"] == "run_if" and decision.response["outcome"] is False
    assert sorted(decision.response["values"].values()) == [55.0, 55.0] and len(decision.response["result_ids"]) == 2
    skipped = WorkflowEvent.objects.get(run_step=passage)
    assert skipped.to_status == "skipped" and "run_if does not hold: confluence >= 80" in skipped.reason


def test_run_if_with_no_measurement_is_false_not_an_error(lab):
    rule = {"metric": "viability", "op": "<", "value": 70, "samples": "any"}
    run = protocol_run([{"name": "Feed", "actions": [("test.unit_transfer", "unit-handler-1")], "run_if": rule}])
    workflow_start(workflow=run)
    run_until_idle(run)
    run.refresh_from_db()
    assert run.status == WorkflowStatus.COMPLETED and run.run_steps.get().status == RunStepStatus.SKIPPED
    assert "no measurement yet" in ExecutionLog.objects.get(workflow=run, action_type="decision").response["summary"]


def test_until_stops_a_repeating_step_once_it_holds(lab):
    until = {"metric": "confluence", "op": ">=", "value": 80, "samples": "all"}
    run = protocol_run(
        [
            {
                "name": "Image",
                "actions": [("test.unit_image", "unit-microscope")],
                "repeat_every_seconds": 3600,
                "repeat_max": 5,
                "until": until,
            },
            {"name": "Passage", "actions": [("test.unit_transfer", "unit-handler-1")]},
        ]
    )
    assert RunUnit.objects.filter(workflow=run, step_name="Image").count() == 5
    workflow_start(workflow=run)
    measure(run, confluence=40)
    workflow_action_run(workflow_id=run.pk)  # iteration 1: until does not hold
    second = RunUnit.objects.get(workflow=run, step_name="Image", iteration=2)
    assert second.due_at > timezone.now() + timedelta(seconds=3500)  # repeat_every after it ended
    make_due(run)
    measure(run, confluence=85)
    workflow_action_run(workflow_id=run.pk)  # iteration 2: now it holds
    images = run.run_steps.filter(step_name="Image").order_by("position")
    assert [s.status for s in images] == ["succeeded", "succeeded", "skipped", "skipped", "skipped"]
    stop = WorkflowEvent.objects.filter(workflow=run, to_status="skipped").first()
    assert stop.reason.startswith("stopped Image: confluence >= 80 (all samples) holds")
    make_due(run)
    run_until_idle(run)
    run.refresh_from_db()
    assert run.status == WorkflowStatus.COMPLETED
    assert run.run_steps.get(step_name="Passage").status == RunStepStatus.SUCCEEDED


def test_keep_devices_books_two_steps_as_one_unit_and_keeps_them_between(lab):
    run = protocol_run(
        [
            {"name": "Image", "actions": [("test.unit_image", "unit-microscope")], "keep_devices": True},
            {"name": "Transfer", "actions": [("test.unit_transfer", "unit-handler-1")]},
        ]
    )
    workflow_start(workflow=run)
    workflow_action_run(workflow_id=run.pk)
    assert held(run) == {"unit-microscope", "unit-handler-1"}  # booked together at the first unit's start
    step = workflow_action_run(workflow_id=run.pk)  # the second unit starts on what the run holds
    assert step.device_id == "unit-handler-1" and Booking.objects.filter(workflow=run).count() == 2
    run_until_idle(run)
    run.refresh_from_db()
    assert run.status == WorkflowStatus.COMPLETED and held(run) == set()
    assert Booking.objects.filter(workflow=run).count() == 2


def test_the_time_scale_shortens_step_timings_with_mock_hardware(lab, settings):
    settings.LABCORE_TIME_SCALE = 0.001
    run = protocol_run(
        [
            {"name": "Seed", "actions": [("test.unit_transfer", "unit-handler-1")]},
            {"name": "Image", "actions": [("test.unit_image", "unit-microscope")], "start_after_seconds": 43200},
        ]
    )
    workflow_start(workflow=run)
    workflow_action_run(workflow_id=run.pk)
    due = RunUnit.objects.get(workflow=run, step_name="Image").due_at
    assert timedelta(seconds=40) < due - timezone.now() < timedelta(seconds=44)  # 12 h at 0.001


def test_runs_without_units_book_their_whole_set_at_start_as_before(lab):
    run = workflow_make([(lab["transfer"], lab["handler-1"]), (lab["image"], lab["microscope"])])
    workflow_start(workflow=run)
    assert held(run) == {"unit-handler-1", "unit-microscope"}


def test_a_manual_protocol_run_has_no_units(lab):
    device = DeviceFactory(id="unit-handler-m", kind=DeviceKind.LIQUID_HANDLER)
    ActionTypeFactory(name="test.unit_manual", device_kind=DeviceKind.LIQUID_HANDLER)
    protocol = protocol_publish(
        protocol=protocol_create(
            project=ProjectFactory(),
            name="manual",
            steps=[
                {"name": "s", "description": "", "actions": [{"action_type": "test.unit_manual", "device": device.pk}]}
            ],
        )
    )
    run = workflow_create_from_protocol(name="m", protocol=protocol, samples=[], priority=1, mode="manual")
    assert not RunUnit.objects.filter(workflow=run).exists()


def test_a_window_violation_is_shown_in_the_api_and_on_the_runs_admin_page(lab, api_client, client):
    run = protocol_run([{"name": "Image", "actions": [("test.unit_image", "unit-microscope")], "window_seconds": 60}])
    workflow_start(workflow=run)
    RunUnit.objects.filter(workflow=run).update(due_at=timezone.now() - timedelta(seconds=300))
    run_until_idle(run)
    step = api_client.get(f"/api/workflows/{run.pk}").json()["steps"][0]
    assert step["window_missed_seconds"] == pytest.approx(240, abs=5) and step["due_at"] is not None
    client.force_login(UserFactory(username="admin-w", is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:workflows_workflow_change", args=[run.pk])).content.decode()
    assert "missed by 24" in page


def test_a_due_unit_is_held_back_rather_than_break_the_window_of_a_unit_ranked_ahead(lab, settings):
    """The scheduler core decides the start: a long scan due now would still hold the microscope
    when another run's windowed image becomes due, so it waits (holding nothing) for its turn."""
    settings.LABCORE_MOCK_LATENCY_SCALE = 1  # the scan's estimate is its real length (0 in tests)
    action_type_make(
        "test.unit_long_scan", device_kind=DeviceKind.MICROSCOPE, estimated_duration_seconds=3600, safe_to_repeat=True
    )
    windowed = protocol_run(
        [
            {"name": "Seed", "actions": [("test.unit_transfer", "unit-handler-1")]},
            {
                "name": "Image",
                "actions": [("test.unit_image", "unit-microscope")],
                "start_after_seconds": 300,
                "window_seconds": 600,
            },
        ],
        name="windowed",
    )
    workflow_start(workflow=windowed)
    workflow_action_run(workflow_id=windowed.pk)  # seeded: its image is due in 5 min, window 10 min
    scan = protocol_run([{"name": "Scan", "actions": [("test.unit_long_scan", "unit-microscope")]}], name="scan")
    workflow_start(workflow=scan)
    assert workflow_action_run(workflow_id=scan.pk) is None  # a 1 h scan would break the image's window
    assert held(scan) == set() and scan.run_steps.get().status == RunStepStatus.PENDING
    scan.refresh_from_db()
    assert scan.status == WorkflowStatus.RUNNING  # not queued: the microscope is free, only reserved
    make_due(windowed)
    run_until_idle(windowed)  # the image runs in its window
    assert RunUnit.objects.get(workflow=windowed, step_name="Image").window_missed_seconds is None
    assert workflow_action_run(workflow_id=scan.pk) is not None  # now the scan starts


def test_a_short_unit_due_now_still_uses_the_free_device_before_a_reserved_window(lab):
    windowed = protocol_run(
        [
            {"name": "Seed", "actions": [("test.unit_transfer", "unit-handler-1")]},
            {
                "name": "Image",
                "actions": [("test.unit_image", "unit-microscope")],
                "start_after_seconds": 3600,
                "window_seconds": 600,
            },
        ],
        name="windowed",
    )
    workflow_start(workflow=windowed)
    workflow_action_run(workflow_id=windowed.pk)
    quick = protocol_run([{"name": "Quick image", "actions": [("test.unit_image", "unit-microscope")]}], name="quick")
    workflow_start(workflow=quick)
    assert workflow_action_run(workflow_id=quick.pk) is not None  # ends long before the window opens
