"""Acceptance: a scientist builds, fixes and publishes a protocol in the admin, in real Chromium."""

import json
import time

import pytest

from tests.e2e.browser_support import Page
from tests.factories import UserFactory
from workflows.models import Protocol

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class Editor(Page):
    """The protocol editor's verbs on top of the generic page ones."""

    def add_step(self, index, name) -> None:
        self.click(self.visible(".djn-add-handler.djn-model-workflows-step"))
        self.type_into(f"#id_steps-{index}-name", name)

    def add_action(self, step, index, type_search, type_name, parameters: dict) -> tuple[dict, str]:
        """Add an action, choose its type, fill its parameters form; the defaults and form text it showed."""
        from selenium.webdriver.common.by import By

        group = self.find(f"#steps-{step}-actions-group")
        self.click(group.find_element(By.CSS_SELECTOR, ".djn-add-handler.djn-model-workflows-action"))
        self.choose_action_type(f"id_steps-{step}-actions-{index}-action_type", type_search, type_name)
        # The editor builds a form from the chosen type's schema and fills in the schema's defaults.
        form = self.parameter_form(step, index)
        self.wait.until(lambda d: form.find_elements(By.CSS_SELECTOR, ".action-parameter"))
        shown = (self.parameters(step, index), form.text)
        for name, value in parameters.items():
            self.set_parameter(step, index, name, value)
        return shown

    def parameter_form(self, step, index):
        """The form the editor built next to an action's parameters field."""
        return self.find(
            f".action-parameter-editor:has(> #id_steps-{step}-actions-{index}-parameters) .action-parameter-form"
        )

    def parameter_input(self, step, index, name):
        return self.visible(f"#id_steps-{step}-actions-{index}-parameters-{name}")

    def set_parameter(self, step, index, name, value) -> None:
        """Fill one parameter in the form: a list by its text, a tick box, or type into a box."""
        from selenium.webdriver.support.ui import Select

        field = self.parameter_input(step, index, name)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", field)
        if field.tag_name == "select":
            Select(field).select_by_visible_text(str(value))
        elif field.get_attribute("type") == "checkbox":
            if field.is_selected() != bool(value):
                field.click()
        else:
            field.clear()
            field.send_keys(str(value))

    def page_errors(self) -> list[str]:
        """Script errors the page raised since the last call (the editor's own script must raise none)."""
        return [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if entry["level"] == "SEVERE" and entry.get("source") == "javascript"
        ]

    def parameters(self, step, index) -> dict:
        """What will be saved: the JSON the form wrote into the (hidden) parameters field."""
        return json.loads(self.find(f"#id_steps-{step}-actions-{index}-parameters").get_attribute("value") or "{}")

    def choose_action_type(self, select_id, search, name) -> None:
        """Open the registry's searchable chooser, type, and pick the matching type."""
        from selenium.webdriver.common.by import By

        select = self.find(f"#{select_id}")
        container = select.find_element(By.XPATH, "following-sibling::span[contains(@class, 'select2')]")
        self.click(container.find_element(By.CSS_SELECTOR, ".select2-selection"))
        self.visible(".select2-container--open .select2-search__field").send_keys(search)
        option_xpath = f"//li[contains(@class, 'select2-results__option') and normalize-space(.)='{name}']"
        self.wait.until(lambda d: d.find_elements(By.XPATH, option_xpath))
        self.click(self.driver.find_element(By.XPATH, option_xpath))
        self.wait.until(lambda d: d.find_element(By.ID, select_id).get_attribute("value"))

    def save_and_continue(self) -> None:
        self.click_to_next_page(self.find("input[name=_continue]"))
        self.find("#content")

    def drag_step_above(self, moving_index, target_index) -> None:
        """Drag a step by its header handle above another step, with small mouse moves."""
        from selenium.webdriver.common.action_chains import ActionChains

        handle = self.find(f"#steps-{moving_index} .djn-drag-handler")
        target = self.find(f"#steps-{target_index} .djn-drag-handler")
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", target)
        chain = ActionChains(self.driver, duration=50).click_and_hold(handle).move_by_offset(0, -5)
        distance = target.location["y"] - handle.location["y"] - 20
        steps = 12
        for _ in range(steps):
            chain.move_by_offset(0, distance // steps).pause(0.05)
        chain.pause(0.3).release().perform()
        time.sleep(0.5)

    def step_names_on_page(self) -> list[str]:
        from selenium.webdriver.common.by import By

        items = self.driver.find_elements(By.CSS_SELECTOR, "#steps-group > .djn-fieldset > .djn-items > .djn-item")
        names = []
        for item in items:
            inputs = item.find_elements(By.CSS_SELECTOR, "input[name$='-name']")
            if inputs and item.is_displayed():
                names.append(inputs[0].get_attribute("value"))
        return names


def step_names(protocol: Protocol) -> list[str]:
    return list(protocol.steps.order_by("position").values_list("name", flat=True))


def test_a_scientist_builds_fixes_and_publishes_a_protocol(browser, live_server, demo_lab):
    UserFactory(username="scientist-admin", password="secret-pass", is_staff=True, is_superuser=True)
    editor = Editor(browser, live_server.url, name="protocol-editor")
    editor.login("scientist-admin", "secret-pass")

    # Build: a draft with two steps and three actions, types chosen through the registry search.
    browser.get(live_server.url + "/admin/workflows/protocol/add/")
    from selenium.webdriver.support.ui import Select

    Select(editor.find("#id_project")).select_by_visible_text("Stem cell expansion")
    editor.type_into("#id_name", "Browser-built wash")
    editor.add_step(0, "Warm media")
    prefilled, form = editor.add_action(0, 0, "incubator.w", "incubator.warm", {"duration_s": 600})
    assert prefilled == {"temperature_c": 37, "duration_s": 900}
    assert "temperature" in form and "4 to 45 °C · default 37" in form
    assert editor.parameters(0, 0) == {"temperature_c": 37, "duration_s": 600}
    editor.add_step(1, "Wash")
    editor.add_action(1, 0, "robot.disp", "robot.dispense", {"volume_ul": 1500, "reagent": "PBS"})
    editor.add_action(1, 1, "robot.asp", "robot.aspirate", {"volume_ul": 1500})
    editor.shot("built")
    editor.save_and_continue()
    editor.shot("saved")
    protocol = Protocol.objects.get(name="Browser-built wash")
    assert step_names(protocol) == ["Warm media", "Wash"]
    assert protocol.steps.get(name="Wash").actions.count() == 2
    assert "Actions" in editor.find("#protocol-summary").text
    assert editor.find("#summary-actions").text == "3"

    # Reorder: drag "Wash" above "Warm media", save, and the new order is stored.
    editor.drag_step_above(1, 0)
    editor.shot("dragged")
    assert editor.step_names_on_page() == ["Wash", "Warm media"]
    editor.save_and_continue()
    assert step_names(protocol) == ["Wash", "Warm media"]
    assert list(protocol.steps.order_by("position").values_list("position", flat=True)) == [1, 2]

    # A bad value: the schema's error appears on the parameters field in plain words, and nothing is saved.
    editor.set_parameter(0, 1, "volume_ul", -20)
    editor.save_and_continue()
    error = editor.visible(".field-parameters .errorlist")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", error)
    editor.shot("parameter-error")
    assert error.text == "volume must be more than 0 µL"
    assert protocol.steps.get(name="Wash").actions.get(position=2).parameters == {"volume_ul": 1500}

    # Fix it and save.
    editor.set_parameter(0, 1, "volume_ul", 1200)
    editor.save_and_continue()
    assert "was changed successfully" in editor.find("ul.messagelist").text
    assert protocol.steps.get(name="Wash").actions.get(position=2).parameters == {"volume_ul": 1200}

    # Publish, then the page is read-only and says why.
    editor.click_to_next_page(editor.find("#protocol-publish"))
    messages = editor.find("ul.messagelist").text
    editor.shot("published")
    assert "Published" in messages and "published and frozen: edits are refused" in messages
    protocol.refresh_from_db()
    assert protocol.is_published
    assert not browser.find_elements("css selector", "input[name=_save], input[name=_continue]")
    editable = browser.find_elements("css selector", "#id_steps-0-name, textarea, .djn-add-handler")
    assert not [element for element in editable if element.is_displayed()]
    assert editor.find("#protocol-new-version").is_displayed()
    # Even a hand-made POST of the form is refused by the server, and nothing changes.
    status = browser.execute_script(
        """
        const token = document.querySelector("[name=csrfmiddlewaretoken]").value;
        const body = new URLSearchParams({csrfmiddlewaretoken: token, name: "Renamed", project: arguments[0]});
        const response = await fetch(window.location.pathname, {method: "POST", body: body});
        return response.status;
        """,
        protocol.project_id,
    )
    assert status == 403
    protocol.refresh_from_db()
    assert protocol.name == "Browser-built wash" and step_names(protocol) == ["Wash", "Warm media"]
