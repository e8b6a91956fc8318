"""``GET /api/samples/{barcode}/growth`` and the serializers of growth (series, fit, forecast).

The path is a sample's, but time in culture and passages are a run's, so the view lives in
workflows and its URLconf routes it next to the SampleViewSet of samples (as device execute is
routed next to devices). The reads are ``workflows.growth``.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from samples.models import Sample
from workflows.growth import DEFAULT_TARGET, sample_growth

TARGET_PARAMETER = OpenApiParameter(
    "target", float, description=f"Target confluence in percent for the forecast (default {DEFAULT_TARGET:g})."
)


class GrowthQuerySerializer(serializers.Serializer):
    target = serializers.FloatField(required=False, default=DEFAULT_TARGET, min_value=1, max_value=99)


def growth_target(request) -> float:
    query = GrowthQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data["target"]


class GrowthPointSerializer(serializers.Serializer):
    result = serializers.IntegerField(help_text="The cell-analysis result.")
    measured_at = serializers.DateTimeField()
    hours = serializers.FloatField(help_text="Time in culture: simulated hours since the run started.")
    cell_count = serializers.IntegerField()
    confluence = serializers.FloatField(help_text="Percent.")
    viability = serializers.FloatField(help_text="Percent.")


class GrowthFitSerializer(serializers.Serializer):
    rate_per_hour = serializers.FloatField(help_text="Exponential-phase growth rate r (logit of confluence per hour).")
    rate_ci = serializers.ListField(child=serializers.FloatField(), help_text="95 % interval of the rate.")
    doubling_hours = serializers.FloatField(help_text="ln 2 / r.")
    doubling_ci = serializers.ListField(
        child=serializers.FloatField(allow_null=True),
        help_text="95 % interval; null upper bound: no growth is possible.",
    )
    lag_hours = serializers.FloatField()
    points = serializers.IntegerField(help_text="Points used (after the last passage, below 95 %).")
    residual_sd = serializers.FloatField()


class GrowthForecastSerializer(serializers.Serializer):
    target = serializers.FloatField()
    reached = serializers.BooleanField(help_text="True: a measurement is already at or above the target.")
    hours = serializers.FloatField(allow_null=True, help_text="Time in culture at the target (null: no fit yet).")
    hours_ci = serializers.ListField(child=serializers.FloatField(allow_null=True))
    at = serializers.DateTimeField(allow_null=True, help_text="The same, as a real time.")


class SampleGrowthSerializer(serializers.Serializer):
    sample = serializers.CharField()
    workflow = serializers.IntegerField(allow_null=True, help_text="The run the series is from (null: none yet).")
    started_at = serializers.DateTimeField(allow_null=True)
    passages_hours = serializers.ListField(child=serializers.FloatField())
    series = GrowthPointSerializer(many=True)
    fit = GrowthFitSerializer(allow_null=True)
    forecast = GrowthForecastSerializer()


class SampleGrowthViewSet(viewsets.GenericViewSet):
    """``growth`` of a sample; looked up by barcode like SampleViewSet."""

    queryset = Sample.objects.all()
    lookup_field = "barcode"
    lookup_value_regex = "[^/]+"

    @extend_schema(parameters=[TARGET_PARAMETER], responses=SampleGrowthSerializer)
    @action(detail=True, methods=["get"])
    def growth(self, request, barcode=None):
        """The sample's confluence series in its latest measured run, the growth fit and the forecast."""
        target = growth_target(request)
        sample = self.get_object()
        growth = sample_growth(sample.barcode, target=target)
        if growth is None:  # never measured in a run: nothing to fit, not an error
            growth = {
                "sample": sample.barcode,
                "workflow": None,
                "started_at": None,
                "passages_hours": [],
                "series": [],
                "fit": None,
                "forecast": {"target": target, "reached": False, "hours": None, "hours_ci": [None, None], "at": None},
            }
        return Response(SampleGrowthSerializer(growth).data)
