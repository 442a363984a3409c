"""Time for plugins: parse what markets send, into aware UTC, and cut it into slots.

Inside energyd every moment is timezone-aware UTC; a market's local time appears only where
the market defines it (its day). Parsing failures raise :class:`ProviderDataError` (the answer
is bad); a naive or empty *window* handed in by a caller raises ``ValueError`` (a bug).

Market days follow :class:`energyd.domain.calendar.MarketCalendar`: with ``day_start`` 00:00
the local calendar day; with another start (Agile's 23:00) day ``D`` runs from ``day_start``
on ``D-1`` to ``day_start`` on ``D``. Clock-change days are 23 or 25 hours long.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from energyd.domain.calendar import MarketCalendar
from energyd.domain.time import require_aware, slot_floor
from energyd.exceptions import ProviderDataError
from energyd.providers.contract import EnergyPriceSlot

__all__ = [
    "format_local",
    "format_utc",
    "from_epoch",
    "infer_step",
    "local_day_window",
    "local_days",
    "parse_utc",
    "slot_floor",
    "slots_from_starts",
    "split_into_slots",
    "utc_window",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE = timedelta(minutes=1)


def parse_utc(value: object, what: str = "datetime") -> datetime:
    """ISO 8601 with ``Z`` or an offset -> aware UTC; naive or malformed -> ProviderDataError."""
    if not isinstance(value, str):
        raise ProviderDataError(f"{what}: expected an ISO 8601 string, got {value!r}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ProviderDataError(f"{what}: not an ISO 8601 datetime: {value!r}") from exc
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ProviderDataError(f"{what}: {value!r} has no UTC offset")
    return moment.astimezone(UTC)


def from_epoch(value: object, unit: Literal["s", "ms"] = "s", what: str = "timestamp") -> datetime:
    """Seconds (or milliseconds, ``unit="ms"``) since 1970 -> aware UTC, exactly."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProviderDataError(f"{what}: expected a number of {unit} since 1970, got {value!r}")
    try:
        if isinstance(value, int):
            delta = timedelta(milliseconds=value) if unit == "ms" else timedelta(seconds=value)
        else:
            delta = timedelta(seconds=value / 1000 if unit == "ms" else value)
        return _EPOCH + delta
    except OverflowError as exc:
        raise ProviderDataError(f"{what}: {value!r} is out of range") from exc


def format_utc(moment: datetime) -> str:
    """``2024-05-07T21:30:00Z``: whole seconds, UTC; naive datetimes are refused."""
    return require_aware(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_local(
    moment: datetime, tz: str | ZoneInfo, timespec: Literal["minutes", "seconds"] = "minutes"
) -> str:
    """``2024-12-10T00:00+01:00``: ``moment`` as local time in ``tz``, with its offset."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    return require_aware(moment).astimezone(zone).isoformat(timespec=timespec)


def utc_window(start_utc: datetime, end_utc: datetime) -> tuple[datetime, datetime]:
    """Both ends aware, in UTC, end after start; else ``ValueError``."""
    start = require_aware(start_utc, "start_utc")
    end = require_aware(end_utc, "end_utc")
    if end <= start:
        raise ValueError(f"empty window: end {end.isoformat()} is not after {start.isoformat()}")
    return start, end


def _calendar(tz: str | ZoneInfo, day_start: str) -> MarketCalendar:
    return MarketCalendar.of(tz.key if isinstance(tz, ZoneInfo) else tz, day_start)


def local_day_window(
    day: date, tz: str | ZoneInfo, day_start: str = "00:00"
) -> tuple[datetime, datetime]:
    """The market day ``day`` of zone ``tz`` as ``(start_utc, end_utc)`` (23-25 hours)."""
    return _calendar(tz, day_start).market_day_bounds(day)


def local_days(
    start_utc: datetime, end_utc: datetime, tz: str | ZoneInfo, day_start: str = "00:00"
) -> list[date]:
    """The market days of ``tz`` that overlap ``[start_utc, end_utc)``, in order."""
    start, end = utc_window(start_utc, end_utc)
    calendar = _calendar(tz, day_start)
    first = calendar.local_date(start) - timedelta(days=1)
    last = calendar.local_date(end) + timedelta(days=1)
    days: list[date] = []
    day = first
    while day <= last:
        low, high = calendar.market_day_bounds(day)
        if high > start and low < end:
            days.append(day)
        day += timedelta(days=1)
    return days


def split_into_slots(
    valid_from: datetime,
    valid_to: datetime,
    price: float,
    *,
    slot: timedelta,
    currency: str,
    price_exc_vat: float | None = None,
    window: tuple[datetime, datetime] | None = None,
) -> list[EnergyPriceSlot]:
    """Cut one priced period into ``slot``-long slots; keep those overlapping ``window``.

    The period must be a whole number of slots long (else ProviderDataError).
    """
    start, end = parse_aware(valid_from, "valid_from"), parse_aware(valid_to, "valid_to")
    if slot <= timedelta(0):
        raise ValueError(f"slot must be positive, got {slot}")
    length = end - start
    if length <= timedelta(0):
        raise ProviderDataError(f"period {format_utc(start)}: valid_to is not after valid_from")
    if length % slot:
        raise ProviderDataError(f"period {format_utc(start)}: {length} is not a multiple of {slot}")
    first, last = 0, length // slot
    if window is not None:
        low, high = utc_window(*window)
        first = max(first, (low - start) // slot)
        last = min(last, -((start - high) // slot))
    return [
        EnergyPriceSlot(
            valid_from=start + slot * n,
            valid_to=start + slot * (n + 1),
            price_pence=price,
            currency=currency,
            price_pence_exc_vat=price_exc_vat,
        )
        for n in range(first, last)
    ]


def parse_aware(moment: datetime, what: str) -> datetime:
    """``moment`` in UTC; a naive datetime in market data is a ProviderDataError."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ProviderDataError(f"{what}: naive datetime {moment.isoformat()}")
    return moment.astimezone(UTC)


def infer_step(starts: Sequence[datetime]) -> timedelta:
    """The step of a series of slot starts: the smallest gap (a larger one is a hole).

    Starts must ascend strictly and the step be a whole number of minutes; a single start
    has no step (ProviderDataError: say the step explicitly).
    """
    gaps = [after - before for before, after in itertools.pairwise(starts)]
    if not gaps:
        raise ProviderDataError("one point only: the slot length cannot be taken from the data")
    for index, gap in enumerate(gaps):
        if gap <= timedelta(0):
            raise ProviderDataError(f"point {index + 1}: times do not ascend")
    step = min(gaps)
    if step % _MINUTE:
        raise ProviderDataError(f"step {step} is not a whole number of minutes")
    return step


def slots_from_starts(
    starts: Sequence[datetime],
    prices: Sequence[float | None],
    *,
    currency: str,
    step: timedelta | None = None,
    convert: Callable[[float], float] | None = None,
) -> list[EnergyPriceSlot]:
    """Parallel arrays (slot starts, prices) -> slots, prices through ``convert`` (say
    :func:`~energyd.providers.kit.units.per_mwh_to_minor_per_kwh`).

    Each slot lasts ``step`` or, by default, what the data says: the smaller of the gaps to
    its neighbours. So a series that turns from hourly to 15-minute slots keeps both, a
    larger gap is a hole (not a longer slot), and the last point lasts as long as the one
    before it. A ``None`` price is a missing slot, never zero.
    """
    if len(starts) != len(prices):
        raise ProviderDataError(f"{len(starts)} times but {len(prices)} prices")
    if len(starts) > 1:
        infer_step(starts)  # refuse unordered or off-minute series
    elif step is None and starts:
        raise ProviderDataError("one point only: the slot length cannot be taken from the data")
    gaps = [after - before for before, after in itertools.pairwise(starts)]
    slots: list[EnergyPriceSlot] = []
    for index, (start, price) in enumerate(zip(starts, prices, strict=True)):
        if price is None:
            continue
        if isinstance(price, bool) or not isinstance(price, int | float):
            raise ProviderDataError(f"point {index}: price is not a number: {price!r}")
        if not math.isfinite(price):
            raise ProviderDataError(f"point {index}: price is not finite: {price!r}")
        begin = parse_aware(start, f"point {index}")
        length = step or min(gaps[max(index - 1, 0) : index + 1])
        value = float(price) if convert is None else convert(float(price))
        slots.append(EnergyPriceSlot(begin, begin + length, value, currency))
    return slots
