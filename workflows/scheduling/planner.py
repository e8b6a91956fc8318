"""The two questions the core answers: what starts now (``decide``), and what happens when (``plan``)."""

from __future__ import annotations

from workflows.scheduling.engine import Engine
from workflows.scheduling.model import Assignment, Plan, PlannedUnit, State


def decide(state: State) -> tuple[Assignment, ...]:
    """The units to start at ``state.now`` and the devices each one gets, in rank order.

    Pure: the same state always gives the same answer, and nothing outside is touched. The
    caller books each assignment's devices (all of them, in one transaction) and re-plans.
    """
    return tuple(assignment for _, assignment in Engine(state).step())


def plan(state: State, *, until: float | None = None) -> Plan:
    """The forward plan: the predicted start and end of every pending unit of every run.

    It replays ``decide()`` forward in time with the estimated durations: at each moment a slot
    frees up or a unit becomes due, it starts what ``decide()`` would start, and a started
    unit's run makes its next unit due ``start_after`` seconds after the predicted end. So the
    plan's first starts are exactly ``decide(state)``, and it ends when every schedulable unit
    has a place. A unit whose start is after its window deadline is reported in
    ``Plan.violations``.

    With ``until``, the replay stops there: only units predicted to start by then are in the
    plan (enough for a schedule page of the next hours; a lab with a deep backlog makes the
    full replay slow, see bench/README.md).
    """
    engine = Engine(state)
    planned: list[PlannedUnit] = []
    while True:
        for head, assignment in engine.step():
            planned.append(
                PlannedUnit(
                    run_id=assignment.run_id,
                    unit_id=assignment.unit_id,
                    index=head.index,
                    due=head.due,
                    deadline=head.deadline,
                    start=assignment.start,
                    end=assignment.end,
                    devices=assignment.devices,
                    priority=head.priority,
                )
            )
        if engine.became_due:
            continue  # a zero-length unit ended now and its successor is due now
        next_time = engine.next_event()
        if next_time is None or (until is not None and next_time > until):
            break
        engine.advance(next_time)
    planned.sort(key=lambda unit: (unit.start, unit.run_id, unit.index))
    return Plan(units=tuple(planned), unschedulable=tuple(engine.unschedulable))
