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
    INTEGRATOR,
    OPERATOR,
    READ,
    ROLE_CAPABILITIES,
    SCIENTIST,
    VIEWER,
)
from accounts.services import token_issue
from tests.factories import UserFactory

# (method, schema path) -> capability needed.
EXPECTED = {
    ("get", "/api/devices/"): READ,
    ("get", "/api/devices/{id}/"): READ,
    ("get", "/api/samples/"): READ,
    ("get", "/api/samples/{barcode}/"): READ,
    ("post", "/api/samples/validate/"): READ,
    ("get", "/api/workflows/"): READ,
    ("get", "/api/workflows/{id}/"): READ,
}

# Query strings that make a read meaningful (so a permitted read answers 200, not 400).
QUERY = {}


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
    from workflows.models import Protocol, Workflow

    protocol = Protocol.objects.get(name__startswith="MSC passage")
    workflow = Workflow.objects.create(name="matrix", device_id="liquid-handler-1")
    return {
        "/api/devices/": "liquid-handler-1",
        "/api/samples/": "SAMPLE001",
        "/api/workflows/": str(workflow.pk),
        "/api/protocols/": str(protocol.pk),
        "/api/projects/": str(protocol.project_id),
        "/api/execution-logs/": "liquid-handler-1",
    }


def concrete(path: str, path_values: dict) -> str:
    value = next((v for prefix, v in path_values.items() if path.startswith(prefix)), "1")
    return re.sub(r"\{[^}]+\}", value, path)


def client_for(role: str | None) -> APIClient:
    client = APIClient()
    if role is not None:
        user = UserFactory(username=f"matrix-{role}")
        user.groups.set([Group.objects.get(name=role)])
        _, key = token_issue(user=user, name="matrix")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def call(client: APIClient, method: str, path: str):
    if method == "get":
        return client.get(path, QUERY.get(path, {}))
    return getattr(client, method)(path, {}, format="json")


@pytest.mark.django_db
@pytest.mark.parametrize("role", [SCIENTIST, OPERATOR, INTEGRATOR, VIEWER])
def test_each_role_may_do_exactly_what_its_capabilities_allow(role, path_values):
    client = client_for(role)
    wrong = []
    for (method, path), capability in sorted(EXPECTED.items()):
        response = call(client, method, concrete(path, path_values))
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
    statuses = {(m, p): call(client, m, concrete(p, path_values)).status_code for m, p in EXPECTED}
    assert set(statuses.values()) == {401}, statuses
