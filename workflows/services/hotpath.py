"""Hand-written SQL for the reads and writes the executor does on every action.

Why this exists: with zero-latency hardware, an action's cost was almost all Django ORM work
(building ~24 statements and model instances) and one network wait per statement, while the
SQL itself took well under a millisecond. Here each executor transaction needs one round trip
for "lock the workflow row, then read the step with its ActionType, Device and what the
decision needs": the statements go as one batch (``labcore.locking.locked_batch``), which
PostgreSQL still runs in order, the read with a snapshot taken after the lock was granted.

What does not change: the lock order (the workflow row first), what is read (the same rows and
the same conditions as the ORM queries they replace) and what callers get (ordinary model
instances, built with ``Model.from_db``), so the services above keep their logic as it was.
Column lists come from the models' ``_meta``, so a new field is picked up without editing SQL.
"""

from django.db import DEFAULT_DB_ALIAS, connection

from devices.choices import BookingStatus
from devices.models import ActionType, Booking, Device
from labcore.locking import locked_batch
from samples.models import Sample
from workflows.choices import RunStepStatus
from workflows.models import RunStep, Workflow, WorkflowSample

# Steps done (dispatch.DONE); written as literals so the planner can use the partial index
# ``runstep_todo_order`` (its predicate is the same NOT IN).
_DONE_SQL = f"('{RunStepStatus.SUCCEEDED}', '{RunStepStatus.SKIPPED}')"


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


_WORKFLOW = _Columns(Workflow, "w")
_STEP = _Columns(RunStep, "r")
_ACTION_TYPE = _Columns(ActionType, "a")
_DEVICE = _Columns(Device, "d")

_LOCK_WORKFLOW = f'SELECT {_WORKFLOW.sql} FROM "{Workflow._meta.db_table}" w WHERE w."id" = %s FOR UPDATE'

_STEP_FROM = f"""
SELECT {_STEP.sql}, {_ACTION_TYPE.sql}, {_DEVICE.sql}, {{extra}}
FROM "{RunStep._meta.db_table}" r
JOIN "{ActionType._meta.db_table}" a ON a."id" = r."action_type_id"
JOIN "{Device._meta.db_table}" d ON d."id" = r."device_id"
"""

# The claim's read: the first step not done, in plan order (dispatch.run_step_next), whether
# the workflow still holds its device (an active booking) and the workflow's sample barcodes.
_CLAIM_STEP = (
    _STEP_FROM.format(
        extra=f"""
    EXISTS (SELECT 1 FROM "{Booking._meta.db_table}" b
            WHERE b."device_id" = r."device_id" AND b."workflow_id" = r."workflow_id"
              AND b."status" = '{BookingStatus.ACTIVE}'),
    ARRAY(SELECT s."barcode" FROM "{WorkflowSample._meta.db_table}" ws
          JOIN "{Sample._meta.db_table}" s ON s."id" = ws."sample_id"
          WHERE ws."workflow_id" = r."workflow_id" ORDER BY ws."position")
"""
    )
    + f'WHERE r."workflow_id" = %s AND r."status" NOT IN {_DONE_SQL} ORDER BY r."position" LIMIT 1'
)

# The record's read: the step by id, and whether any later step is still to do.
_RECORD_STEP = (
    _STEP_FROM.format(
        extra=f"""
    EXISTS (SELECT 1 FROM "{RunStep._meta.db_table}" l
            WHERE l."workflow_id" = r."workflow_id" AND l."position" > r."position"
              AND l."status" NOT IN {_DONE_SQL})
"""
    )
    + 'WHERE r."id" = %s'
)


def _step_build(row) -> RunStep:
    end_step = _STEP.width
    end_action_type = end_step + _ACTION_TYPE.width
    end_device = end_action_type + _DEVICE.width
    step = _STEP.build(row[:end_step])
    step.action_type = _ACTION_TYPE.build(row[end_step:end_action_type])
    step.device = _DEVICE.build(row[end_action_type:end_device])
    return step


def _workflow_and_step(workflow_id: int, step_sql: str, step_params: list):
    workflow_rows, step_rows = locked_batch(
        [(_LOCK_WORKFLOW, [workflow_id]), (step_sql, step_params)], what=f"workflow {workflow_id}"
    )
    workflow = _WORKFLOW.build(workflow_rows[0]) if workflow_rows else None
    return workflow, (step_rows[0] if step_rows else None)


def claim_read(workflow_id: int) -> tuple[Workflow | None, RunStep | None]:
    """Lock the workflow row and read its next step to do (None when all are done), in one round trip.

    The step carries ``action_type``, ``device``, ``device_held`` and ``sample_barcodes``, as
    ``run_step_next(workflow, for_dispatch=True)`` gives them.
    """
    workflow, row = _workflow_and_step(workflow_id, _CLAIM_STEP, [workflow_id])
    if workflow is None or row is None:
        return workflow, None
    step = _step_build(row)
    step.device_held, step.sample_barcodes = row[-2], row[-1]
    return workflow, step


def record_read(workflow_id: int, run_step_id: int) -> tuple[Workflow | None, RunStep]:
    """Lock the workflow row and read the run-step (with ``later_left``), in one round trip.

    Raises RunStep.DoesNotExist like ``RunStep.objects.get`` when there is no such step.
    """
    workflow, row = _workflow_and_step(workflow_id, _RECORD_STEP, [run_step_id])
    if row is None:
        raise RunStep.DoesNotExist(f"no run-step {run_step_id}")
    step = _step_build(row)
    step.later_left = row[-1]
    return workflow, step


def row_update(instance, fields: list[str]) -> None:
    """``instance.save(update_fields=fields)`` as one plain UPDATE, without the ORM's per-call work.

    For models without ``auto_now`` fields or save() overrides (RunStep): the values are
    prepared by each field exactly as save() would.
    """
    meta = instance._meta
    model_fields = [meta.get_field(name) for name in fields]
    assignments = ", ".join(f'"{field.column}" = %s' for field in model_fields)
    params = [field.get_db_prep_save(getattr(instance, field.attname), connection) for field in model_fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{meta.db_table}" SET {assignments} WHERE "{meta.pk.column}" = %s', [*params, instance.pk]
        )
