"""Registering and changing devices: one service for the API, the admin and ``sila_import``.

A device's ``config`` is checked for its adapter (a sila2 device needs a host and a port), and a
capacity change goes through ``device_capacity_set``, which refuses lowering it below the
device's active bookings.
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from devices.choices import AdapterName
from devices.models import Device
from devices.services import device_capacity_set
from labcore.exceptions import ApplicationError, ConflictError
from labcore.validators import unstorable_json_paths

DEVICE_FIELDS = ("id", "name", "kind", "adapter", "endpoint", "config", "capacity")
UPDATABLE_FIELDS = ("name", "kind", "adapter", "endpoint", "config", "capacity")


def device_config_errors(adapter: str, config) -> dict[str, list[str]]:
    """What is wrong with ``config`` for ``adapter`` (empty when nothing), keyed ``config.<key>``."""
    if not isinstance(config, dict):
        return {"config": ["must be a JSON object"]}
    errors: dict[str, list[str]] = {}
    for path in unstorable_json_paths({"config": config}):
        errors.setdefault(path, []).append("no NUL characters or NaN/Infinity")
    if adapter == AdapterName.SILA2:
        if not isinstance(config.get("host"), str) or not config.get("host"):
            errors["config.host"] = ["required for the sila2 adapter: the SiLA server's host name or address"]
        port = config.get("port")
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            errors["config.port"] = ["required for the sila2 adapter: a whole number from 1 to 65535"]
        if "insecure" in config and not isinstance(config["insecure"], bool):
            errors["config.insecure"] = ["must be true or false"]
        if "ca_cert" in config and not isinstance(config["ca_cert"], str):
            errors["config.ca_cert"] = ["must be the path of a PEM file"]
        if config.get("insecure") is True and config.get("ca_cert"):
            errors["config.ca_cert"] = ["a CA certificate is for TLS: leave it out with insecure: true"]
        if "commands" in config and not isinstance(config["commands"], dict):
            errors["config.commands"] = ['must map action type names to "Feature/Command"']
    return errors


def _checked(device: Device, fields: dict) -> Device:
    unknown = sorted(set(fields) - set(DEVICE_FIELDS))
    errors: dict[str, list[str]] = {name: ["unknown field"] for name in unknown}
    for name, value in fields.items():
        if name in DEVICE_FIELDS:
            setattr(device, name, value)
    errors.update(device_config_errors(device.adapter, device.config))
    try:
        device.full_clean(exclude=["capacity"] if "capacity" in errors else None, validate_unique=False)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    except (TypeError, ValueError) as exc:
        errors.setdefault("fields", []).append(str(exc))
    if errors:
        raise ApplicationError("invalid device: " + ", ".join(sorted(errors)), fields=errors)
    return device


@transaction.atomic
def device_create(**fields) -> Device:
    """Register a new instrument (409 when its id is taken)."""
    device = _checked(Device(), fields)
    if Device.objects.filter(pk=device.pk).exists():
        raise ConflictError(f"device id {device.pk} is taken", fields={"id": [f"{device.pk!r} is taken"]})
    device.save(force_insert=True)
    return device


@transaction.atomic
def device_update(*, device: Device, user=None, **fields) -> Device:
    """Change a device's description, adapter or config; its capacity through device_capacity_set."""
    if "id" in fields and fields["id"] != device.pk:
        raise ApplicationError("a device's id cannot change", fields={"id": ["cannot change; register a new device"]})
    fields.pop("id", None)
    capacity = fields.pop("capacity", None)
    unknown = sorted(set(fields) - set(UPDATABLE_FIELDS))
    if unknown:
        raise ApplicationError("unknown field(s): " + ", ".join(unknown), fields=dict.fromkeys(unknown, ["unknown"]))
    if capacity is not None and (not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1):
        raise ApplicationError("invalid capacity", fields={"capacity": ["must be a whole number of at least 1"]})
    _checked(device, fields)
    if fields:
        device.save(update_fields=[*fields, "updated_at"])
    if capacity is not None and capacity != device.capacity:
        device_capacity_set(device=device, capacity=capacity, user=user)
    return device
