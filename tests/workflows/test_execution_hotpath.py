"""The executor's per-action SQL (workflows/services/hotpath.py): same effects as the ORM path, few statements.

The behaviour of claim and record is covered by test_execution_services.py and
test_execution_concurrency.py (they run through this code); here: what the one-statement claim
writes, that a batch's read sees what the previous lock holder committed, and the statement
budget of one action, so a regression (a savepoint, a lookup per action) shows up.
"""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from executionlogs.models import ExecutionLog
from labcore.exceptions import ConflictError
from labcore.locking import locked_batch
from tests.workflows.executor_support import action_type_make, device_make, workflow_make
from workflows.choices import RunStepStatus
from workflows.models import RunStep, Workflow
from workflows.services.dispatch import action_claim
from workflows.services.execution import workflow_action_run, workflow_start


@pytest.mark.django_db
def test_the_one_statement_claim_writes_what_run_step_claim_writes_and_loads_what_dispatch_needs():
    workflow = workflow_make([(action_type_make("test.hot"), device_make("handler-hot"))] * 2, samples=3)
    workflow_start(workflow=workflow)
    first = workflow.run_steps.get(position=1)
    earlier = timezone.now() - timedelta(minutes=5)
    # As after a failed attempt of a safe-to-repeat action whose backoff is over.
    RunStep.objects.filter(pk=first.pk).update(
        attempt=1, started_at=earlier, retry_at=earlier, operation_id="op-1", poll_due_at=earlier, error="x"
    )
    before = timezone.now()
    claimed = action_claim(workflow_id=workflow.pk)

    stored = RunStep.objects.get(pk=first.pk)
    assert claimed.pk == first.pk and stored.status == RunStepStatus.DISPATCHING
    assert stored.attempt == claimed.attempt == 2
    assert stored.attempt_id == claimed.attempt_id is not None
    assert stored.started_at == claimed.started_at == earlier  # the first attempt's start is kept
    assert stored.dispatched_at == claimed.dispatched_at and stored.dispatched_at >= before
    assert (stored.retry_at, stored.operation_id, stored.poll_due_at) == (None, "", None)
    barcodes = list(workflow.workflow_samples.order_by("position").values_list("sample__barcode", flat=True))
    with CaptureQueriesContext(connection) as queries:
        assert claimed.action_type.name == "test.hot" and claimed.device.pk == "handler-hot"
        assert list(claimed.sample_barcodes) == barcodes and len(barcodes) == 3
        assert claimed.parameters == {"volume_ul": 10}
    assert len(queries) == 0


@pytest.mark.django_db
def test_one_action_costs_a_fixed_small_number_of_statements():
    workflow = workflow_make([(action_type_make("test.hot_count"), device_make("handler-hot-count"))] * 4)
    workflow_start(workflow=workflow)
    workflow_action_run(workflow_id=workflow.pk)  # warm up (first use of the connection)
    with CaptureQueriesContext(connection) as queries:
        workflow_action_run(workflow_id=workflow.pk)
    statements = [q["sql"] for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    # Claim: lock + claim (one batch). Record: lock + read (one batch), KEY SHARE + chain lock
    # + head (one batch), INSERT of the entry, UPDATE of the step.
    assert len(statements) == 5, statements
    # Savepoints only for the test's own wrapping transaction: one per executor transaction.
    assert sum(q["sql"].startswith("SAVEPOINT") for q in queries) == 2
    assert ExecutionLog.objects.filter(workflow=workflow).count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_a_batched_read_after_a_lock_sees_what_the_previous_holder_committed(round_):
    """The read in a batch runs after its lock is granted, with a fresh snapshot (never stale)."""
    workflow = workflow_make([(action_type_make(f"test.hot_snap{round_}"), device_make(f"handler-snap-{round_}"))])
    locked, seen = threading.Event(), []

    def holder():
        try:
            with transaction.atomic():
                list(Workflow.objects.select_for_update().filter(pk=workflow.pk))
                locked.set()
                time.sleep(0.3)
                Workflow.objects.filter(pk=workflow.pk).update(status_reason=f"changed {round_}")
        finally:
            connection.close()

    def waiter():
        try:
            locked.wait(5)
            with transaction.atomic():
                _, rows = locked_batch(
                    [
                        ("SELECT id FROM workflows_workflow WHERE id = %s FOR UPDATE", [workflow.pk]),
                        ("SELECT status_reason FROM workflows_workflow WHERE id = %s", [workflow.pk]),
                    ],
                    what="workflow",
                )
                seen.append(rows[0][0])
        finally:
            connection.close()

    threads = [threading.Thread(target=holder), threading.Thread(target=waiter)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == [f"changed {round_}"]


@pytest.mark.django_db(transaction=True)
def test_a_batched_lock_past_the_lock_timeout_is_a_conflict(settings):
    settings.LABCORE_LOCK_TIMEOUT_MS = 100
    workflow = workflow_make([(action_type_make("test.hot_timeout"), device_make("handler-hot-timeout"))])
    locked, release = threading.Event(), threading.Event()

    def holder():
        try:
            with transaction.atomic():
                list(Workflow.objects.select_for_update().filter(pk=workflow.pk))
                locked.set()
                release.wait(5)
        finally:
            connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        locked.wait(5)
        with pytest.raises(ConflictError), transaction.atomic():
            action_claim(workflow_id=workflow.pk)
    finally:
        release.set()
        thread.join(10)
