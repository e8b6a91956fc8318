"""Every admin page of every registered model opens (200) for a superuser, on the demo lab after
workflows have run: changelists, add forms, change forms and history pages, with and without
search, and each changelist's queries do not grow with the rows (invariant 8)."""

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _run_manual(api_client, *, name, device_id, steps, barcodes):
    response = api_client.post(
        "/api/workflows",
        {"name": name, "device_id": device_id, "steps": steps, "sample_barcodes": barcodes},
        format="json",
    )
    assert response.status_code == 201, response.json()
    workflow_id = response.json()["id"]
    assert api_client.post(f"/api/workflows/{workflow_id}/start").status_code == 200
    for _ in steps:
        assert api_client.post(f"/api/workflows/{workflow_id}/execute-step").status_code == 200
    return workflow_id


@pytest.fixture
def lab_after_runs(demo_lab, api_client):
    """The demo lab with finished and running workflows, execution logs, cell-analysis results,
    bookings (active and released), a queue entry and a protocol run."""
    finished = _run_manual(
        api_client, name="done", device_id="liquid-handler-1", steps=["pipette_transfer"], barcodes=["SAMPLE001"]
    )
    assert api_client.post(f"/api/workflows/{finished}/complete").status_code == 200
    _run_manual(api_client, name="vision", device_id="vision-1", steps=["vision.analyse"], barcodes=["SAMPLE002"])
    waiting = api_client.post(
        "/api/workflows",
        {"name": "waits", "device_id": "vision-1", "steps": ["vision.analyse"], "sample_barcodes": ["SAMPLE003"]},
        format="json",
    ).json()["id"]
    assert api_client.post("/api/devices/vision-1/queue", {"workflow_id": waiting}, format="json").status_code == 201
    from workflows.models import Protocol

    protocol = Protocol.objects.get(name="MSC passage P3 -> P4")
    response = api_client.post(
        "/api/workflows",
        {"name": "protocol run", "protocol": protocol.pk, "sample_barcodes": ["SAMPLE004"], "mode": "manual"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    # A campaign, its runs cancelled so their queue entries reserve no device the tests book later.
    for run in _campaign(api_client, protocol, ["PLATE-01", "PLATE-02"]):
        assert api_client.post(f"/api/workflows/{run}/cancel").status_code == 200


def _campaign(api_client, protocol, plates):
    response = api_client.post(
        "/api/campaigns", {"name": f"campaign {plates[0]}", "protocol": protocol.pk, "plates": plates}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()["workflows"]


@pytest.fixture
def admin_client(db):
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def _admin_urls():
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        yield model, model_admin, info


def test_every_admin_page_opens(lab_after_runs, admin_client):
    opened = []
    for model, model_admin, info in _admin_urls():
        changelist = reverse("admin:{}_{}_changelist".format(*info))
        for query in ("", "?q=SAMPLE001", "?o=1", "?p=999"):
            response = admin_client.get(changelist + query)
            assert response.status_code in (200, 302), (changelist + query, response.status_code)
        assert admin_client.get(changelist + "?q=%00").status_code == 400  # labcore.middleware
        opened.append(changelist)
        if model_admin.has_add_permission(_request_for(admin_client)):
            add = reverse("admin:{}_{}_add".format(*info))
            assert admin_client.get(add).status_code == 200, add
        for obj in model._default_manager.all()[:3]:
            change = reverse("admin:{}_{}_change".format(*info), args=[obj.pk])
            response = admin_client.get(change)
            assert response.status_code == 200, (change, response.status_code)
            history = reverse("admin:{}_{}_history".format(*info), args=[obj.pk])
            assert admin_client.get(history, follow=True).status_code == 200, history  # pghistory redirects
            opened.append(change)
        missing = reverse("admin:{}_{}_change".format(*info), args=["999999999999999999999"])
        assert admin_client.get(missing).status_code in (302, 404), missing
    assert len(opened) > 2 * len(admin.site._registry)


def _request_for(client):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    from django.contrib.auth import get_user_model

    request.user = get_user_model().objects.get(username="root")
    return request


def _changelist_query_counts(client) -> dict[str, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for _model, _model_admin, info in _admin_urls():
        changelist = reverse("admin:{}_{}_changelist".format(*info))
        with CaptureQueriesContext(connection) as captured:
            assert client.get(changelist).status_code == 200, changelist
        counts[changelist] = len(captured)
    return counts


def test_admin_changelists_use_the_same_number_of_queries_as_rows_grow(lab_after_runs, api_client, admin_client):
    from workflows.models import Protocol

    before = _changelist_query_counts(admin_client)
    for index in range(4):
        barcode = f"SAMPLE{index + 10:03d}"
        finished = _run_manual(
            api_client, name=f"more {index}", device_id="liquid-handler-2",
            steps=["pipette_transfer", "dispense_reagent"], barcodes=[barcode],
        )  # fmt: skip
        assert api_client.post(f"/api/workflows/{finished}/complete").status_code == 200
        imaged = _run_manual(
            api_client, name=f"image {index}", device_id="microscope-1", steps=["microscope.image"], barcodes=[barcode]
        )
        assert api_client.post(f"/api/workflows/{imaged}/complete").status_code == 200
    for index in range(4):  # after the manual runs: a campaign's runs book (or queue for) the microscope too
        _campaign(api_client, Protocol.objects.get(name="MSC passage P3 -> P4"), [f"PLATE-{index + 10:02d}"])
    after = _changelist_query_counts(admin_client)
    assert after == before
