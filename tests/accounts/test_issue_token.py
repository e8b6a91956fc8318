"""``issue_token`` prints a usable bearer token, and none for an unknown user."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import ApiToken
from tests.factories import UserFactory


@pytest.mark.django_db
def test_issue_token_prints_a_token_that_authenticates():
    UserFactory(username="alice", is_superuser=True)
    out = StringIO()
    call_command("issue_token", "alice", stdout=out)
    key = out.getvalue().strip()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/devices").status_code == 200
    token = ApiToken.objects.get(user__username="alice")
    assert token.key_hash != key  # stored hashed
    assert token.last_used_at is not None


@pytest.mark.django_db
def test_issue_token_for_an_unknown_user_creates_nothing():
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        call_command("issue_token", "nobody")
    assert ApiToken.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("days", ["0", "-3", "3651", "99999999"])
def test_issue_token_refuses_an_expiry_out_of_range_and_creates_nothing(days):
    UserFactory(username="alice")
    with pytest.raises(CommandError, match="from 1 to 3650"):
        call_command("issue_token", "alice", "--expires", days)
    assert ApiToken.objects.count() == 0
