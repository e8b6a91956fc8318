from django.db import models


class ProtocolStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class WorkflowStatus(models.TextChoices):
    CREATED = "created", "Created"
    QUEUED = "queued", "Queued for devices"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_WORKFLOW_STATUSES = (WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.CANCELLED)


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
