"""Worker heartbeats: when each Celery worker last ran a task, so ``/health`` can tell a dead
executor from an idle one."""

from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time a worker (by Celery hostname) ran the heartbeat task beat sends it.

    One row per worker, overwritten: it is a liveness signal, not a record (nothing here is
    history, so neither the audit trail nor the execution log carries it).
    """

    hostname = models.CharField(max_length=255, primary_key=True)
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self):
        return f"{self.hostname} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
