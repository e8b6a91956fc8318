"""The API answers 429 with Retry-After past the rate, counted in the shared cache."""

import pytest
from django.core.cache import cache
from django.test import override_settings


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
