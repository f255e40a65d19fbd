"""The gateway's clock: timezone-aware UTC times, and their ISO 8601 form on the wire."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return datetime.now(timezone.utc)


def isoformat(moment: datetime | None) -> str | None:
    """Format a UTC datetime as ISO 8601 with milliseconds and a ``Z`` suffix."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
