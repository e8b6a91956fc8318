import django_filters

from samples.choices import SampleType
from samples.models import Sample


class SampleFilter(django_filters.FilterSet):
    sample_type = django_filters.ChoiceFilter(choices=SampleType.choices)
    plate = django_filters.CharFilter(field_name="plate__barcode")

    class Meta:
        model = Sample
        fields = ["sample_type", "plate", "well"]
