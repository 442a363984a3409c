"""Parsing request input (query values, JSON bodies) into checked values; pure.

Every refusal is a :class:`~energyd.exceptions.CommandError` with a stable code, which the
error middleware answers as a 4xx JSON reply.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from energyd import strictjson
from energyd.exceptions import CommandError

__all__ = ["MAX_WINDOW", "decode_json", "parse_limit", "parse_time", "price_window"]

#: The longest window ``/api/prices`` answers.
MAX_WINDOW = timedelta(days=31)
DEFAULT_WINDOW = timedelta(hours=24)


def decode_json(body: bytes) -> Any:
    """Strict JSON (UTF-8, finite numbers only: no NaN, Infinity or 1e999; no lone
    surrogates, which no reply or store could encode)."""
    try:
        value = strictjson.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CommandError("invalid_json", "the body is not UTF-8") from exc
    except (ValueError, RecursionError) as exc:
        raise CommandError("invalid_json", f"the body is not valid JSON: {exc}"[:200]) from exc
    surrogate = strictjson.lone_surrogate(value)
    if surrogate is not None:
        raise CommandError("invalid_json", f"the body holds a lone UTF-16 surrogate ({surrogate})")
    return value


def parse_time(value: str, name: str) -> datetime:
    """An ISO 8601 date-time with an offset (``Z`` allowed), as aware UTC."""
    # A '+' in a query string arrives as a space: "2026-01-01T00:00:00 00:00".
    text = value.strip().replace(" ", "+")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CommandError("invalid_argument", f"{name}: not an ISO 8601 date-time") from exc
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CommandError("invalid_argument", f"{name}: needs a UTC offset (e.g. Z or +01:00)")
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise CommandError("invalid_argument", f"{name}: out of range") from exc


def _hours(value: str) -> timedelta:
    try:
        hours = float(value)
    except ValueError as exc:
        raise CommandError("invalid_argument", "hours: not a number") from exc
    if not 0 < hours <= MAX_WINDOW.total_seconds() / 3600:
        raise CommandError("invalid_argument", f"hours: must be > 0 and <= {MAX_WINDOW.days * 24}")
    return timedelta(hours=hours)


def price_window(
    start: str | None, end: str | None, now: datetime, hours: str | None = None
) -> tuple[datetime, datetime]:
    """``[start, end)`` from query values: from ``start`` (default now) to ``end``, or for
    ``hours`` (default 24); at most 31 days."""
    if end and hours:
        raise CommandError("invalid_argument", "give end or hours, not both")
    begin = parse_time(start, "start") if start else now
    span = _hours(hours) if hours else DEFAULT_WINDOW
    try:
        finish = parse_time(end, "end") if end else begin + span
    except OverflowError as exc:
        raise CommandError("invalid_argument", "start: out of range") from exc
    if finish <= begin:
        raise CommandError("invalid_argument", "end must be after start")
    if finish - begin > MAX_WINDOW:
        raise CommandError("invalid_argument", f"window longer than {MAX_WINDOW.days} days")
    return begin, finish


def parse_limit(value: str | None, default: int, maximum: int) -> int:
    """A positive integer no larger than ``maximum``."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise CommandError("invalid_argument", "limit: not an integer") from exc
    if not 1 <= number <= maximum:
        raise CommandError("invalid_argument", f"limit: must be 1 to {maximum}")
    return number
