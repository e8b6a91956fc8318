"""Roles are groups created by migration; capabilities follow from them."""

import pytest
from django.contrib.auth.models import Group

from accounts.roles import ROLE_CAPABILITIES, user_capabilities
from tests.factories import UserFactory


@pytest.mark.django_db
def test_the_four_roles_exist_as_groups():
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLE_CAPABILITIES)


@pytest.mark.django_db
def test_viewer_group_may_only_view_in_the_admin():
    codenames = set(Group.objects.get(name="viewer").permissions.values_list("codename", flat=True))
    assert "view_device" in codenames and "view_protocol" in codenames
    assert not [c for c in codenames if not c.startswith("view_")]


@pytest.mark.django_db
def test_scientist_may_edit_protocols_but_not_bookings_in_the_admin():
    codenames = set(Group.objects.get(name="scientist").permissions.values_list("codename", flat=True))
    assert {"change_protocol", "add_action", "change_actiontype"} <= codenames
    assert "change_booking" not in codenames


@pytest.mark.django_db
def test_capabilities_are_the_union_of_a_users_roles():
    user = UserFactory()
    user.groups.set(Group.objects.filter(name__in=["scientist", "operator"]))
    assert user_capabilities(user) == ROLE_CAPABILITIES["scientist"] | ROLE_CAPABILITIES["operator"]


@pytest.mark.django_db
def test_a_user_without_a_role_has_no_capability_and_gets_403(anonymous_client):
    from accounts.services import token_issue

    _, key = token_issue(user=UserFactory())
    anonymous_client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = anonymous_client.get("/api/devices")
    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"


@pytest.mark.django_db
def test_a_method_no_endpoint_has_is_405_not_403(anonymous_client):
    from accounts.services import token_issue

    viewer = UserFactory()
    viewer.groups.set([Group.objects.get(name="viewer")])
    _, key = token_issue(user=viewer)
    anonymous_client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = anonymous_client.post("/api/bookings", {}, format="json")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
