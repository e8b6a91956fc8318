"""Create (or bring back to its defined state) the demo lab. Idempotent.

It seeds every app's part (devices, samples, protocols, users), so it lives in workflows, the
top domain app, which may import all of them; ``labcore`` (the kernel) imports none.
"""

import os

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from devices.models import ActionType, Device
from samples.demo import demo_plates_seed
from samples.models import Plate, Sample
from workflows import demo_data
from workflows.choices import ProtocolStatus
from workflows.models import Action, Project, Protocol, Step


def _upsert(model, defaults: dict, **lookup):
    """``update_or_create`` that writes only when a defined value differs.

    A plain update_or_create saves every row again, which bumps ``updated_at`` and makes the
    audit triggers record an edit nobody made (18 phantom events per run of seed_demo).
    """
    instance = model.objects.filter(**lookup).first()
    if instance is None:
        return model.objects.create(**{**defaults, **lookup})
    changed = [name for name, value in defaults.items() if getattr(instance, name) != value]
    for name in changed:
        setattr(instance, name, defaults[name])
    if changed:
        auto_now = [field.name for field in model._meta.concrete_fields if getattr(field, "auto_now", False)]
        instance.save(update_fields=[model._meta.get_field(name).name for name in changed] + auto_now)
    return instance


@transaction.atomic
def demo_lab_seed() -> dict:
    """Upsert every demo object by its natural key; returns counts of what exists."""
    for device in demo_data.DEVICES:
        _upsert(Device, device, id=device["id"])
    action_types = {}
    for spec in demo_data.ACTION_TYPES:
        action_types[spec["name"]] = _upsert(ActionType, spec, name=spec["name"])
    plates = {}
    for plate in demo_data.PLATES:
        plates[plate["barcode"]] = _upsert(Plate, plate, barcode=plate["barcode"])
    for sample in demo_data.SAMPLES:
        _upsert(Sample, {**sample, "plate": plates[sample["plate"]]}, barcode=sample["barcode"])
    demo_plates_seed()
    protocol = _demo_protocol_seed(action_types, demo_data.PROTOCOL)
    expansion = _demo_protocol_seed(action_types, demo_data.EXPANSION_PROTOCOL)
    loop = _demo_protocol_seed(action_types, demo_data.LOOP_PROTOCOL)
    _demo_users_seed()
    return {
        "devices": len(demo_data.DEVICES),
        "action_types": len(action_types),
        "samples": len(demo_data.SAMPLES),
        "protocol": protocol.pk,
        "expansion_protocol": expansion.pk,
        "loop_protocol": loop.pk,
    }


def _demo_protocol_seed(action_types: dict, spec: dict) -> Protocol:
    """One published demo protocol; steps are (name, actions) or (name, actions, timing)."""
    project = _upsert(Project, demo_data.PROJECT, name=demo_data.PROJECT["name"])
    protocol, created = Protocol.objects.get_or_create(
        project=project,
        name=spec["name"],
        version_major=spec["version_major"],
        version_minor=spec["version_minor"],
        defaults={"description": spec["description"]},
    )
    if not created and protocol.is_published:
        return protocol  # published versions are frozen; it is already as defined
    protocol.steps.all().delete()
    for step_position, (step_name, actions, *timing) in enumerate(spec["steps"], start=1):
        step = Step.objects.create(protocol=protocol, position=step_position, name=step_name, **(timing or [{}])[0])
        Action.objects.bulk_create(
            Action(
                step=step,
                position=action_position,
                action_type=action_types[type_name],
                parameters=parameters,
                device_id=device_id,
            )
            for action_position, (type_name, parameters, device_id) in enumerate(actions, start=1)
        )
    protocol.status = ProtocolStatus.PUBLISHED
    protocol.published_at = timezone.now()
    protocol.save()
    return protocol


def _demo_users_seed() -> None:
    password = os.environ.get("LABCORE_DEMO_PASSWORD", "demo")
    User = get_user_model()
    for spec in demo_data.USERS:
        user, created = User.objects.get_or_create(username=spec["username"], defaults={"is_staff": spec["is_staff"]})
        if created:
            user.set_password(password)
            user.save()
        user.groups.set(Group.objects.filter(name__in=spec["roles"]))
