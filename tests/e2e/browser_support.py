"""Headless Chromium for page tests: the ``Page`` verbs a person uses (log in, click, type, look).

Debian's ``chromium`` and ``chromium-driver`` drive pages served by pytest-django's live_server.
Screenshots go to ``artifacts/browser/`` (git-ignored), named after the test, so a reviewer can
look at what each test saw. Without Chromium a test is skipped on a laptop and fails under CI=true.
"""

import os
import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "browser"
WAIT_SECONDS = 15


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_driver():
    """A headless Chromium session, or a skip (a fail under CI) where Chromium is not installed."""
    binary = chromium_binary()
    if binary is None or not CHROMEDRIVER.exists():
        message = "Debian's chromium and chromium-driver are needed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1200",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return driver


class Page:
    """Small verbs over a page, so a browser test reads like what a person does."""

    def __init__(self, driver, base_url, name: str = ""):
        self.driver = driver
        self.base_url = base_url
        self.name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")
        self.wait = WebDriverWait(driver, WAIT_SECONDS)
        self.shots = 0

    def shot(self, name: str) -> Path:
        self.shots += 1
        prefix = f"{self.name}-" if self.name else ""
        path = SCREENSHOTS / f"{prefix}{self.shots:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def find(self, css):
        return self.wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))

    def visible(self, css):
        return self.wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    def click(self, element) -> None:
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
        element.click()

    def click_to_next_page(self, element) -> None:
        """Click something that loads a new page, and wait until the old page is gone.

        Without the wait, the next find() can match the old page's element (say its message
        list) just before the browser replaces it: a stale element, or the old page's text.
        """
        old_page = self.driver.find_element(By.TAG_NAME, "html")
        self.click(element)
        self.wait.until(ec.staleness_of(old_page))

    def login(self, username, password) -> None:
        self.open("/admin/login/")
        self.find("#id_username").send_keys(username)
        self.find("#id_password").send_keys(password)
        self.click_to_next_page(self.find("input[type=submit]"))
        self.find("#user-tools")

    def type_into(self, css, text) -> None:
        field = self.visible(css)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", field)
        field.clear()
        field.send_keys(text)

    def wait_for_text(self, css, text) -> None:
        """Wait until the element at ``css`` shows ``text`` (for pages that update themselves)."""
        self.wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))

    def external_requests(self) -> list[str]:
        """Resources the page loaded from anywhere but LabCore itself (there must be none: no CDN)."""
        entries = self.driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name).concat([location.href]);"
        )
        return [url for url in entries if not url.startswith(self.base_url)]
