"""How the API reads and writes timestamps, in one place so every endpoint and the export agree."""

from datetime import UTC, date, datetime, time


def api_timestamp(value: datetime | None) -> str | None:
    """A timestamp as DRF renders it: ISO 8601 in UTC, with "Z"."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_api_timestamp(text: str) -> datetime:
    """An ISO 8601 date (midnight UTC) or datetime (UTC when it has no offset), in UTC.

    Always converted to UTC before it reaches PostgreSQL, which refuses offsets beyond 15:59
    that Python accepts. ValueError for anything else (OverflowError near year 1 included).
    """
    text = str(text).strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)
        value = datetime.fromisoformat(text)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(str(exc)) from exc
