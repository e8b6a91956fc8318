"""The sample and campaign admin pages with growth charts and history: they render, at a constant query count."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.factories import PlateFactory, ProtocolFactory, SampleFactory, UserFactory
from tests.workflows.growth_support import imaged_run
from workflows.models import Campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(UserFactory(username="admin-growth", is_staff=True, is_superuser=True))
    return client


def _queries(client, url) -> tuple[int, str]:
    client.get(url)  # once first: per-process caches (content types, the session) fill on the first request
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries), response.content.decode()


def test_the_sample_page_shows_its_chart_data_and_history_in_the_same_queries_for_few_or_many_runs(admin_client):
    few, many = SampleFactory(), SampleFactory()
    imaged_run([few], hours=[0, 12, 24, 36], threshold=80)
    for _ in range(3):
        imaged_run([many], hours=range(0, 97, 12), threshold=80)
    small, page = _queries(admin_client, f"/admin/samples/sample/{few.pk}/change/")
    large, many_page = _queries(admin_client, f"/admin/samples/sample/{many.pk}/change/")
    assert small == large
    assert 'id="sample-growth-data"' in page and "uPlot.iife.min.js" in page and "growth.js" in page
    assert "History (chain of custody)" in page and "/admin/executionlogs/executionlog/" in page
    assert many_page.count('class="history-result"') == 27 and many_page.count('class="growth-run"') == 3


def test_the_campaign_page_shows_every_plate_in_the_same_queries_for_two_plates_or_six(admin_client):
    counts = []
    for plates in (2, 6):
        campaign = Campaign.objects.create(name=f"growth {plates}", protocol=ProtocolFactory())
        for _ in range(plates):
            plate = PlateFactory()
            samples = [SampleFactory(plate=plate, well=f"A{k + 1}") for k in range(2)]
            imaged_run(samples, hours=[0, 12, 24, 36, 48], campaign=campaign, threshold=80)
        count, page = _queries(admin_client, f"/admin/workflows/campaign/{campaign.pk}/change/")
        counts.append(count)
        assert 'id="campaign-growth-data"' in page and page.count('"plate": "') == plates
    assert counts[0] == counts[1]


def test_the_sample_list_still_opens_from_its_new_home(admin_client):
    sample = SampleFactory()
    response = admin_client.get("/admin/samples/sample/", {"q": sample.barcode})
    assert response.status_code == 200 and sample.barcode in response.content.decode()
