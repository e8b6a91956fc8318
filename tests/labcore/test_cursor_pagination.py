"""A bad or forged cursor on any cursor-paginated list is a 400 naming ``cursor``, never a 500.

DRF's cursor is base64 of ``p=<position>``: a client can forge one whose position does not fit
the ordering field (text for an integer key, a NUL for a text key).
"""

import base64
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.django_db


def forged(position: str) -> str:
    return quote(base64.b64encode(f"p={position}".encode()).decode())


TEXT_KEYED = ["/api/devices", "/api/samples", "/api/action-types", "/api/projects"]
NUMBER_OR_TIME_KEYED = ["/api/bookings", "/api/protocols", "/api/workflows", "/api/devices/incubator-1/queue"]


def _is_invalid_cursor(response) -> bool:
    return response.status_code == 400 and response.json()["fields"] == {"cursor": ["Invalid cursor."]}


@pytest.mark.parametrize("path", TEXT_KEYED + NUMBER_OR_TIME_KEYED)
@pytest.mark.parametrize("cursor", ["garbage", forged("a%00b")])
def test_a_garbled_cursor_or_a_nul_position_is_a_400_naming_the_cursor(demo_lab, api_client, path, cursor):
    response = api_client.get(f"{path}?cursor={cursor}")
    assert _is_invalid_cursor(response), (path, response.status_code, response.content)


@pytest.mark.parametrize("path", NUMBER_OR_TIME_KEYED)
@pytest.mark.parametrize("position", ["x", "2025-13-45T99:00"])
def test_a_position_that_does_not_fit_the_key_is_a_400(demo_lab, api_client, path, position):
    response = api_client.get(f"{path}?cursor={forged(position)}")
    assert _is_invalid_cursor(response), (path, response.status_code, response.content)


@pytest.mark.parametrize("path", ["/api/samples", "/api/devices", "/api/workflows"])
def test_the_cursors_the_api_hands_out_still_page_through_everything(demo_lab, api_client, path):
    if path == "/api/workflows":
        for index in range(3):
            created = api_client.post(
                "/api/workflows",
                {"name": f"w{index}", "device_id": "liquid-handler-1", "steps": ["pipette_transfer"]},
                format="json",
            )
            assert created.status_code == 201
    everything = list(_all(api_client, f"{path}?page_size=100"))
    paged = list(_all(api_client, f"{path}?page_size=2"))
    assert paged == everything and len(paged) >= 3


def _all(client, url):
    while url:
        body = client.get(url).json()
        yield from body["results"]
        url = body["next"]
