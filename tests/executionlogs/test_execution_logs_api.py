"""GET /api/execution-logs and /api/execution-logs/{device_id}: keyset cursor pages and filters."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import token_issue
from executionlogs.models import ExecutionLog
from tests.executionlogs.conftest import append_log, append_logs
from tests.factories import DeviceFactory, UserFactory, WorkflowFactory
from tests.utils import queries_for


def walk(client, url, params=None, *, between_pages=None):
    """Every result of every page, following ``next`` links."""
    seen, response = [], client.get(url, params or {})
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        seen.extend(entry["id"] for entry in body["results"])
        if not body["next"]:
            return seen
        if between_pages:
            between_pages()
        response = client.get(body["next"])


@pytest.mark.django_db
def test_list_is_ordered_by_start_time_then_id(api_client, device):
    now = timezone.now()
    late = append_log(device, started_at=now)
    early = append_log(device, started_at=now - timedelta(hours=1))
    tie = append_log(device, started_at=now)
    body = api_client.get("/api/execution-logs").json()
    assert [entry["id"] for entry in body["results"]] == [early.pk, late.pk, tie.pk]
    first = body["results"][0]
    assert first["device"] == device.pk
    assert first["request"] == {"volume_ul": 50} and first["entry_hash"] == early.entry_hash


@pytest.mark.django_db
def test_pages_have_no_duplicates_or_gaps_while_new_entries_arrive(api_client, device):
    base = timezone.now() - timedelta(hours=2)
    # Many entries share a timestamp: the cursor must be on (started_at, id), not on time alone.
    originals = append_logs(device, 40, start=base, step=timedelta(seconds=0)) + append_logs(device, 20, start=base)
    arrivals = []

    def new_entries_arrive():
        arrivals.append(append_log(device, started_at=base).pk)  # same instant as the first 40
        arrivals.append(append_log(device).pk)  # now: after everything

    seen = walk(api_client, "/api/execution-logs", {"page_size": 7}, between_pages=new_entries_arrive)
    assert len(seen) == len(set(seen)), "a row was served twice"
    assert {entry.pk for entry in originals} <= set(seen), "a row that existed before the walk was skipped"
    expected = list(ExecutionLog.objects.order_by("started_at", "id").values_list("id", flat=True))
    # Whatever arrived ahead of the cursor is served, in order; what arrived behind it is not.
    assert seen == [pk for pk in expected if pk in set(seen)]
    assert all(pk in seen for pk in arrivals[1::2]), "entries appended at the end must be reached"


@pytest.mark.django_db
def test_previous_links_walk_back_over_the_same_pages(api_client, device):
    append_logs(device, 12)
    page1 = api_client.get("/api/execution-logs", {"page_size": 5}).json()
    page2 = api_client.get(page1["next"]).json()
    page3 = api_client.get(page2["next"]).json()
    assert page1["previous"] is None and page3["next"] is None
    assert len(page3["results"]) == 2
    back2 = api_client.get(page3["previous"]).json()
    back1 = api_client.get(back2["previous"]).json()
    assert back2["results"] == page2["results"]
    assert back1["results"] == page1["results"]
    assert back1["previous"] is None


@pytest.mark.django_db
def test_page_size_is_capped(api_client, device):
    append_logs(device, 3)
    assert len(api_client.get("/api/execution-logs", {"page_size": 2}).json()["results"]) == 2
    with pytest.MonkeyPatch.context() as patch:
        from executionlogs.api.pagination import KeysetCursorPagination

        patch.setattr(KeysetCursorPagination, "max_page_size", 2)
        assert len(api_client.get("/api/execution-logs", {"page_size": 10_000}).json()["results"]) == 2


@pytest.mark.django_db
@pytest.mark.parametrize("cursor", ["garbage", "eyJwIjogWzFdfQ==", "eyJwIjpbIm5vdC1hLWRhdGUiLDFdfQ=="])
def test_a_bad_cursor_is_400_naming_it(api_client, cursor):
    response = api_client.get("/api/execution-logs", {"cursor": cursor})
    assert response.status_code == 400
    assert response.json()["fields"] == {"cursor": ["Invalid cursor."]}


@pytest.mark.django_db
def test_filters_by_workflow_device_status_and_action_type(api_client, device):
    other_device = DeviceFactory()
    workflow = WorkflowFactory()
    wanted = append_log(device, workflow=workflow, status="error", action_type="robot.dispense")
    append_log(device, workflow=workflow, status="success", action_type="robot.dispense")
    append_log(other_device, workflow=workflow, status="error", action_type="robot.dispense")
    append_log(device, status="error", action_type="robot.dispense")
    append_log(device, workflow=workflow, status="error", action_type="robot.aspirate")
    params = {"workflow": workflow.pk, "device": device.pk, "status": "error", "action_type": "robot.dispense"}
    results = api_client.get("/api/execution-logs", params).json()["results"]
    assert [entry["id"] for entry in results] == [wanted.pk]
    assert len(api_client.get("/api/execution-logs", {"device": other_device.pk}).json()["results"]) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params, field",
    [({"status": "exploded"}, "status"), ({"workflow": "abc"}, "workflow"), ({"workflow": 2**70}, "workflow")],
)
def test_bad_filters_are_400_naming_the_filter(api_client, params, field):
    response = api_client.get("/api/execution-logs", params)
    assert response.status_code == 400
    assert field in response.json()["fields"]


@pytest.mark.django_db
def test_list_runs_the_same_queries_for_5_and_500_entries(api_client, device):
    user = UserFactory()
    append_logs(device, 5, user=user, workflow=WorkflowFactory())
    few = queries_for(lambda: api_client.get("/api/execution-logs", {"page_size": 500}))
    append_logs(device, 495, user=user)
    holder = {}
    many = queries_for(lambda: holder.update(r=api_client.get("/api/execution-logs", {"page_size": 500})))
    assert few == many
    results = holder["r"].json()["results"]
    assert len(results) == 500 and results[0]["user"] == user.username


@pytest.mark.django_db
def test_device_logs_show_only_that_device(api_client, device):
    mine = append_logs(device, 3)
    append_logs(DeviceFactory(), 2)
    response = api_client.get(f"/api/execution-logs/{device.pk}", {"status": "success"})
    assert [entry["id"] for entry in response.json()["results"]] == [entry.pk for entry in mine]


@pytest.mark.django_db
def test_device_logs_of_an_unknown_device_are_404(api_client):
    response = api_client.get("/api/execution-logs/no-such-device")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.django_db
def test_device_logs_run_the_same_queries_for_few_and_many(api_client, device):
    append_logs(device, 5)
    few = queries_for(lambda: api_client.get(f"/api/execution-logs/{device.pk}/", {"page_size": 500}))
    append_logs(device, 95)
    many = queries_for(lambda: api_client.get(f"/api/execution-logs/{device.pk}/", {"page_size": 500}))
    assert few == many


@pytest.mark.django_db
def test_search_and_export_are_not_taken_for_device_ids(api_client, device):
    append_log(device)
    assert api_client.get("/api/execution-logs/search", {"start": "2000-01-01", "end": "2100-01-01"}).status_code == 200
    assert api_client.get("/api/execution-logs/export").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", ["/api/execution-logs", "/api/execution-logs/search", "/api/execution-logs/export"])
def test_writes_are_405_in_the_error_format(api_client, device, method, path):
    entry = append_log(device)
    response = getattr(api_client, method)(path, {"status": "error"}, format="json")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    device_response = getattr(api_client, method)(f"/api/execution-logs/{device.pk}", {}, format="json")
    assert device_response.status_code == 405
    assert ExecutionLog.objects.get(pk=entry.pk).status == "success"


@pytest.mark.django_db
def test_a_viewer_can_read_every_log_endpoint(device):
    viewer = UserFactory(username="auditor")
    viewer.groups.add(Group.objects.get(name="viewer"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_issue(user=viewer, name='t')[1]}")
    append_log(device)
    for path in [
        "/api/execution-logs",
        f"/api/execution-logs/{device.pk}",
        "/api/execution-logs/search?start=2000-01-01&end=2100-01-01",
        "/api/execution-logs/export",
        "/api/cell-analysis-results",
    ]:
        assert client.get(path).status_code == 200, path
    assert client.post("/api/execution-logs", {}, format="json").status_code == 405


@pytest.mark.django_db
def test_logs_need_authentication(anonymous_client):
    assert anonymous_client.get("/api/execution-logs").status_code == 401
    assert anonymous_client.post("/api/execution-logs").status_code == 401


@pytest.mark.django_db
def test_the_fast_serializer_renders_what_drf_would(device):
    from rest_framework import serializers

    from executionlogs.api.serializers import ExecutionLogSerializer

    user = UserFactory()
    entry = append_log(device, user=user, workflow=WorkflowFactory(), response=None, status="unknown", latency_ms=None)
    plain = append_log(device, request={"nested": [1, {"a": None}]}, latency_ms=3)
    for stored in ExecutionLog.objects.select_related("user").filter(pk__in=[entry.pk, plain.pk]):
        fast = ExecutionLogSerializer(stored).data
        generic = serializers.ModelSerializer.to_representation(ExecutionLogSerializer(), stored)
        assert dict(fast) == dict(generic)


@pytest.mark.django_db
def test_ordering_minus_started_at_lists_newest_first_across_pages(api_client, device):
    append_logs(device, 12)
    newest_first = list(ExecutionLog.objects.order_by("-started_at", "-id").values_list("id", flat=True))
    assert walk(api_client, "/api/execution-logs", {"ordering": "-started_at", "page_size": 5}) == newest_first
    assert walk(api_client, f"/api/execution-logs/{device.pk}", {"ordering": "-started_at"}) == newest_first


@pytest.mark.django_db
def test_an_unknown_ordering_is_400_naming_it(api_client):
    response = api_client.get("/api/execution-logs", {"ordering": "latency_ms"})
    assert response.status_code == 400
    assert response.json()["fields"] == {"ordering": ["use started_at or -started_at"]}
