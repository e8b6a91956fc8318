import django_filters

from samples.choices import SampleType
from samples.models import Plate, Sample
from samples.validators import WELL_COUNTS


class SampleFilter(django_filters.FilterSet):
    sample_type = django_filters.ChoiceFilter(choices=SampleType.choices)
    plate = django_filters.CharFilter(field_name="plate__barcode")

    class Meta:
        model = Sample
        fields = ["sample_type", "plate", "well"]


class PlateFilter(django_filters.FilterSet):
    well_count = django_filters.TypedChoiceFilter(choices=[(count, str(count)) for count in WELL_COUNTS], coerce=int)

    class Meta:
        model = Plate
        fields = ["well_count"]
