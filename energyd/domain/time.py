"""Pure time helpers: aware-UTC checks, ISO 8601 text and slot boundaries on a minute grid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["iso_or_none", "iso_utc", "next_boundary", "require_aware", "slot_floor"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def require_aware(moment: datetime, name: str = "datetime") -> datetime:
    """Return ``moment`` in UTC; raise ``ValueError`` for a naive datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def iso_utc(moment: datetime) -> str:
    """``2024-05-01T22:30:00Z``: how energyd writes every moment; naive datetimes are refused."""
    return require_aware(moment).isoformat().replace("+00:00", "Z")


def iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else iso_utc(moment)


def slot_floor(moment: datetime, slot_minutes: int) -> datetime:
    """Start of the ``slot_minutes`` slot containing ``moment`` (aligned to the UTC epoch)."""
    moment = require_aware(moment)
    step = slot_minutes * 60
    seconds = int((moment - _EPOCH).total_seconds() // step) * step
    return _EPOCH + timedelta(seconds=seconds)


def next_boundary(moment: datetime, slot_minutes: int) -> datetime:
    """The first slot boundary strictly after ``moment``."""
    return slot_floor(moment, slot_minutes) + timedelta(minutes=slot_minutes)
