"""RFC 3339 timestamps (second precision, ``Z``) as Kubernetes writes them."""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken to be UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_epoch_millis(millis: int) -> str:
    return format_time(datetime.fromtimestamp(millis / 1000, tz=UTC))


def parse_time(text: object) -> datetime | None:
    """Parse an RFC 3339 timestamp from a previous status; ``None`` for anything unusable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None
