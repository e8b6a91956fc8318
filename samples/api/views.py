from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.roles import READ, REGISTER_SAMPLES
from labcore.api.pagination import cursor_pagination
from samples.api.filters import PlateFilter, SampleFilter
from samples.api.serializers import (
    PlateRegisterSerializer,
    PlateSerializer,
    SampleRegisterSerializer,
    SampleSerializer,
    SampleValidateRequestSerializer,
    SampleValidateResponseSerializer,
    flat_errors,
)
from samples.models import Plate
from samples.selectors import plate_list, sample_list, samples_validate
from samples.services import plate_register, sample_register


def valid_payload(serializer_class, data) -> dict:
    """The request validated, its errors named by path (``samples[2].well``) as the services name them."""
    payload = serializer_class(data=data)
    if not payload.is_valid():
        raise serializers.ValidationError(flat_errors(payload.errors))
    return payload.validated_data


class PlateViewSet(viewsets.ReadOnlyModelViewSet):
    """Plates with their samples; ``{barcode}`` identifies one (``PLATE-01``)."""

    serializer_class = PlateSerializer
    filterset_class = PlateFilter
    pagination_class = cursor_pagination("barcode")
    lookup_field = "barcode"
    lookup_value_regex = "[^/]+"
    required_capabilities = {"create": REGISTER_SAMPLES}

    def get_queryset(self):
        return plate_list()

    @extend_schema(request=PlateRegisterSerializer, responses={201: PlateSerializer})
    def create(self, request):
        """Register a plate with its samples, all or nothing (409 for a taken barcode or well)."""
        plate = plate_register(**valid_payload(PlateRegisterSerializer, request.data))
        return Response(self.get_serializer(plate_list().get(pk=plate.pk)).data, status=status.HTTP_201_CREATED)


class SampleViewSet(viewsets.ReadOnlyModelViewSet):
    """Samples; ``{barcode}`` identifies one (``SAMPLE001``)."""

    serializer_class = SampleSerializer
    filterset_class = SampleFilter
    pagination_class = cursor_pagination("barcode")
    lookup_field = "barcode"
    lookup_value_regex = "[^/]+"
    required_capabilities = {"validate": READ, "create": REGISTER_SAMPLES}  # validate: a POST that only reads

    def get_queryset(self):
        return sample_list()

    @extend_schema(request=SampleRegisterSerializer, responses={201: SampleSerializer})
    def create(self, request):
        """Register one sample in a well of a registered plate (409 for a taken barcode or well)."""
        data = dict(valid_payload(SampleRegisterSerializer, request.data))
        plate_barcode = data.pop("plate", None)
        if plate_barcode is not None:
            # A body reference: an unknown plate is bad input naming the field (400), not a 404.
            data["plate"] = Plate.objects.filter(barcode=plate_barcode).first()
            if data["plate"] is None:
                raise serializers.ValidationError({"plate": [f"no plate has barcode {plate_barcode}"]})
        sample = sample_register(**data)
        return Response(self.get_serializer(sample_list().get(pk=sample.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SampleValidateRequestSerializer, responses=SampleValidateResponseSerializer)
    @action(detail=False, methods=["post"], filterset_class=None, pagination_class=None)
    def validate(self, request):
        """Which barcodes exist, which do not, and which are malformed."""
        payload = SampleValidateRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return Response(samples_validate(payload.validated_data["barcodes"]))
