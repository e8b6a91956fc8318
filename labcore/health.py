"""``/health``: 200 when the database and the broker answer, 503 naming what failed."""

from django.db import connection
from django.http import JsonResponse

from labcore.celery import app as celery_app


def database_answers() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, "ok"
    except Exception as exc:  # any failure to reach the database means unhealthy
        return False, f"{type(exc).__name__}: {exc}".strip()


def broker_answers() -> tuple[bool, str]:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
        return True, "ok"
    except Exception as exc:  # any failure to reach the broker means unhealthy
        return False, f"{type(exc).__name__}: {exc}".strip()


def health(request):
    checks = {"database": database_answers(), "broker": broker_answers()}
    failed = {name: message for name, (ok, message) in checks.items() if not ok}
    if failed:
        return JsonResponse({"status": "unhealthy", "failed": failed}, status=503)
    return JsonResponse({"status": "healthy"})
