"""Turning what Home Assistant shows and what energyd publishes into comparable values."""

from datetime import datetime


def instant(text: str) -> datetime:
    """An ISO timestamp (``Z`` or an offset) to whole seconds, for comparing."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(microsecond=0)


def when(text: str | None) -> datetime | None:
    """:func:`instant`, but None, "unknown" and "unavailable" (no timestamp) are None."""
    if text is None or text in ("unknown", "unavailable"):
        return None
    return instant(text)


def number(text: str | None) -> float | None:
    """A state as a number; None when it is none (missing, "unknown", "unavailable")."""
    if text is None:
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def major(minor: float | None) -> float | None:
    """A price in minor units (pence) in major units (pounds), as energyd rounds them."""
    return None if minor is None else round(minor / 100, 6)
