"""``/api/campaigns``: create and start one run per plate, list campaigns, watch one (runs and summary)."""

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.authentication import request_via
from accounts.roles import RUN_WORKFLOWS
from devices.api.booking_serializers import PRIORITY_ERRORS, PRIORITY_NAMES
from devices.choices import Priority
from labcore.api.pagination import cursor_pagination
from labcore.exceptions import ApplicationError
from workflows.api.creation import BIGINT_MAX
from workflows.api.growth import TARGET_PARAMETER, SampleGrowthSerializer, growth_target
from workflows.api.serializers import ProgressSerializer, progress_data
from workflows.growth import plates_growth
from workflows.models import Campaign, Protocol
from workflows.models.campaigns import CAMPAIGN_NAME_MAX_LENGTH
from workflows.selectors import (
    campaign_detail,
    campaign_list,
    campaign_summary,
    workflow_plate_barcode,
    workflow_progress,
)
from workflows.services.campaigns import MAX_PLATES, campaign_create, plates_by_barcode


class CampaignCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=CAMPAIGN_NAME_MAX_LENGTH, help_text='Runs are named "<name> / <plate>".')
    protocol = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX, help_text="Id of a published protocol.")
    plates = serializers.ListField(
        child=serializers.CharField(max_length=64),
        min_length=1,
        max_length=MAX_PLATES,
        help_text="Plate barcodes: one run per plate, on its samples in well order.",
    )
    priority = serializers.ChoiceField(
        choices=PRIORITY_NAMES, required=False, default="normal", error_messages=PRIORITY_ERRORS
    )


class StatusCountsSerializer(serializers.Serializer):
    """Runs by status; every status is present."""

    created = serializers.IntegerField()
    queued = serializers.IntegerField()
    running = serializers.IntegerField()
    paused = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()


class CampaignSummarySerializer(serializers.Serializer):
    workflows = serializers.IntegerField(help_text="Runs, one per plate.")
    by_status = StatusCountsSerializer()
    plates_done = serializers.IntegerField(help_text="Plates whose run completed.")
    window_violations = serializers.IntegerField(help_text="Steps started after their window.")
    progress = ProgressSerializer(help_text="Run-steps of all runs together.")


def summary_data(campaign: Campaign) -> dict:
    summary = campaign_summary(campaign)
    return {
        "workflows": summary.workflows,
        "by_status": summary.by_status,
        "plates_done": summary.plates_done,
        "window_violations": summary.window_violations,
        "progress": progress_data(summary.progress),
    }


class CampaignSerializer(serializers.ModelSerializer):
    """A campaign as listed: its runs' ids and its summary."""

    priority = serializers.CharField(source="get_priority_display", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True, default=None)
    workflows = serializers.SerializerMethodField()
    summary = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = ["id", "name", "protocol", "priority", "created_by", "created_at", "workflows", "summary"]

    def get_workflows(self, campaign) -> list[int]:
        return [run.pk for run in campaign.workflows.all()]

    @extend_schema_field(CampaignSummarySerializer)
    def get_summary(self, campaign) -> dict:
        return summary_data(campaign)


class CampaignRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    plate = serializers.CharField(allow_null=True, help_text="The plate of the run's samples.")
    status = serializers.CharField()
    status_reason = serializers.CharField()
    progress = ProgressSerializer()


class CampaignDetailSerializer(CampaignSerializer):
    """A campaign with each run's plate, status and progress."""

    runs = serializers.SerializerMethodField()

    class Meta(CampaignSerializer.Meta):
        fields = [*CampaignSerializer.Meta.fields, "runs"]

    @extend_schema_field(CampaignRunSerializer(many=True))
    def get_runs(self, campaign) -> list[dict]:
        return [
            {
                "id": run.pk,
                "name": run.name,
                "plate": workflow_plate_barcode(run),
                "status": run.status,
                "status_reason": run.status_reason,
                "progress": progress_data(workflow_progress(run)),
            }
            for run in campaign.workflows.all()
        ]


class PlateGrowthSerializer(serializers.Serializer):
    workflow = serializers.IntegerField()
    plate = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    forecast_hours = serializers.FloatField(
        allow_null=True, help_text="When every sample of the plate reaches the target (null: not forecast yet)."
    )
    doubling_hours = serializers.FloatField(allow_null=True, help_text="Mean fitted doubling time of its samples.")
    samples = SampleGrowthSerializer(many=True)


class CampaignGrowthSerializer(serializers.Serializer):
    campaign = serializers.IntegerField()
    target = serializers.FloatField()
    plates = PlateGrowthSerializer(many=True)


class CampaignViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Culture campaigns: one run of a published protocol per plate, created and started together."""

    pagination_class = cursor_pagination("-created_at", "-id")
    required_capabilities = {"create": RUN_WORKFLOWS}

    def get_queryset(self):
        return campaign_list() if self.action == "list" else campaign_detail()

    def get_serializer_class(self):
        return CampaignSerializer if self.action == "list" else CampaignDetailSerializer

    @extend_schema(parameters=[TARGET_PARAMETER], responses=CampaignGrowthSerializer)
    @action(detail=True, methods=["get"])
    def growth(self, request, pk=None):
        """Per plate (run): each sample's series, fit and forecast, and when the whole plate reaches the target."""
        target = growth_target(request)
        campaign = self.get_object()
        plates = plates_growth(list(campaign.workflows.all()), target=target)
        return Response(CampaignGrowthSerializer({"campaign": campaign.pk, "target": target, "plates": plates}).data)

    @extend_schema(request=CampaignCreateSerializer, responses={201: CampaignDetailSerializer})
    def create(self, request):
        """Create the campaign and start one run per plate (all or nothing); 409 for a draft protocol."""
        payload = CampaignCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        protocol = Protocol.objects.filter(pk=data["protocol"]).first()
        if protocol is None:
            raise ApplicationError(
                f"no protocol with id {data['protocol']}", fields={"protocol": [f"unknown id {data['protocol']}"]}
            )
        campaign = campaign_create(
            name=data["name"],
            protocol=protocol,
            plates=plates_by_barcode(data["plates"]),
            priority=Priority.from_name(data["priority"]),
            user=request.user,
            via=request_via(request),
        )
        campaign = campaign_detail().get(pk=campaign.pk)
        return Response(CampaignDetailSerializer(campaign).data, status=status.HTTP_201_CREATED)
