"""Worker heartbeats: a beat task that a worker runs stamps its hostname; ``/health`` reads the
newest stamp. A heartbeat therefore proves the whole path works (beat sends, the broker
delivers, a worker runs tasks and reaches the database), which "the broker answers" does not.
"""

from django.conf import settings
from django.utils import timezone

from workflows.models import WorkerHeartbeat


def worker_heartbeat_record(*, hostname: str) -> None:
    """Stamp ``hostname`` as alive now (one upsert: a heartbeat never waits on a lock)."""
    WorkerHeartbeat.objects.bulk_create(
        [WorkerHeartbeat(hostname=hostname, seen_at=timezone.now())],
        update_conflicts=True,
        unique_fields=["hostname"],
        update_fields=["seen_at"],
    )


def worker_heartbeat_check() -> tuple[bool, dict]:
    """Whether some worker ran a heartbeat within ``LABCORE_HEALTH_WORKER_STALE_SECONDS``, and which."""
    latest = WorkerHeartbeat.objects.order_by("-seen_at").first()
    stale_after = settings.LABCORE_HEALTH_WORKER_STALE_SECONDS
    if latest is None:
        return False, {"alive": False, "worker": None, "seconds_since_heartbeat": None}
    age = (timezone.now() - latest.seen_at).total_seconds()
    return age <= stale_after, {
        "alive": age <= stale_after,
        "worker": latest.hostname,
        "seconds_since_heartbeat": round(age, 1),
    }
