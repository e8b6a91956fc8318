"""The whole matrix: every role against every operation of the OpenAPI schema.

``EXPECTED`` names, for each operation, the capability it needs. The first test keeps the table
honest: an endpoint added to the API without a row here fails the suite, so no endpoint can
escape the matrix. Then, for each role, every operation is called: a role that has the
capability must never get 401 or 403 (it may get 400, 404 or 409 on the bodies sent here), a
role that lacks it gets 403, and a request without a token gets 401.
"""

import re

import pytest
from django.contrib.auth.models import Group
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts.roles import (
    CONTROL_WORKFLOWS,
    EDIT_DEFINITIONS,
    INTEGRATOR,
    OPERATE_DEVICES,
    OPERATOR,
    READ,
    REGISTER_SAMPLES,
    ROLE_CAPABILITIES,
    RUN_WORKFLOWS,
    SCIENTIST,
    VIEWER,
)
from accounts.services import token_issue
from tests.factories import UserFactory

# (method, schema path) -> capability needed.
EXPECTED = {
    ("get", "/api/action-types/"): READ,
    ("post", "/api/action-types/"): EDIT_DEFINITIONS,
    ("get", "/api/action-types/{name}/"): READ,
    ("put", "/api/action-types/{name}/"): EDIT_DEFINITIONS,
    ("patch", "/api/action-types/{name}/"): EDIT_DEFINITIONS,
    ("get", "/api/bookings/"): READ,
    ("get", "/api/bookings/{id}/"): READ,
    ("get", "/api/campaigns/"): READ,
    ("post", "/api/campaigns/"): RUN_WORKFLOWS,
    ("get", "/api/campaigns/{id}/"): READ,
    ("get", "/api/campaigns/{id}/growth/"): READ,
    ("get", "/api/cell-analysis-results/"): READ,
    ("get", "/api/cell-analysis-results/{id}/"): READ,
    ("get", "/api/devices/"): READ,
    ("post", "/api/devices/"): OPERATE_DEVICES,
    ("get", "/api/devices/{id}/"): READ,
    ("patch", "/api/devices/{id}/"): OPERATE_DEVICES,
    ("post", "/api/devices/{id}/book/"): OPERATE_DEVICES,
    ("post", "/api/devices/{id}/execute/"): OPERATE_DEVICES,
    ("get", "/api/devices/{id}/queue/"): READ,
    ("post", "/api/devices/{id}/queue/"): OPERATE_DEVICES,
    ("delete", "/api/devices/{id}/queue/{entry_id}/"): OPERATE_DEVICES,
    ("post", "/api/devices/{id}/release/"): OPERATE_DEVICES,
    ("get", "/api/devices/{id}/wait-time/"): READ,
    ("get", "/api/execution-logs/"): READ,
    ("get", "/api/execution-logs/{device_id}/"): READ,
    ("get", "/api/execution-logs/export/"): READ,
    ("get", "/api/execution-logs/search/"): READ,
    ("get", "/api/projects/"): READ,
    ("post", "/api/projects/"): EDIT_DEFINITIONS,
    ("get", "/api/projects/{id}/"): READ,
    ("put", "/api/projects/{id}/"): EDIT_DEFINITIONS,
    ("patch", "/api/projects/{id}/"): EDIT_DEFINITIONS,
    ("get", "/api/protocols/"): READ,
    ("post", "/api/protocols/"): EDIT_DEFINITIONS,
    ("get", "/api/protocols/{id}/"): READ,
    ("put", "/api/protocols/{id}/"): EDIT_DEFINITIONS,
    ("patch", "/api/protocols/{id}/"): EDIT_DEFINITIONS,
    ("post", "/api/protocols/{id}/new-version/"): EDIT_DEFINITIONS,
    ("post", "/api/protocols/{id}/publish/"): EDIT_DEFINITIONS,
    ("get", "/api/protocols/{id}/signatures/"): READ,
    ("post", "/api/protocols/{id}/signatures/"): EDIT_DEFINITIONS,
    ("get", "/api/plates/"): READ,
    ("post", "/api/plates/"): REGISTER_SAMPLES,
    ("get", "/api/plates/{barcode}/"): READ,
    ("get", "/api/samples/"): READ,
    ("post", "/api/samples/"): REGISTER_SAMPLES,
    ("get", "/api/samples/{barcode}/"): READ,
    ("get", "/api/samples/{barcode}/growth/"): READ,
    ("post", "/api/samples/validate/"): READ,
    ("get", "/api/workflows/"): READ,
    ("post", "/api/workflows/"): RUN_WORKFLOWS,
    ("get", "/api/workflows/{id}/"): READ,
    ("get", "/api/workflows/{id}/events/"): READ,
    ("get", "/api/workflows/{id}/report/"): READ,
    ("get", "/api/workflows/{id}/signatures/"): READ,
    ("post", "/api/workflows/{id}/signatures/"): RUN_WORKFLOWS,
    ("get", "/api/schedule/"): READ,
    ("post", "/api/workflows/{id}/start/"): RUN_WORKFLOWS,
    ("post", "/api/workflows/{id}/pause/"): CONTROL_WORKFLOWS,
    ("post", "/api/workflows/{id}/resume/"): CONTROL_WORKFLOWS,
    ("post", "/api/workflows/{id}/cancel/"): CONTROL_WORKFLOWS,
    ("post", "/api/workflows/{id}/resolve/"): CONTROL_WORKFLOWS,
    ("post", "/api/workflows/{id}/complete/"): CONTROL_WORKFLOWS,
    ("post", "/api/workflows/{id}/execute-step/"): CONTROL_WORKFLOWS,
}


def schema_operations() -> set[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        (method, path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }


def test_the_matrix_names_every_operation_of_the_api():
    operations = schema_operations()
    assert operations - EXPECTED.keys() == set(), "operations missing from EXPECTED"
    assert EXPECTED.keys() - operations == set(), "EXPECTED names operations the API no longer has"


@pytest.fixture
def path_values(demo_lab):
    """A real object for every path parameter, so permitted reads answer 200."""
    from devices.models import Device
    from devices.services import booking_create, queue_entry_create
    from executionlogs.models import CellAnalysisResult
    from executionlogs.services import execution_log_create
    from samples.models import Sample
    from workflows.models import Campaign, Protocol, Workflow

    protocol = Protocol.objects.get(name__startswith="MSC passage")
    campaign = Campaign.objects.create(name="matrix", protocol=protocol)
    holder = Workflow.objects.create(name="holder", device_id="plate-reader-1")
    waiting = Workflow.objects.create(name="waiting", device_id="plate-reader-1")
    device = Device.objects.get(pk="plate-reader-1")
    booking = booking_create(device=device, workflow=holder)
    entry = queue_entry_create(device=device, workflow=waiting, priority=1)
    log = execution_log_create(
        device=device, action_type="vision.analyse", request={}, response={}, status="success", latency_ms=1.0
    )
    result = CellAnalysisResult.objects.create(
        sample=Sample.objects.get(barcode="SAMPLE001"), execution_log=log, cell_count=1, confluence=1, viability=1
    )
    query = {
        "/api/devices/plate-reader-1/wait-time/": {"workflow_id": waiting.pk},
        "/api/execution-logs/search/": {"start": "2020-01-01", "end": "2100-01-01"},
    }
    by_prefix = {
        "/api/devices/": "plate-reader-1",
        "/api/workflows/": str(waiting.pk),
        "/api/protocols/": str(protocol.pk),
        "/api/projects/": str(protocol.project_id),
        "/api/bookings/": str(booking.pk),
        "/api/campaigns/": str(campaign.pk),
        "/api/cell-analysis-results/": str(result.pk),
    }
    named = {
        "barcode": {"/api/plates/": "PLATE-01", "/api/samples/": "SAMPLE001"},
        "name": "robot.aspirate",
        "device_id": "plate-reader-1",
        "entry_id": str(entry.pk),
    }
    return by_prefix, named, query


def concrete(path: str, path_values) -> str:
    by_prefix, named, _ = path_values

    def value(match):
        if match.group(1) in named:
            found = named[match.group(1)]
            # A name used under several prefixes ({barcode} of plates and of samples) maps by prefix.
            return next(v for p, v in found.items() if path.startswith(p)) if isinstance(found, dict) else found
        return next(v for prefix, v in by_prefix.items() if path.startswith(prefix))

    return re.sub(r"\{([^}]+)\}", value, path)


def client_for(role: str | None) -> APIClient:
    client = APIClient()
    if role is not None:
        user = UserFactory(username=f"matrix-{role}")
        user.groups.set([Group.objects.get(name=role)])
        _, key = token_issue(user=user, name="matrix")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def call(client: APIClient, method: str, path: str, path_values):
    path = concrete(path, path_values)
    if method == "get":
        return client.get(path, path_values[2].get(path, {}))
    return getattr(client, method)(path, {}, format="json")


@pytest.mark.django_db
@pytest.mark.parametrize("role", [SCIENTIST, OPERATOR, INTEGRATOR, VIEWER])
def test_each_role_may_do_exactly_what_its_capabilities_allow(role, path_values):
    client = client_for(role)
    wrong = []
    for (method, path), capability in sorted(EXPECTED.items()):
        response = call(client, method, path, path_values)
        allowed = capability in ROLE_CAPABILITIES[role]
        if allowed and response.status_code in (401, 403):
            wrong.append(f"{method.upper()} {path}: {response.status_code}, expected access ({capability})")
        if not allowed and response.status_code != 403:
            wrong.append(f"{method.upper()} {path}: {response.status_code}, expected 403 (needs {capability})")
        if allowed and method == "get" and response.status_code != 200:
            wrong.append(f"GET {path}: {response.status_code}, expected 200")
    assert wrong == []


@pytest.mark.django_db
def test_no_token_gets_401_everywhere(path_values):
    client = client_for(None)
    statuses = {(m, p): call(client, m, p, path_values).status_code for m, p in EXPECTED}
    assert set(statuses.values()) == {401}, statuses
