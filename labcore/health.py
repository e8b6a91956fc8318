"""``/health``: 200 when the database and the broker answer, 503 naming what failed.

Apps add checks of their own with ``health_check_register`` (labcore imports no app): the
executor registers ``worker`` (a worker heartbeat within the last
``LABCORE_HEALTH_WORKER_STALE_SECONDS``). A registered check is reported under ``?detail=1``
and fails the health check only when settings require it (``LABCORE_HEALTH_REQUIRE_WORKER``
for the worker): a web process without a worker (tests, a web-only container) is still a
healthy web process, while a deployment that runs workers turns it on to be told when they die.
"""

from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from labcore.celery import app as celery_app

_registered: dict[str, Callable[[], tuple[bool, object]]] = {}


def health_check_register(name: str, check: Callable[[], tuple[bool, object]]) -> None:
    """Add a check (``() -> (ok, detail)``) reported by ``/health``; see the module docstring."""
    _registered[name] = check


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


def _required_checks() -> set[str]:
    required = {"database", "broker"}
    if settings.LABCORE_HEALTH_REQUIRE_WORKER:
        required.add("worker")
    return required


def _run(check) -> tuple[bool, object]:
    try:
        return check()
    except Exception as exc:  # a check that cannot run (database down) is a failed check
        return False, f"{type(exc).__name__}: {exc}".strip()


def health(request):
    checks = {"database": database_answers(), "broker": broker_answers()}
    required = _required_checks()
    if request.GET.get("detail") or required - checks.keys():
        checks.update({name: _run(check) for name, check in _registered.items()})
    checks.update(dict.fromkeys(required - checks.keys(), (False, "no such check registered")))
    failed = {name: detail for name, (ok, detail) in checks.items() if not ok and name in required}
    body = {"status": "unhealthy", "failed": failed} if failed else {"status": "healthy"}
    if request.GET.get("detail"):
        body["checks"] = {name: {"ok": ok, "detail": detail} for name, (ok, detail) in checks.items()}
    return JsonResponse(body, status=503 if failed else 200)
