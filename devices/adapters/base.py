"""The one interface every hardware adapter implements.

The executor talks to hardware only through ``Adapter``: it never knows whether a device is a
mock, an HTTP service or something added later. Adapters do I/O only: they never touch the
database, so the executor can call them with no transaction or lock held (invariant 3).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum


class DispatchStatus(StrEnum):
    SUCCESS = "success"
    ERROR = "error"
    TIMEOUT = "timeout"
    # A long operation was started (or is still running): poll it again later with its
    # ``operation_id``; the worker is free meanwhile (invariant 7).
    PENDING = "pending"


@dataclass(frozen=True)
class DispatchContext:
    """What an adapter may want to know about the dispatch besides the action itself."""

    workflow_id: int | None = None
    run_step_id: int | None = None
    attempt_id: str = ""  # unique per dispatch attempt; devices may use it to de-duplicate
    attempt: int = 1
    sample_barcodes: tuple[str, ...] = ()
    # For a vision dispatch of a run: the run's culture so far, JSON-shaped so the http adapter
    # sends it as is: {"started_at": epoch, "time_scale": s, "events": [{"kind": "passage" |
    # "feed", "at": epoch, "split_ratio": n}]} (docs/closed-loop.md). None for other dispatches.
    culture: dict | None = None


@dataclass
class DispatchResult:
    """The outcome of a dispatch or a poll, as recorded in the execution log."""

    status: DispatchStatus
    request: dict
    response: dict | None = None
    latency_ms: float = 0.0
    error: str = ""  # a clear failure reason when status is ERROR or TIMEOUT
    operation_id: str = ""  # set when status is PENDING
    poll_after_seconds: float = 0.0  # when to poll a PENDING operation again
    extra: dict = field(default_factory=dict)

    @property
    def is_final(self) -> bool:
        return self.status != DispatchStatus.PENDING


class AdapterError(Exception):
    """Raised by an adapter for a fault of its own configuration (not a device failure)."""


class Adapter(ABC):
    """Dispatches ActionTypes to one device. One instance per device, cheap to build."""

    name: str = ""

    def __init__(self, device):
        self.device = device

    @abstractmethod
    def dispatch(self, *, action_type, parameters: dict, context: DispatchContext) -> DispatchResult:
        """Run (or, for a long-running type, start) one action; never raises for device faults."""

    @abstractmethod
    def poll(self, *, action_type, operation_id: str, context: DispatchContext) -> DispatchResult:
        """Check a long operation started by ``dispatch``: PENDING while it runs, then final."""

    @abstractmethod
    def health(self) -> dict:
        """``{"ok": bool, "detail": str}`` for this device."""
