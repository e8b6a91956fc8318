from django.db import models


class SampleType(models.TextChoices):
    BLOOD = "blood", "Blood"
    TISSUE = "tissue", "Tissue"
    SALIVA = "saliva", "Saliva"
    CELLS = "cells", "Cells"
    PLASMA = "plasma", "Plasma"
    SERUM = "serum", "Serum"
    DNA = "dna", "DNA"
    RNA = "rna", "RNA"
    OTHER = "other", "Other"
