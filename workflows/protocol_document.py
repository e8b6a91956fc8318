"""The JSON document of one protocol version: what is exported, imported, and signed (docs/protocols.md).

A read, below the services: ``protocol_io`` imports and exports with it, and signatures hash
it (``workflows.records``) without importing the services that publish.
"""

from workflows.models import Protocol
from workflows.selectors import protocol_list
from workflows.step_timing import step_timing_of

FORMAT = "labcore.protocol"
FORMAT_VERSION = 1


def _seconds_or_count(value):
    """Whole seconds as integers (``43200``, not ``43200.0``): the document is read by people."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def protocol_export(protocol: Protocol) -> dict:
    """The JSON document of one protocol version (reads through the selector: constant queries)."""
    protocol = protocol_list().get(pk=protocol.pk)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "project": {"name": protocol.project.name, "description": protocol.project.description},
        "name": protocol.name,
        "version": protocol.version,
        "status": protocol.status,
        "description": protocol.description,
        "steps": [
            {
                "name": step.name,
                "description": step.description,
                **{field: _seconds_or_count(value) for field, value in step_timing_of(step).items()},
                "actions": [
                    {
                        "action_type": action.action_type.name,
                        "parameters": action.parameters,
                        "device": action.device_id,
                    }
                    for action in step.actions.all()
                ],
            }
            for step in protocol.steps.all()
        ],
    }
