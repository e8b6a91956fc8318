"""Request and response examples of every API operation, added to the schema by a postprocessing hook.

The examples are data: one JSON file per app (devices, samples, workflows, executionlogs), keyed
by operationId, copied from real responses of the seeded demo lab (see docs/decisions.md,
"OpenAPI examples"). Each operation maps to::

    {"parameters": {NAME: VALUE},
     "request": {KEY: {"summary": ..., "value": ...}},
     "responses": {STATUS: {KEY: {"summary": ..., "value": ..., "media_type"?: ...}}}}

``parameters`` are the path and query values of the request that gave the first success
example (so Swagger's "Try it out" starts from them); ``media_type`` defaults to
application/json. tests/labcore/test_openapi_examples.py checks that every operation has them
and that each one validates against its operation's own schema.
"""

import copy
import json
from functools import cache
from pathlib import Path

from drf_spectacular.drainage import warn

EXAMPLE_FILES = ("devices.json", "samples.json", "workflows.json", "executionlogs.json")
JSON = "application/json"
METHODS = {"get", "post", "put", "patch", "delete"}


@cache
def operation_examples() -> dict[str, dict]:
    """Every operation's examples, by operationId (read once per process)."""
    examples: dict[str, dict] = {}
    for name in EXAMPLE_FILES:
        for operation_id, spec in json.loads((Path(__file__).parent / name).read_text()).items():
            if operation_id in examples:
                raise ValueError(f"{name}: examples of {operation_id} are defined twice")
            examples[operation_id] = spec
    return examples


def _example_object(example: dict) -> dict:
    # A copy: the loaded examples are cached for the process and must not be shared with a schema.
    return {key: copy.deepcopy(value) for key, value in example.items() if key != "media_type"}


def _add_parameter_examples(operation: dict, values: dict) -> None:
    parameters = {parameter["name"]: parameter for parameter in operation.get("parameters", [])}
    for name, value in values.items():
        if name not in parameters:
            warn(f"examples of {operation['operationId']}: it has no parameter {name!r}")
            continue
        parameters[name]["example"] = value


def _add_request_examples(operation: dict, examples: dict) -> None:
    content = operation.get("requestBody", {}).get("content", {})
    if JSON not in content:
        warn(f"examples of {operation['operationId']}: the operation takes no JSON request body")
        return
    content[JSON]["examples"] = {key: _example_object(example) for key, example in examples.items()}


def _add_response_examples(operation: dict, status: str, examples: dict) -> None:
    response = operation.get("responses", {}).get(status)
    if response is None or "content" not in response:
        warn(f"examples of {operation['operationId']}: no {status} response with a body to illustrate")
        return
    # add_error_responses shares one content object between every operation's error responses:
    # copy it so this operation's examples stay its own.
    response["content"] = copy.deepcopy(response["content"])
    for key, example in examples.items():
        media_type = example.get("media_type", JSON)
        if media_type not in response["content"]:
            warn(f"examples of {operation['operationId']}: its {status} response has no {media_type} content")
            continue
        response["content"][media_type].setdefault("examples", {})[key] = _example_object(example)


def add_examples(result, generator, request, public):
    """Postprocessing hook: attach each operation's request and response examples."""
    examples = operation_examples()
    seen = set()
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            spec = examples.get(operation.get("operationId")) if method in METHODS else None
            if spec is None:
                continue
            seen.add(operation["operationId"])
            _add_parameter_examples(operation, spec.get("parameters", {}))
            if "request" in spec:
                _add_request_examples(operation, spec["request"])
            for status, response_examples in spec.get("responses", {}).items():
                _add_response_examples(operation, status, response_examples)
    for operation_id in sorted(set(examples) - seen):
        warn(f"examples are defined for {operation_id}, which is not an operation of the schema")
    return result
