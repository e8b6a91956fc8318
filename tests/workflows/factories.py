"""Builders of protocol graphs for the workflow tests."""

from devices.choices import DeviceKind
from tests.factories import ActionTypeFactory, DeviceFactory, ProjectFactory
from workflows.choices import ProtocolStatus
from workflows.services.protocols import protocol_create, protocol_publish

VOLUME_SCHEMA = {
    "type": "object",
    "properties": {"volume_ul": {"type": "number", "exclusiveMinimum": 0, "default": 100}},
    "additionalProperties": False,
}


def registry_make() -> dict:
    """Two action types on two kinds and one device of each."""
    return {
        "transfer": ActionTypeFactory(
            name="test.transfer", device_kind=DeviceKind.LIQUID_HANDLER, parameter_schema=VOLUME_SCHEMA
        ),
        "warm": ActionTypeFactory(
            name="test.warm",
            device_kind=DeviceKind.INCUBATOR,
            estimated_duration_seconds=60,
            parameter_schema={"type": "object", "properties": {"minutes": {"type": "integer", "default": 5}}},
        ),
        "handler": DeviceFactory(id="handler-a", kind=DeviceKind.LIQUID_HANDLER),
        "incubator": DeviceFactory(id="incubator-a", kind=DeviceKind.INCUBATOR),
    }


def steps_spec(step_count: int, *, pinned: bool = False) -> list[dict]:
    """``step_count`` steps of two actions each (transfer then warm)."""
    return [
        {
            "name": f"Step {index}",
            "description": "",
            "actions": [
                {"action_type": "test.transfer", "parameters": {"volume_ul": 10 * index}, "device": None},
                {"action_type": "test.warm", "parameters": {}, "device": "incubator-a" if pinned else None},
            ],
        }
        for index in range(1, step_count + 1)
    ]


def protocol_make(step_count: int = 2, *, published: bool = False, name: str = "Passage", project=None, **kwargs):
    protocol = protocol_create(project=project or ProjectFactory(), name=name, steps=steps_spec(step_count, **kwargs))
    if published:
        protocol = protocol_publish(protocol=protocol)
        assert protocol.status == ProtocolStatus.PUBLISHED
    return protocol
