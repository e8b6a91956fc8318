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
    SYSTEM = "system", "LabCore itself (recovery, seeding)"
