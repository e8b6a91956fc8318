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


# Rows and columns of each plate format (SBS layouts): a 96-well plate has rows A-H, columns 1-12.
PLATE_LAYOUTS = {6: (2, 3), 24: (4, 6), 96: (8, 12), 384: (16, 24)}
WELL_COUNTS = tuple(PLATE_LAYOUTS)


def is_valid_barcode(value) -> bool:
    return isinstance(value, str) and bool(BARCODE_PATTERN.match(value))


def well_on_plate_error(well: str, well_count: int) -> str | None:
    """Why ``well`` is not a well of a ``well_count``-well plate, or None when it is."""
    rows, columns = PLATE_LAYOUTS.get(well_count, (0, 0))
    if not rows or not isinstance(well, str) or not WELL_PATTERN.match(well):
        return None  # the format is the well validator's business, the count the plate's
    last_row, last_column = "ABCDEFGHIJKLMNOP"[rows - 1], columns
    if well[0] > last_row or int(well[1:]) > last_column:
        return f"{well} is not a well of a {well_count}-well plate (A1 to {last_row}{last_column})."
    return None
