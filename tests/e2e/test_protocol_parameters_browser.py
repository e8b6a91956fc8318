"""A scientist sets an action's parameters in a form built from its type's schema (headless Chromium).

The form shows each parameter with its unit, bounds and default; switches when the type changes;
errors come back in plain words; a power user can still edit the JSON; a published protocol lists
its parameters as "volume: 10 µL"; and nothing next to the type deletes the registry entry.
"""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.e2e.test_protocol_editor_browser import Editor
from tests.factories import UserFactory
from workflows.models import Protocol

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def labels_and_units(editor: Editor, step: int, index: int) -> list[tuple[str, str]]:
    form = editor.parameter_form(step, index)
    rows = form.find_elements(By.CSS_SELECTOR, ".action-parameter")
    return [
        (
            row.find_element(By.TAG_NAME, "label").text,
            " ".join(unit.text for unit in row.find_elements(By.CSS_SELECTOR, ".action-parameter-unit")),
        )
        for row in rows
    ]


def test_parameters_are_a_form_from_the_schema_with_units_defaults_and_plain_errors(browser, live_server, demo_lab):
    UserFactory(username="scientist-p", password="pw-params", is_staff=True, is_superuser=True)
    editor = Editor(browser, live_server.url, name="protocol-parameters")
    editor.login("scientist-p", "pw-params")
    browser.get(live_server.url + "/admin/workflows/protocol/add/")
    Select(editor.find("#id_project")).select_by_visible_text("Stem cell expansion")
    editor.type_into("#id_name", "Form-built feed")
    editor.add_step(0, "Feed")

    # Choosing a type shows its parameters with units, bounds and defaults; the defaults are filled in.
    defaults, text = editor.add_action(0, 0, "incubate", "incubate", {})
    assert defaults == {"temperature_c": 37, "co2_percent": 5, "duration_s": 300}
    assert set(labels_and_units(editor, 0, 0)) == {("temperature", "°C"), ("co2", "%"), ("duration", "s")}
    assert "4 to 45 °C · default 37" in text and "1 to 604800 s · default 300" in text
    assert editor.parameter_input(0, 0, "temperature_c").get_attribute("value") == "37"
    editor.shot("defaults")

    # Another type: the form switches; what both types take is kept, the rest goes.
    editor.set_parameter(0, 0, "temperature_c", 30)
    editor.choose_action_type("id_steps-0-actions-0-action_type", "incubator.w", "incubator.warm")
    editor.wait.until(lambda d: not d.find_elements(By.ID, "id_steps-0-actions-0-parameters-co2_percent"))
    assert set(labels_and_units(editor, 0, 0)) == {("temperature", "°C"), ("duration", "s")}
    assert editor.parameters(0, 0) == {"temperature_c": 30, "duration_s": 900}

    # A type with required and enum parameters: a list to choose from, the required ones marked.
    editor.choose_action_type("id_steps-0-actions-0-action_type", "robot.disp", "robot.dispense")
    editor.parameter_input(0, 0, "reagent")
    assert [label for label, _ in labels_and_units(editor, 0, 0)][0] == "volume"  # required first
    required = editor.parameter_form(0, 0).find_elements(By.CSS_SELECTOR, "label.required")
    assert [label.text for label in required] == ["volume"]
    assert editor.parameters(0, 0) == {}
    editor.add_action(0, 1, "microscope.i", "microscope.image", {"magnification": 40})
    assert editor.parameter_input(0, 1, "magnification").tag_name == "select"
    assert editor.parameters(0, 1) == {"magnification": 40, "channels": ["brightfield"]}
    editor.set_parameter(0, 1, "channels", "brightfield, phase")
    assert editor.parameters(0, 1) == {"magnification": 40, "channels": ["brightfield", "phase"]}

    # No registry edits next to the type (the red cross deleted the ActionType); only a look at it.
    actions = editor.find("#steps-0-actions-group")
    for link in ("delete-related", "change-related", "add-related"):
        assert not actions.find_elements(By.CSS_SELECTOR, f"a.{link}"), link
    assert actions.find_elements(By.CSS_SELECTOR, "a.view-related")

    # Invalid values: saved nowhere, and the errors say what is wrong in words, with the unit.
    editor.set_parameter(0, 0, "volume_ul", -20)
    editor.set_parameter(0, 0, "well", "Z9")
    assert editor.parameters(0, 0) == {"volume_ul": -20, "well": "Z9"}
    editor.shot("filled")
    editor.save_and_continue()
    error = editor.visible(".field-parameters .errorlist")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", error)
    editor.shot("plain-error")
    messages = [item.text for item in error.find_elements(By.TAG_NAME, "li")]
    assert "volume must be more than 0 µL" in messages
    assert any(message.startswith("well must match the pattern") for message in messages)
    assert len(messages) == 2  # nothing left over from the types chosen before
    assert not any("less than or equal" in message or "does not match '" in message for message in messages)
    assert not Protocol.objects.filter(name="Form-built feed").exists()
    # The form is rebuilt from what was posted, and the offending rows are marked.
    assert editor.parameter_input(0, 0, "volume_ul").get_attribute("value") == "-20"
    marked = editor.parameter_form(0, 0).find_elements(By.CSS_SELECTOR, ".action-parameter.errors label")
    assert {label.text for label in marked} == {"volume", "well"}

    # A power user edits the JSON itself, and the form follows it.
    toggle = editor.find(".action-parameter-editor:has(> #id_steps-0-actions-0-parameters) a")
    editor.click(toggle)
    editor.type_into("#id_steps-0-actions-0-parameters", '{"volume_ul": 10,')
    editor.click(toggle)  # JSON that does not parse cannot become a form: it stays, and says why
    assert toggle.text == "Edit as form"
    assert "not a JSON object" in editor.find(".action-parameter-editor .action-parameters-note").text
    editor.type_into("#id_steps-0-actions-0-parameters", '{"volume_ul": 10, "well": "B2", "reagent": "PBS"}')
    assert toggle.text == "Edit as form"
    editor.shot("json")
    editor.click(toggle)
    assert editor.parameter_input(0, 0, "well").get_attribute("value") == "B2"
    assert editor.parameters(0, 0) == {"volume_ul": 10, "well": "B2", "reagent": "PBS"}
    editor.save_and_continue()
    assert "was added successfully" in editor.find("ul.messagelist").text
    protocol = Protocol.objects.get(name="Form-built feed")
    saved = [action.parameters for action in protocol.steps.get().actions.order_by("position")]
    assert saved == [
        {"volume_ul": 10, "well": "B2", "reagent": "PBS"},
        {"magnification": 40, "channels": ["brightfield", "phase"]},
    ]
    # Saved values show in the form as they were saved.
    assert editor.parameter_input(0, 0, "volume_ul").get_attribute("value") == "10"
    assert editor.page_errors() == []
    assert editor.external_requests() == []

    # Published: the parameters read as "name: value unit" lines, with no raw dict or JSON.
    editor.click_to_next_page(editor.find("#protocol-publish"))
    lists = browser.find_elements(By.CSS_SELECTOR, ".action-parameter-list")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", lists[0])
    editor.shot("published")
    assert [item.text.splitlines() for item in lists] == [
        ["volume: 10 µL", "well: B2", "reagent: PBS"],
        ["channels: brightfield, phase", "magnification: 40"],  # required first, then as the schema is stored
    ]
    source = browser.page_source
    assert "'name'" not in source and "&#x27;name&#x27;" not in source and "is_hidden" not in source
    assert '{"volume_ul"' not in editor.text()
    assert not browser.find_elements(By.CSS_SELECTOR, "a.delete-related, a.change-related, a.add-related")
    assert editor.external_requests() == []
