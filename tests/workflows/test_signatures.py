"""Electronic signatures of protocols and runs: re-authentication, manifestation, content binding, policies."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.db.utils import IntegrityError, InternalError
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import token_issue
from tests.factories import UserFactory
from tests.utils import queries_for
from workflows.models import AppendOnlySignatureError, Protocol, Signature, SignatureFailure
from workflows.records import protocol_content_hash

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery 9"


def person(username: str, *roles: str, first_name="", last_name=""):
    user = UserFactory(username=username, first_name=first_name, last_name=last_name)
    user.set_password(PASSWORD)
    user.save()
    user.groups.set(Group.objects.filter(name__in=roles or ("scientist", "operator")))
    return user


def client_of(user) -> APIClient:
    _, key = token_issue(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def sign(client, path: str, meaning="approved", password=PASSWORD, comment=""):
    body = {"password": password, "meaning": meaning, "comment": comment}
    return client.post(f"{path}/signatures", body, format="json")


@pytest.fixture
def alice(demo_lab):
    return person("alice-signer", first_name="Alice", last_name="Martin")


@pytest.fixture
def bob(demo_lab):
    return person("bob-signer", first_name="Bob", last_name="Okafor")


@pytest.fixture
def draft(alice):
    """A draft (a new version of a demo protocol) authored by alice."""
    published = Protocol.objects.get(name__startswith="MSC passage")
    response = client_of(alice).post(f"/api/protocols/{published.pk}/new-version")
    assert response.status_code == 201, response.json()
    return Protocol.objects.get(pk=response.json()["id"])


def test_a_signature_records_signer_printed_name_time_meaning_comment_and_content_hash(alice, draft):
    before = timezone.now()
    response = sign(client_of(alice), f"/api/protocols/{draft.pk}", meaning="authored", comment="my draft")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["signer"] == "alice-signer" and body["printed_name"] == "Alice Martin"
    assert body["meaning"] == "authored" and body["comment"] == "my draft"
    assert body["content_hash"] == protocol_content_hash(draft) and body["covers_current_content"] is True
    assert body["signed_at"].endswith("Z")
    signature = Signature.objects.get()
    assert signature.signed_at >= before - timedelta(seconds=5) and signature.protocol_id == draft.pk
    listed = client_of(alice).get(f"/api/protocols/{draft.pk}/signatures").json()
    assert listed["content_hash"] == body["content_hash"] and listed["signatures"] == [body]


def test_a_token_alone_is_not_a_signature_a_wrong_password_is_403_and_recorded(alice, draft):
    response = sign(client_of(alice), f"/api/protocols/{draft.pk}", password="guess")
    assert response.status_code == 403
    assert response.json()["fields"] == {"password": ["wrong password"]}
    assert not Signature.objects.exists()
    failure = SignatureFailure.objects.get()
    assert failure.user == alice and failure.record == f"protocol {draft.pk}"
    missing = client_of(alice).post(f"/api/protocols/{draft.pk}/signatures", {"meaning": "approved"}, format="json")
    assert missing.status_code == 400 and "password" in missing.json()["fields"]


def test_repeated_wrong_passwords_lock_signing_for_a_while(alice, draft, settings):
    settings.LABCORE_SIGNATURE_MAX_FAILURES = 3
    client = client_of(alice)
    for _ in range(3):
        assert sign(client, f"/api/protocols/{draft.pk}", password="guess").status_code == 403
    locked = sign(client, f"/api/protocols/{draft.pk}")  # even the right password
    assert locked.status_code == 403 and "locked" in locked.json()["detail"]
    assert SignatureFailure.objects.count() == 3 and not Signature.objects.exists()
    settings.LABCORE_SIGNATURE_LOCKOUT_SECONDS = 0.001  # the window has passed
    assert sign(client, f"/api/protocols/{draft.pk}").status_code == 201


def test_a_draft_signed_then_edited_shows_the_signature_as_not_covering_it(alice, draft):
    client = client_of(alice)
    assert sign(client, f"/api/protocols/{draft.pk}", meaning="authored").status_code == 201
    edited = client.patch(f"/api/protocols/{draft.pk}", {"description": "changed after signing"}, format="json")
    assert edited.status_code == 200, edited.json()
    listed = client.get(f"/api/protocols/{draft.pk}/signatures").json()
    assert listed["signatures"][0]["covers_current_content"] is False
    assert listed["content_hash"] != listed["signatures"][0]["content_hash"]


def test_a_published_protocol_cannot_change_under_its_signature(alice, bob, draft):
    assert client_of(alice).post(f"/api/protocols/{draft.pk}/publish").status_code == 200
    assert sign(client_of(bob), f"/api/protocols/{draft.pk}", meaning="reviewed").status_code == 201
    refused = client_of(alice).patch(f"/api/protocols/{draft.pk}", {"description": "sneaky"}, format="json")
    assert refused.status_code == 409
    assert client_of(bob).get(f"/api/protocols/{draft.pk}/signatures").json()["signatures"][0]["covers_current_content"]


def test_publishing_a_signed_draft_keeps_the_signature_covering_it(alice, bob, draft):
    assert sign(client_of(bob), f"/api/protocols/{draft.pk}", meaning="approved").status_code == 201
    assert client_of(alice).post(f"/api/protocols/{draft.pk}/publish").status_code == 200
    listed = client_of(alice).get(f"/api/protocols/{draft.pk}/signatures").json()
    assert listed["signatures"][0]["covers_current_content"] is True


def test_policy_publish_requires_an_approval_by_someone_other_than_the_author(alice, bob, draft, settings):
    settings.LABCORE_PUBLISH_REQUIRES_APPROVAL = True
    path = f"/api/protocols/{draft.pk}"
    unsigned = client_of(alice).post(f"{path}/publish")
    assert unsigned.status_code == 409 and "signatures" in unsigned.json()["fields"]
    assert sign(client_of(alice), path, meaning="approved").status_code == 201
    self_approved = client_of(alice).post(f"{path}/publish")
    assert self_approved.status_code == 409 and "only by its author" in self_approved.json()["detail"]
    assert sign(client_of(bob), path, meaning="reviewed").status_code == 201  # not an approval
    assert client_of(alice).post(f"{path}/publish").status_code == 409
    assert sign(client_of(bob), path, meaning="approved").status_code == 201
    assert client_of(alice).post(f"{path}/publish").status_code == 200


def test_policy_an_approval_of_earlier_content_does_not_allow_publishing(alice, bob, draft, settings):
    settings.LABCORE_PUBLISH_REQUIRES_APPROVAL = True
    path = f"/api/protocols/{draft.pk}"
    assert sign(client_of(bob), path, meaning="approved").status_code == 201
    client_of(alice).patch(path, {"description": "edited after approval"}, format="json")
    assert client_of(alice).post(f"{path}/publish").status_code == 409


def test_without_the_policy_publishing_needs_no_signature(alice, draft, settings):
    settings.LABCORE_PUBLISH_REQUIRES_APPROVAL = False
    assert client_of(alice).post(f"/api/protocols/{draft.pk}/publish").status_code == 200


def manual_run(client) -> int:
    body = {
        "name": "signed run",
        "device_id": "liquid-handler-1",
        "sample_barcodes": ["SAMPLE001"],
        "steps": ["pipette_transfer"],
    }
    workflow_id = client.post("/api/workflows", body, format="json").json()["id"]
    assert client.post(f"/api/workflows/{workflow_id}/start").status_code == 200
    assert client.post(f"/api/workflows/{workflow_id}/execute-step").status_code == 200
    assert client.post(f"/api/workflows/{workflow_id}/complete").status_code == 200
    return workflow_id


def test_policy_a_run_counts_as_released_only_once_reviewed(alice, bob, settings):
    settings.LABCORE_RELEASE_REQUIRES_REVIEW = True
    workflow_id = manual_run(client_of(alice))
    path = f"/api/workflows/{workflow_id}"
    release = client_of(alice).get(f"{path}/report").json()["release"]
    assert release == {
        "released": False,
        "requires_review": True,
        "detail": "a reviewed signature over the current record is required",
    }
    assert sign(client_of(alice), path, meaning="performed").status_code == 201
    assert client_of(alice).get(f"{path}/report").json()["release"]["released"] is False
    assert sign(client_of(bob), path, meaning="reviewed").status_code == 201
    report = client_of(alice).get(f"{path}/report").json()
    assert report["release"]["released"] is True
    assert [s["meaning"] for s in report["signatures"]] == ["performed", "reviewed"]
    assert all(s["content_hash"] == report["record_hash"] for s in report["signatures"])


def test_without_the_policy_a_completed_run_is_released(alice, settings):
    settings.LABCORE_RELEASE_REQUIRES_REVIEW = False
    workflow_id = manual_run(client_of(alice))
    assert client_of(alice).get(f"/api/workflows/{workflow_id}/report").json()["release"]["released"] is True


def test_signing_needs_a_write_role_reading_signatures_does_not(alice, draft):
    viewer = person("victor-viewer", "viewer")
    assert sign(client_of(viewer), f"/api/protocols/{draft.pk}").status_code == 403
    assert client_of(viewer).get(f"/api/protocols/{draft.pk}/signatures").status_code == 200
    operator = person("olga-operator", "operator")
    assert sign(client_of(operator), f"/api/protocols/{draft.pk}").status_code == 403  # not an editor


def test_a_bad_meaning_is_400_naming_it_and_an_unknown_record_404(alice, draft):
    bad = sign(client_of(alice), f"/api/protocols/{draft.pk}", meaning="liked")
    assert bad.status_code == 400 and "meaning" in bad.json()["fields"]
    assert sign(client_of(alice), "/api/protocols/999999").status_code == 404
    assert sign(client_of(alice), "/api/workflows/999999").status_code == 404


def test_signatures_and_failures_are_append_only(alice, draft):
    sign(client_of(alice), f"/api/protocols/{draft.pk}")
    sign(client_of(alice), f"/api/protocols/{draft.pk}", password="guess")
    signature = Signature.objects.get()
    with pytest.raises(AppendOnlySignatureError):
        signature.save()
    with pytest.raises(AppendOnlySignatureError):
        Signature.objects.all().delete()
    for table in ("workflows_signature", "workflows_signaturefailure"):
        for sql in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):
            refused = pytest.raises((IntegrityError, InternalError), match="append-only")
            with refused, transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql)


def test_listing_signatures_costs_the_same_queries_for_2_and_12(alice, bob, draft):
    client = client_of(alice)
    path = f"/api/protocols/{draft.pk}"

    def signed(count: int) -> int:
        while Signature.objects.filter(protocol=draft).count() < count:
            sign(client_of(bob), path, meaning="reviewed")
        return queries_for(lambda: client.get(f"{path}/signatures"))

    assert signed(2) == signed(12)
