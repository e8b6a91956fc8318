"""An operator imports a SiLA 2 server from the admin (headless Chromium), as sila_import does."""

import pytest

from devices.models import ActionType, Device
from devices.sila.simulator import SilaSimulator
from tests.e2e.browser_support import Page
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_imports_a_sila_server_from_the_devices_page(browser, live_server, request):
    UserFactory(username="operator-s", password="pw-sila", is_staff=True, is_superuser=True)
    page = Page(browser, live_server.url, name=request.node.name)
    page.login("operator-s", "pw-sila")
    with SilaSimulator("microscope", insecure=True, latency_scale=0) as simulator:
        browser.get(live_server.url + "/admin/devices/device/")
        page.click_to_next_page(page.find("a[href$='/admin/devices/device/sila-import/']"))
        page.type_into("#id_host", "127.0.0.1")
        page.type_into("#id_port", str(simulator.port))
        page.type_into("#id_device_id", "sila-microscope")
        page.click(page.find("#id_insecure"))
        page.shot("sila-import-form")
        page.click_to_next_page(page.find("#sila-import input[type=submit]"))
        page.find("ul.messagelist")
    page.shot("sila-imported")
    text = browser.find_element("tag name", "body").text
    assert "device sila-microscope: created" in text.lower()
    device = Device.objects.get(pk="sila-microscope")
    assert device.adapter == "sila2" and device.config["port"] == simulator.port
    assert ActionType.objects.filter(name__startswith="sila.ImagingControl.").exists()


def test_an_unreachable_server_is_a_message_on_the_form(browser, live_server, request):
    UserFactory(username="operator-u", password="pw-sila", is_staff=True, is_superuser=True)
    page = Page(browser, live_server.url, name=request.node.name)
    page.login("operator-u", "pw-sila")
    browser.get(live_server.url + "/admin/devices/device/sila-import/")
    page.type_into("#id_host", "127.0.0.1")
    page.type_into("#id_port", "9")  # nothing listens on the discard port here
    page.click(page.find("#id_insecure"))
    page.click_to_next_page(page.find("#sila-import input[type=submit]"))
    error = page.find(".errornote, .errorlist")
    page.shot("sila-import-unreachable")
    assert "connect" in error.text.lower() and not Device.objects.filter(adapter="sila2").exists()
