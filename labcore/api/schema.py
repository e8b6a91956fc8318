"""OpenAPI post-processing: document the error responses every operation can give.

drf-spectacular documents success responses from serializers; errors come from the one
exception handler, so they are added here once, with the shared Error schema.
"""

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "Machine-readable code, e.g. conflict, not_found."},
        "detail": {"type": "string", "description": "What went wrong, for people."},
        "fields": {
            "type": "object",
            "additionalProperties": {},
            "description": "For validation errors: each offending field and its messages.",
        },
    },
    "required": ["error", "detail"],
}

ERROR_DESCRIPTIONS = {
    "400": "Invalid input; `fields` names the offending fields.",
    "401": "Missing, invalid, expired or revoked token.",
    "403": "The user's role does not allow this.",
    "404": "An id that names nothing.",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "409": "The current state forbids this (busy device, published protocol, ...).",
    "415": "Unsupported media type.",
    "429": "Too many requests; see Retry-After.",
}
PUBLIC_PATHS = {"/api/schema/", "/api/docs/"}


def add_error_responses(result, generator, request, public):
    """Add the Error component and the error responses to every operation."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_DESCRIPTIONS.items():
                if status in {"401", "403"} and path in PUBLIC_PATHS:
                    continue
                responses.setdefault(status, {"description": description, "content": error_ref})
    return result
