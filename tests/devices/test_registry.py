"""The registry checks parameters against each type's schema and names every bad field."""

import pytest

from devices.registry import parameters_errors, parameters_validate, schema_errors
from labcore.exceptions import ApplicationError
from tests.factories import ActionTypeFactory

SCHEMA = {
    "type": "object",
    "properties": {
        "volume_ul": {"type": "number", "exclusiveMinimum": 0},
        "well": {"type": "string", "pattern": "^[A-H][0-9]+$"},
        "mix": {"type": "object", "properties": {"cycles": {"type": "integer", "default": 3}}},
        "speed": {"type": "string", "default": "normal"},
    },
    "required": ["volume_ul"],
    "additionalProperties": False,
}


@pytest.mark.django_db
def test_each_bad_parameter_is_named():
    action_type = ActionTypeFactory(parameter_schema=SCHEMA)
    errors = parameters_errors(action_type, {"well": "Z9", "mix": {"cycles": "many"}, "colour": "red"})
    assert set(errors) == {"parameters.volume_ul", "parameters.well", "parameters.mix.cycles", "parameters"}
    assert "colour" in " ".join(errors["parameters"])


@pytest.mark.django_db
def test_validation_applies_defaults_and_keeps_given_values():
    action_type = ActionTypeFactory(parameter_schema=SCHEMA)
    assert parameters_validate(action_type, {"volume_ul": 5}) == {"volume_ul": 5, "speed": "normal"}
    with pytest.raises(ApplicationError) as error:
        parameters_validate(action_type, {"volume_ul": 0})
    assert list(error.value.fields) == ["parameters.volume_ul"]


def test_schemas_are_checked_themselves():
    assert schema_errors(SCHEMA) == []
    assert schema_errors({"type": 12})
    assert schema_errors({"properties": {"n": {"type": "integer", "default": "x"}}})
    assert schema_errors({"$ref": "http://example.org/s"})
