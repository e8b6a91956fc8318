"""The one place API errors become JSON: ``{"error", "detail", "fields"?}``.

``error`` is a stable machine-readable code, ``detail`` a sentence for people, and ``fields``
maps each offending field to its messages for validation errors.
"""

import re

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from kombu.exceptions import OperationalError as BrokerUnreachable
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from labcore.exceptions import ApplicationError

UNIQUE_VIOLATION = "23505"  # PostgreSQL SQLSTATE

ERROR_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    415: "unsupported_media_type",
    429: "throttled",
    503: "unavailable",
}
# A backing service (the broker, the cache) that cannot be reached: the client should try again
# later, so 503 with Retry-After, never a 500. Writes that only enqueue a task do not get here
# (workflows.services.enqueue drops the send and the recovery scan sends it later).
SERVICE_UNREACHABLE = (BrokerUnreachable, RedisConnectionError, RedisTimeoutError)
RETRY_AFTER_SECONDS = 30


def error_body(error: str, detail: str, fields: dict | None = None) -> dict:
    body = {"error": error, "detail": detail}
    if fields:
        body["fields"] = fields
    return body


def _flatten_detail(detail) -> str:
    if isinstance(detail, list | tuple):
        return " ".join(_flatten_detail(item) for item in detail)
    if isinstance(detail, dict):
        return " ".join(f"{key}: {_flatten_detail(value)}" for key, value in detail.items())
    return str(detail)


def _unique_violation_body(exc: IntegrityError) -> dict:
    """409 body naming the fields of the unique key, from PostgreSQL's "Key (a, b)=(...)" detail."""
    detail = getattr(getattr(exc.__cause__, "diag", None), "message_detail", None) or ""
    match = re.match(r"Key \((?P<columns>[^)]*)\)=", detail)
    columns = [column.strip().strip('"') for column in match["columns"].split(",")] if match else []
    fields = {column.removesuffix("_id"): ["already exists"] for column in columns}
    message = "It already exists: " + (", ".join(fields) if fields else "a unique value") + " is taken."
    return error_body(ERROR_CODES[409], message, fields)


def exception_handler(exc, context):
    if isinstance(exc, SERVICE_UNREACHABLE):
        set_rollback()
        response = Response(
            error_body(ERROR_CODES[503], f"A backing service is unreachable ({type(exc).__name__}); try again later."),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.error, exc.message, exc.fields), status=exc.status_code)
    if isinstance(exc, IntegrityError) and getattr(exc.__cause__, "sqlstate", None) == UNIQUE_VIOLATION:
        # Services check uniqueness with full_clean first; this is the race that check cannot
        # see (two requests creating the same name at once): the loser gets a 409, not a 500.
        set_rollback()
        return Response(_unique_violation_body(exc), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent | SuspiciousOperation):
        exc = exceptions.ParseError(f"Request rejected: {exc}")
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: let Django log it and answer 500

    code = ERROR_CODES.get(response.status_code, "error")
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            fields = {key: value for key, value in detail.items() if key != "non_field_errors"}
            general = detail.get("non_field_errors")
            message = _flatten_detail(general) if general else "Invalid input: " + ", ".join(fields) + "."
            response.data = error_body(code, message, fields)
        else:
            response.data = error_body(code, _flatten_detail(detail))
    else:
        response.data = error_body(code, _flatten_detail(getattr(exc, "detail", str(exc))))
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response
