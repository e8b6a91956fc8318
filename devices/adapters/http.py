"""The http adapter: drives a device service over the JSON contract in docs/adapters.md.

``POST {endpoint}/actions`` runs an action (200) or starts a long one (202 + operation id);
``GET {endpoint}/operations/{id}`` reports a long one; ``GET {endpoint}/health``. Every failure
becomes a DispatchResult with a clear reason, never an exception. A request is only sent again
(same attempt id, with backoff) when the ActionType is safe to repeat and the failure was a
connection error or a 5xx: a read timeout or a 4xx is never retried, as the device may have acted.
"""

from __future__ import annotations

import json
import math
import threading
import time

import requests
from django.conf import settings

from devices.adapters.base import Adapter, DispatchResult, DispatchStatus
from devices.adapters.contract import FAILED, RUNNING, SUCCEEDED, action_request

CONNECT_TIMEOUT_SECONDS = 5.0
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF_SECONDS = 0.2
DEFAULT_POLL_SECONDS = 1.0
# Starting or polling a long operation is a quick exchange, whatever the operation's own timeout.
DEFAULT_REQUEST_TIMEOUT_SECONDS = 30.0
_BODY_EXCERPT = 300


class _Failure(Exception):
    """One failed exchange: its status, reason and whether sending it again is harmless."""

    def __init__(self, status: DispatchStatus, reason: str, *, transient: bool, http_status=None, body=None):
        super().__init__(reason)
        self.status, self.reason, self.transient = status, reason, transient
        self.http_status, self.body = http_status, body
        self.attempts = 1  # how many times the request was sent, set by the retry loop


def _storable(value):
    """A device's JSON as PostgreSQL can keep it (jsonb holds neither U+0000 nor NaN/Infinity).

    NUL becomes the visible text ``\\u0000`` and non-finite numbers arrive as their names
    (``parse_constant``), so the record shows what the device sent instead of the recording of
    the dispatch failing with a DataError after the physical action happened.
    """
    if isinstance(value, str):
        return value.replace("\x00", "\\u0000")
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


def _finite_or_text(literal: str):
    number = float(literal)
    return number if math.isfinite(number) else literal  # 1e400 is inf: kept as the device wrote it


def _message(body, text: str) -> str:
    if isinstance(body, dict):
        for key in ("message", "error", "detail"):
            if body.get(key):
                return str(body[key])
    return text[:_BODY_EXCERPT] or "(empty body)"


class HttpAdapter(Adapter):
    """Talks to ``device.endpoint``; options in ``device.config["http"]`` (headers, retries, backoff)."""

    name = "http"
    sleep = staticmethod(time.sleep)

    def __init__(self, device):
        super().__init__(device)
        # A missing endpoint is reported by each dispatch as an error, not raised here, so the
        # executor records it like any other failure.
        self.endpoint = (device.endpoint or "").rstrip("/")
        config = device.config if isinstance(device.config, dict) else {}
        options = config.get("http") or {}
        self.retries = int(options.get("retries", DEFAULT_RETRIES))
        self.backoff_seconds = float(options.get("backoff_seconds", DEFAULT_BACKOFF_SECONDS))
        self.request_timeout = float(
            options.get(
                "request_timeout_seconds",
                getattr(settings, "LABCORE_HTTP_REQUEST_TIMEOUT", DEFAULT_REQUEST_TIMEOUT_SECONDS),
            )
        )
        self.session = _session(self.endpoint, options.get("headers") or {})

    # -- one exchange ----------------------------------------------------------------------------

    def _exchange(self, method: str, path: str, *, timeout: float, body=None, headers=None):
        """Send one request; ``(http_status, json_body)`` for a 2xx, else raise _Failure."""
        if not self.endpoint:
            raise _Failure(DispatchStatus.ERROR, f"device {self.device.pk} has no endpoint configured", transient=False)
        url = f"{self.endpoint}{path}"
        read_timeout = max(0.001, float(timeout))
        try:
            response = self.session.request(
                method,
                url,
                json=body,
                headers=headers,
                timeout=(min(CONNECT_TIMEOUT_SECONDS, read_timeout), read_timeout),
            )
        except requests.ConnectTimeout:
            raise _Failure(
                DispatchStatus.ERROR, f"could not connect to {url}: connect timed out", transient=True
            ) from None
        except requests.ReadTimeout:
            raise _Failure(
                DispatchStatus.TIMEOUT, f"no answer from {url} within {read_timeout:g} s", transient=False
            ) from None
        except requests.ConnectionError as exc:
            reason = "connection refused" if "refused" in str(exc).lower() else f"connection error: {exc}"
            raise _Failure(DispatchStatus.ERROR, f"could not connect to {url}: {reason}", transient=True) from None
        except requests.RequestException as exc:
            raise _Failure(DispatchStatus.ERROR, f"request to {url} failed: {exc}", transient=False) from None

        text = _storable(response.text)
        try:
            parsed = (
                _storable(json.loads(response.text, parse_constant=str, parse_float=_finite_or_text)) if text else None
            )
        except ValueError:
            parsed = None
            if response.ok:
                raise _Failure(
                    DispatchStatus.ERROR,
                    f"{url} answered HTTP {response.status_code} with invalid JSON: {text[:_BODY_EXCERPT]!r}",
                    transient=False,
                    http_status=response.status_code,
                    body={"raw": text[:_BODY_EXCERPT]},
                ) from None
        if response.status_code >= 500:
            raise _Failure(
                DispatchStatus.ERROR,
                f"device error HTTP {response.status_code}: {_message(parsed, text)}",
                transient=True,
                http_status=response.status_code,
                body=parsed,
            )
        if response.status_code >= 400:
            raise _Failure(
                DispatchStatus.ERROR,
                f"device refused the request, HTTP {response.status_code}: {_message(parsed, text)}",
                transient=False,
                http_status=response.status_code,
                body=parsed,
            )
        if not isinstance(parsed, dict):
            raise _Failure(
                DispatchStatus.ERROR,
                f"{url} answered HTTP {response.status_code} without a JSON object",
                transient=False,
                http_status=response.status_code,
            )
        return response.status_code, parsed

    def _exchange_with_retries(self, method, path, *, timeout, retry: bool, body=None, headers=None):
        """``_exchange``, sent again after a transient failure when ``retry``; counts attempts."""
        attempts = 0
        while True:
            attempts += 1
            try:
                status, parsed = self._exchange(method, path, timeout=timeout, body=body, headers=headers)
                return status, parsed, attempts
            except _Failure as failure:
                failure.attempts = attempts
                if not (retry and failure.transient and attempts <= self.retries):
                    raise
                self.sleep(self.backoff_seconds * 2 ** (attempts - 1))

    # -- the Adapter interface -----------------------------------------------------------------

    def dispatch(self, *, action_type, parameters, context) -> DispatchResult:
        body = action_request(action_type=action_type, parameters=parameters, context=context)
        timeout = float(action_type.timeout_seconds)
        if action_type.is_long_running:
            timeout = min(timeout, self.request_timeout)
        started = time.monotonic()
        try:
            http_status, parsed, attempts = self._exchange_with_retries(
                "POST",
                "/actions",
                timeout=timeout,
                retry=action_type.safe_to_repeat,
                body=body,
                # The attempt id lets a device answer a repeated request without acting twice.
                headers={"Idempotency-Key": context.attempt_id} if context.attempt_id else None,
            )
        except _Failure as failure:
            return self._failed(body, failure, started)
        elapsed_ms = (time.monotonic() - started) * 1000
        extra = {"http_status": http_status, "http_attempts": attempts}

        if http_status == 202:
            operation_id = parsed.get("operation_id")
            if not operation_id:
                return DispatchResult(
                    status=DispatchStatus.ERROR,
                    request=body,
                    response=parsed,
                    latency_ms=elapsed_ms,
                    error="device answered 202 without an operation_id",
                    extra=extra,
                )
            # Our id carries the operation's deadline, so any worker can tell when to give up.
            deadline = time.time() + float(action_type.timeout_seconds)
            return DispatchResult(
                status=DispatchStatus.PENDING,
                request=body,
                response=parsed,
                latency_ms=elapsed_ms,
                operation_id=f"{deadline:.3f}:{operation_id}",
                poll_after_seconds=_poll_after(parsed),
                extra=extra,
            )
        return self._final(body, parsed, elapsed_ms, extra, action_type)

    def poll(self, *, action_type, operation_id: str, context) -> DispatchResult:
        started = time.monotonic()
        deadline_text, _, device_operation_id = operation_id.partition(":")
        request = {"operation_id": operation_id}
        try:
            deadline = float(deadline_text)
        except ValueError:
            deadline = None
        if deadline is None or not device_operation_id:
            return DispatchResult(
                status=DispatchStatus.ERROR, request=request, error=f"malformed operation id {operation_id!r}"
            )
        timed_out = DispatchResult(
            status=DispatchStatus.TIMEOUT,
            request=request,
            operation_id=operation_id,
            error=f"{action_type.name} did not complete within {float(action_type.timeout_seconds):g} s",
        )
        if time.time() >= deadline:
            return timed_out
        path = f"/operations/{requests.utils.quote(device_operation_id, safe='')}"
        try:
            http_status, parsed, attempts = self._exchange_with_retries(
                "GET", path, timeout=self.request_timeout, retry=True
            )
        except _Failure as failure:
            if failure.transient or failure.status == DispatchStatus.TIMEOUT:
                # The device may still be working: keep the operation, look again later.
                return DispatchResult(
                    status=DispatchStatus.PENDING,
                    request=request,
                    latency_ms=(time.monotonic() - started) * 1000,
                    operation_id=operation_id,
                    poll_after_seconds=max(DEFAULT_POLL_SECONDS, self.backoff_seconds),
                    error=failure.reason,
                    extra={"poll_failed": True, "http_status": failure.http_status},
                )
            return self._failed(request, failure, started, operation_id=operation_id)
        elapsed_ms = (time.monotonic() - started) * 1000
        extra = {"http_status": http_status, "http_attempts": attempts}
        if parsed.get("status") == RUNNING:
            return DispatchResult(
                status=DispatchStatus.PENDING,
                request=request,
                response=parsed,
                latency_ms=elapsed_ms,
                operation_id=operation_id,
                poll_after_seconds=min(_poll_after(parsed), max(0.0, deadline - time.time())),
                extra=extra,
            )
        result = self._final(request, parsed, elapsed_ms, extra, action_type)
        result.operation_id = operation_id
        return result

    def health(self) -> dict:
        try:
            _, parsed = self._exchange("GET", "/health", timeout=CONNECT_TIMEOUT_SECONDS)
        except _Failure as failure:
            return {"ok": False, "detail": failure.reason}
        ok = bool(parsed.get("ok", True))
        return {"ok": ok, "detail": str(parsed.get("detail") or ("healthy" if ok else "device reports unhealthy"))}

    # -- shaping results -------------------------------------------------------------------------

    def _final(self, request, parsed: dict, elapsed_ms: float, extra: dict, action_type) -> DispatchResult:
        status = parsed.get("status")
        if status == SUCCEEDED:
            result = parsed.get("result")
            return DispatchResult(
                status=DispatchStatus.SUCCESS,
                request=request,
                response=result if isinstance(result, dict) else {"value": result},
                latency_ms=elapsed_ms,
                extra=extra,
            )
        if status == FAILED:
            reason = f"device reports {action_type.name} failed: {_message(parsed, '(no message)')}"
        else:
            reason = f"device answered an unknown status {json.dumps(status)}"
        return DispatchResult(
            status=DispatchStatus.ERROR,
            request=request,
            response=parsed,
            latency_ms=elapsed_ms,
            error=reason,
            extra=extra,
        )

    @staticmethod
    def _failed(request, failure: _Failure, started: float, operation_id: str = "") -> DispatchResult:
        return DispatchResult(
            status=failure.status,
            request=request,
            response=failure.body if isinstance(failure.body, dict) else None,
            latency_ms=(time.monotonic() - started) * 1000,
            error=failure.reason,
            operation_id=operation_id,
            extra={"http_status": failure.http_status, "http_attempts": failure.attempts},
        )


_sessions = threading.local()


def _session(endpoint: str, headers: dict) -> requests.Session:
    """One Session per thread and device service, so connections are kept alive across dispatches."""
    cache = _sessions.__dict__.setdefault("by_key", {})
    key = (endpoint, tuple(sorted(headers.items())))
    session = cache.get(key)
    if session is None:
        session = requests.Session()
        session.headers.update({"Accept": "application/json", "User-Agent": "LabCore http adapter"})
        session.headers.update(headers)
        cache[key] = session
    return session


def _poll_after(parsed: dict) -> float:
    try:
        return max(0.0, float(parsed.get("poll_after_seconds", DEFAULT_POLL_SECONDS)))
    except (TypeError, ValueError):
        return DEFAULT_POLL_SECONDS
