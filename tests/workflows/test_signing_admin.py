"""Signing in the admin (a password prompt, the same rules as the API) and the run report's download buttons."""

import pytest
from django.test import Client

from tests.workflows.test_run_report import signed_run  # noqa: F401 - fixture
from tests.workflows.test_signatures import PASSWORD, person
from workflows.models import Protocol, Signature, SignatureFailure

pytestmark = pytest.mark.django_db


def admin_client(user) -> Client:
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


def test_signing_a_protocol_in_the_admin_asks_for_the_password(demo_lab):
    alice = person("alice-admin", "scientist", first_name="Alice", last_name="Martin")
    client = admin_client(alice)
    protocol = Protocol.objects.get(name__startswith="MSC passage")
    page = client.get(f"/admin/workflows/protocol/{protocol.pk}/change/")
    assert f"/admin/workflows/protocol/{protocol.pk}/sign/" in page.content.decode()
    form = client.get(f"/admin/workflows/protocol/{protocol.pk}/sign/")
    assert form.status_code == 200 and 'type="password"' in form.content.decode()

    wrong = client.post(f"/admin/workflows/protocol/{protocol.pk}/sign/", {"meaning": "reviewed", "password": "guess"})
    assert wrong.status_code == 403 and "wrong password" in wrong.content.decode()
    assert SignatureFailure.objects.filter(user=alice).count() == 1 and not Signature.objects.exists()

    signed = client.post(
        f"/admin/workflows/protocol/{protocol.pk}/sign/",
        {"meaning": "reviewed", "comment": "ok", "password": PASSWORD},
    )
    assert signed.status_code == 302
    signature = Signature.objects.get()
    assert (signature.printed_name, signature.meaning, signature.protocol_id) == (
        "Alice Martin",
        "reviewed",
        protocol.pk,
    )


def test_a_viewer_cannot_sign_in_the_admin(demo_lab):
    viewer = person("victor-admin", "viewer")
    protocol = Protocol.objects.get(name__startswith="MSC passage")
    assert admin_client(viewer).get(f"/admin/workflows/protocol/{protocol.pk}/sign/").status_code == 403


def test_a_runs_page_offers_its_report_and_signing(signed_run):  # noqa: F811 - the imported fixture
    workflow_id, _ = signed_run
    operator = person("olga-admin", "operator")
    client = admin_client(operator)
    page = client.get(f"/admin/workflows/workflow/{workflow_id}/change/").content.decode()
    for path in ("report/", "report/?format=json", "sign/"):
        assert f"/admin/workflows/workflow/{workflow_id}/{path}" in page
    pdf = client.get(f"/admin/workflows/workflow/{workflow_id}/report/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    report = client.get(f"/admin/workflows/workflow/{workflow_id}/report/?format=json").json()
    assert report["workflow"]["name"] == "Report demo run"
    sign_page = client.get(f"/admin/workflows/workflow/{workflow_id}/sign/").content.decode()
    assert "Alice Martin" in sign_page and "Bob Okafor" in sign_page
