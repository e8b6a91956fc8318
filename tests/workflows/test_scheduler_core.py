"""The pure scheduler core (workflows/scheduling): examples that read like the spec, then
properties checked on thousands of random campaigns. No database: plain functions.

Hypothesis runs derandomized (a fixed sequence of examples), so CI sees the same cases every
run; raise SCHEDULER_EXAMPLES to search harder locally.
"""

import os
import random
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflows.scheduling import (
    LOW,
    NORMAL,
    OVERRUN_SECONDS,
    URGENT,
    Booking,
    Device,
    Requirement,
    Run,
    State,
    Unit,
    decide,
    plan,
)

HOUR = 3600.0
MICROSCOPE = Device("microscope-1", "microscope")
ARM = Device("robot-arm-1", "robot_arm")
INCUBATOR = Device("incubator-1", "incubator", capacity=44)
LIQUID_HANDLERS = (Device("liquid-handler-1", "liquid_handler"), Device("liquid-handler-2", "liquid_handler"))


def image(unit_id, *, start_after=0.0, window=None, duration=600.0):
    return Unit(unit_id, duration, (Requirement.pinned("microscope-1"),), start_after=start_after, window=window)


def by_unit(plan_result):
    return {(unit.run_id, unit.unit_id): unit for unit in plan_result.units}


# -- examples ---------------------------------------------------------------------------------


def test_two_runs_interleave_on_one_microscope():
    # Each run images, waits an hour, images again. Run B's first image uses the microscope
    # while run A waits for its second one, instead of waiting for the whole of run A.
    runs = tuple(
        Run(run_id, (image("first"), image("second", start_after=HOUR, window=1800)), ready_at=0, arrival=arrival)
        for arrival, run_id in enumerate(("A", "B"))
    )
    planned = by_unit(plan(State(0, (MICROSCOPE,), runs)))

    a_first, a_second, b_first = planned["A", "first"], planned["A", "second"], planned["B", "first"]
    assert a_first.start == 0
    assert a_first.end <= b_first.start < a_second.due
    assert a_second.start == a_second.due  # B's first image did not delay A's second one
    assert not plan(State(0, (MICROSCOPE,), runs)).violations


def test_ten_runs_incubate_at_once_on_a_capacity_44_incubator():
    runs = tuple(
        Run(f"plate-{n:02d}", (Unit("incubate", 12 * HOUR, (Requirement.any_of("incubator"),)),), ready_at=0)
        for n in range(10)
    )
    assignments = decide(State(0, (INCUBATOR,), runs))

    assert len(assignments) == 10
    assert {assignment.devices for assignment in assignments} == {("incubator-1",)}


def test_the_45th_plate_waits_for_a_place_in_the_incubator():
    runs = tuple(
        Run(f"plate-{n:02d}", (Unit("incubate", 12 * HOUR + n, (Requirement.any_of("incubator"),)),), ready_at=0)
        for n in range(45)
    )
    planned = by_unit(plan(State(0, (INCUBATOR,), runs)))

    assert sum(1 for unit in planned.values() if unit.start == 0) == 44
    assert planned["plate-44", "incubate"].start == planned["plate-00", "incubate"].end


def test_a_long_low_priority_unit_does_not_take_the_microscope_from_a_window_due_soon():
    # The microscope is idle now. A 2 h low-priority scan is due now; a normal-priority image is
    # due in 30 min and must start within 15 min. Starting the scan would break that window.
    scan = Run("scan", (image("scan", duration=2 * HOUR),), ready_at=0, priority=LOW)
    timed = Run("timed", (image("image", start_after=1800, window=900),), ready_at=0, priority=NORMAL, arrival=1)
    state = State(0, (MICROSCOPE,), (scan, timed))

    assert decide(state) == ()
    planned = plan(state)
    assert not planned.violations
    assert by_unit(planned)["scan", "scan"].start == by_unit(planned)["timed", "image"].end


def test_a_short_low_priority_unit_uses_the_microscope_before_a_window_opens():
    short_scan = Run("scan", (image("scan", duration=1200),), ready_at=0, priority=LOW)
    timed = Run("timed", (image("image", start_after=1800, window=900),), ready_at=0, arrival=1)

    assert [a.run_id for a in decide(State(0, (MICROSCOPE,), (short_scan, timed)))] == ["scan"]


def test_a_long_unit_starts_when_the_unit_due_soon_has_no_window():
    # Work-conserving: without a window to protect, nothing better is planned for the device.
    scan = Run("scan", (image("scan", duration=2 * HOUR),), ready_at=0, priority=LOW)
    later = Run("later", (image("image", start_after=1800),), ready_at=0, arrival=1)

    assert [a.run_id for a in decide(State(0, (MICROSCOPE,), (scan, later)))] == ["scan"]


def test_due_units_are_served_by_priority_then_window_deadline_then_arrival():
    runs = (
        Run("low", (image("i"),), ready_at=0, priority=LOW, arrival=0),
        Run("normal-late-window", (image("i", window=3000),), ready_at=0, arrival=1),
        Run("normal-no-window", (image("i"),), ready_at=0, arrival=2),
        Run("urgent", (image("i"),), ready_at=0, priority=URGENT, arrival=3),
        Run("normal-early-window", (image("i", window=1000),), ready_at=0, arrival=4),
        Run("normal-no-window-later", (image("i"),), ready_at=0, arrival=5),
    )
    order = [unit.run_id for unit in plan(State(0, (MICROSCOPE,), runs)).units]

    assert order == [
        "urgent",
        "normal-early-window",
        "normal-late-window",
        "normal-no-window",
        "normal-no-window-later",
        "low",
    ]


def test_an_unpinned_action_takes_the_idle_liquid_handler():
    feed = Run("feed", (Unit("feed", 600, (Requirement.any_of("liquid_handler"),)),), ready_at=0)
    state = State(0, LIQUID_HANDLERS, (feed,), bookings=(Booking("liquid-handler-1", until=64),))

    assert [a.devices for a in decide(state)] == [("liquid-handler-2",)]


def test_a_unit_needing_two_devices_takes_both_or_neither():
    transfer = Run(
        "transfer",
        (Unit("t", 600, (Requirement.pinned("microscope-1"), Requirement.pinned("robot-arm-1"))),),
        ready_at=0,
        priority=URGENT,
    )
    short = Run("short", (image("s", duration=300),), ready_at=0, priority=LOW, arrival=1)
    long = Run("long", (image("l", duration=900),), ready_at=0, priority=LOW, arrival=2)
    state = State(0, (MICROSCOPE, ARM), (transfer, short, long), bookings=(Booking("robot-arm-1", until=400),))

    # The arm is busy until 400: the transfer waits holding nothing, the microscope serves the
    # short scan (it ends by 400), and the long scan may not delay the transfer.
    assert [a.run_id for a in decide(state)] == ["short"]
    planned = by_unit(plan(state))
    assert planned["transfer", "t"].start == 400
    assert planned["long", "l"].start == planned["transfer", "t"].end


def test_a_unit_no_lab_could_serve_is_reported_and_its_run_stops_there():
    stuck = Run("stuck", (Unit("a", 60, (Requirement.any_of("centrifuge"),)), image("b")), ready_at=0)
    fine = Run("fine", (image("c"),), ready_at=0)
    planned = plan(State(0, (MICROSCOPE,), (stuck, fine)))

    assert planned.unschedulable == (("stuck", "a"), ("stuck", "b"))
    assert [unit.run_id for unit in planned.units] == ["fine"]


def test_an_overrunning_booking_is_assumed_to_end_shortly():
    waiting = Run("waiting", (image("i"),), ready_at=0)
    state = State(1000, (MICROSCOPE,), (waiting,), bookings=(Booking("microscope-1", until=900),))

    assert decide(state) == ()
    assert plan(state).units[0].start == 1000 + OVERRUN_SECONDS


def test_a_plan_until_a_time_holds_the_units_starting_by_then():
    runs = tuple(Run(f"run-{n}", (image("a"), image("b", start_after=HOUR)), ready_at=0, arrival=n) for n in range(3))
    state = State(0, (MICROSCOPE,), runs)
    full = plan(state)

    partial = plan(state, until=1200)
    assert partial.units == tuple(unit for unit in full.units if unit.start <= 1200)
    assert [unit.start for unit in partial.units] == [0, 600, 1200]


# -- random campaigns -------------------------------------------------------------------------

EXAMPLES = int(os.environ.get("SCHEDULER_EXAMPLES", "500"))
CAMPAIGNS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
KINDS = ("microscope", "handler", "incubator")


def random_lab(rng):
    counts = {kind: rng.randint(1, 2) for kind in KINDS}
    return tuple(
        Device(f"{kind}-{number}", kind, rng.choice((1, 1, 2, 4))) for kind in KINDS for number in range(counts[kind])
    )


def random_requirements(rng, devices):
    """One to three requirements, pinned or by kind, trimmed to what the lab can serve at all."""
    capacity = {device.id: device.capacity for device in devices}
    kind_of = {device.id: device.kind for device in devices}
    kind_capacity = Counter()
    for device in devices:
        kind_capacity[device.kind] += device.capacity
    slots = Counter()
    kept = []
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.5:
            requirement = Requirement.pinned(rng.choice(devices).id)
        else:
            requirement = Requirement.any_of(rng.choice(KINDS))
        kind = requirement.kind or kind_of[requirement.device_id]
        if requirement.device_id and slots[requirement.device_id] + 1 > capacity[requirement.device_id]:
            continue
        if slots[kind] + 1 > kind_capacity[kind]:
            continue
        slots[kind] += 1
        if requirement.device_id:
            slots[requirement.device_id] += 1
        kept.append(requirement)
    return tuple(kept)


@st.composite
def campaigns(draw, single_device=False, windows=True):
    """A random lab, runs and bookings. Hypothesis draws the sizes and a seed; the seed builds
    the details (thousands of cases in seconds; a failure prints the whole State)."""
    run_count = draw(st.integers(1, 8))
    max_units = draw(st.integers(1, 5))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    devices = (Device("only-0", "only", rng.randint(1, 3)),) if single_device else random_lab(rng)
    runs = []
    for number in range(run_count):
        units = []
        for index in range(rng.randint(1, max_units)):
            if single_device:
                needs = (rng.choice((Requirement.pinned("only-0"), Requirement.any_of("only"))),)
            else:
                needs = random_requirements(rng, devices)
            window = rng.choice((None, rng.randint(0, 40))) if windows else None
            start_after = rng.choice((0, rng.randint(0, 60)))
            units.append(Unit(f"u{index}", rng.randint(1, 60), needs, start_after=start_after, window=window))
        runs.append(
            Run(
                f"run-{number}",
                tuple(units),
                ready_at=rng.randint(0, 50),
                priority=rng.choice((URGENT, NORMAL, NORMAL, LOW)),
                arrival=rng.randint(0, 5),
            )
        )
    bookings = []
    for device in devices:
        bookings.extend(Booking(device.id, until=rng.randint(1, 80)) for _ in range(rng.randint(0, device.capacity)))
    return State(now=0, devices=devices, runs=tuple(runs), bookings=tuple(bookings))


def rank(unit, arrival):
    """The documented order: priority, window deadline (none ranks last), arrival, run, position."""
    return (unit.priority, float("inf") if unit.deadline is None else unit.deadline, arrival, unit.run_id, unit.index)


def usage_at(state, planned_units, device_id, time):
    in_plan = sum(unit.devices.count(device_id) for unit in planned_units if unit.start <= time < unit.end)
    return in_plan + sum(1 for booking in state.bookings if booking.device_id == device_id and booking.until > time)


def fits_now(state, planned_units, requirements_, time):
    """Whether every requirement finds a free slot at ``time`` (pinned first, then by kind)."""
    free = {device.id: device.capacity - usage_at(state, planned_units, device.id, time) for device in state.devices}
    kind_of = {device.id: device.kind for device in state.devices}
    for requirement in sorted(requirements_, key=lambda r: r.device_id is None):
        if requirement.device_id:
            options = [requirement.device_id]
        else:
            options = [device_id for device_id in free if kind_of[device_id] == requirement.kind]
        device_id = next((d for d in options if free[d] > 0), None)
        if device_id is None:
            return False
        free[device_id] -= 1
    return True


@CAMPAIGNS
@given(campaigns())
def test_every_run_finishes_in_order_and_no_unit_starts_before_it_is_due(state):
    result = plan(state)
    assert result.unschedulable == ()
    planned = {(unit.run_id, unit.index): unit for unit in result.units}
    for run in state.runs:
        previous_end = run.ready_at
        for index, unit in enumerate(run.units):
            placed = planned[run.id, index]
            assert placed.unit_id == unit.id
            assert placed.due == previous_end + unit.start_after  # the chain is modelled
            assert placed.start >= max(placed.due, state.now)
            assert placed.end == placed.start + unit.duration
            previous_end = placed.end
    assert len(result.units) == sum(len(run.units) for run in state.runs)


@CAMPAIGNS
@given(campaigns())
def test_no_device_is_ever_over_capacity_and_every_requirement_is_met(state):
    result = plan(state)
    kind_of = {device.id: device.kind for device in state.devices}
    units = {(run.id, index): unit for run in state.runs for index, unit in enumerate(run.units)}
    for placed in result.units:
        for requirement, device_id in zip(units[placed.run_id, placed.index].requirements, placed.devices, strict=True):
            assert device_id == requirement.device_id or kind_of[device_id] == requirement.kind
    instants = {placed.start for placed in result.units} | {state.now}
    for device in state.devices:
        for time in instants:
            assert usage_at(state, result.units, device.id, time) <= device.capacity


def could_use(requirements_, devices, kind_of):
    return any(r.device_id in devices or any(kind_of[d] == r.kind for d in devices) for r in requirements_)


@CAMPAIGNS
@given(campaigns())
def test_no_unit_waits_while_its_devices_are_idle_unless_a_better_unit_is_planned_for_them(state):
    result = plan(state)
    arrival = {run.id: run.arrival for run in state.runs}
    units = {(run.id, index): unit for run in state.runs for index, unit in enumerate(run.units)}
    placed = {(unit.run_id, unit.index): unit for unit in result.units}
    kind_of = {device.id: device.kind for device in state.devices}
    events = sorted({t for u in result.units for t in (u.start, u.end, u.due)} | {b.until for b in state.bookings})
    for waiting in result.units:
        needs = units[waiting.run_id, waiting.index].requirements
        kinds = {r.kind for r in needs}
        usable = {r.device_id for r in needs if r.device_id} | {d for d in kind_of if kind_of[d] in kinds}
        duration = waiting.end - waiting.start
        for time in (t for t in events if max(waiting.due, state.now) <= t < waiting.start):
            if not fits_now(state, result.units, needs, time):
                continue
            # Idle devices it could use: only a unit ranked ahead of it, known at that time
            # (its run's previous unit had started), due before this one would end, and either
            # due already or protected by a window, may keep it waiting.
            assert any(
                rank(other, arrival[other.run_id]) < rank(waiting, arrival[waiting.run_id])
                and other.start >= time
                and other.due < time + duration
                and (other.due <= time or other.deadline is not None)
                and (other.index == 0 or placed[other.run_id, other.index - 1].start <= time)
                and could_use(units[other.run_id, other.index].requirements, usable, kind_of)
                for other in result.units
            ), (waiting, time)


@CAMPAIGNS
@given(campaigns(single_device=True))
def test_on_one_device_a_lower_ranked_unit_only_goes_first_if_it_is_shorter(state):
    result = plan(state)
    arrival = {run.id: run.arrival for run in state.runs}
    for earlier in result.units:
        for waiting in result.units:
            if waiting.due <= earlier.start < waiting.start and rank(waiting, arrival[waiting.run_id]) < rank(
                earlier, arrival[earlier.run_id]
            ):
                assert earlier.end - earlier.start < waiting.end - waiting.start, (earlier, waiting)


@CAMPAIGNS
@given(campaigns(single_device=True, windows=False))
def test_without_windows_due_units_start_strictly_in_rank_order_on_one_device(state):
    result = plan(state)
    arrival = {run.id: run.arrival for run in state.runs}
    for earlier in result.units:
        for waiting in result.units:
            if waiting.due <= earlier.start < waiting.start:
                assert rank(earlier, arrival[earlier.run_id]) < rank(waiting, arrival[waiting.run_id])


@CAMPAIGNS
@given(campaigns(), st.randoms(use_true_random=False))
def test_decisions_are_deterministic_and_the_plan_begins_with_them(state, random):
    shuffled = list(state.runs)
    random.shuffle(shuffled)
    other_order = State(state.now, tuple(reversed(state.devices)), tuple(shuffled), state.bookings[::-1])

    assert plan(state) == plan(state) == plan(other_order)
    assert decide(state) == decide(other_order)
    starts_now = sorted((a.run_id, a.unit_id, a.devices) for a in decide(state))
    assert starts_now == sorted((u.run_id, u.unit_id, u.devices) for u in plan(state).units if u.start == state.now)
