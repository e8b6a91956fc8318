"""How the API and the export write values, kept in one place so both agree."""

from datetime import UTC, datetime


def api_timestamp(value: datetime | None) -> str | None:
    """A timestamp as DRF renders it: ISO 8601 in UTC, with "Z"."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
