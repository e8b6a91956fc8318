"""load_action_types: YAML or JSON, idempotent, every error reported and nothing changed."""

import json

import pytest
from django.core.management import CommandError, call_command

from devices.models import ActionType
from tests.factories import ActionTypeFactory

GOOD_YAML = """\
action_types:
  - name: shaker.shake
    device_kind: other
    parameter_schema:
      type: object
      properties:
        rpm: {type: integer, minimum: 100, default: 300}
    estimated_duration_seconds: 120
    mock_response: {shaken: true}
  - name: sealer.seal
    device_kind: other
    safe_to_repeat: false
    mock_failure_rate: 0.05
"""

BAD_YAML = """\
- name: shaker.shake
  device_kind: other
- name: bad.kind
  device_kind: toaster
- name: bad.schema
  device_kind: other
  parameter_schema: {type: objekt}
- device_kind: other
- name: bad.rate
  device_kind: other
  mock_failure_rate: 3
  colour: blue
"""


def run(tmp_path, text, suffix=".yaml"):
    path = tmp_path / f"types{suffix}"
    path.write_text(text)
    out, err = [], []

    class Sink:
        def __init__(self, lines):
            self.lines = lines

        def write(self, text):
            self.lines.append(text)

        def flush(self):
            pass

    call_command("load_action_types", str(path), stdout=Sink(out), stderr=Sink(err))
    return "".join(out), err


@pytest.mark.django_db
def test_a_yaml_file_registers_its_types_and_a_second_load_changes_nothing(tmp_path):
    out, _ = run(tmp_path, GOOD_YAML)
    assert "created: 2" in out
    shaker = ActionType.objects.get(name="shaker.shake")
    assert shaker.parameter_schema["properties"]["rpm"]["default"] == 300
    assert shaker.mock_response == {"shaken": True}
    updated_at = shaker.updated_at
    out, _ = run(tmp_path, GOOD_YAML)
    assert "unchanged: 2" in out and "created: 0" in out
    assert ActionType.objects.get(name="shaker.shake").updated_at == updated_at


@pytest.mark.django_db
def test_a_json_file_updates_an_existing_type(tmp_path):
    ActionTypeFactory(name="shaker.shake", device_kind="other", timeout_seconds=10)
    out, _ = run(
        tmp_path, json.dumps([{"name": "shaker.shake", "device_kind": "other", "timeout_seconds": 99}]), ".json"
    )
    assert "updated: 1" in out
    assert ActionType.objects.get(name="shaker.shake").timeout_seconds == 99


@pytest.mark.django_db
def test_a_file_with_errors_reports_each_with_its_place_and_changes_nothing(tmp_path):
    ActionTypeFactory(name="keep.me", device_kind="other")
    with pytest.raises(CommandError) as error:
        run(tmp_path, BAD_YAML)
    assert "nothing was changed" in str(error.value)
    assert "5 error(s)" in str(error.value)
    assert list(ActionType.objects.values_list("name", flat=True)) == ["keep.me"]


@pytest.mark.django_db
def test_each_error_line_names_the_entry_field_and_line(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_YAML)
    with pytest.raises(CommandError):
        call_command("load_action_types", str(path))
    err = capsys.readouterr().err
    assert "[1] bad.kind (line 3).device_kind:" in err
    assert "[2] bad.schema (line 5).parameter_schema: not a valid JSON Schema" in err
    assert "[3] (line 8).name:" in err
    assert "[4] bad.rate (line 9).mock_failure_rate:" in err
    assert "[4] bad.rate (line 9).fields: unknown field(s): colour" in err
    assert not ActionType.objects.exists()


@pytest.mark.django_db
def test_an_unparseable_file_is_an_error(tmp_path):
    with pytest.raises(CommandError):
        run(tmp_path, "{not json", ".json")


UNSTORABLE_YAML = """\
- name: nan.duration
  device_kind: other
  estimated_duration_seconds: .nan
- name: nul.description
  device_kind: other
  description: "bad\\0text"
- name: nul.mock
  device_kind: other
  mock_response: {note: "a\\0b"}
"""


@pytest.mark.django_db
def test_nul_and_nan_in_a_file_are_reported_errors_and_change_nothing(tmp_path):
    # NaN passed min/max validators (then made wait times NaN, a 500); NUL crashed the save.
    with pytest.raises(CommandError) as error:
        run(tmp_path, UNSTORABLE_YAML)
    assert "3 error(s)" in str(error.value) and "nothing was changed" in str(error.value)
    assert not ActionType.objects.exists()
