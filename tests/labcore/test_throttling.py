"""The API answers 429 with Retry-After past the rate, counted in the shared cache."""

import threading
import time
import uuid
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.test import override_settings
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from labcore.api.throttling import LabUserRateThrottle


@pytest.mark.django_db
@override_settings(LABCORE_API_THROTTLE_RATE="3/minute")
def test_requests_past_the_rate_get_429_with_retry_after(api_client):
    cache.clear()
    statuses = [api_client.get("/api/devices").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = api_client.get("/api/devices")
    assert response.status_code == 429
    assert response.json()["error"] == "throttled"
    assert int(response["Retry-After"]) > 0
    cache.clear()


def _hits_allowed_from_threads(*, threads: int, hits_per_thread: int) -> int:
    """Hit the user throttle from real threads at once; how many hits it let through."""
    ident = uuid.uuid4().int % 10**9  # a client no other test has counted
    now = (time.time() // 3600) * 3600 + 1800  # mid-window: the count cannot straddle two windows

    class FixedClockThrottle(LabUserRateThrottle):
        timer = staticmethod(lambda: now)

    request = Request(APIRequestFactory().get("/api/devices"))
    request.user = SimpleNamespace(is_authenticated=True, pk=ident)
    start = threading.Barrier(threads)
    allowed = []

    def client():
        start.wait()
        for _ in range(hits_per_thread):
            allowed.append(FixedClockThrottle().allow_request(request, view=None))

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(allowed)


@override_settings(LABCORE_API_THROTTLE_RATE="100/hour")
def test_concurrent_requests_are_all_counted():
    # 8 clients at once, 400 hits against 100 an hour: exactly 100 pass, none lost to a race.
    assert _hits_allowed_from_threads(threads=8, hits_per_thread=50) == 100
