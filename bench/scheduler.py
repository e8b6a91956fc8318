"""Benchmark the pure scheduler core (workflows/scheduling): decision time, plan time, and the
7-day MSC expansion campaign on 24 plates, step-level vs whole-run booking.

No database and no Django settings: the core is plain Python.

    .venv/bin/python bench/scheduler.py                 # everything, prints the figures
    .venv/bin/python bench/scheduler.py --runs 1000 --units-per-run 10 --decisions 200

Figures: bench/README.md, "Scheduler core".
"""

import argparse
import platform
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workflows.scheduling import LOW, NORMAL, URGENT, Booking, Device, Requirement, Run, State, Unit, decide, plan  # noqa: E402

MINUTE = 60.0
HOUR = 3600.0

# -- decision time: a large synthetic lab --------------------------------------------------------

BIG_LAB = (
    *(Device(f"microscope-{n}", "microscope") for n in range(3)),
    *(Device(f"vision-{n}", "vision") for n in range(2)),
    *(Device(f"liquid-handler-{n}", "liquid_handler") for n in range(4)),
    *(Device(f"robot-arm-{n}", "robot_arm") for n in range(2)),
    *(Device(f"incubator-{n}", "incubator", capacity=44) for n in range(2)),
    *(Device(f"plate-reader-{n}", "plate_reader") for n in range(2)),
)
KINDS = sorted({device.kind for device in BIG_LAB})


def random_unit(rng, name):
    needs = []
    for _ in range(rng.choice((1, 1, 1, 2))):
        if rng.random() < 0.3:
            needs.append(Requirement.pinned(rng.choice(BIG_LAB).id))
        else:
            needs.append(Requirement.any_of(rng.choice(KINDS)))
    if len(needs) == 2 and needs[0] == needs[1]:
        needs.pop()
    return Unit(
        name,
        duration=rng.uniform(2, 30) * MINUTE,
        requirements=tuple(needs),
        start_after=rng.choice((0.0, rng.uniform(0, 6) * HOUR)),
        window=rng.choice((None, 30 * MINUTE)),
    )


def big_state(seed, runs, units_per_run, now=100 * HOUR):
    """``runs`` active runs with ``units_per_run`` pending units each; about one run in ten has
    a unit due now, the others become due over the next 12 hours; every device is partly busy."""
    rng = random.Random(seed)
    run_list = tuple(
        Run(
            f"run-{n}",
            tuple(random_unit(rng, f"u{k}") for k in range(units_per_run)),
            ready_at=now + rng.uniform(-1, 12) * HOUR,
            priority=rng.choice((URGENT, NORMAL, NORMAL, NORMAL, LOW)),
            arrival=n,
        )
        for n in range(runs)
    )
    bookings = tuple(
        Booking(device.id, until=now + rng.uniform(0, 30) * MINUTE)
        for device in BIG_LAB
        for _ in range(rng.randint(0, device.capacity))
    )
    return State(now=now, devices=BIG_LAB, runs=run_list, bookings=bookings)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def bench_decide(runs, units_per_run, decisions):
    states = [big_state(seed, runs, units_per_run) for seed in range(decisions)]
    due = [sum(1 for run in s.runs if run.ready_at + run.units[0].start_after <= s.now) for s in states]
    timings, started = [], []
    for state in states:
        begin = time.perf_counter()
        assignments = decide(state)
        timings.append((time.perf_counter() - begin) * 1000)
        started.append(len(assignments))
    print(f"decide(): {runs} runs, {runs * units_per_run} pending units, {decisions} states")
    print(f"  due units per state: median {statistics.median(due):.0f}, max {max(due)}")
    print(f"  starts per decision: median {statistics.median(started):.0f}")
    median, p95 = statistics.median(timings), percentile(timings, 0.95)
    print(f"  time: median {median:.2f} ms, p95 {p95:.2f} ms, max {max(timings):.2f} ms")
    begin = time.perf_counter()
    result = plan(states[0])
    elapsed = time.perf_counter() - begin
    print(f"plan(): {len(result.units)} units planned in {elapsed:.2f} s, {len(result.violations)} window violations")
    begin = time.perf_counter()
    next_day = plan(states[0], until=states[0].now + 24 * HOUR)
    elapsed = time.perf_counter() - begin
    print(f"plan(until=now + 24 h): {len(next_day.units)} units planned in {elapsed:.2f} s")


# -- the 7-day MSC expansion campaign ---------------------------------------------------------

DEMO_LAB = (
    Device("microscope-1", "microscope"),
    Device("vision-1", "vision"),
    Device("liquid-handler-1", "liquid_handler"),
    Device("liquid-handler-2", "liquid_handler"),
    Device("robot-arm-1", "robot_arm"),
    Device("incubator-1", "incubator", capacity=44),
)
# Invented, plausible durations (no measured latencies for these steps exist yet).
SEED = Unit("seed", 15 * MINUTE, (Requirement.any_of("liquid_handler"),))
IMAGE = (Requirement.pinned("microscope-1"), Requirement.pinned("robot-arm-1"))  # arm holds the plate
IMAGE_MINUTES, ANALYSE_MINUTES, FEED_MINUTES, PASSAGE_MINUTES = 8, 4, 12, 20
CYCLES = 14  # image + analyse every 12 h for 7 days
FEED_CYCLES = {4, 8, 12}  # every 48 h
PASSAGE_CYCLE = 10  # day 5


def msc_units():
    """One plate's protocol as booking units: seed, then per 12 h cycle incubate, image within
    30 min of the plate leaving the incubator, analyse; feed every 48 h; passage on day 5."""
    units = [SEED]
    for cycle in range(1, CYCLES + 1):
        incubate = 12 * HOUR - (IMAGE_MINUTES + ANALYSE_MINUTES) * MINUTE
        units.append(Unit(f"incubate-{cycle}", incubate, (Requirement.any_of("incubator"),)))
        units.append(Unit(f"image-{cycle}", IMAGE_MINUTES * MINUTE, IMAGE, window=30 * MINUTE))
        units.append(Unit(f"analyse-{cycle}", ANALYSE_MINUTES * MINUTE, (Requirement.pinned("vision-1"),)))
        if cycle in FEED_CYCLES:
            units.append(Unit(f"feed-{cycle}", FEED_MINUTES * MINUTE, (Requirement.any_of("liquid_handler"),)))
        if cycle == PASSAGE_CYCLE:
            needs = (Requirement.any_of("liquid_handler"),)
            units.append(Unit("passage", PASSAGE_MINUTES * MINUTE, needs, window=2 * HOUR))
    return tuple(units)


def campaign_report(label, state, result, work_by_device, longest_chain, imaging_work):
    """Print violations, makespan against its lower bound, and the microscope's use."""
    makespan = result.end - state.now
    held = sum(u.end - u.start for u in result.units if "microscope-1" in u.devices)
    capacity = {device.id: device.capacity for device in state.devices}
    busiest, work = max(work_by_device.items(), key=lambda item: item[1] / capacity[item[0]])
    per_slot = work / capacity[busiest]
    waits = [u.wait for u in result.units if u.deadline is not None] or [0.0]
    print(f"{label}:")
    print(f"  units {len(result.units)}, window violations {len(result.violations)}")
    print(f"  makespan {makespan / HOUR:.1f} h; lower bound {max(per_slot, longest_chain) / HOUR:.1f} h")
    print(f"    (busiest device {busiest}: {per_slot / HOUR:.1f} h of work per slot; longest chain of due times")
    print(f"    {longest_chain / HOUR:.1f} h; the issue's sum of the two: {(per_slot + longest_chain) / HOUR:.1f} h)")
    print(f"  microscope-1 used {imaging_work / makespan:.1%} of the makespan, held {held / makespan:.1%}")
    median_wait, max_wait = statistics.median(waits) / MINUTE, max(waits) / MINUTE
    print(f"  windowed units: start after due median {median_wait:.1f} min, max {max_wait:.1f} min")


def bench_campaign(plates):
    units = msc_units()
    runs = tuple(Run(f"PLATE-{n:02d}", units, ready_at=0.0, arrival=n) for n in range(1, plates + 1))
    work_by_device = {}
    for unit in units:
        for requirement in unit.requirements:
            # Unpinned work is spread over the devices of its kind for the bound.
            devices = [d.id for d in DEMO_LAB if requirement.device_id == d.id or requirement.kind == d.kind]
            for device_id in devices:
                work_by_device[device_id] = work_by_device.get(device_id, 0.0) + plates * unit.duration / len(devices)
    chain = sum(unit.duration + unit.start_after for unit in units)
    imaging_work = sum(u.duration for u in units if Requirement.pinned("microscope-1") in u.requirements) * plates

    state = State(now=0.0, devices=DEMO_LAB, runs=runs)
    begin = time.perf_counter()
    step_level = plan(state)
    elapsed = time.perf_counter() - begin
    print(f"MSC expansion, 7 days, {plates} plates, {len(units)} units per plate ({len(units) * plates} units)")
    campaign_report("step-level booking (the core)", state, step_level, work_by_device, chain, imaging_work)
    print(f"  plan computed in {elapsed:.2f} s")

    # Whole-run booking, as today: each run books every device it will use for its whole length.
    whole = Unit(
        "whole-run",
        chain,
        (
            Requirement.any_of("liquid_handler"),
            Requirement.pinned("microscope-1"),
            Requirement.pinned("vision-1"),
            Requirement.pinned("robot-arm-1"),
            Requirement.pinned("incubator-1"),
        ),
    )
    whole_runs = tuple(Run(run.id, (whole,), ready_at=0.0, arrival=run.arrival) for run in runs)
    whole_state = State(now=0.0, devices=DEMO_LAB, runs=whole_runs)
    whole_plan = plan(whole_state)
    campaign_report("whole-run booking (today)", whole_state, whole_plan, work_by_device, chain, imaging_work)
    print(f"  the last plate starts after {max(u.start for u in whole_plan.units) / HOUR / 24:.1f} days")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--units-per-run", type=int, default=10)
    parser.add_argument("--decisions", type=int, default=200)
    parser.add_argument("--plates", type=int, default=24)
    parser.add_argument("--skip-decide", action="store_true")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}")
    if not args.skip_decide:
        bench_decide(args.runs, args.units_per_run, args.decisions)
    bench_campaign(args.plates)


if __name__ == "__main__":
    main()
