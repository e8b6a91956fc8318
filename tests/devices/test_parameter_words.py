"""Parameter errors read as sentences naming the parameter and its unit, one per schema keyword."""

import pytest
from jsonschema import Draft202012Validator

from devices.parameter_words import parameter_fields, parameter_label, parameter_unit, parameters_readable, plain_error

SCHEMA = {
    "type": "object",
    "properties": {
        "volume_ul": {"type": "number", "exclusiveMinimum": 0, "maximum": 50000},
        "temperature_c": {"type": "number", "minimum": 4, "maximum": 45, "default": 37},
        "speed_rpm": {"type": "number", "exclusiveMaximum": 3000, "multipleOf": 100},
        "mode": {"type": "string", "enum": ["fast", "slow"]},
        "reagent": {"type": "string", "minLength": 1, "maxLength": 5},
        "well": {"type": "string", "pattern": "^[A-H][0-9]+$"},
        "repeats": {"type": "integer"},
        "shake": {"type": "boolean"},
        "channels": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2, "uniqueItems": True},
        "magnification": {"enum": [4, 10]},
        "lid": {"const": "on"},
        "depth": {"type": "number", "x-unit": "mm", "minimum": 1},
        "mix": {"type": "object", "properties": {"cycles": {"type": "integer"}}, "required": ["cycles"]},
    },
    "required": ["volume_ul", "reagent"],
    "additionalProperties": False,
}


def messages(parameters) -> list[str]:
    validator = Draft202012Validator(SCHEMA)
    return [plain_error(error, SCHEMA) for error in validator.iter_errors(parameters)]


def only_message(parameters) -> str:
    found = messages({"volume_ul": 10, "reagent": "PBS", **parameters})
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("parameters", "sentence"),
    [
        ({"volume_ul": 0}, "volume must be more than 0 µL"),
        ({"volume_ul": 60000}, "volume must be at most 50000 µL"),
        ({"temperature_c": 2}, "temperature must be at least 4 °C"),
        ({"speed_rpm": 3000}, "speed must be less than 3000 rpm"),
        ({"speed_rpm": 150}, "speed must be a multiple of 100 rpm"),
        ({"mode": "medium"}, "mode must be one of: fast, slow"),
        ({"magnification": 7}, "magnification must be one of: 4, 10"),
        ({"reagent": ""}, "reagent must not be empty"),
        ({"reagent": "trypsin"}, "reagent must be at most 5 characters long"),
        ({"well": "Z9"}, 'well must match the pattern ^[A-H][0-9]+$ ("Z9" does not)'),
        ({"repeats": 1.5}, "repeats must be a whole number, not 1.5"),
        ({"volume_ul": "lots"}, 'volume must be a number, not "lots"'),
        ({"shake": "yes"}, 'shake must be true or false, not "yes"'),
        ({"channels": []}, "channels must list at least 1 item"),
        ({"channels": ["a", "b", "c"]}, "channels must list at most 2 items"),
        ({"channels": ["a", "a"]}, "channels must not list the same item twice"),
        ({"channels": ["a", 3]}, "item 2 of channels must be text, not 3"),
        ({"lid": "off"}, 'lid must be "on"'),
        ({"depth": 0.5}, "depth must be at least 1 mm"),
        ({"mix": {}}, "cycles (in mix) is required"),
        ({"mix": {"cycles": "x"}}, 'cycles (in mix) must be a whole number, not "x"'),
    ],
)
def test_each_keyword_reads_as_a_sentence(parameters, sentence):
    assert only_message(parameters) == sentence


def test_a_missing_required_parameter_is_named():
    assert messages({"reagent": "PBS"}) == ["volume is required"]


def test_an_unknown_parameter_names_it_and_lists_the_known_ones():
    (message,) = messages({"volume_ul": 1, "reagent": "PBS", "colour": "red"})
    assert message.startswith("colour is not a parameter of this action type")
    assert "volume_ul, temperature_c" in message
    (both,) = messages({"volume_ul": 1, "reagent": "PBS", "colour": "red", "size": 2})
    assert both.startswith("colour, size are not parameters")


def test_an_unknown_keyword_keeps_jsonschema_words_after_the_name():
    schema = {"type": "object", "properties": {"n": {"type": "integer", "not": {"const": 3}}}}
    (error,) = Draft202012Validator(schema).iter_errors({"n": 3})
    assert plain_error(error, schema).startswith("n: ")


def test_units_and_labels_come_from_the_schema_or_the_name_suffix():
    assert (parameter_label("volume_ul"), parameter_unit("volume_ul")) == ("volume", "µL")
    assert (parameter_label("co2_percent"), parameter_unit("co2_percent")) == ("co2", "%")
    assert (parameter_label("duration_s"), parameter_unit("duration_s")) == ("duration", "s")
    assert (parameter_label("source_well"), parameter_unit("source_well")) == ("source well", "")
    assert (parameter_label("depth_x", {"x-unit": "mm"}), parameter_unit("depth_x", {"x-unit": "mm"})) == (
        "depth x",
        "mm",
    )
    assert parameter_label("volume_ul", {"title": "Volume to move"}) == "Volume to move"
    assert parameter_unit("_s") == ""  # a bare suffix is a name, not a unit
    assert parameter_fields(SCHEMA)["temperature_c"] == {"label": "temperature", "unit": "°C"}


def test_parameters_read_as_name_value_unit_in_schema_order():
    assert parameters_readable(SCHEMA, {"reagent": "PBS", "volume_ul": 1500.0, "shake": True, "other": {"a": 1}}) == [
        "volume: 1500 µL",
        "reagent: PBS",
        "shake: yes",
        'other: {"a": 1}',
    ]
    assert parameters_readable(SCHEMA, {"channels": ["brightfield", "phase"]}) == ["channels: brightfield, phase"]
    assert parameters_readable({}, {}) == []
