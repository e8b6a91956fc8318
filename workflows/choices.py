"""Statuses of protocols, workflows and run-steps, and the groups every module reads them by.

The groups are the one definition of "finished", "in flight", "done": services, selectors,
admin, the executor's hand-written SQL (``sql_in``) and index conditions all import them.
"""

from django.db import models
from django.db.models import TextChoices


class ProtocolStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class WindowPolicy(models.TextChoices):
    """What a step that starts after its window does."""

    RUN_LATE = "run_late", "Run late (recorded as a violation)"
    FAIL = "fail", "Fail the run"


class WorkflowStatus(models.TextChoices):
    CREATED = "created", "Created"
    QUEUED = "queued", "Queued for devices"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# A finished workflow never changes status again.
FINISHED_WORKFLOW_STATUSES = (WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.CANCELLED)
# Started and not finished: it may hold devices or wait for them.
ACTIVE_WORKFLOW_STATUSES = (WorkflowStatus.QUEUED, WorkflowStatus.RUNNING, WorkflowStatus.PAUSED)
# Not finished: still to start or on its way (a plate in such a campaign run is taken).
UNFINISHED_WORKFLOW_STATUSES = (WorkflowStatus.CREATED, *ACTIVE_WORKFLOW_STATUSES)


class WorkflowMode(models.TextChoices):
    AUTO = "auto", "Automatic (executor)"
    MANUAL = "manual", "Manual (execute-step)"


class RunStepStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DISPATCHING = "dispatching", "Dispatching"
    WAITING = "waiting", "Waiting on a long operation"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Outcome unknown: needs an operator"
    SKIPPED = "skipped", "Skipped"


# Done: nothing left to do for this step; the run goes on after it.
DONE_STEP_STATUSES = (RunStepStatus.SUCCEEDED, RunStepStatus.SKIPPED)
# In flight: a worker has claimed it and the device may be acting.
IN_FLIGHT_STEP_STATUSES = (RunStepStatus.DISPATCHING, RunStepStatus.WAITING)
# Ended without success: the run cannot go past it without a decision.
STOPPED_STEP_STATUSES = (RunStepStatus.FAILED, RunStepStatus.UNKNOWN)
# Finished after a dispatch (or a window decision) that the execution log records: each such
# step has at least one entry (verify_logs checks). Skipped steps were never dispatched.
LOGGED_STEP_STATUSES = (RunStepStatus.SUCCEEDED, RunStepStatus.FAILED, RunStepStatus.UNKNOWN)


class EventActor(models.TextChoices):
    """Who or what changed a status, when no person did."""

    EXECUTOR = "executor", "Executor"
    RECOVERY = "recovery", "Recovery scan"
    SCHEDULER = "scheduler", "Scheduler"
    SYSTEM = "system", "System"


def sql_in(statuses) -> str:
    """``('a', 'b')``: a status group as an SQL literal list, for hand-written SQL and partial indexes.

    Literals rather than parameters so the planner can match a partial index whose predicate is
    the same list. The values are our own choices, never client input.
    """
    return "(" + ", ".join(f"'{status}'" for status in statuses) + ")"


class SignatureMeaning(TextChoices):
    """What an electronic signature means (21 CFR 11.50(a)(3)): shown with every signature."""

    AUTHORED = "authored", "Authored"
    REVIEWED = "reviewed", "Reviewed"
    APPROVED = "approved", "Approved"
    PERFORMED = "performed", "Performed"
