from rest_framework import serializers

from samples.choices import SampleType
from samples.models import Plate, Sample
from samples.validators import WELL_COUNTS


class SampleSerializer(serializers.ModelSerializer):
    plate = serializers.SlugRelatedField(slug_field="barcode", read_only=True, allow_null=True)

    class Meta:
        model = Sample
        fields = ["id", "barcode", "sample_type", "plate", "well", "collected_at", "created_at"]


class PlateSampleSerializer(serializers.ModelSerializer):
    """A sample as listed inside its plate (the plate is the parent)."""

    class Meta:
        model = Sample
        fields = ["id", "barcode", "sample_type", "well", "collected_at", "created_at"]


class PlateSerializer(serializers.ModelSerializer):
    samples = PlateSampleSerializer(many=True, read_only=True, help_text="The plate's samples, by barcode.")

    class Meta:
        model = Plate
        fields = ["id", "barcode", "name", "well_count", "created_at", "samples"]


class StringField(serializers.CharField):
    """A CharField that takes only JSON strings: DRF's turns 12345 into "12345", a wrong type accepted."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class WellCountField(serializers.ChoiceField):
    """6, 24, 96 or 384 as a JSON number (DRF's ChoiceField would take "96" and true-ish values too)."""

    def __init__(self, **kwargs):
        super().__init__(choices=[(count, str(count)) for count in WELL_COUNTS], **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class PlateSampleRegisterSerializer(serializers.Serializer):
    barcode = StringField(max_length=64, help_text="Unique sample barcode, e.g. SAMPLE101.")
    well = StringField(max_length=3, help_text="A well of this plate's format, e.g. A1 or H12.")
    sample_type = serializers.ChoiceField(choices=SampleType.choices)
    collected_at = serializers.DateTimeField(required=False, allow_null=True)


class PlateRegisterSerializer(serializers.Serializer):
    """``POST /api/plates``: a plate and the samples in its wells, registered together."""

    barcode = StringField(max_length=64, help_text="Unique plate barcode, e.g. PLATE-25.")
    name = StringField(max_length=200, required=False, help_text="Optional; empty when left out.")
    well_count = WellCountField()
    samples = PlateSampleRegisterSerializer(
        many=True, required=False, max_length=384, help_text="May be empty: samples can be added later."
    )


class SampleRegisterSerializer(serializers.Serializer):
    """``POST /api/samples``: one sample, in a well of a registered plate (or, a tube, on none)."""

    barcode = StringField(max_length=64, help_text="Unique sample barcode, e.g. SAMPLE101.")
    sample_type = serializers.ChoiceField(choices=SampleType.choices)
    plate = StringField(
        max_length=64, required=False, allow_null=True, help_text="Barcode of a registered plate; 400 if unknown."
    )
    well = StringField(max_length=3, required=False, help_text="Required with a plate, e.g. B7.")
    collected_at = serializers.DateTimeField(required=False, allow_null=True)


class SampleValidateRequestSerializer(serializers.Serializer):
    # Each item is checked by the selector, so a malformed one is reported, not rejected.
    barcodes = serializers.ListField(child=serializers.JSONField(), allow_empty=False, max_length=10000)


class SampleValidateResponseSerializer(serializers.Serializer):
    valid = serializers.BooleanField(help_text="True when every barcode is well formed and exists.")
    existing = serializers.ListField(child=serializers.CharField())
    missing = serializers.ListField(child=serializers.CharField())
    malformed = serializers.ListField(child=serializers.JSONField())


def flat_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """Nested serializer errors as ``{"samples[2].well": [...]}``, the names the services use."""
    if isinstance(detail, dict):
        flat = {}
        for key, value in detail.items():
            if key == "non_field_errors":
                path = prefix
            elif isinstance(key, int):  # a list's item, as ListSerializer reports it
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}" if prefix else key
            flat |= flat_errors(value, path or "non_field_errors")
        return flat
    if isinstance(detail, list) and any(isinstance(item, dict) for item in detail):
        flat = {}
        for index, item in enumerate(detail):
            if item:
                flat |= flat_errors(item, f"{prefix}[{index}]")
        return flat
    return {prefix: [str(message) for message in detail] if isinstance(detail, list) else [str(detail)]}
