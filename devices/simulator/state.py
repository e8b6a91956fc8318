"""What a simulated device service knows and decides, apart from HTTP.

The registry is a snapshot of ActionTypes taken when the simulator starts (it never queries the
database while serving). Fault switches make it answer 500, hang, or end a long operation as
failed; counters say what it received, so tests can check how often an adapter sent a request.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import jsonschema

from devices.adapters.contract import FAILED, RUNNING, SUCCEEDED
from devices.adapters.responses import canned_response, simulated_latency

ALWAYS = -1  # a fault switch without a count


def parse_switches(spec) -> dict[str, int]:
    """``"a,b:2"`` or ``["a", "b:2"]`` or ``{"a": true, "b": 2}`` -> ``{"a": ALWAYS, "b": 2}``.

    A count makes the fault apply to that many requests only, then the device behaves again.
    """
    if not spec:
        return {}
    if isinstance(spec, dict):
        return {name: ALWAYS if count is True else int(count) for name, count in spec.items() if count}
    if isinstance(spec, str):
        spec = spec.split(",")
    switches = {}
    for item in spec:
        name, _, count = str(item).strip().partition(":")
        if name:
            switches[name] = int(count) if count else ALWAYS
    return switches


@dataclass
class Reply:
    """One HTTP answer: status code and JSON body."""

    status: int
    body: dict


@dataclass
class Operation:
    action: str
    ready_at: float
    result: dict
    fails: bool = False
    hangs: bool = False


@dataclass
class SimulatorState:
    """Registry snapshot, fault switches, long operations and counters of one simulator process."""

    action_types: dict
    kind: str | None = None
    latency_scale: float = 1.0
    hang_seconds: float = 3600.0
    fail: dict = field(default_factory=dict)
    hang: dict = field(default_factory=dict)
    fail_operations: dict = field(default_factory=dict)
    healthy: bool = True
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        self.lock = threading.Lock()
        self.received = Counter()  # POST /actions per action name
        self.executed = Counter()  # of those, how many the device acted on
        self.by_device = Counter()  # POST /actions per path prefix (device id in --all mode)
        self.operations: dict[str, Operation] = {}
        self.answers: dict[str, Reply] = {}  # attempt id -> first successful answer

    # -- switches --------------------------------------------------------------------------------

    def _take(self, switches: dict, name: str) -> bool:
        """Whether a switch applies to this request (and use up one of its count). Call under lock."""
        key = name if name in switches else ("*" if "*" in switches else None)
        if key is None:
            return False
        if switches[key] == ALWAYS:
            return True
        switches[key] -= 1
        if switches[key] <= 0:
            del switches[key]
        return True

    def configure(self, body: dict) -> dict:
        """``POST /_simulator``: change switches at run time; ``{"reset": true}`` clears everything."""
        with self.lock:
            if body.get("reset"):
                self.fail, self.hang, self.fail_operations = {}, {}, {}
                self.healthy = True
                for collection in (self.received, self.executed, self.by_device, self.operations, self.answers):
                    collection.clear()
            for name in ("fail", "hang", "fail_operations"):
                if name in body:
                    setattr(self, name, parse_switches(body[name]))
            if "healthy" in body:
                self.healthy = bool(body["healthy"])
            if "latency_scale" in body:
                self.latency_scale = max(0.0, float(body["latency_scale"]))
        return self.stats()

    def stats(self) -> dict:
        return {
            "kind": self.kind or "all",
            "healthy": self.healthy,
            "latency_scale": self.latency_scale,
            "received": dict(self.received),
            "executed": dict(self.executed),
            "by_device": dict(self.by_device),
            "operations": len(self.operations),
            "fail": dict(self.fail),
            "hang": dict(self.hang),
            "fail_operations": dict(self.fail_operations),
        }

    # -- the contract ----------------------------------------------------------------------------

    def health(self) -> Reply:
        body = {
            "ok": self.healthy,
            "detail": "simulated device ready" if self.healthy else "simulated device unhealthy",
            "kind": self.kind or "all",
            "actions": sorted(self.action_types),
        }
        return Reply(200 if self.healthy else 503, body)

    def run_action(self, request: dict, *, device: str) -> Reply:
        """``POST /actions``: act (after the simulated latency), start a long operation, or fail."""
        action = request.get("action")
        action_type = self.action_types.get(action)
        if action_type is None or (self.kind and action_type.device_kind != self.kind):
            return Reply(404, {"status": FAILED, "message": f"unknown action {action!r} for this device"})
        parameters = request.get("parameters") or {}
        if not isinstance(parameters, dict):
            return Reply(422, {"status": FAILED, "message": "parameters must be an object"})
        try:
            jsonschema.validate(parameters, action_type.parameter_schema or {})
        except jsonschema.ValidationError as exc:
            return Reply(422, {"status": FAILED, "message": f"invalid parameters: {exc.message}"})
        attempt_id = str(request.get("attempt_id") or "")

        with self.lock:
            self.received[action] += 1
            self.by_device[device] += 1
            if attempt_id and attempt_id in self.answers:
                # Already acted on this attempt: answer as before, do not act twice.
                return self.answers[attempt_id]
            hangs = self._take(self.hang, action)
            fails = not hangs and self._take(self.fail, action)
            fails_later = action_type.is_long_running and self._take(self.fail_operations, action)

        if hangs and not action_type.is_long_running:
            self.stopping.wait(self.hang_seconds)
            return Reply(503, {"status": FAILED, "message": f"{action} hung"})
        if fails:
            return Reply(500, {"status": FAILED, "message": f"simulated device fault during {action}"})

        samples = request.get("samples") or []
        result = canned_response(
            action_type,
            device_id=device or (self.kind or "simulator"),
            parameters=parameters,
            samples=samples,
            attempt_id=attempt_id,
            workflow_id=request.get("workflow_id"),
            culture=request.get("culture") if isinstance(request.get("culture"), dict) else None,
        )
        latency = simulated_latency(action_type, self.latency_scale)
        if action_type.is_long_running:
            operation_id = uuid.uuid4().hex
            with self.lock:
                self.executed[action] += 1
                self.operations[operation_id] = Operation(
                    action=action, ready_at=time.monotonic() + latency, result=result, fails=fails_later, hangs=hangs
                )
                reply = Reply(202, {"operation_id": operation_id, "status": RUNNING, "poll_after_seconds": latency})
                self._remember(attempt_id, reply)
            return reply

        self.stopping.wait(latency)
        with self.lock:
            self.executed[action] += 1
            reply = Reply(200, {"status": SUCCEEDED, "result": result})
            self._remember(attempt_id, reply)
        return reply

    def operation(self, operation_id: str) -> Reply:
        """``GET /operations/{id}``: running until ready, then succeeded (or failed)."""
        with self.lock:
            operation = self.operations.get(operation_id)
        if operation is None:
            return Reply(404, {"status": FAILED, "message": f"unknown operation {operation_id!r}"})
        remaining = operation.ready_at - time.monotonic()
        if operation.hangs or remaining > 0:
            poll_after = 1.0 if operation.hangs else remaining
            return Reply(200, {"operation_id": operation_id, "status": RUNNING, "poll_after_seconds": poll_after})
        if operation.fails:
            message = f"simulated failure of {operation.action} while it ran"
            return Reply(200, {"operation_id": operation_id, "status": FAILED, "message": message})
        return Reply(200, {"operation_id": operation_id, "status": SUCCEEDED, "result": operation.result})

    def _remember(self, attempt_id: str, reply: Reply) -> None:
        if attempt_id:
            self.answers[attempt_id] = reply
