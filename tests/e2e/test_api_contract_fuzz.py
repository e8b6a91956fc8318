"""Schemathesis fuzzes every operation of the OpenAPI schema, authenticated as a superuser.

It fails on any 5xx, any response that does not match its documented schema, any status
code or content type the schema does not document. The examples per operation are set by
LABCORE_FUZZ_EXAMPLES (default 25).
"""

import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import token_issue
from tests.factories import UserFactory

EXAMPLES = int(os.environ.get("LABCORE_FUZZ_EXAMPLES", 25))


@pytest.fixture(autouse=True)
def keep_the_test_connection_open():
    """Like Django's test client: the request signals must not close the test transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_headers(demo_lab):
    user = UserFactory(username="fuzzer", is_staff=True, is_superuser=True)
    _, key = token_issue(user=user, name="fuzz")
    return {"Authorization": f"Bearer {key}", "Host": "localhost"}


# Loaded at collection time: pytest-django has configured Django (test settings) by then, and
# the schema view needs no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
@pytest.mark.django_db
def test_every_operation_honours_its_contract(case, fuzz_headers):
    response = case.call(headers=fuzz_headers)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code}"
    case.validate_response(
        response,
        checks=[
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
            response_headers_conformance,
        ],
    )
