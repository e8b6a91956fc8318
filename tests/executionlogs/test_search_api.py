"""GET /api/execution-logs/search?start=&end=: a half-open time range on started_at."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.executionlogs.conftest import append_log

SEARCH = "/api/execution-logs/search"


@pytest.fixture
def january(device):
    """Entries on 31 Dec, 1 Jan (two), 2 Jan at midnight and 3 Jan."""
    return {
        label: append_log(device, started_at=datetime(*when, tzinfo=UTC))
        for label, when in {
            "dec31": (2024, 12, 31, 23, 59, 59),
            "jan1_midnight": (2025, 1, 1, 0, 0, 0),
            "jan1_noon": (2025, 1, 1, 12, 0, 0),
            "jan2_midnight": (2025, 1, 2, 0, 0, 0),
            "jan3": (2025, 1, 3, 8, 0, 0),
        }.items()
    }


def ids(response):
    assert response.status_code == 200, response.content
    return [entry["id"] for entry in response.json()["results"]]


@pytest.mark.django_db
def test_dates_mean_midnight_utc_and_the_end_is_exclusive(api_client, january):
    found = ids(api_client.get(SEARCH, {"start": "2025-01-01", "end": "2025-01-02"}))
    assert found == [january["jan1_midnight"].pk, january["jan1_noon"].pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "start, end, expected",
    [
        ("2025-01-01T12:00:00Z", "2025-01-02T00:00:00.000001Z", ["jan1_noon", "jan2_midnight"]),
        ("2025-01-01T13:00:00+01:00", "2025-01-01T13:00:01+01:00", ["jan1_noon"]),
        ("2025-01-01T12:00:00", "2025-01-01T12:00:01", ["jan1_noon"]),  # no offset: UTC
        ("2024-12-31T23:59:59Z", "2025-01-01", ["dec31"]),
        ("2025-01-02", "2025-01-02", []),
    ],
)
def test_datetimes_with_and_without_offsets(api_client, january, start, end, expected):
    assert ids(api_client.get(SEARCH, {"start": start, "end": end})) == [january[label].pk for label in expected]


@pytest.mark.django_db
def test_search_pages_by_cursor_and_takes_the_list_filters(api_client, january, device):
    page = api_client.get(SEARCH, {"start": "2024-01-01", "end": "2026-01-01", "page_size": 2}).json()
    second = api_client.get(page["next"]).json()
    third = api_client.get(second["next"]).json()
    walked = [entry["id"] for entry in page["results"] + second["results"] + third["results"]]
    assert walked == [entry.pk for entry in january.values()] and third["next"] is None
    append_log(device, started_at=datetime(2025, 1, 1, 6, tzinfo=UTC), status="error")
    errors = api_client.get(SEARCH, {"start": "2025-01-01", "end": "2025-01-02", "status": "error"}).json()
    assert len(errors["results"]) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params, field",
    [
        ({"start": "yesterday", "end": "2025-01-02"}, "start"),
        ({"start": "2025-01-01", "end": "2025-13-01"}, "end"),
        ({"start": "2025-02-30", "end": "2025-03-01"}, "start"),
        ({"start": "2025-01-01T25:00:00", "end": "2025-01-02"}, "start"),
        ({"start": "2025-01-01", "end": "2025-01-02T10:00:00+99:00"}, "end"),
        ({"start": "0001-01-01T00:00:00+05:00", "end": "2025-01-02"}, "start"),
        ({"start": "", "end": "2025-01-02"}, "start"),
        ({"end": "2025-01-02"}, "start"),
        ({"start": "2025-01-02"}, "end"),
        ({"start": "2025-01-03", "end": "2025-01-02"}, "start"),
    ],
)
def test_bad_search_parameters_are_400_naming_the_parameter(api_client, params, field):
    response = api_client.get(SEARCH, params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "invalid"
    assert field in body["fields"]
    assert field in body["detail"]


@pytest.mark.django_db
def test_start_after_end_says_so(api_client):
    response = api_client.get(SEARCH, {"start": "2025-01-03", "end": "2025-01-02T00:00:00Z"})
    assert response.json()["fields"]["start"] == [
        "start (2025-01-03T00:00:00+00:00) is after end (2025-01-02T00:00:00+00:00)."
    ]


@pytest.mark.django_db
def test_offsets_postgresql_would_refuse_are_converted_first(api_client, january):
    found = ids(api_client.get(SEARCH, {"start": "2025-01-02T05:59:00+17:59", "end": "2025-01-02T12:00:00+00:00"}))
    assert found == [january["jan1_noon"].pk, january["jan2_midnight"].pk]


@pytest.mark.django_db
def test_search_runs_the_same_queries_for_5_and_500_entries(api_client, device):
    from tests.executionlogs.conftest import append_logs
    from tests.utils import queries_for

    start = datetime(2025, 6, 1, tzinfo=UTC)
    params = {"start": "2025-06-01", "end": "2025-06-02", "page_size": 500}
    append_logs(device, 5, start=start)
    few = queries_for(lambda: api_client.get(SEARCH, params))
    append_logs(device, 495, start=start + timedelta(seconds=10), step=timedelta(milliseconds=100))
    holder = {}
    many = queries_for(lambda: holder.update(r=api_client.get(SEARCH, params)))
    assert few == many
    assert len(holder["r"].json()["results"]) == 500
