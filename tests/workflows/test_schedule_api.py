"""``GET /api/schedule`` and wait-time read the scheduler's forward plan, so they agree."""

import math
from datetime import timedelta

import pytest
from django.utils import timezone

from devices.choices import DeviceKind
from executionlogs.models import CellAnalysisResult
from tests.factories import ExecutionLogFactory
from tests.workflows.executor_support import action_type_make, device_make
from tests.workflows.test_booking_units import protocol_run
from workflows.models import RunUnit, Workflow
from workflows.services.execution import workflow_action_run, workflow_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def imaging():
    action_type_make(
        "test.sched_image", device_kind=DeviceKind.MICROSCOPE, estimated_duration_seconds=600, safe_to_repeat=True
    )
    # Never run before: its duration is the type's estimate (a measured median would win once logged).
    action_type_make(
        "test.sched_image_tiled", device_kind=DeviceKind.MICROSCOPE, estimated_duration_seconds=600, safe_to_repeat=True
    )
    device_make("sched-microscope", kind=DeviceKind.MICROSCOPE)
    return [
        {"name": "Image", "actions": [("test.sched_image", "sched-microscope")]},
        {
            "name": "Image again",
            "actions": [("test.sched_image_tiled", "sched-microscope")],
            "start_after_seconds": 3600,
        },
    ]


def entries(api_client, **params):
    response = api_client.get("/api/schedule", params)
    assert response.status_code == 200, response.json()
    return response.json()["results"]


def test_the_schedule_shows_what_ran_and_what_is_planned_at_its_due_time(api_client, imaging, settings):
    settings.LABCORE_MOCK_LATENCY_SCALE = 1.0  # plan with the instruments' own durations
    run = protocol_run(imaging, name="A")
    workflow_start(workflow=run)
    workflow_action_run(workflow_id=run.pk)  # Image: done now; "Image again" due in an hour
    rows = entries(api_client, device="sched-microscope")
    assert [(r["workflow"], r["step"], r["state"]) for r in rows] == [
        (run.pk, "Image", "done"),
        (run.pk, "Image again", "planned"),
    ]
    due = RunUnit.objects.get(workflow=run, step_name="Image again").due_at
    planned = rows[1]
    start = timezone.datetime.fromisoformat(planned["start"].replace("Z", "+00:00"))
    end = timezone.datetime.fromisoformat(planned["end"].replace("Z", "+00:00"))
    assert abs((start - due).total_seconds()) < 2 and (end - start).total_seconds() == pytest.approx(600, abs=2)
    wait = api_client.get("/api/devices/sched-microscope/wait-time", {"workflow_id": run.pk}).json()
    assert wait["estimated_wait_seconds"] == pytest.approx((start - timezone.now()).total_seconds(), abs=3)


def test_planned_steps_of_competing_runs_never_overlap_on_a_one_slot_device(api_client, imaging):
    runs = [protocol_run(imaging, name=name) for name in "ABC"]
    for run in runs:
        workflow_start(workflow=run)
    rows = [r for r in entries(api_client, device="sched-microscope") if r["state"] == "planned"]
    assert len(rows) == 6
    spans = sorted((r["start"], r["end"]) for r in rows)
    for (_, earlier_end), (later_start, _) in zip(spans, spans[1:], strict=False):
        assert earlier_end <= later_start


def test_the_window_of_time_filters_entries(api_client, imaging):
    run = protocol_run(imaging, name="A")
    workflow_start(workflow=run)
    workflow_action_run(workflow_id=run.pk)
    soon = (timezone.now() + timedelta(minutes=30)).isoformat()
    assert [r["state"] for r in entries(api_client, end=soon)] == ["done"]
    later = (timezone.now() + timedelta(minutes=50)).isoformat()
    assert [r["step"] for r in entries(api_client, start=later)] == ["Image again"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"start": "yesterday"}, "start"), ({"device": "no-such-device"}, "device"),
     ({"start": "2026-12-02T00:00:00Z", "end": "2026-12-01T00:00:00Z"}, "end")],
)  # fmt: skip
def test_bad_query_values_are_400s_naming_the_field(api_client, params, field):
    response = api_client.get("/api/schedule", params)
    assert response.status_code == 400 and field in response.json()["fields"]


def test_the_step_after_an_until_loop_is_planned_near_the_growth_forecast(api_client):
    """Imaging every 12 h until confluence >= 80 %, then passage: the plan assumes the loop stops at the
    first imaging at or after the forecast crossing, so the passage is planned there, not after 20 images."""
    action_type_make("test.loop_image", device_kind=DeviceKind.MICROSCOPE, estimated_duration_seconds=60)
    action_type_make("test.loop_passage", device_kind=DeviceKind.LIQUID_HANDLER, estimated_duration_seconds=60)
    device_make("loop-microscope", kind=DeviceKind.MICROSCOPE)
    device_make("loop-handler", kind=DeviceKind.LIQUID_HANDLER)
    until = {"metric": "confluence", "op": ">=", "value": 80, "samples": "all"}
    run = protocol_run(
        [
            {
                "name": "Image",
                "actions": [("test.loop_image", "loop-microscope")],
                "repeat_every_seconds": 12 * 3600,
                "repeat_max": 20,
                "until": until,
            },
            {"name": "Passage", "actions": [("test.loop_passage", "loop-handler")]},
        ],
        name="loop",
    )
    workflow_start(workflow=run)
    workflow_action_run(workflow_id=run.pk)  # the first image: done now, the next due in 12 h
    now = timezone.now()
    Workflow.objects.filter(pk=run.pk).update(started_at=now - timedelta(hours=60))
    # Measured every 12 h for 60 h: logistic from 12 % doubling every 30 h (no lag), both samples.
    rate, start = math.log(2) / 30, math.log(12 / 88)
    log = ExecutionLogFactory(workflow=run)
    for sample in run.samples.all():
        for hours in range(0, 61, 12):
            confluence = 100 / (1 + math.exp(-(start + rate * hours)))
            CellAnalysisResult.objects.create(
                sample=sample, workflow=run, execution_log=log, cell_count=1000, confluence=confluence,
                viability=95, measured_at=now - timedelta(hours=60 - hours),
            )  # fmt: skip
    crossing = now - timedelta(hours=60) + timedelta(hours=(math.log(80 / 20) - start) / rate)
    rows = entries(api_client, device="loop-handler", end=(now + timedelta(days=12)).isoformat())
    assert [(r["step"], r["state"]) for r in rows] == [("Passage", "planned")]
    planned = timezone.datetime.fromisoformat(rows[0]["start"].replace("Z", "+00:00"))
    # After the crossing, and no later than one imaging interval (plus the image itself) after it.
    assert crossing - timedelta(seconds=5) <= planned <= crossing + timedelta(hours=12, minutes=5)
    images = entries(api_client, device="loop-microscope", end=(now + timedelta(days=12)).isoformat())
    planned_images = [r for r in images if r["state"] == "planned"]
    assert 0 < len(planned_images) < 19  # the iterations after the crossing are assumed skipped
