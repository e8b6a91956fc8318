"""The mock adapter: canned responses, simulated latency and injectable faults, no hardware.

Behaviour comes from the ActionType (``mock_response``, ``mock_latency_seconds``,
``mock_latency_jitter``, ``mock_failure_rate``, ``timeout_seconds``, ``is_long_running``),
scaled by ``LABCORE_MOCK_LATENCY_SCALE`` times ``LABCORE_TIME_SCALE``, and from deterministic injections in the device's
``config["mock"]`` for tests and demos (documented in docs/adapters.md):

    {"mock": {"fail": ["robot.aspirate"],            # or {"robot.aspirate": 2}: first 2 attempts
              "timeout": ["plate_read"],             # same forms; "*" matches every action
              "latency_seconds": {"incubate": 5},    # absolute seconds, not scaled
              "healthy": false,
              "culture_started_at": "2026-11-20T09:00:00+00:00"}}   # or {barcode: time}

A long operation is stateless: its id ``mock:<uuid>:<ready_epoch>:<outcome>`` carries when it
completes and how, so any worker process can poll it with a fresh adapter instance.
"""

from __future__ import annotations

import random
import time
import uuid

from django.conf import settings

from devices.adapters.base import Adapter, DispatchContext, DispatchResult, DispatchStatus
from devices.adapters.contract import action_request
from devices.adapters.responses import canned_response, simulated_latency

OUTCOME_SUCCESS = "ok"
OUTCOME_FAIL = "fail"
OUTCOME_HANG = "hang"
OUTCOME_RANDOM_FAIL = "rfail"  # drawn from mock_failure_rate rather than injected
_OUTCOMES = {OUTCOME_SUCCESS, OUTCOME_FAIL, OUTCOME_HANG, OUTCOME_RANDOM_FAIL}

# Never tell the executor to come back sooner than this, nor later than this.
MIN_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 60.0


def _injected(rule, action_name: str, attempt: int) -> bool:
    """Whether an injection rule (a list of names, or {name: attempts}) applies to this attempt.

    ``{name: N}`` applies to the first N attempts only, so a retry can be shown to succeed.
    """
    if not rule:
        return False
    if isinstance(rule, dict):
        limit = rule.get(action_name, rule.get("*"))
        if limit is None:
            return False
        return limit is True or (not isinstance(limit, bool) and attempt <= int(limit))
    if isinstance(rule, str):
        rule = [rule]
    return action_name in rule or "*" in rule


def encode_operation_id(ready_epoch: float, outcome: str) -> str:
    return f"mock:{uuid.uuid4().hex}:{ready_epoch:.3f}:{outcome}"


def decode_operation_id(operation_id: str) -> tuple[float, str] | None:
    """``(ready_epoch, outcome)``, or None for an id the mock did not make."""
    parts = operation_id.split(":")
    if len(parts) != 4 or parts[0] != "mock" or parts[3] not in _OUTCOMES:
        return None
    try:
        return float(parts[2]), parts[3]
    except ValueError:
        return None


class MockAdapter(Adapter):
    """Simulates any device from the ActionType registry; safe to share across processes."""

    name = "mock"

    # Indirections so tests can drive time without sleeping.
    clock = staticmethod(time.time)
    sleep = staticmethod(time.sleep)

    def __init__(self, device):
        super().__init__(device)
        config = getattr(device, "config", None) or {}
        self.config = (config.get("mock") or {}) if isinstance(config, dict) else {}

    # -- behaviour from the registry and the device config ------------------------------------

    def latency_seconds(self, action_type) -> float:
        """Simulated duration: the device override as given, else the type's latency with jitter, scaled."""
        overrides = self.config.get("latency_seconds") or {}
        if isinstance(overrides, (int, float)):
            return float(overrides)
        override = overrides.get(action_type.name, overrides.get("*"))
        if override is not None:
            return max(0.0, float(override))
        return simulated_latency(action_type, settings.LABCORE_MOCK_LATENCY_SCALE * settings.LABCORE_TIME_SCALE)

    def _outcome(self, action_type, attempt: int) -> tuple[str, str]:
        """``(outcome, reason)`` for this attempt: injected faults first, then the random rate."""
        if _injected(self.config.get("timeout"), action_type.name, attempt):
            return OUTCOME_HANG, f"injected timeout (device config mock.timeout) for {action_type.name}"
        if _injected(self.config.get("fail"), action_type.name, attempt):
            return OUTCOME_FAIL, f"injected failure (device config mock.fail) for {action_type.name}"
        rate = float(action_type.mock_failure_rate or 0.0)
        if rate and random.random() < rate:
            return OUTCOME_RANDOM_FAIL, f"simulated device failure (mock_failure_rate={rate:g}) for {action_type.name}"
        return OUTCOME_SUCCESS, ""

    def _response(self, action_type, parameters: dict, context: DispatchContext) -> dict:
        return canned_response(
            action_type,
            device_id=self.device.pk,
            parameters=parameters,
            samples=context.sample_barcodes,
            attempt_id=context.attempt_id,
            workflow_id=context.workflow_id,
            now=self.clock(),
            started_at=self.config.get("culture_started_at"),
            culture=context.culture,
        )

    # -- the Adapter interface ---------------------------------------------------------------

    def dispatch(self, *, action_type, parameters: dict, context: DispatchContext) -> DispatchResult:
        request = action_request(action_type=action_type, parameters=parameters, context=context)
        started = time.monotonic()
        latency = self.latency_seconds(action_type)
        outcome, reason = self._outcome(action_type, context.attempt)
        timeout = float(action_type.timeout_seconds)

        if action_type.is_long_running:
            # Started at once; the work happens "on the device" until ready (or until the
            # type's timeout, for a hang), and poll() reports it.
            if latency > timeout:
                outcome = OUTCOME_HANG
            duration = timeout if outcome == OUTCOME_HANG else latency
            operation_id = encode_operation_id(self.clock() + duration, outcome)
            return _running(request, operation_id, started=started, remaining=duration)

        if outcome == OUTCOME_HANG or latency > timeout:
            # A device that does not answer in time: wait as long as a real call would.
            self._sleep(min(latency, timeout))
            return DispatchResult(
                status=DispatchStatus.TIMEOUT,
                request=request,
                latency_ms=(time.monotonic() - started) * 1000,
                error=reason or f"{action_type.name} did not answer within {timeout:g} s",
            )

        self._sleep(latency)
        if outcome in (OUTCOME_FAIL, OUTCOME_RANDOM_FAIL):
            return DispatchResult(
                status=DispatchStatus.ERROR,
                request=request,
                response={"status": "failed", "message": reason},
                latency_ms=(time.monotonic() - started) * 1000,
                error=reason,
            )
        return DispatchResult(
            status=DispatchStatus.SUCCESS,
            request=request,
            response=self._response(action_type, parameters, context),
            latency_ms=(time.monotonic() - started) * 1000,
        )

    def poll(self, *, action_type, operation_id: str, context: DispatchContext) -> DispatchResult:
        started = time.monotonic()
        request = {"operation_id": operation_id}
        decoded = decode_operation_id(operation_id)
        if decoded is None:
            return DispatchResult(
                status=DispatchStatus.ERROR,
                request=request,
                error=f"unknown operation id {operation_id!r}",
                operation_id=operation_id,
            )
        ready_epoch, outcome = decoded
        remaining = ready_epoch - self.clock()
        if remaining > 0:
            return _running(request, operation_id, started=started, remaining=remaining)
        if outcome == OUTCOME_HANG:
            status, error = (
                DispatchStatus.TIMEOUT,
                (f"{action_type.name} did not complete within {float(action_type.timeout_seconds):g} s"),
            )
            response = {"operation_id": operation_id, "status": "running"}
        elif outcome in (OUTCOME_FAIL, OUTCOME_RANDOM_FAIL):
            error = (
                f"injected failure (device config mock.fail) for {action_type.name}"
                if outcome == OUTCOME_FAIL
                else f"simulated device failure (mock_failure_rate) for {action_type.name}"
            )
            status = DispatchStatus.ERROR
            response = {"operation_id": operation_id, "status": "failed", "message": error}
        else:
            # The poll does not know the dispatch's parameters: placeholders naming them stay as written.
            status, error = DispatchStatus.SUCCESS, ""
            response = self._response(action_type, {}, context)
        return DispatchResult(
            status=status,
            request=request,
            response=response,
            latency_ms=(time.monotonic() - started) * 1000,
            error=error,
            operation_id=operation_id,
        )

    def health(self) -> dict:
        if self.config.get("healthy", True) is False:
            return {"ok": False, "detail": "mock device marked unhealthy (device config mock.healthy)"}
        return {"ok": True, "detail": "mock device"}

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.sleep(seconds)


def _running(request: dict, operation_id: str, *, started: float, remaining: float) -> DispatchResult:
    """A long operation still under way: poll it again when it may be done (within bounds)."""
    return DispatchResult(
        status=DispatchStatus.PENDING,
        request=request,
        response={"operation_id": operation_id, "status": "running"},
        latency_ms=(time.monotonic() - started) * 1000,
        operation_id=operation_id,
        poll_after_seconds=_poll_delay(remaining),
    )


def _poll_delay(remaining: float) -> float:
    return min(MAX_POLL_SECONDS, max(MIN_POLL_SECONDS, remaining))
