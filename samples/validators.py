"""Barcode and well formats, shared by the model, the API and the validate endpoint."""

import re

from django.core.validators import RegexValidator

# Upper-case letters, digits, '-' and '_', 3 to 64 characters, starting with a letter or digit:
# what label printers and scanners in the lab produce (SAMPLE001, PLATE-01, LH_2025_0001).
BARCODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]{2,63}$")
# Rows A-P and columns 1-24 cover 96- and 384-well plates.
WELL_PATTERN = re.compile(r"^[A-P](?:[1-9]|1[0-9]|2[0-4])$")

barcode_validator = RegexValidator(
    BARCODE_PATTERN,
    "A barcode is 3-64 upper-case letters, digits, '-' or '_', starting with a letter or digit.",
)
well_validator = RegexValidator(WELL_PATTERN, "A well is a row A-P and a column 1-24, such as A1 or H12.")


def is_valid_barcode(value) -> bool:
    return isinstance(value, str) and bool(BARCODE_PATTERN.match(value))
