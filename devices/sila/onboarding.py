"""Onboarding a SiLA 2 server as data: the device, and one ActionType per command and property.

``sila_server_import`` reads the server's feature definitions (I/O, outside any transaction),
then registers in one transaction: the device (adapter ``sila2``, config host/port/TLS) and, per
command, an ActionType named ``sila.<Feature>.<Command>`` with a JSON Schema derived from the
feature definition. Idempotent: a second import changes nothing unless the server changed; an
existing type keeps what an operator set (timeouts, ``safe_to_repeat``, retries, mock fields):
only its description, schema and long-running flag follow the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from django.db import transaction

from devices.adapters.base import AdapterError
from devices.adapters.sila2 import Sila2Adapter
from devices.choices import AdapterName, DeviceKind
from devices.inventory import device_create, device_update
from devices.models import ActionType, Device
from devices.registry import action_types_load
from devices.sila.definitions import COMMAND, feature_definition, parameter_schema
from labcore.exceptions import ApplicationError

# Defaults for a new type; an operator tunes them afterwards (they survive re-imports).
OBSERVABLE_TIMEOUT_SECONDS = 24 * 3600.0
UNOBSERVABLE_TIMEOUT_SECONDS = 120.0
PROPERTY_TIMEOUT_SECONDS = 30.0
# Only a property read is declared safe to repeat: a command may act on the sample.
_EMPTY_SCHEMA = {"type": "object", "properties": {}, "additionalProperties": False}


@dataclass
class ImportReport:
    device: str
    device_change: str  # created, updated or unchanged
    server: dict
    action_types: dict = field(default_factory=dict)  # created/updated/unchanged -> names

    def lines(self) -> list[str]:
        lines = [f"device {self.device}: {self.device_change} (SiLA server {self.server.get('name')!r})"]
        for change in ("created", "updated", "unchanged"):
            for name in self.action_types.get(change, []):
                lines.append(f"action type {name}: {change}")
        return lines


def device_config(*, host: str, port: int, insecure: bool = False, ca_cert: str = "") -> dict:
    config = {"host": host, "port": port, "insecure": bool(insecure)}
    if ca_cert:
        config["ca_cert"] = ca_cert
    return config


def guess_kind(server_type: str) -> str:
    """A device kind named in the SiLA server type (``...Incubator`` -> incubator), else other."""
    lowered = server_type.lower()
    for kind in DeviceKind.values:
        if kind != DeviceKind.OTHER and kind.replace("_", "") in lowered:
            return kind
    return DeviceKind.OTHER


def action_type_entries(feature_xmls, *, kind: str) -> list[dict]:
    """One registry entry per command and property of the features."""
    entries = []
    for xml in feature_xmls:
        feature = feature_definition(xml)
        for call in feature.calls:
            is_command = call.kind == COMMAND
            what = ("observable command" if call.observable else "command") if is_command else "property (read)"
            entry = {
                "name": call.action_name,
                "device_kind": kind,
                "description": f"{call.display_name}: {call.description} [SiLA {what} {call.target}]",
                "parameter_schema": parameter_schema(call, feature) if is_command else dict(_EMPTY_SCHEMA),
                "is_long_running": is_command and call.observable,
            }
            entries.append(entry)
    return entries


def _new_type_defaults(entry: dict) -> dict:
    is_property = entry["description"].endswith("]") and "property (read)" in entry["description"]
    if entry["is_long_running"]:
        timeout = OBSERVABLE_TIMEOUT_SECONDS
    else:
        timeout = PROPERTY_TIMEOUT_SECONDS if is_property else UNOBSERVABLE_TIMEOUT_SECONDS
    return {
        **entry,
        "timeout_seconds": timeout,
        "estimated_duration_seconds": 1.0,
        "safe_to_repeat": is_property,
        "mock_latency_seconds": 0.1 if is_property else 0.5,
    }


def sila_server_read(*, host: str, port: int, insecure: bool = False, ca_cert: str = "", device_id: str = "") -> dict:
    """The server's description and feature definitions (ApplicationError naming the connection)."""
    config = device_config(host=host, port=port, insecure=insecure, ca_cert=ca_cert)
    adapter = Sila2Adapter(SimpleNamespace(pk=device_id or f"{host}:{port}", config=config))
    try:
        return adapter.server_description()
    except AdapterError as exc:
        raise ApplicationError(str(exc), fields={"server": [str(exc)]}) from None


def sila_server_import(
    *, host: str, port: int, device_id: str = "", insecure: bool = False, ca_cert: str = "", kind: str = "", user=None
) -> ImportReport:
    """Register the SiLA server at host:port as a device and its commands as ActionTypes."""
    server = sila_server_read(host=host, port=port, insecure=insecure, ca_cert=ca_cert, device_id=device_id)
    kind = kind or guess_kind(server["type"])
    device_id = device_id or _slug(server["name"])
    config = device_config(host=host, port=port, insecure=insecure, ca_cert=ca_cert)
    entries = action_type_entries(server["features"], kind=kind)
    return _register(device_id=device_id, kind=kind, server=server, config=config, entries=entries, user=user)


@transaction.atomic
def _register(*, device_id, kind, server, config, entries, user) -> ImportReport:
    existing = set(ActionType.objects.filter(name__in=[e["name"] for e in entries]).values_list("name", flat=True))
    # An existing type keeps the operator's tuning: only what comes from the server is refreshed.
    loaded = [entry if entry["name"] in existing else _new_type_defaults(entry) for entry in entries]
    report = ImportReport(device=device_id, device_change="unchanged", server=server)
    device = Device.objects.filter(pk=device_id).first()
    if device is None:
        device_create(id=device_id, name=server["name"][:200], kind=kind, adapter=AdapterName.SILA2, config=config)
        report.device_change = "created"
    else:
        merged = {**(device.config if isinstance(device.config, dict) else {}), **config}
        if not config.get("ca_cert"):
            merged.pop("ca_cert", None)
        if device.adapter != AdapterName.SILA2 or merged != device.config:
            device_update(device=device, adapter=AdapterName.SILA2, config=merged, user=user)
            report.device_change = "updated"
    report.action_types = action_types_load(loaded)
    return report


def _slug(text: str) -> str:
    slug = "".join(char if char.isalnum() else "-" for char in text.lower()).strip("-")
    while "--" in slug:
        slug = slug.replace("--", "-")
    return slug[:64] or "sila-server"
