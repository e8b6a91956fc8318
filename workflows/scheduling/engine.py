"""The decision rule, as a small engine that ``decide()`` runs once and ``plan()`` runs forward.

The rule (docs/scheduling.md, "The decision rule"):

1. Units are ranked by (run priority, window deadline, run arrival); ties by run id and position.
   A unit without a window ranks after every unit of its priority that has one.
2. Considered, in rank order: every due unit, and every unit with a window that becomes due
   before the longest due unit could end (the look-ahead horizon); nothing further ahead can be
   hurt by a start made now.
3. A due unit starts now if all its requirements fit now, for its whole estimated duration,
   around the reservations of the units ranked ahead of it.
4. A unit that does not start reserves its devices at the earliest time they are all free for
   its duration (around those same reservations), so no lower-ranked unit may delay it.
   This is conservative backfilling: a lower-ranked unit still uses an idle device whenever it
   ends before that device is reserved.

Reservations live only for one decision; the next decision recomputes them from scratch, so a
unit that ends early or late never leaves a stale promise behind.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter

from workflows.scheduling.model import OVERRUN_SECONDS, Assignment, Requirement, Run, State, Unit


class Head:
    """A run's next pending unit, with the due time and rank the engine computed for it."""

    __slots__ = ("run_position", "index", "unit", "due", "deadline", "key", "priority", "compatible")

    def __init__(self, run_position: int, run: Run, index: int, ready_at: float, compatible: frozenset[str]):
        unit = run.units[index]
        self.compatible = compatible
        self.run_position = run_position
        self.index = index
        self.unit = unit
        self.priority = run.priority
        self.due = ready_at + unit.start_after
        self.deadline = None if unit.window is None else self.due + unit.window
        # Rank: priority, then the earliest window deadline, then arrival (first come, first
        # served); run id and position make the order total, hence the output deterministic.
        self.key = (
            run.priority,
            math.inf if self.deadline is None else self.deadline,
            run.arrival,
            run.id,
            index,
        )


def _rank(head: Head) -> tuple:
    return head.key


class Engine:
    """Lab state as the rule needs it: per device the predicted ends of its busy slots, and per
    run its next unit (due now, or due later in time order)."""

    def __init__(self, state: State):
        self.now = state.now
        self.runs = state.runs
        self.capacity = {device.id: device.capacity for device in state.devices}
        kinds: dict[str, list[str]] = {}
        for device in state.devices:
            kinds.setdefault(device.kind, []).append(device.id)
        self.devices_of_kind = {kind: sorted(ids) for kind, ids in kinds.items()}
        self.kind_of = {device.id: device.kind for device in state.devices}
        # Every booking started at or before now, so a device's usage at a time t >= now is the
        # number of its booking ends after t: one sorted list per device answers it by bisect.
        self.booking_ends: dict[str, list[float]] = {device_id: [] for device_id in self.capacity}
        for booking in state.bookings:
            ends = self.booking_ends.get(booking.device_id)
            if ends is not None:
                ends.append(self._predicted_end(booking.until))
        for ends in self.booking_ends.values():
            ends.sort()
        self.due_now: list[Head] = []
        self.upcoming: list[tuple[float, tuple, Head]] = []  # sorted by (due, key)
        self.unschedulable: list[tuple[str, str]] = []
        # Set when a unit became due at the current time during a step (after a zero-length
        # unit): the plan must decide again before moving the clock.
        self.became_due = False
        for position, run in enumerate(state.runs):
            ready_at = run.ready_at
            if run.in_progress and ready_at <= self.now:
                ready_at = self._predicted_end(ready_at)
            self._queue_head(position, 0, ready_at)

    def _predicted_end(self, until: float) -> float:
        return until if until > self.now else self.now + OVERRUN_SECONDS

    def _feasible(self, unit: Unit) -> bool:
        """Whether an empty lab could serve the unit at all (known devices, enough slots)."""
        pinned = Counter(req.device_id for req in unit.requirements if req.device_id is not None)
        slots_by_kind = Counter(req.kind for req in unit.requirements if req.kind is not None)
        for device_id, count in pinned.items():
            if device_id not in self.capacity or count > self.capacity[device_id]:
                return False
            slots_by_kind[self.kind_of[device_id]] += count
        for kind, count in slots_by_kind.items():
            if count > sum(self.capacity[device_id] for device_id in self.devices_of_kind.get(kind, ())):
                return False
        return True

    def _queue_head(self, run_position: int, index: int, ready_at: float) -> None:
        run = self.runs[run_position]
        if index >= len(run.units):
            return
        if not self._feasible(run.units[index]):
            self.unschedulable.extend((run.id, unit.id) for unit in run.units[index:])
            return
        head = Head(run_position, run, index, ready_at, frozenset(self._compatible_devices(run.units[index])))
        if head.due <= self.now:
            bisect.insort(self.due_now, head, key=_rank)
            self.became_due = True
        else:
            bisect.insort(self.upcoming, (head.due, head.key, head))

    # -- usage and fitting ------------------------------------------------------------------

    def _peak_usage(self, device_id: str, start: float, end: float, reservations: dict) -> int:
        """Most slots of the device in use at any moment of [start, end)."""
        ends = self.booking_ends[device_id]
        reserved = reservations.get(device_id)
        # Bookings only end from now on, so their usage is highest at ``start``; reserved
        # intervals add their count at ``start`` and at each reserved start inside the interval.
        if not reserved:
            return len(ends) - bisect.bisect_right(ends, start)
        peak = 0
        points = [start] + [r_start for r_start, _ in reserved if start < r_start < end]
        for point in points:
            usage = len(ends) - bisect.bisect_right(ends, point)
            usage += sum(1 for r_start, r_end in reserved if r_start <= point < r_end)
            peak = max(peak, usage)
        return peak

    def _fit(self, unit: Unit, start: float, reservations: dict, preference: dict) -> tuple[str, ...] | None:
        """Devices for every requirement of ``unit`` over [start, start + duration), or None.

        Pinned requirements are placed first (they have no alternative); a kind requirement
        then takes the first device of its kind in ``preference`` order with a slot left.
        """
        end = start + unit.duration
        taken: Counter = Counter()
        peaks: dict[str, int] = {}
        chosen: dict[int, str] = {}

        def has_slot(device_id: str) -> bool:
            if device_id not in peaks:
                peaks[device_id] = self._peak_usage(device_id, start, end, reservations)
            return peaks[device_id] + taken[device_id] < self.capacity[device_id]

        ordered = sorted(range(len(unit.requirements)), key=lambda i: unit.requirements[i].device_id is None)
        for position in ordered:
            requirement: Requirement = unit.requirements[position]
            if requirement.device_id is not None:
                options = (requirement.device_id,)
            elif start > self.now:
                # A reservation takes the device that has been idle the shortest time before
                # it (best fit), leaving devices idle longer free for units that can start now.
                idle_since = {d: self._idle_since(d, start, reservations) for d in preference[requirement.kind]}
                options = sorted(preference[requirement.kind], key=lambda device_id: -idle_since[device_id])
            else:
                options = preference[requirement.kind]
            for device_id in options:
                if has_slot(device_id):
                    taken[device_id] += 1
                    chosen[position] = device_id
                    break
            else:
                return None
        return tuple(chosen[position] for position in range(len(unit.requirements)))

    def _idle_since(self, device_id: str, time: float, reservations: dict) -> float:
        """The last moment before ``time`` at which a slot of the device ends (now at the earliest)."""
        ends = self.booking_ends[device_id]
        position = bisect.bisect_right(ends, time)
        latest = ends[position - 1] if position else self.now
        for _, r_end in reservations.get(device_id, ()):
            if latest < r_end <= time:
                latest = r_end
        return max(latest, self.now)

    def _earliest_fit(self, head: Head, horizon: float, reservations: dict, preference: dict, skip_first: bool):
        """The earliest start before ``horizon`` at which the unit fits, with its devices."""
        unit = head.unit
        first = max(self.now, head.due)
        # Usage only drops when a booking or a reservation ends, so those ends (and the first
        # possible start) are the only times worth trying.
        times = {first}
        for device_id in head.compatible:
            ends = self.booking_ends[device_id]
            for end in ends[bisect.bisect_right(ends, first) :]:
                if end >= horizon:
                    break
                times.add(end)
            for _, r_end in reservations.get(device_id, ()):
                if first < r_end < horizon:
                    times.add(r_end)
        for start in sorted(times):
            if start >= horizon:
                break
            if skip_first and start == first:
                continue
            devices = self._fit(unit, start, reservations, preference)
            if devices is not None:
                return start, devices
        return None

    def _compatible_devices(self, unit: Unit) -> set[str]:
        devices: set[str] = set()
        for requirement in unit.requirements:
            if requirement.device_id is not None:
                devices.add(requirement.device_id)
            else:
                devices.update(self.devices_of_kind[requirement.kind])
        return devices

    # -- one decision ------------------------------------------------------------------------

    def step(self) -> list[tuple[Head, Assignment]]:
        """Start what the rule allows at ``self.now``; return the starts, in rank order."""
        now = self.now
        self.became_due = False
        if not self.due_now:
            return []
        # Devices a due unit could still start on now. One closes when its slots are taken, or
        # reserved so soon that even the shortest due unit would overlap the reservation; once
        # all are closed nothing more can start now, so the rest of the ranking is skipped.
        open_devices = {
            device_id
            for device_id, ends in self.booking_ends.items()
            if len(ends) - bisect.bisect_right(ends, now) < self.capacity[device_id]
        }
        if not open_devices:
            return []
        durations = [head.unit.duration for head in self.due_now]
        horizon, shortest_end = now + max(durations), now + min(durations)
        cut = bisect.bisect_left(self.upcoming, (horizon,))
        windowed = [head for _, _, head in self.upcoming[:cut] if head.deadline is not None]
        candidates = sorted(self.due_now + windowed, key=_rank) if windowed else self.due_now

        # A kind requirement prefers the devices fewest considered units are pinned to, so an
        # unpinned unit does not take the one device a pinned unit must have; then by id.
        pinned_demand = Counter(
            req.device_id for head in candidates for req in head.unit.requirements if req.device_id is not None
        )
        preference = {
            kind: sorted(ids, key=lambda device_id: (pinned_demand[device_id], device_id))
            for kind, ids in self.devices_of_kind.items()
        }
        reservations: dict[str, list[tuple[float, float]]] = {}
        started: list[Assignment] = []
        started_heads: list[Head] = []
        for head in candidates:
            if not open_devices:
                break
            if open_devices.isdisjoint(head.compatible):
                # It can neither start now nor reserve a device that anything could start on now,
                # so it is left out; the later units' reservations then come no later, which only
                # protects more (a speed-up, measured in bench/README.md, not a change of rule).
                continue
            is_due = head.due <= now
            if is_due:
                devices = self._fit(head.unit, now, reservations, preference)
                if devices is not None:
                    end = now + head.unit.duration
                    for device_id in devices:
                        bisect.insort(self.booking_ends[device_id], end)
                        if self._peak_usage(device_id, now, shortest_end, reservations) >= self.capacity[device_id]:
                            open_devices.discard(device_id)
                    run = self.runs[head.run_position]
                    started.append(Assignment(run.id, head.unit.id, devices, now, end))
                    started_heads.append(head)
                    continue
            placed = self._earliest_fit(head, horizon, reservations, preference, skip_first=is_due)
            if placed is not None:
                start, devices = placed
                for device_id in devices:
                    reservations.setdefault(device_id, []).append((start, start + head.unit.duration))
                    if (
                        device_id in open_devices
                        and start < shortest_end
                        and self._peak_usage(device_id, now, shortest_end, reservations) >= self.capacity[device_id]
                    ):
                        open_devices.discard(device_id)
        if started_heads:
            done = {id(head) for head in started_heads}
            self.due_now = [head for head in self.due_now if id(head) not in done]
            for head, assignment in zip(started_heads, started, strict=True):
                self._queue_head(head.run_position, head.index + 1, assignment.end)
        return list(zip(started_heads, started, strict=True))

    # -- moving the clock (plan only) ---------------------------------------------------------

    def next_event(self) -> float | None:
        """The next time anything changes: a slot frees up or a unit becomes due."""
        times = []
        for ends in self.booking_ends.values():
            position = bisect.bisect_right(ends, self.now)
            if position < len(ends):
                times.append(ends[position])
        if self.upcoming:
            times.append(self.upcoming[0][0])
        return min(times) if times else None

    def advance(self, time: float) -> None:
        """Move the clock to ``time``: free the slots that ended, queue the units now due."""
        self.now = time
        for ends in self.booking_ends.values():
            over = bisect.bisect_right(ends, time)
            if over:
                del ends[:over]
        cut = bisect.bisect_right(self.upcoming, (time, (math.inf,)))
        for _, _, head in self.upcoming[:cut]:
            bisect.insort(self.due_now, head, key=_rank)
        del self.upcoming[:cut]
