from django.db import models


class LogStatus(models.TextChoices):
    SUCCESS = "success", "Success"
    ERROR = "error", "Error"
    TIMEOUT = "timeout", "Timeout"
    UNKNOWN = "unknown", "Unknown"


class Cause(models.TextChoices):
    USER = "user", "A user's request"
    WORKER = "worker", "The executor (Celery worker)"
    MANUAL = "manual", "A manual call (execute endpoint or command)"
    SYSTEM = "system", "LabCore itself (recovery)"
    # seed_logs's measurement data, on synthetic devices and workflows: never a real dispatch,
    # never counted in latency statistics or estimates (executionlogs.latency).
    SYNTHETIC = "synthetic", "Synthetic data (seed_logs)"
