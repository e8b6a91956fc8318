"""Hand-written SQL for the reads the executor does on every action (its writes are in transitions.py).

Why this exists: with zero-latency hardware, an action's cost was almost all Django ORM work
(building ~24 statements and model instances) and one network wait per statement, while the
SQL itself took well under a millisecond. Here each executor transaction needs one round trip
for "lock the workflow row, then claim (or read) the step with its ActionType, Device and what
the decision needs": the statements go as one batch (``labcore.locking.locked_batch``), which
PostgreSQL still runs in order, the second with a snapshot taken after the lock was granted.
Status writes are single statements too, each with its event (``transitions._write``).

What does not change: the lock order (the workflow row first), what is read (the same rows and
the same conditions as the ORM queries they replace) and what callers get (ordinary model
instances, built with ``Model.from_db``), so the services above keep their logic as it was.
Column lists come from the models' ``_meta``, so a new field is picked up without editing SQL.
"""

from django.db import DEFAULT_DB_ALIAS, connection

from devices.models import ActionType, Device
from labcore.locking import locked_batch
from workflows.choices import DONE_STEP_STATUSES, sql_in
from workflows.models import RunStep, Workflow

# Steps done, as literals so the planner can use the partial index ``runstep_todo_order``
# (its predicate is the same NOT IN).
_DONE_SQL = sql_in(DONE_STEP_STATUSES)


class _Columns:
    """The concrete columns of a model under a table alias, and how to build instances from them."""

    def __init__(self, model, alias: str):
        fields = model._meta.concrete_fields
        self.model = model
        self.sql = ", ".join(f'{alias}."{field.column}"' for field in fields)
        self.attnames = [field.attname for field in fields]
        # JSON arrives as text (Django's psycopg setup) and is decoded by the field, as the ORM does.
        self.converters = [getattr(field, "from_db_value", None) for field in fields]
        self.width = len(fields)

    def build(self, values):
        values = [
            value if convert is None else convert(value, None, connection)
            for value, convert in zip(values, self.converters, strict=True)
        ]
        return self.model.from_db(DEFAULT_DB_ALIAS, self.attnames, values)


WORKFLOW_COLUMNS = _Columns(Workflow, "w")
STEP_COLUMNS = _Columns(RunStep, "r")
ACTION_TYPE_COLUMNS = _Columns(ActionType, "a")
DEVICE_COLUMNS = _Columns(Device, "d")

LOCK_WORKFLOW = f'SELECT {WORKFLOW_COLUMNS.sql} FROM "{Workflow._meta.db_table}" w WHERE w."id" = %s FOR UPDATE'

_STEP_FROM = f"""
SELECT {STEP_COLUMNS.sql}, {ACTION_TYPE_COLUMNS.sql}, {DEVICE_COLUMNS.sql}, {{extra}}
FROM "{RunStep._meta.db_table}" r
JOIN "{ActionType._meta.db_table}" a ON a."id" = r."action_type_id"
JOIN "{Device._meta.db_table}" d ON d."id" = r."device_id"
"""

# The record's read: the step by id, whether any later step is still to do, and whether a later
# step of its own booking unit is (so the end of a unit is known without another round trip).
_RECORD_STEP = (
    _STEP_FROM.format(
        extra=f"""
    EXISTS (SELECT 1 FROM "{RunStep._meta.db_table}" l
            WHERE l."workflow_id" = r."workflow_id" AND l."position" > r."position"
              AND l."status" NOT IN {_DONE_SQL}),
    EXISTS (SELECT 1 FROM "{RunStep._meta.db_table}" l
            WHERE l."unit_id" = r."unit_id" AND l."position" > r."position"
              AND l."status" NOT IN {_DONE_SQL})
"""
    )
    + 'WHERE r."id" = %s'
)


def step_build(row) -> RunStep:
    end_step = STEP_COLUMNS.width
    end_action_type = end_step + ACTION_TYPE_COLUMNS.width
    end_device = end_action_type + DEVICE_COLUMNS.width
    step = STEP_COLUMNS.build(row[:end_step])
    step.action_type = ACTION_TYPE_COLUMNS.build(row[end_step:end_action_type])
    step.device = DEVICE_COLUMNS.build(row[end_action_type:end_device])
    return step


def lock_and_read(workflow_id: int, sql: str, params: list) -> tuple[Workflow | None, list]:
    """Lock the workflow row, then run ``sql`` (a read, or the claim), in one round trip."""
    workflow_rows, rows = locked_batch([(LOCK_WORKFLOW, [workflow_id]), (sql, params)], what=f"workflow {workflow_id}")
    return (WORKFLOW_COLUMNS.build(workflow_rows[0]) if workflow_rows else None), rows


def record_read(workflow_id: int, run_step_id: int) -> tuple[Workflow | None, RunStep]:
    """Lock the workflow row and read the run-step (with ``later_left``, ``unit_left``), in one round trip.

    Raises RunStep.DoesNotExist like ``RunStep.objects.get`` when there is no such step.
    """
    workflow, step_rows = lock_and_read(workflow_id, _RECORD_STEP, [run_step_id])
    if not step_rows:
        raise RunStep.DoesNotExist(f"no run-step {run_step_id}")
    step = step_build(step_rows[0])
    step.later_left, step.unit_left = step_rows[0][-2], step_rows[0][-1]
    return workflow, step
