"""Plates and the samples in their wells."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from samples.choices import SampleType
from samples.validators import WELL_COUNTS, barcode_validator, well_on_plate_error, well_validator


class Plate(models.Model):
    """A labware plate identified by its barcode (PLATE-01)."""

    barcode = models.CharField(max_length=64, unique=True, validators=[barcode_validator])
    name = models.CharField(max_length=200, blank=True)
    well_count = models.PositiveSmallIntegerField(default=96, choices=[(count, str(count)) for count in WELL_COUNTS])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["barcode"]

    def __str__(self):
        return self.barcode


class Sample(models.Model):
    """A biological specimen; at most one per well of a plate."""

    barcode = models.CharField(max_length=64, unique=True, validators=[barcode_validator])
    sample_type = models.CharField(max_length=16, choices=SampleType.choices, db_index=True)
    plate = models.ForeignKey(Plate, null=True, blank=True, on_delete=models.PROTECT, related_name="samples")
    well = models.CharField(max_length=3, blank=True, validators=[well_validator])
    collected_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["barcode"]
        constraints = [
            models.UniqueConstraint(
                fields=["plate", "well"], condition=Q(plate__isnull=False), name="one_sample_per_well"
            ),
            models.CheckConstraint(condition=Q(plate__isnull=True) | ~Q(well=""), name="sample_on_plate_has_well"),
        ]

    def __str__(self):
        return self.barcode

    def clean(self):
        # The well must exist on the plate: H13 is no well of a 96-well plate, nor D1 of a 6-well one.
        if self.plate is not None and self.well:
            error = well_on_plate_error(self.well, self.plate.well_count)
            if error:
                raise ValidationError({"well": error})
