"""The token lifecycle: issue, use, expire, revoke; bad tokens get 401."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.services import token_issue
from tests.factories import UserFactory


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.mark.django_db
def test_a_user_may_hold_several_named_tokens():
    user = UserFactory(is_superuser=True)
    _, laptop = token_issue(user=user, name="laptop")
    _, robot = token_issue(user=user, name="robot-script")
    assert client_with(laptop).get("/api/devices").status_code == 200
    assert client_with(robot).get("/api/devices").status_code == 200
    assert set(ApiToken.objects.filter(user=user).values_list("name", flat=True)) == {"laptop", "robot-script"}


@pytest.mark.django_db
def test_using_a_token_records_its_last_use():
    token, key = token_issue(user=UserFactory(is_superuser=True))
    assert token.last_used_at is None
    client_with(key).get("/api/devices")
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.django_db
def test_an_expired_token_is_401():
    token, key = token_issue(user=UserFactory(is_superuser=True), expires_in_days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client_with(key).get("/api/devices")
    assert response.status_code == 401
    assert response.json()["detail"] == "Token expired."


@pytest.mark.django_db
def test_revoke_token_command_makes_the_token_401():
    user = UserFactory(username="bob", is_superuser=True)
    _, key = token_issue(user=user, name="ci")
    _, other_key = token_issue(user=user, name="laptop")
    out = StringIO()
    call_command("revoke_token", "bob", "--name", "ci", stdout=out)
    assert "revoked 1 token" in out.getvalue()
    response = client_with(key).get("/api/devices")
    assert response.status_code == 401
    assert response.json()["detail"] == "Token revoked."
    assert client_with(other_key).get("/api/devices").status_code == 200


@pytest.mark.django_db
def test_issue_token_with_expiry_sets_it():
    UserFactory(username="carol")
    call_command("issue_token", "carol", "--name", "short", "--expires", "7", stdout=StringIO())
    token = ApiToken.objects.get(user__username="carol", name="short")
    assert timedelta(days=6, hours=23) < token.expires_at - timezone.now() <= timedelta(days=7)


@pytest.mark.django_db
def test_a_malformed_authorization_header_is_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer two parts")
    assert client.get("/api/devices").status_code == 401


@pytest.mark.django_db
def test_an_inactive_users_token_is_401():
    user = UserFactory(is_superuser=True)
    _, key = token_issue(user=user)
    user.is_active = False
    user.save()
    assert client_with(key).get("/api/devices").status_code == 401
