"""Protocols as JSON documents: export one version, import it elsewhere (docs/protocols.md).

The document names things by their natural keys (project name, action type name, device id),
never by database ids, so it moves between labs. Export then import then export gives the
same document: the graph (steps with their timing and conditions, actions, parameters, pinned
devices, order) is identical. Documents written before steps had timing still import: a
missing timing key means unset.
"""

import re

from django.core.exceptions import ValidationError
from django.db import transaction

from labcore.exceptions import ApplicationError, ConflictError
from labcore.validators import unstorable_json_paths
from workflows.choices import ProtocolStatus
from workflows.models import Project, Protocol
from workflows.protocol_document import FORMAT, FORMAT_VERSION, protocol_export
from workflows.services.protocols import project_create, protocol_create, protocol_publish
from workflows.step_timing import steps_timing_errors

__all__ = ["FORMAT", "FORMAT_VERSION", "protocol_documents", "protocol_export", "protocol_import"]

VERSION_PATTERN = re.compile(r"^(\d{1,9})\.(\d{1,9})$")


def _document_check(document) -> tuple[int, int]:
    if not isinstance(document, dict):
        raise ApplicationError("a protocol document must be a JSON object", fields={"document": ["not an object"]})
    errors: dict[str, list[str]] = {}
    if document.get("format") != FORMAT:
        errors["format"] = [f"must be {FORMAT!r}"]
    if document.get("format_version") != FORMAT_VERSION:
        errors["format_version"] = [f"this LabCore reads version {FORMAT_VERSION}"]
    project = document.get("project")
    if not isinstance(project, dict) or not isinstance(project.get("name"), str) or not project["name"].strip():
        errors["project.name"] = ["required"]
    if not isinstance(document.get("name"), str) or not document["name"].strip():
        errors["name"] = ["required"]
    match = VERSION_PATTERN.match(str(document.get("version", "")))
    if not match:
        errors["version"] = ["must look like 0.4"]
    if document.get("status") not in ProtocolStatus.values:
        errors["status"] = [f"one of {', '.join(ProtocolStatus.values)}"]
    if not isinstance(document.get("steps"), list):
        errors["steps"] = ["must be a list"]
    if errors:
        raise ApplicationError("not a LabCore protocol document: " + ", ".join(errors), fields=errors)
    return int(match.group(1)), int(match.group(2))


@transaction.atomic
def protocol_import(*, document: dict, project_name: str | None = None, user=None) -> Protocol:
    """Create the protocol of ``document`` (its project too, if missing); all or nothing.

    ``project_name`` files it under another project. An existing version of the same name
    is never overwritten (409): published versions are frozen and drafts are someone's work.
    """
    version_major, version_minor = _document_check(document)
    # Timing first, so a NaN window is reported as steps[2].window_seconds like every timing error.
    timing = steps_timing_errors([step if isinstance(step, dict) else {} for step in document["steps"]])
    if timing:
        raise ApplicationError("invalid protocol steps: " + ", ".join(timing), fields=timing)
    unstorable = unstorable_json_paths(document)
    if unstorable:
        message = "PostgreSQL cannot store NUL characters or NaN/Infinity"
        raise ApplicationError(f"{message}: {', '.join(unstorable)}", fields={path: [message] for path in unstorable})
    try:
        return _protocol_import(document, version_major, version_minor, project_name=project_name, user=user)
    except ValidationError as exc:
        # A name too long, a version out of range...: the admin's import form and the command
        # report ApplicationError, so a model's ValidationError must not escape as a 500.
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"document": exc.messages}
        raise ApplicationError("invalid protocol document: " + ", ".join(fields), fields=fields) from exc


def _protocol_import(document: dict, version_major: int, version_minor: int, *, project_name, user) -> Protocol:
    project_spec = document["project"]
    name = project_name or project_spec["name"]
    project = Project.objects.filter(name=name).first()
    if project is None:
        project = project_create(name=name, description=str(project_spec.get("description") or ""), user=user)
    existing = Protocol.objects.filter(
        project=project, name=document["name"], version_major=version_major, version_minor=version_minor
    ).first()
    if existing is not None:
        raise ConflictError(
            f"{project.name} already has {existing} (id {existing.pk})",
            fields={"version": [f"v{existing.version} exists"]},
        )
    protocol = protocol_create(
        project=project,
        name=document["name"],
        description=document.get("description") or "",
        version_major=version_major,
        version_minor=version_minor,
        steps=document["steps"],
        user=user,
    )
    if document["status"] == ProtocolStatus.PUBLISHED:
        protocol = protocol_publish(protocol=protocol, user=user)
    return protocol


def protocol_documents(data) -> list[dict]:
    """One document or a list of them (what the admin's export of several protocols gives)."""
    return data if isinstance(data, list) else [data]
