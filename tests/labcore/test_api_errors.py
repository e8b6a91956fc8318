"""Every API error is JSON ``{"error", "detail", "fields"?}`` with the right status."""

import pytest
from kombu.exceptions import OperationalError as BrokerUnreachable
from redis.exceptions import ConnectionError as RedisConnectionError

from labcore.api.exceptions import exception_handler


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/devices", "/api/samples", "/api/workflows", "/api/devices/incubator-1"])
def test_api_without_a_token_is_401(anonymous_client, path):
    response = anonymous_client.get(path)
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_api_with_an_unknown_token_is_401(anonymous_client):
    anonymous_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-real-token")
    response = anonymous_client.get("/api/devices")
    assert response.status_code == 401
    assert response.json() == {"error": "not_authenticated", "detail": "Invalid token."}


@pytest.mark.django_db
def test_unknown_device_is_404(api_client):
    response = api_client.get("/api/devices/no-such-device")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.django_db
def test_unknown_sample_is_404(api_client):
    response = api_client.get("/api/samples/NOSUCHSAMPLE")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.django_db
def test_malformed_json_body_is_400_in_the_error_format(api_client):
    response = api_client.post("/api/samples/validate", data="{not json", content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid"
    assert "JSON parse error" in body["detail"]


@pytest.mark.django_db
def test_missing_field_is_400_naming_the_field(api_client):
    response = api_client.post("/api/samples/validate", data={}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid"
    assert "barcodes" in body["fields"]
    assert "barcodes" in body["detail"]


@pytest.mark.django_db
def test_schema_and_docs_need_no_authentication(anonymous_client):
    schema = anonymous_client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/devices" in schema.content
    assert anonymous_client.get("/api/docs/").status_code == 200


@pytest.mark.django_db
def test_an_api_path_that_matches_no_route_is_a_json_404(api_client):
    response = api_client.get("/api/devices/%C2%84/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("unreachable", [BrokerUnreachable("broker down"), RedisConnectionError("cache down")])
def test_an_unreachable_broker_or_cache_is_503_with_retry_after_not_500(unreachable):
    response = exception_handler(unreachable, {})
    assert response.status_code == 503
    assert response.data["error"] == "unavailable"
    assert int(response["Retry-After"]) > 0
