"""``POST /api/devices`` and ``PATCH /api/devices/{id}``: integrators onboard instruments without the admin."""

import pytest

from devices.models import Device
from devices.services import booking_create
from tests.factories import DeviceFactory, WorkflowFactory

pytestmark = pytest.mark.django_db

SILA_INCUBATOR = {
    "id": "incubator-2",
    "name": "SiLA incubator",
    "kind": "incubator",
    "adapter": "sila2",
    "config": {"host": "127.0.0.1", "port": 50052, "insecure": True},
    "capacity": 12,
}


def test_an_integrator_registers_a_sila_instrument(api_client):
    response = api_client.post("/api/devices", SILA_INCUBATOR, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["id"], body["adapter"], body["capacity"], body["slots_in_use"]) == ("incubator-2", "sila2", 12, 0)
    assert Device.objects.get(pk="incubator-2").config["port"] == 50052


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"config": {"host": "127.0.0.1"}}, "config.port"),
        ({"kind": "teleporter"}, "kind"),
        ({"capacity": 0}, "capacity"),
        ({"id": "bad id!"}, "id"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_fields_are_400s_naming_them_and_nothing_is_written(api_client, change, field):
    response = api_client.post("/api/devices", {**SILA_INCUBATOR, **change}, format="json")
    assert response.status_code == 400 and field in response.json()["fields"], response.json()
    assert not Device.objects.filter(pk=change.get("id", "incubator-2")).exists()


def test_a_taken_id_is_a_409(api_client):
    DeviceFactory(id="incubator-2")
    response = api_client.post("/api/devices", SILA_INCUBATOR, format="json")
    assert response.status_code == 409 and "id" in response.json()["fields"]


def test_patch_changes_config_and_capacity_but_not_below_the_active_bookings(api_client):
    device = DeviceFactory(id="shared-incubator", kind="incubator", capacity=3)
    for _ in range(2):
        booking_create(device=device, workflow=WorkflowFactory())
    grown = api_client.patch("/api/devices/shared-incubator", {"capacity": 10, "name": "Big one"}, format="json")
    assert grown.status_code == 200 and (grown.json()["capacity"], grown.json()["name"]) == (10, "Big one")
    shrunk = api_client.patch("/api/devices/shared-incubator", {"capacity": 1}, format="json")
    assert shrunk.status_code == 409 and "capacity" in shrunk.json()["fields"]
    assert Device.objects.get(pk="shared-incubator").capacity == 10
    renamed = api_client.patch("/api/devices/shared-incubator", {"id": "other"}, format="json")
    assert renamed.status_code == 400 and "id" in renamed.json()["fields"]
    assert api_client.patch("/api/devices/nope", {"name": "x"}, format="json").status_code == 404
