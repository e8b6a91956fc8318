"""The scheduler's pure decision core: plain data in, assignments and a forward plan out.

No Django, no database, no Celery: the booking services build a ``State``, call ``decide()``
when a unit becomes due or a slot frees up, and ``plan()`` for the schedule and wait-time.
The model and the rule: docs/scheduling.md.
"""

from workflows.scheduling.model import (
    LOW,
    NORMAL,
    OVERRUN_SECONDS,
    URGENT,
    Assignment,
    Booking,
    Device,
    Plan,
    PlannedUnit,
    Requirement,
    Run,
    State,
    Unit,
)
from workflows.scheduling.planner import decide, plan

__all__ = [
    "LOW",
    "NORMAL",
    "OVERRUN_SECONDS",
    "URGENT",
    "Assignment",
    "Booking",
    "Device",
    "Plan",
    "PlannedUnit",
    "Requirement",
    "Run",
    "State",
    "Unit",
    "decide",
    "plan",
]
