"""Every operation carries examples, and each example validates against its operation's own schema.

The schema is OpenAPI 3.0, so it is turned into plain JSON Schema first: ``$ref``s point into
the components, ``nullable: true`` becomes "or null", and an object schema that lists its
properties is closed (``additionalProperties: false``) so an example cannot show a field the
API does not have. Formats the API uses (date-time, uri, uuid) are checked too.
"""

import json
import uuid
from datetime import datetime
from urllib.parse import urlsplit

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from jsonschema import Draft4Validator, FormatChecker

from labcore.api.examples import operation_examples

METHODS = ("get", "post", "put", "patch", "delete")
SCHEMA_MAPS = ("properties", "patternProperties", "$defs")
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
SCHEMA_VALUES = ("items", "additionalProperties", "not")
OPENAPI_ONLY = {"nullable", "readOnly", "writeOnly", "example", "examples", "discriminator", "xml", "deprecated"}


def openapi_schema() -> dict:
    """The schema as /api/schema/ serves it (hooks applied), through JSON like a client reads it."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema, renderer_context={}))


SCHEMA = openapi_schema()


def operations():
    for path, path_item in SCHEMA["paths"].items():
        for method in METHODS:
            if method in path_item:
                yield f"{method.upper()} {path}", path_item[method]


def to_json_schema(node):
    """One OpenAPI 3.0 schema object as JSON Schema (draft 4, which OpenAPI 3.0 extends)."""
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        converted = {"$ref": node["$ref"].replace("#/components/schemas/", "#/$defs/")}
    else:
        converted = {}
        for key, value in node.items():
            if key in OPENAPI_ONLY:
                continue
            if key in SCHEMA_MAPS:
                converted[key] = {name: to_json_schema(sub) for name, sub in value.items()}
            elif key in SCHEMA_LISTS:
                converted[key] = [to_json_schema(sub) for sub in value]
            elif key in SCHEMA_VALUES:
                converted[key] = to_json_schema(value)
            else:
                converted[key] = value
        if "properties" in converted and "additionalProperties" not in converted:
            converted["additionalProperties"] = False
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def is_date_time(value):
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


@FORMATS.checks("uri")
def is_uri(value):
    return not isinstance(value, str) or bool(urlsplit(value).scheme and urlsplit(value).netloc)


@FORMATS.checks("uuid", raises=ValueError)
def is_uuid(value):
    return not isinstance(value, str) or bool(uuid.UUID(value))


DEFINITIONS = {name: to_json_schema(schema) for name, schema in SCHEMA["components"]["schemas"].items()}


def example_errors(schema: dict, value) -> list[str]:
    validator = Draft4Validator({**to_json_schema(schema), "$defs": DEFINITIONS}, format_checker=FORMATS)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in validator.iter_errors(value)
    ]


def every_example():
    """(test id, schema, example value) for each parameter, request and response example of the schema."""
    for name, operation in operations():
        for parameter in operation.get("parameters", []):
            if "example" in parameter:
                yield f"{name} parameter {parameter['name']}", parameter["schema"], parameter["example"]
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
            for key, example in content.get("examples", {}).items():
                yield f"{name} request {media_type} {key}", content["schema"], example["value"]
        for status, response in operation["responses"].items():
            for media_type, content in response.get("content", {}).items():
                for key, example in content.get("examples", {}).items():
                    yield f"{name} {status} {media_type} {key}", content["schema"], example["value"]


EXAMPLES = list(every_example())


def test_every_operation_has_an_example_of_each_success_response_and_request_body():
    missing = []
    for name, operation in operations():
        success = {status: response for status, response in operation["responses"].items() if status.startswith("2")}
        if not any("content" in response for response in success.values()):
            # Only a bodiless answer (204 No Content) may go without a success example.
            assert set(success) == {"204"}, f"{name}: no success response with a body"
        for status, response in success.items():
            for media_type, content in response.get("content", {}).items():
                if not content.get("examples"):
                    missing.append(f"{name} {status} {media_type}")
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
            if not content.get("examples"):
                missing.append(f"{name} request body {media_type}")
    assert missing == []


def test_every_example_names_a_real_operation():
    operation_ids = {operation["operationId"] for _, operation in operations()}
    assert set(operation_examples()) == operation_ids


def test_the_examples_cover_error_responses_with_the_shared_error_shape():
    error_examples = [example for example in EXAMPLES if example[0].split()[2][0] == "4"]
    assert len(error_examples) >= 40
    assert all(schema == {"$ref": "#/components/schemas/Error"} for _, schema, _ in error_examples)


@pytest.mark.parametrize(("schema", "value"), [example[1:] for example in EXAMPLES], ids=[e[0] for e in EXAMPLES])
def test_example_validates_against_its_schema(schema, value):
    assert example_errors(schema, value) == []


def test_each_line_of_the_ndjson_export_example_is_an_execution_log_entry():
    export = SCHEMA["paths"]["/api/execution-logs/export/"]["get"]["responses"]["200"]["content"]
    examples = export["application/x-ndjson"]["examples"].values()
    lines = [line for example in examples for line in example["value"].splitlines()]
    assert lines
    for line in lines:
        assert example_errors({"$ref": "#/components/schemas/ExecutionLog"}, json.loads(line)) == []


def test_a_wrong_example_is_caught():
    """The check itself: each kind of mistake an example could make is reported."""
    device = DEFINITIONS["Device"]
    good = {
        "id": "liquid-handler-1",
        "name": "Liquid handler 1",
        "kind": "liquid_handler",
        "status": "available",
        "adapter": "mock",
        "endpoint": "",
        "config": {},
        "holder_workflow_id": None,
        "capacity": 1,
        "slots_in_use": 0,
        "updated_at": "2026-11-24T09:57:08.898756Z",
    }
    assert example_errors(device, good) == []
    assert example_errors(device, {**good, "status": "on_fire"})  # not in the enum
    assert example_errors(device, {**good, "holder": 42})  # a field the API does not have
    assert example_errors(
        device, {key: value for key, value in good.items() if key != "kind"}
    )  # a required one missing
    assert example_errors(device, {**good, "updated_at": "yesterday"})  # not a date-time
    assert example_errors(device, {**good, "name": None})  # null where the schema does not allow it
    assert example_errors({"$ref": "#/components/schemas/Error"}, {"detail": "no error code"})


@pytest.mark.django_db
def test_the_served_schema_carries_the_examples(anonymous_client):
    served = anonymous_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    operation = json.loads(served.content)["paths"]["/api/devices/{id}/book/"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["examples"]["book"]["value"] == {"workflow_id": 2}
    assert "busy" in operation["responses"]["409"]["content"]["application/json"]["examples"]
