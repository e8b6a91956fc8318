from rest_framework import serializers

from samples.models import Sample


class SampleSerializer(serializers.ModelSerializer):
    plate = serializers.SlugRelatedField(slug_field="barcode", read_only=True, allow_null=True)

    class Meta:
        model = Sample
        fields = ["id", "barcode", "sample_type", "plate", "well", "collected_at", "created_at"]


class SampleValidateRequestSerializer(serializers.Serializer):
    # Each item is checked by the selector, so a malformed one is reported, not rejected.
    barcodes = serializers.ListField(child=serializers.JSONField(), allow_empty=False, max_length=10000)


class SampleValidateResponseSerializer(serializers.Serializer):
    valid = serializers.BooleanField(help_text="True when every barcode is well formed and exists.")
    existing = serializers.ListField(child=serializers.CharField())
    missing = serializers.ListField(child=serializers.CharField())
    malformed = serializers.ListField(child=serializers.JSONField())
