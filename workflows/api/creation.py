"""POST /api/workflows: the request shapes (original step list, or a published protocol)."""

from rest_framework import serializers

from devices.api.booking_serializers import PRIORITY_ERRORS, PRIORITY_NAMES
from devices.choices import Priority
from devices.models import Device
from labcore.exceptions import ApplicationError
from samples.models import Sample
from workflows.choices import WorkflowMode
from workflows.models import Protocol, Workflow
from workflows.services.creation import workflow_create_from_protocol, workflow_create_from_steps

BIGINT_MAX = 2**63 - 1


class WorkflowCreateSerializer(serializers.Serializer):
    """Either ``device_id`` + ``steps`` (the original API) or ``protocol`` (+ ``priority``)."""

    name = serializers.CharField(max_length=200)
    sample_barcodes = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list, max_length=1000
    )
    device_id = serializers.CharField(max_length=64, required=False, help_text="Original shape: the one device.")
    steps = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        max_length=1000,
        help_text="Original shape: action type names, run in order on the device.",
    )
    protocol = serializers.IntegerField(
        min_value=1, max_value=BIGINT_MAX, required=False, help_text="Id of a published protocol."
    )
    priority = serializers.ChoiceField(
        choices=PRIORITY_NAMES,
        required=False,
        default="normal",
        error_messages=PRIORITY_ERRORS,
        help_text="What it queues at for its devices (both shapes).",
    )
    mode = serializers.ChoiceField(
        choices=WorkflowMode.values,
        required=False,
        help_text="auto (the executor runs it) or manual (execute-step); auto for protocols, manual for step lists.",
    )

    def validate(self, data):
        has_protocol = "protocol" in data
        has_steps = "device_id" in data or "steps" in data
        if has_protocol == has_steps:
            raise serializers.ValidationError(
                {"protocol": ["give either protocol, or device_id and steps"], "device_id": ["see protocol"]}
            )
        if has_steps:
            missing = {
                field: ["required with the step-list shape"] for field in ("device_id", "steps") if field not in data
            }
            if missing:
                raise serializers.ValidationError(missing)
        return data


def _samples_lookup(barcodes: list[str]) -> list[Sample]:
    found = {sample.barcode: sample for sample in Sample.objects.filter(barcode__in=barcodes)}
    unknown = [barcode for barcode in dict.fromkeys(barcodes) if barcode not in found]
    if unknown:
        raise ApplicationError(
            "unknown sample barcode(s): " + ", ".join(unknown),
            fields={"sample_barcodes": [f"unknown barcode {b!r}" for b in unknown]},
        )
    return [found[barcode] for barcode in barcodes]


def workflow_create_from_request(*, data: dict, user) -> Workflow:
    """Resolve the request's references (400 naming the field) and call the creation service."""
    samples = _samples_lookup(data["sample_barcodes"])
    if "protocol" in data:
        protocol = Protocol.objects.filter(pk=data["protocol"]).first()
        if protocol is None:
            raise ApplicationError(
                f"no protocol with id {data['protocol']}", fields={"protocol": [f"unknown id {data['protocol']}"]}
            )
        return workflow_create_from_protocol(
            name=data["name"],
            protocol=protocol,
            samples=samples,
            priority=Priority.from_name(data["priority"]),
            mode=data.get("mode", WorkflowMode.AUTO),
            user=user,
        )
    device = Device.objects.filter(pk=data["device_id"]).first()
    if device is None:
        raise ApplicationError(
            f"no device {data['device_id']!r}", fields={"device_id": [f"unknown device {data['device_id']!r}"]}
        )
    return workflow_create_from_steps(
        name=data["name"],
        device=device,
        samples=samples,
        step_names=data["steps"],
        mode=data.get("mode", WorkflowMode.MANUAL),
        priority=Priority.from_name(data["priority"]),
        user=user,
    )
