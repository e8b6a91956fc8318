"""A NUL character in a URL is a 400 naming where it was, never a DataError 500 from PostgreSQL."""

import pytest
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

API_URLS = [
    ("/api/samples/%00", "path"),
    ("/api/samples/SAMPLE001%00/", "path"),
    ("/api/action-types/robot.aspirate%00", "path"),
    ("/api/execution-logs?device=%00", "device"),
    ("/api/samples?barcode=a%00", "barcode"),
]
ADMIN_URLS = [
    "/admin/devices/device/%00/change/",
    "/admin/devices/device/incubator-1%00/history/",
    "/admin/devices/device/?status__exact=%00",
    "/admin/devices/booking/?device__id__exact=%00",
    "/admin/executionlogs/executionlog/?device__id__exact=%00",
]


@pytest.mark.parametrize(("url", "field"), API_URLS)
def test_nul_in_an_api_url_is_a_400_naming_the_part(demo_lab, api_client, url, field):
    response = api_client.get(url)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "invalid"
    assert field in body["fields"]


@pytest.mark.parametrize("url", ADMIN_URLS)
def test_nul_in_an_admin_url_is_a_400(demo_lab, url):
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    assert client.get(url).status_code == 400


def test_a_plain_lookup_still_works(demo_lab, api_client):
    assert api_client.get("/api/samples/SAMPLE001").status_code == 200
