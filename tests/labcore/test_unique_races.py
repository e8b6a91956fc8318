"""Two requests creating the same unique name at once: the loser gets a 409 naming the field.

The services check uniqueness with full_clean, which cannot see a row another transaction has
inserted but not yet committed; the database's unique index then refuses the second insert.
"""

import threading

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from accounts.services import token_issue
from devices.models import ActionType
from tests.factories import UserFactory
from workflows.models import Project

pytestmark = pytest.mark.django_db(transaction=True)


def client() -> APIClient:
    _, key = token_issue(user=UserFactory(is_superuser=True, is_staff=True), name="race")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api


def racing(insert_uncommitted, request):
    """Run ``request`` while another transaction holds an uncommitted row with the same key,
    then commit that row: ``request``'s insert waits on the index and then fails."""
    holding, answered = threading.Event(), {}

    def other_transaction():
        try:
            with transaction.atomic():
                insert_uncommitted()
                holding.set()
                # Give the request time to pass its own full_clean and block on the index.
                threading.Event().wait(0.5)
        finally:
            connection.close()

    def the_request():
        holding.wait(5)
        try:
            answered["response"] = request()
        finally:
            connection.close()

    threads = [threading.Thread(target=other_transaction), threading.Thread(target=the_request)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    return answered["response"]


@pytest.mark.parametrize("repeat", range(3))
def test_a_project_name_taken_meanwhile_is_a_409(repeat):
    api = client()
    response = racing(
        lambda: Project.objects.create(name="Race"),
        lambda: api.post("/api/projects", {"name": "Race"}, format="json"),
    )
    assert response.status_code == 409, response.content
    assert response.json()["fields"] == {"name": ["already exists"]}
    assert Project.objects.filter(name="Race").count() == 1


def test_an_action_type_name_taken_meanwhile_is_a_409():
    api = client()
    response = racing(
        lambda: ActionType.objects.create(name="race.type", device_kind="incubator"),
        lambda: api.post("/api/action-types", {"name": "race.type", "device_kind": "incubator"}, format="json"),
    )
    assert response.status_code == 409, response.content
    assert "name" in response.json()["fields"]
