"""The executor under real concurrency: threads with their own PostgreSQL connections."""

import threading
import time

import pytest
from django.db import connection, transaction

from tests.workflows.executor_support import action_type_make, device_make, workflow_make
from workflows.choices import RunStepStatus
from workflows.models import Workflow
from workflows.services.dispatch import action_claim, action_dispatch, dispatch_context
from workflows.services.execution import action_record_retrying, workflow_start

pytestmark = pytest.mark.django_db(transaction=True)


def in_threads(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(index):
        try:
            barrier.wait()
            results[index] = work()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.mark.parametrize("attempt", range(3))
def test_concurrent_deliveries_of_the_same_task_claim_one_step_once(attempt):
    workflow = workflow_make([(action_type_make("test.conc"), device_make(f"handler-conc-{attempt}"))] * 3)
    workflow_start(workflow=workflow)
    claims = in_threads(6, lambda: action_claim(workflow_id=workflow.pk))
    claimed = [step for step in claims if step is not None]
    assert len(claimed) == 1 and claimed[0].position == 1 and claimed[0].attempt == 1
    assert workflow.run_steps.filter(status=RunStepStatus.DISPATCHING).count() == 1


def test_recording_waits_for_a_workflow_lock_held_past_the_lock_timeout(settings):
    settings.LABCORE_LOCK_TIMEOUT_MS = 150
    workflow = workflow_make([(action_type_make("test.conc_lock"), device_make("handler-conc-lock"))])
    workflow_start(workflow=workflow)
    step = action_claim(workflow_id=workflow.pk)
    result, started, finished = action_dispatch(step, context=dispatch_context(step))
    locked = threading.Event()

    def hold_the_workflow_row():
        try:
            with transaction.atomic():
                list(Workflow.objects.select_for_update().filter(pk=workflow.pk))
                locked.set()
                time.sleep(0.5)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_workflow_row)
    holder.start()
    locked.wait(5)
    recorded = action_record_retrying(
        run_step_id=step.pk, workflow_id=workflow.pk, attempt_id=str(step.attempt_id), result=result,
        started_at=started, finished_at=finished,
    )  # fmt: skip
    holder.join(5)
    assert recorded is not None and recorded.status == RunStepStatus.SUCCEEDED
