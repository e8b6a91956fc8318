"""The device timeline's data endpoint: bars overlapping the window, bounded, in constant queries."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from devices.services import booking_create, booking_release
from executionlogs.choices import LogStatus
from executionlogs.services import execution_log_create
from samples.models import Plate
from tests.factories import UserFactory
from tests.utils import queries_for
from tests.workflows.executor_support import action_type_make, device_make, workflow_make
from workflows import timeline as timeline_module
from workflows.models import Protocol
from workflows.schedule import schedule_read
from workflows.services.campaigns import campaign_create
from workflows.services.dispatch import action_claim
from workflows.services.execution import workflow_action_run, workflow_start

pytestmark = pytest.mark.django_db

DATA_URL = "/admin/workflows/campaign/timeline/data/"


@pytest.fixture
def admin_client(user):
    client = Client()
    client.force_login(user)
    return client


def iso(instant) -> str:
    return instant.isoformat()


def logged(device, *, started, minutes=1.0, status=LogStatus.SUCCESS, workflow=None, action="robot.aspirate"):
    return execution_log_create(
        device=device,
        action_type=action,
        request={},
        response={},
        status=status,
        latency_ms=minutes * 60_000,
        started_at=started,
        finished_at=started + timedelta(minutes=minutes),
        workflow=workflow,
    )


def get_window(client, start, end, **params):
    return client.get(DATA_URL, {"from": iso(start), "to": iso(end), **params})


def test_only_actions_overlapping_the_window_are_bars(admin_client):
    device = device_make("lh-window")
    run = workflow_make([])
    now = timezone.now()
    start, end = now - timedelta(hours=2), now - timedelta(hours=1)
    before = logged(device, started=start - timedelta(minutes=30), minutes=10, action="before")
    across_start = logged(device, started=start - timedelta(minutes=5), minutes=10, action="across-start", workflow=run)
    inside = logged(device, started=start + timedelta(minutes=20), status=LogStatus.ERROR, action="inside")
    after = logged(device, started=end + timedelta(minutes=1), action="after")
    body = get_window(admin_client, start, end).json()
    bars = {bar["label"]: bar for bar in body["items"]}
    assert set(bars) == {across_start.action_type, inside.action_type}
    assert before.action_type not in bars and after.action_type not in bars
    assert bars["across-start"]["kind"] == "done" and bars["inside"]["kind"] == "failed"
    assert bars["across-start"]["workflow"] == run.pk and bars["across-start"]["run"] == run.name
    assert bars["across-start"]["group"] == "lh-window"
    assert [group["id"] for group in body["groups"]] == ["lh-window"]
    assert body["truncated"] is False and body["note"] == ""


def test_one_device_is_shown_alone_when_asked(admin_client):
    first, second = device_make("lh-a"), device_make("lh-b")
    now = timezone.now()
    logged(first, started=now - timedelta(minutes=30), action="on-a")
    logged(second, started=now - timedelta(minutes=30), action="on-b")
    body = get_window(admin_client, now - timedelta(hours=1), now, device="lh-b").json()
    assert [group["id"] for group in body["groups"]] == ["lh-b"]
    assert [bar["label"] for bar in body["items"]] == ["on-b"]
    assert body["window"]["device"] == "lh-b"


def test_the_action_in_flight_is_a_running_bar_up_to_now(admin_client):
    device = device_make("lh-running")
    transfer = action_type_make("timeline.transfer")
    run = workflow_make([(transfer, device), (transfer, device)], name="running run")
    workflow_start(workflow=run)
    claimed = action_claim(workflow_id=run.pk)
    now = timezone.now()
    body = get_window(admin_client, now - timedelta(hours=1), now + timedelta(hours=1)).json()
    running = [bar for bar in body["items"] if bar["kind"] == "running"]
    assert len(running) == 1
    assert running[0]["label"] == "timeline.transfer" and running[0]["run"] == "running run"
    assert running[0]["group"] == "lh-running" and running[0]["workflow"] == run.pk
    assert running[0]["start"] <= running[0]["end"]
    assert claimed.dispatched_at.isoformat()[:19] in running[0]["start"]
    # A window wholly in the past has nothing running in it.
    past = get_window(admin_client, now - timedelta(hours=3), now - timedelta(hours=2)).json()
    assert [bar for bar in past["items"] if bar["kind"] == "running"] == []


def test_who_held_a_device_is_a_band_from_booking_to_release(admin_client):
    device, shared = device_make("lh-held"), device_make("inc-held", capacity=3)
    earlier, now_holding, on_shared = (workflow_make([], name=name) for name in ("earlier", "holding", "shared"))
    booking_create(device=device, workflow=earlier)
    booking_release(device=device, workflow=earlier)
    booking_create(device=device, workflow=now_holding)
    booking_create(device=shared, workflow=on_shared)
    now = timezone.now()
    body = get_window(admin_client, now - timedelta(hours=1), now + timedelta(hours=1)).json()
    held = {bar["run"]: bar for bar in body["items"] if bar["kind"] == "held"}
    assert set(held) == {"earlier", "holding", "shared"}
    assert held["holding"]["label"] == "held by holding" and "held now" in held["holding"]["detail"]
    assert "released" in held["earlier"]["detail"] and held["earlier"]["end"] <= held["holding"]["start"]
    assert held["shared"]["label"] == "" and held["shared"]["group"] == "inc-held"
    # Released before the window: not in it.
    later = get_window(admin_client, now + timedelta(minutes=1), now + timedelta(hours=1)).json()
    assert {bar["run"] for bar in later["items"] if bar["kind"] == "held"} == {"holding", "shared"}


def test_planned_units_are_the_schedules_plan(admin_client, demo_lab):
    protocol = Protocol.objects.get(name="MSC expansion, 7 days")
    plates = list(Plate.objects.filter(barcode__in=["PLATE-03", "PLATE-04"]).order_by("barcode"))
    campaign = campaign_create(name="Timeline plan", protocol=protocol, plates=plates, priority=1)
    first = campaign.workflows.order_by("id").first()
    while workflow_action_run(workflow_id=first.pk) is not None:
        pass
    now = timezone.now()
    start, end = now - timedelta(hours=1), now + timedelta(days=7)
    body = get_window(admin_client, start, end).json()
    planned = [bar for bar in body["items"] if bar["kind"] == "planned"]
    expected = [slot for slot in schedule_read(start=start, end=end) if slot.state == "planned"]
    assert planned and len(planned) == len(expected)
    assert {(bar["group"], bar["workflow"], bar["label"]) for bar in planned} == {
        (slot.device, slot.workflow, slot.step) for slot in expected
    }
    assert all(bar["run"].startswith("Timeline plan / PLATE-0") for bar in planned)
    done = [bar for bar in body["items"] if bar["kind"] == "done"]
    assert done and all(bar["workflow"] == first.pk for bar in done)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-45T99:00:00"}, "to"),
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "to"),
        ({"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "to"),
    ],
)
def test_a_bad_window_is_a_400_naming_the_field(admin_client, params, field):
    response = admin_client.get(DATA_URL, params)
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == "invalid" and list(body["fields"]) == [field]


def test_an_offset_sent_unencoded_is_still_read(admin_client):
    response = admin_client.get(DATA_URL + "?from=2026-01-01T00:00:00+01:00&to=2026-01-01T06:00:00+01:00")
    assert response.status_code == 200
    assert response.json()["window"]["from"] == "2026-01-01T00:00:00+01:00"


def test_an_unknown_device_is_a_404_naming_it(admin_client):
    response = admin_client.get(DATA_URL, {"device": "no-such-device"})
    assert response.status_code == 404
    assert response.json()["fields"] == {"device": ["no device 'no-such-device'"]}


def test_no_window_means_the_last_6_hours_and_the_next_18(admin_client):
    body = admin_client.get(DATA_URL).json()
    start, end = (timezone.datetime.fromisoformat(body["window"][key]) for key in ("from", "to"))
    assert end - start == timedelta(hours=24)
    assert abs((timezone.now() - start) - timedelta(hours=6)) < timedelta(minutes=1)


def test_more_bars_than_the_cap_keep_the_newest_and_say_so(admin_client, monkeypatch):
    monkeypatch.setattr(timeline_module, "TIMELINE_MAX_ITEMS", 5)
    device = device_make("lh-busy")
    now = timezone.now()
    for minute in range(8):
        logged(device, started=now - timedelta(minutes=60 - minute * 5), minutes=1, action=f"action-{minute}")
    body = get_window(admin_client, now - timedelta(hours=2), now).json()
    assert [bar["label"] for bar in body["items"]] == [f"action-{minute}" for minute in (7, 6, 5, 4, 3)]
    assert body["truncated"] is True and "More than 5 bars" in body["note"]


def test_the_data_needs_a_staff_user_who_may_see_runs(client):
    response = client.get(DATA_URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    outsider = UserFactory(username="no-perms", is_staff=True)
    client.force_login(outsider)
    assert client.get(DATA_URL).status_code == 403
    viewer = UserFactory(username="viewer-t", is_staff=True)
    viewer.groups.set(Group.objects.filter(name="viewer"))
    client.force_login(viewer)
    assert client.get(DATA_URL).status_code == 200
    assert client.get("/admin/workflows/campaign/timeline/").status_code == 200


def _lab(devices: int, runs: int, start):
    action = action_type_make(f"timeline.budget.{devices}")
    made = [device_make(f"lh-budget-{devices}-{n}") for n in range(devices)]
    for n in range(runs):
        device = made[n % devices]
        run = workflow_make([(action, device), (action, device)], name=f"budget {devices}/{n}")
        logged(device, started=start + timedelta(minutes=n), workflow=run)
        workflow_start(workflow=run)
        action_claim(workflow_id=run.pk)


def test_the_data_takes_the_same_number_of_queries_for_3_or_30_devices_and_runs(admin_client):
    now = timezone.now()
    params = {"from": iso(now - timedelta(hours=1)), "to": iso(now + timedelta(hours=1))}
    _lab(3, 3, now - timedelta(minutes=50))
    few = queries_for(lambda: admin_client.get(DATA_URL, params))
    items_few = len(admin_client.get(DATA_URL, params).json()["items"])
    _lab(30, 30, now - timedelta(minutes=50))
    many = queries_for(lambda: admin_client.get(DATA_URL, params))
    items_many = len(admin_client.get(DATA_URL, params).json()["items"])
    assert items_many > items_few >= 6
    assert few == many


def test_the_timeline_page_is_reachable_from_the_campaigns_and_names_the_device(admin_client):
    device_make("lh-page")
    changelist = admin_client.get("/admin/workflows/campaign/").content.decode()
    assert 'href="/admin/workflows/campaign/timeline/"' in changelist
    page = admin_client.get("/admin/workflows/campaign/timeline/", {"device": "lh-page"}).content.decode()
    assert "Device timeline: lh-page" in page and "vis-timeline-7.7.4/vis-timeline-graph2d.min.js" in page
    assert "/admin/executionlogs/executionlog/?device__id__exact=lh-page" in page
    unknown = admin_client.get("/admin/workflows/campaign/timeline/", {"device": "nope"}).content.decode()
    assert "There is no device nope" in unknown
