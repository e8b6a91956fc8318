"""The OpenAPI schema validates with no warning, and documents the error format."""

from io import StringIO

import pytest
import yaml
from django.core.management import call_command


def test_spectacular_validates_with_no_warning(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target), stdout=StringIO())
    schema = yaml.safe_load(target.read_text())
    assert schema["openapi"].startswith("3.")


@pytest.mark.django_db
def test_every_operation_documents_its_error_responses(anonymous_client):
    schema = yaml.safe_load(anonymous_client.get("/api/schema/").content)
    assert "Error" in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert {"400", "404", "409"} <= set(operation["responses"]), f"{method} {path}"
