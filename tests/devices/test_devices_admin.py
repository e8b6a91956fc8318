"""The devices page: holders per slot, queue positions with the wait-time estimate, links, constant queries."""

import re

import pytest
from django.test import Client

from devices.choices import Priority
from devices.models import Device
from devices.services import booking_create, queue_entry_create
from devices.wait_time import wait_time_estimate
from executionlogs.choices import LogStatus
from executionlogs.services import execution_log_create
from tests.factories import DeviceFactory, UserFactory
from tests.utils import queries_for
from tests.workflows.executor_support import action_type_make, workflow_make

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/devices/device/"


@pytest.fixture
def admin_client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def real_durations(settings):
    """Estimates as a real instrument takes them (the test default scales mock time to 0)."""
    settings.LABCORE_MOCK_LATENCY_SCALE = 1.0
    settings.LABCORE_TIME_SCALE = 1.0


@pytest.fixture
def transfer():
    return action_type_make("board.transfer", estimated_duration_seconds=30)


def run_on(device, action, *, name, steps=2, user=None, **fields):
    return workflow_make([(action, device)] * steps, name=name, created_by=user, **fields)


def busy_lab(transfer, *, devices: int, waiting: int, capacity: int = 1, prefix="dev"):
    """``devices`` devices, each with every slot held and ``waiting`` requests queued."""
    made = []
    for n in range(devices):
        device = DeviceFactory(id=f"{prefix}-{n}", capacity=capacity, kind=transfer.device_kind)
        for slot in range(capacity):
            booking_create(device=device, workflow=run_on(device, transfer, name=f"{device.pk} holder {slot}"))
        for position in range(waiting):
            queue_entry_create(
                device=device, workflow=run_on(device, transfer, name=f"{device.pk} waiter {position}"), priority=2
            )
        made.append(device)
    return made


def cell(html: str, field: str, device_id: str) -> str:
    """The changelist cell ``field`` of the row of ``device_id``."""
    row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*?>{re.escape(device_id)}</a>(?:(?!</tr>).)*</tr>", html, re.S)
    assert row, f"no row for {device_id}"
    found = re.search(rf'<td class="field-{field}">(.*?)</td>', row.group(0), re.S)
    assert found, f"no {field} cell for {device_id}"
    return found.group(1)


def test_the_list_shows_who_holds_the_device_and_since_when(admin_client, transfer):
    ana = UserFactory(username="ana")
    device = DeviceFactory(id="lh-held", kind=transfer.device_kind)
    holder = run_on(device, transfer, name="holder run", user=ana)
    booking = booking_create(device=device, workflow=holder)
    DeviceFactory(id="lh-free", kind=transfer.device_kind)
    html = admin_client.get(CHANGELIST).content.decode()
    held = cell(html, "holders", "lh-held")
    assert f'href="/admin/workflows/workflow/{holder.pk}/change/"' in held and "holder run" in held
    assert "by ana · since " in held and booking.booked_at.astimezone().strftime("%Y-%m-%d %H:%M:%S") in held
    assert "~ 1 min left" in held  # two steps of 30 s
    assert cell(html, "holders", "lh-free") == "free"


def test_a_shared_device_lists_each_slots_holder(admin_client, transfer):
    incubator = busy_lab(transfer, devices=1, waiting=0, capacity=3, prefix="inc")[0]
    html = admin_client.get(CHANGELIST).content.decode()
    held = cell(html, "holders", incubator.pk)
    assert "3 of 3 slots in use" in held
    assert [int(slot) for slot in re.findall(r"slot (\d+):", held)] == [0, 1, 2]


def test_the_queue_shows_positions_and_the_wait_time_estimate(admin_client, transfer):
    device = busy_lab(transfer, devices=1, waiting=3, prefix="queue")[0]
    urgent = run_on(device, transfer, name="urgent run")
    queue_entry_create(device=device, workflow=urgent, priority=Priority.URGENT)
    html = admin_client.get(CHANGELIST).content.decode()
    queue = cell(html, "queue_head", device.pk)
    names = re.findall(r">([^<>]*(?:waiter \d|urgent run)) \(#\d+\)</a>", queue)
    assert names == ["urgent run", "queue-0 waiter 0", "queue-0 waiter 1", "queue-0 waiter 2"]
    assert re.findall(r'<li value="(\d+)"', queue) == ["1", "2", "3", "4"]
    waits = re.findall(r'<span class="wait">waits ([^<]*)</span>', queue)
    entries = device.queue_entries.select_related("workflow")
    expected = {
        entry.workflow.name: wait_time_estimate(device=device, workflow=entry.workflow)["estimated_wait_seconds"]
        for entry in entries
    }
    assert expected["urgent run"] == 60 and expected["queue-0 waiter 2"] == 60 + 60 * 3
    assert waits == ["~ 1 min", "~ 2 min", "~ 3 min", "~ 4 min"]
    assert 'class="field-queue_length">4<' in html


def test_long_queues_show_their_head_and_the_device_page_shows_all_with_waits(admin_client, transfer):
    device = busy_lab(transfer, devices=1, waiting=7, prefix="long")[0]
    html = admin_client.get(CHANGELIST).content.decode()
    queue = cell(html, "queue_head", device.pk)
    assert len(re.findall("<li ", queue)) == 5 and "and 2 more" in queue
    page = admin_client.get(f"/admin/devices/device/{device.pk}/change/").content.decode()
    table = re.search(r'<table class="device-queue-table">(.*?)</table>', page, re.S).group(1)
    rows = re.findall(r"<tr><td>(\d+)</td>.*?<td>(~ [^<]*)</td>", table, re.S)
    assert [int(position) for position, _ in rows] == list(range(1, 8))
    assert rows[-1][1] == "~ 7 min"  # the holder's minute, then six runs of a minute ahead of it


def test_each_device_links_to_its_timeline_and_its_execution_log(admin_client, transfer):
    device = DeviceFactory(id="lh-linked", kind=transfer.device_kind)
    other = DeviceFactory(id="lh-other", kind=transfer.device_kind)
    for target in (device, other):
        execution_log_create(
            device=target, action_type=f"on-{target.pk}", request={}, response={}, status=LogStatus.SUCCESS,
            latency_ms=5,
        )  # fmt: skip
    html = admin_client.get(CHANGELIST).content.decode()
    links = cell(html, "name_and_links", "lh-linked")
    timeline = re.search(r'class="device-timeline-link" href="([^"]+)"', links).group(1)
    log = re.search(r'class="device-log-link" href="([^"]+)"', links).group(1)
    assert timeline == "/admin/workflows/campaign/timeline/?device=lh-linked"
    assert log == "/admin/executionlogs/executionlog/?device__id__exact=lh-linked"
    timeline_page = admin_client.get(timeline)
    assert timeline_page.status_code == 200 and "Device timeline: lh-linked" in timeline_page.content.decode()
    log_page = admin_client.get(log)
    assert log_page.status_code == 200
    assert "on-lh-linked" in log_page.content.decode() and "on-lh-other" not in log_page.content.decode()
    assert 'href="/admin/workflows/campaign/timeline/"' in html  # every device's timeline


def test_the_list_takes_the_same_queries_for_3_or_30_busy_devices_with_queues(admin_client, transfer):
    busy_lab(transfer, devices=3, waiting=7, capacity=2, prefix="few")
    few = queries_for(lambda: admin_client.get(CHANGELIST))
    busy_lab(transfer, devices=27, waiting=7, capacity=2, prefix="many")
    many = queries_for(lambda: admin_client.get(CHANGELIST))
    html = admin_client.get(CHANGELIST).content.decode()
    assert Device.objects.count() == 30 and html.count('<ol class="device-queue">') == 30
    assert few == many


def test_a_devices_page_takes_the_same_queries_for_3_or_30_waiting(admin_client, transfer):
    device = busy_lab(transfer, devices=1, waiting=3, capacity=2, prefix="page")[0]
    url = f"/admin/devices/device/{device.pk}/change/"
    few = queries_for(lambda: admin_client.get(url))
    for position in range(27):
        queue_entry_create(device=device, workflow=run_on(device, transfer, name=f"more {position}"), priority=2)
    many = queries_for(lambda: admin_client.get(url))
    assert admin_client.get(url).content.decode().count("<tr><td>") == 30
    assert few == many
