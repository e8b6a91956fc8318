from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.roles import READ
from labcore.api.pagination import cursor_pagination
from samples.api.filters import SampleFilter
from samples.api.serializers import (
    SampleSerializer,
    SampleValidateRequestSerializer,
    SampleValidateResponseSerializer,
)
from samples.selectors import sample_list, samples_validate


class SampleViewSet(viewsets.ReadOnlyModelViewSet):
    """Samples; ``{barcode}`` identifies one (``SAMPLE001``)."""

    serializer_class = SampleSerializer
    filterset_class = SampleFilter
    pagination_class = cursor_pagination("barcode")
    lookup_field = "barcode"
    lookup_value_regex = "[^/]+"
    required_capabilities = {"validate": READ}  # a POST that only reads

    def get_queryset(self):
        return sample_list()

    @extend_schema(request=SampleValidateRequestSerializer, responses=SampleValidateResponseSerializer)
    @action(detail=False, methods=["post"], filterset_class=None, pagination_class=None)
    def validate(self, request):
        """Which barcodes exist, which do not, and which are malformed."""
        payload = SampleValidateRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return Response(samples_validate(payload.validated_data["barcodes"]))
