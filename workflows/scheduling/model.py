"""The scheduler core's plain data: what it is told (devices, runs, bookings) and what it answers.

No Django here: the caller (the booking services) builds a ``State`` from the database, asks
``decide()`` which units start now and ``plan()`` for the forward plan, and writes the answer
back. Times are seconds on one clock chosen by the caller (epoch seconds, or seconds since the
campaign began); durations and offsets are seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Run priorities, as the booking queue orders them: a smaller number is served first.
URGENT = 0
NORMAL = 1
LOW = 2

# A booking or running unit whose predicted end has already passed is assumed to end this long
# after now. The core cannot know when an overrunning step will finish; the caller re-plans on
# its real end, so a short, fixed guess keeps the plan honest without inventing a long delay.
OVERRUN_SECONDS = 60.0


@dataclass(frozen=True)
class Device:
    """An instrument: serves up to ``capacity`` units at once (an incubator holds many plates)."""

    id: str
    kind: str
    capacity: int = 1

    def __post_init__(self):
        if self.capacity < 1:
            raise ValueError(f"device {self.id}: capacity must be >= 1, got {self.capacity}")


@dataclass(frozen=True)
class Requirement:
    """One slot a unit needs: on one pinned device, or on any device of a kind."""

    device_id: str | None = None
    kind: str | None = None

    def __post_init__(self):
        if (self.device_id is None) == (self.kind is None):
            raise ValueError("a requirement names exactly one of device_id and kind")

    @classmethod
    def pinned(cls, device_id: str) -> Requirement:
        return cls(device_id=device_id)

    @classmethod
    def any_of(cls, kind: str) -> Requirement:
        return cls(kind=kind)


@dataclass(frozen=True)
class Unit:
    """A booking unit: one protocol step, or a ``keep_devices`` chain of steps booked as one.

    It needs all its requirements at once (two requirements of one kind take two slots: two
    devices, or two places on one device of capacity >= 2). It becomes due ``start_after``
    seconds after the previous unit of its run ends; with a ``window`` it should start at the
    latest ``window`` seconds after it is due (its window deadline), else the start is a window
    violation.
    """

    id: str
    duration: float
    requirements: tuple[Requirement, ...]
    start_after: float = 0.0
    window: float | None = None

    def __post_init__(self):
        if self.duration < 0 or self.start_after < 0 or (self.window is not None and self.window < 0):
            raise ValueError(f"unit {self.id}: duration, start_after and window must be >= 0")


@dataclass(frozen=True)
class Run:
    """A run's units that are still to start, in order (a run is a chain).

    ``ready_at`` is when the run's previous unit ended, or is predicted to end while it still
    runs (for the first unit: when the run started); the first pending unit is due at
    ``ready_at + units[0].start_after``. ``in_progress`` says a unit of this run is running now,
    so its next unit cannot start yet even if ``ready_at`` has passed (an overrun).
    ``arrival`` orders runs of equal priority and deadline: first come, first served.
    """

    id: str
    units: tuple[Unit, ...]
    ready_at: float
    priority: int = NORMAL
    arrival: int = 0
    in_progress: bool = False


@dataclass(frozen=True)
class Booking:
    """One slot of a device in use now (by a running unit), until its predicted end."""

    device_id: str
    until: float


@dataclass(frozen=True)
class State:
    """Everything a decision depends on: the clock, the lab, what is in use, what is pending."""

    now: float
    devices: tuple[Device, ...]
    runs: tuple[Run, ...]
    bookings: tuple[Booking, ...] = ()


@dataclass(frozen=True)
class Assignment:
    """A unit to start now: ``devices`` holds one device id per requirement, in the same order."""

    run_id: str
    unit_id: str
    devices: tuple[str, ...]
    start: float
    end: float


@dataclass(frozen=True)
class PlannedUnit:
    """A unit's place in the forward plan: when it is due, starts and ends, on which devices."""

    run_id: str
    unit_id: str
    index: int
    due: float
    deadline: float | None
    start: float
    end: float
    devices: tuple[str, ...]
    priority: int

    @property
    def window_violated(self) -> bool:
        return self.deadline is not None and self.start > self.deadline + 1e-9

    @property
    def wait(self) -> float:
        return self.start - self.due


@dataclass(frozen=True)
class Plan:
    """The forward plan: every pending unit of every run, in start order.

    ``unschedulable`` lists (run id, unit id) of units no lab state could ever serve (an unknown
    device or kind, or more slots than the lab has); their run stops there, and the units after
    them are listed too.
    """

    units: tuple[PlannedUnit, ...]
    unschedulable: tuple[tuple[str, str], ...] = ()

    @property
    def violations(self) -> tuple[PlannedUnit, ...]:
        return tuple(unit for unit in self.units if unit.window_violated)

    @property
    def end(self) -> float:
        return max((unit.end for unit in self.units), default=-math.inf)
