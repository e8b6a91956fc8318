"""Writing the execution log. The only way entries are created (the log is append-only)."""

from django.db import transaction

from executionlogs.models import ExecutionLog


@transaction.atomic
def execution_log_create(
    *,
    device,
    action_type: str,
    request: dict,
    response: dict | None,
    status: str,
    latency_ms: float | None,
    started_at=None,
    finished_at=None,
    workflow=None,
    run_step=None,
    operation: str = "",
    attempt: int = 1,
    caused_by: str = "worker",
    user=None,
) -> ExecutionLog:
    """Append one entry recording a dispatch and its outcome."""
    entry = ExecutionLog(
        device=device,
        workflow=workflow,
        run_step=run_step,
        action_type=action_type,
        operation=operation or action_type,
        request=request,
        response=response,
        status=status,
        latency_ms=latency_ms,
        finished_at=finished_at,
        attempt=attempt,
        caused_by=caused_by,
        user=user,
    )
    if started_at is not None:
        entry.started_at = started_at
    entry.save()
    return entry
