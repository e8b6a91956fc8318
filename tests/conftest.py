"""Fixtures shared by every test: users, tokens and authenticated API clients."""

import pytest
from rest_framework.test import APIClient

from accounts.services import token_issue
from tests.factories import UserFactory


@pytest.fixture
def user(db):
    return UserFactory(username="scientist", is_staff=True, is_superuser=True)


@pytest.fixture
def token(user):
    _, key = token_issue(user=user, name="tests")
    return key


@pytest.fixture
def anonymous_client():
    return APIClient()


@pytest.fixture
def api_client(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def demo_lab(db):
    """The demo lab of ``seed_demo``."""
    from workflows.demo import demo_lab_seed

    demo_lab_seed()
