"""``GET /api/schedule`` and wait-time read the scheduler's forward plan, so they agree."""

from datetime import timedelta

import pytest
from django.utils import timezone

from devices.choices import DeviceKind
from tests.workflows.executor_support import action_type_make, device_make
from tests.workflows.test_booking_units import protocol_run
from workflows.models import RunUnit
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
