"""``/api/`` lists the resources; any other path under /api/ is a JSON 404; the docs work offline."""

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_the_api_root_lists_every_resource_with_working_links(api_client):
    body = api_client.get("/api/").json()
    assert body["schema"].endswith("/api/schema/") and body["docs"].endswith("/api/docs/")
    for name, url in body["resources"].items():
        assert api_client.get(url).status_code == 200, name


def test_the_api_root_needs_a_user_like_every_endpoint(anonymous_client):
    assert anonymous_client.get("/api/").status_code == 401


@pytest.mark.parametrize("path", ["/api/nope", "/api/devices/x/y/z/", "/api/../admin"])
def test_an_unknown_api_path_is_a_json_404(api_client, path, settings):
    settings.DEBUG = True  # even where Django would show its HTML debug page
    response = api_client.get(path)
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")
    assert response.json()["error"] == "not_found"


def test_swagger_ui_is_served_by_labcore_not_a_cdn(anonymous_client):
    page = anonymous_client.get("/api/docs/").content.decode()
    assert "cdn" not in page.lower() and "jsdelivr" not in page.lower()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


def test_an_unknown_api_path_is_a_json_404_for_a_write_with_a_session_too(client, user):
    client.force_login(user)  # a session cookie and no CSRF token: still no HTML page
    response = client.patch("/api/devices/%C2%84/", {"capacity": 2}, content_type="application/json")
    assert response.status_code == 404 and response.json()["error"] == "not_found"
