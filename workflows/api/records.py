"""Signatures of protocols and runs, and the run report: ``/signatures`` and ``/report`` of both viewsets.

``GET /{id}/signatures`` reads (``read``); ``POST`` signs, under the action name
``signatures_create`` so the viewset can ask a write capability for it alone.
"""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from workflows.choices import SignatureMeaning
from workflows.records import protocol_content_hash, signature_entry, signature_list
from workflows.report import workflow_record_hash, workflow_report
from workflows.report_pdf import report_pdf
from workflows.services.signatures import signature_create


class SignatureCreateSerializer(serializers.Serializer):
    password = serializers.CharField(
        write_only=True, trim_whitespace=False, max_length=4096, help_text="The signer's password, re-entered."
    )
    meaning = serializers.ChoiceField(choices=SignatureMeaning.choices)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class SignatureSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    signer = serializers.CharField(help_text="Username.")
    printed_name = serializers.CharField()
    meaning = serializers.ChoiceField(choices=SignatureMeaning.choices)
    comment = serializers.CharField(allow_blank=True)
    signed_at = serializers.DateTimeField(help_text="UTC.")
    content_hash = serializers.CharField(help_text="SHA-256 of the record's canonical content when signed.")
    covers_current_content = serializers.BooleanField(help_text="False once the record changed after signing.")


class SignaturesSerializer(serializers.Serializer):
    content_hash = serializers.CharField(help_text="SHA-256 of the record's canonical content now.")
    signatures = SignatureSerializer(many=True)


class SignaturesMixin:
    """The signatures of one record kind: ``signature_record`` is "protocol" or "workflow"."""

    signature_record = ""

    def _record(self):
        # Not get_object(): the list's filters (?status=, ProtocolFilter) are no business of these routes.
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])

    def _record_of(self, obj) -> dict:
        return {self.signature_record: obj}

    def _current_hash(self, obj) -> str:
        return protocol_content_hash(obj) if self.signature_record == "protocol" else workflow_record_hash(obj)

    @extend_schema(request=None, responses=SignaturesSerializer, filters=False)
    @action(detail=True, methods=["get"], pagination_class=None)
    def signatures(self, request, pk=None):
        """The record's signatures, oldest first, each with whether it still covers the current content."""
        record = self._record()
        current = self._current_hash(record)
        entries = [signature_entry(s, current) for s in signature_list(**{f"{self.signature_record}_id": record.pk})]
        return Response({"content_hash": current, "signatures": entries})

    @extend_schema(request=SignatureCreateSerializer, responses={201: SignatureSerializer}, filters=False)
    @signatures.mapping.post
    def signatures_create(self, request, pk=None):
        """Sign the record: re-enter your password (403 if wrong; repeated failures lock signing for a while)."""
        record = self._record()
        payload = SignatureCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        signature = signature_create(user=request.user, **payload.validated_data, **self._record_of(record))
        return Response(signature_entry(signature, signature.content_hash), status=status.HTTP_201_CREATED)


class ReportFormatSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["json", "pdf"], default="json", required=False)


class FormatFromQuery(BaseContentNegotiation):
    """The report picks its format from ``?format=`` itself (DRF would look for a "pdf" renderer); errors are JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return JSONRenderer(), JSONRenderer.media_type


REPORT_SCHEMA = {
    "type": "object",
    "description": "The run report: the record, its hash, signatures, release and the report's own hash "
    "(docs/compliance.md).",
    "additionalProperties": True,
}


class WorkflowReportMixin(SignaturesMixin):
    """GET /workflows/{id}/report?format=json|pdf: the run's electronic batch record."""

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["json", "pdf"], description="json (default) or pdf.")],
        responses={
            (200, "application/json"): OpenApiResponse(REPORT_SCHEMA, description="The report (format=json)."),
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The report (format=pdf)."),
        },
        filters=False,
    )
    @action(
        detail=True,
        methods=["get"],
        pagination_class=None,
        content_negotiation_class=FormatFromQuery,
    )
    def report(self, request, pk=None):
        """The run's electronic batch record: protocol, samples, steps, log entries, events, deviations, signatures."""
        params = ReportFormatSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        workflow = self._record()
        report = workflow_report(workflow.pk)
        if params.validated_data["format"] == "pdf":
            response = HttpResponse(report_pdf(report), content_type="application/pdf")
            response["Content-Disposition"] = f'inline; filename="run-{workflow.pk}-report.pdf"'
            return response
        return Response(report)
