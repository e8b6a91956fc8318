"""Hand-written SQL for the reads and writes the executor does on every action.

Why this exists: with zero-latency hardware, an action's cost was almost all Django ORM work
(building ~24 statements and model instances) and one network wait per statement, while the
SQL itself took well under a millisecond. Here each executor transaction needs one round trip
for "lock the workflow row, then claim (or read) the step with its ActionType, Device and what
the decision needs": the statements go as one batch (``labcore.locking.locked_batch``), which
PostgreSQL still runs in order, the second with a snapshot taken after the lock was granted.
Step writes are plain UPDATEs (``row_update``) rather than ``save()``.

What does not change: the lock order (the workflow row first), what is read (the same rows and
the same conditions as the ORM queries they replace) and what callers get (ordinary model
instances, built with ``Model.from_db``), so the services above keep their logic as it was.
Column lists come from the models' ``_meta``, so a new field is picked up without editing SQL.
"""

import uuid

from django.db import DEFAULT_DB_ALIAS, connection
from django.utils import timezone

from devices.choices import BookingStatus
from devices.models import ActionType, Booking, Device
from labcore.locking import locked_batch
from samples.models import Sample
from workflows.choices import RunStepStatus, WorkflowMode, WorkflowStatus
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

# The claim, in the common case, as one UPDATE: the first step not done (in plan order,
# dispatch.run_step_next) is claimed only if everything action_claim checks lets it go ahead:
# the workflow (already locked by the statement before) is running in auto mode, the step is
# pending, no retry backoff is running, and the workflow still holds the step's device (an
# active booking). The same columns as run_step_claim are set. Anything else (the last step
# done, paused, failed, unknown, in flight, backoff, device taken away) updates no row, and
# action_claim then decides with its ordinary code, still under the same lock.
_CLAIM_NEXT = f"""
UPDATE "{RunStep._meta.db_table}" r
SET "status" = '{RunStepStatus.DISPATCHING}', "attempt" = r."attempt" + 1, "attempt_id" = %s,
    "dispatched_at" = %s, "started_at" = COALESCE(r."started_at", %s), "retry_at" = NULL,
    "operation_id" = '', "poll_due_at" = NULL
FROM "{ActionType._meta.db_table}" a, "{Device._meta.db_table}" d
WHERE r."id" = (SELECT n."id" FROM "{RunStep._meta.db_table}" n
                WHERE n."workflow_id" = %s AND n."status" NOT IN {_DONE_SQL}
                ORDER BY n."position" LIMIT 1)
  AND a."id" = r."action_type_id" AND d."id" = r."device_id"
  AND r."status" = '{RunStepStatus.PENDING}'
  AND (r."retry_at" IS NULL OR r."retry_at" <= %s)
  AND EXISTS (SELECT 1 FROM "{Workflow._meta.db_table}" w
              WHERE w."id" = %s AND w."status" = '{WorkflowStatus.RUNNING}'
                AND w."mode" = '{WorkflowMode.AUTO}')
  AND EXISTS (SELECT 1 FROM "{Booking._meta.db_table}" b
              WHERE b."device_id" = r."device_id" AND b."workflow_id" = r."workflow_id"
                AND b."status" = '{BookingStatus.ACTIVE}')
RETURNING {_STEP.sql}, {_ACTION_TYPE.sql}, {_DEVICE.sql},
    ARRAY(SELECT s."barcode" FROM "{WorkflowSample._meta.db_table}" ws
          JOIN "{Sample._meta.db_table}" s ON s."id" = ws."sample_id"
          WHERE ws."workflow_id" = r."workflow_id" ORDER BY ws."position")
"""

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


def claim_next(workflow_id: int) -> tuple[Workflow | None, RunStep | None]:
    """Lock the workflow row and, in the common case, claim its next step, in one round trip.

    Returns the locked workflow (None if there is none) and the claimed step (dispatching, with
    a fresh attempt id, ``action_type``, ``device`` and ``sample_barcodes``), or None when the
    caller must decide what to do (see _CLAIM_NEXT).
    """
    now = timezone.now()
    params = [uuid.uuid4(), now, now, workflow_id, now, workflow_id]  # in the order of the %s in _CLAIM_NEXT
    workflow_rows, step_rows = locked_batch(
        [(_LOCK_WORKFLOW, [workflow_id]), (_CLAIM_NEXT, params)], what=f"workflow {workflow_id}"
    )
    workflow = _WORKFLOW.build(workflow_rows[0]) if workflow_rows else None
    if workflow is None or not step_rows:
        return workflow, None
    step = _step_build(step_rows[0])
    step.sample_barcodes = step_rows[0][-1]
    return workflow, step


def record_read(workflow_id: int, run_step_id: int) -> tuple[Workflow | None, RunStep]:
    """Lock the workflow row and read the run-step (with ``later_left``), in one round trip.

    Raises RunStep.DoesNotExist like ``RunStep.objects.get`` when there is no such step.
    """
    workflow_rows, step_rows = locked_batch(
        [(_LOCK_WORKFLOW, [workflow_id]), (_RECORD_STEP, [run_step_id])], what=f"workflow {workflow_id}"
    )
    if not step_rows:
        raise RunStep.DoesNotExist(f"no run-step {run_step_id}")
    workflow = _WORKFLOW.build(workflow_rows[0]) if workflow_rows else None
    step = _step_build(step_rows[0])
    step.later_left = step_rows[0][-1]
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
