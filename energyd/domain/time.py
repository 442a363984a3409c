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


#: The text of whole-minute UTC moments already written: slot edges, which every payload and
#: reply repeats (``isoformat`` is ~2 us each; a ``prices`` reply of a day has ~100 of them).
_WRITTEN: dict[datetime, str] = {}
_WRITTEN_MAX = 8192


def iso_utc(moment: datetime) -> str:
    """``2024-05-01T22:30:00Z``: how energyd writes every moment; naive datetimes are refused."""
    if moment.tzinfo is UTC and not (moment.second or moment.microsecond):
        # Only UTC itself: moments of one other zone compare as wall times, so two instants
        # an hour apart (a DST fold) would be one key.
        text = _WRITTEN.get(moment)
        if text is None:
            text = moment.isoformat().replace("+00:00", "Z")
            if len(_WRITTEN) >= _WRITTEN_MAX:
                _WRITTEN.clear()
            _WRITTEN[moment] = text
        return text
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
