import pytest

from tests.e2e.browser_support import Page, chromium_driver


@pytest.fixture
def browser():
    driver = chromium_driver()
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, live_server, request):
    """A ``Page`` on the live server whose screenshots are named after the test."""
    return Page(browser, live_server.url, name=request.node.name)
