"""/api/projects and /api/protocols: read with nested steps and actions, edit drafts, publish, version."""

import django_filters
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.roles import EDIT_DEFINITIONS
from labcore.api.pagination import cursor_pagination
from samples.api.serializers import flat_errors
from workflows.api.protocol_serializers import ProjectSerializer, ProtocolSerializer, ProtocolWriteSerializer
from workflows.api.records import SignaturesMixin
from workflows.choices import ProtocolStatus
from workflows.models import Protocol
from workflows.selectors import project_list, protocol_list
from workflows.services.protocols import (
    project_create,
    project_update,
    protocol_create,
    protocol_new_version,
    protocol_publish,
    protocol_update,
)


class ProjectViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Projects group the versions of their protocols."""

    serializer_class = ProjectSerializer
    pagination_class = cursor_pagination("name")
    filterset_fields = ["name"]
    required_capabilities = {"create": EDIT_DEFINITIONS, "update": EDIT_DEFINITIONS, "partial_update": EDIT_DEFINITIONS}

    def get_queryset(self):
        return project_list()

    def perform_create(self, serializer):
        serializer.instance = project_create(**serializer.validated_data, user=self.request.user)

    def perform_update(self, serializer):
        serializer.instance = project_update(project=serializer.instance, **serializer.validated_data)


class ProtocolFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(help_text="Exact name.")
    name_contains = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    # Django's spelling of the same filter, which integrators try first.
    name__contains = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", help_text="Name contains (case-insensitive)."
    )
    search = django_filters.CharFilter(
        method="search_filter", help_text="Name or description contains (case-insensitive)."
    )
    status = django_filters.ChoiceFilter(choices=ProtocolStatus.choices)

    class Meta:
        model = Protocol
        fields = ["name", "status", "project"]

    def search_filter(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))


def _valid(payload: ProtocolWriteSerializer) -> ProtocolWriteSerializer:
    """400 naming each field by its path in the graph (``steps[2].window_seconds``), as the services do."""
    if not payload.is_valid():
        raise serializers.ValidationError(flat_errors(payload.errors))
    return payload


class ProtocolViewSet(SignaturesMixin, viewsets.ReadOnlyModelViewSet):
    """Protocol versions with their steps and actions. Drafts are editable; published ones are frozen (409)."""

    serializer_class = ProtocolSerializer
    filterset_class = ProtocolFilter
    pagination_class = cursor_pagination("id")
    required_capabilities = {
        "create": EDIT_DEFINITIONS,
        "update": EDIT_DEFINITIONS,
        "partial_update": EDIT_DEFINITIONS,
        "publish": EDIT_DEFINITIONS,
        "new_version": EDIT_DEFINITIONS,
        "signatures_create": EDIT_DEFINITIONS,
    }
    signature_record = "protocol"

    def get_queryset(self):
        return protocol_list()

    def _read(self, protocol, status_code=status.HTTP_200_OK):
        # Re-read through the selector so the answer has the same shape (and cost) as a GET.
        return Response(self.get_serializer(protocol_list().get(pk=protocol.pk)).data, status=status_code)

    @extend_schema(request=ProtocolWriteSerializer, responses={201: ProtocolSerializer})
    def create(self, request):
        """A new draft, with its steps and actions when given."""
        payload = _valid(ProtocolWriteSerializer(data=request.data))
        protocol = protocol_create(**payload.validated_data, user=request.user)
        return self._read(protocol, status.HTTP_201_CREATED)

    @extend_schema(request=ProtocolWriteSerializer, responses=ProtocolSerializer)
    def update(self, request, pk=None, partial=False):
        """Change a draft; ``steps`` replaces the whole graph. A published protocol answers 409."""
        protocol = self.get_object()
        payload = _valid(ProtocolWriteSerializer(data=request.data, partial=partial))
        protocol = protocol_update(protocol=protocol, **payload.validated_data)
        return self._read(protocol)

    @extend_schema(request=ProtocolWriteSerializer, responses=ProtocolSerializer)
    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    @extend_schema(request=None, responses=ProtocolSerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def publish(self, request, pk=None):
        """Freeze a draft so it can be run; 409 if already published."""
        return self._read(protocol_publish(protocol=self.get_object(), user=request.user))

    @extend_schema(request=None, responses={201: ProtocolSerializer})
    @action(detail=True, methods=["post"], url_path="new-version", filterset_class=None)
    def new_version(self, request, pk=None):
        """The next draft version (v0.4 -> v0.5), a copy of this published one."""
        draft = protocol_new_version(protocol=self.get_object(), user=request.user)
        return self._read(draft, status.HTTP_201_CREATED)
