"""Hourly averages of a finer price series, for households billed by the hour (pure).

Most day-ahead markets trade 15-minute products since October 2025, but many meters (most
Danish ones in 2025) are still read, and billed, by the hour. An hour's price is the
time-weighted mean of the slots covering it. Hours are whole hours of the market's local
wall clock (so a 23- or 25-hour day has 23 or 25 of them); an hour not fully covered by known
slots has no average (never a guess from part of it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from energyd.domain.slots import Slot

__all__ = ["AveragedSlot", "hourly_averages"]

HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class AveragedSlot:
    """One hour's mean price (minor units per kWh; :class:`~energyd.domain.slots.Slot`)."""

    valid_from: datetime
    valid_to: datetime
    price_pence: float
    currency: str
    price_pence_exc_vat: float | None = None
    market_pence: float | None = None
    provisional: bool = False
    estimate: bool = False
    source: str | None = None
    estimate_low_pence: float | None = None
    estimate_high_pence: float | None = None

    @property
    def duration(self) -> timedelta:
        return self.valid_to - self.valid_from

    def contains(self, moment: datetime, /) -> bool:
        return self.valid_from <= moment < self.valid_to


def _hour_start(moment: datetime, zone: ZoneInfo) -> datetime:
    """The start (UTC) of the local wall-clock hour holding ``moment``."""
    local = moment.astimezone(zone)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def _mean(values: Sequence[float], seconds: Sequence[float]) -> float:
    """The time-weighted mean of one hour's values (``seconds``: how long each holds)."""
    return math.fsum(v * w for v, w in zip(values, seconds, strict=True)) / HOUR.total_seconds()


def _mean_if_known(values: Sequence[float | None], seconds: Sequence[float]) -> float | None:
    """:func:`_mean`, or ``None`` when any value is missing."""
    known = [v for v in values if v is not None]
    return _mean(known, seconds) if len(known) == len(values) else None


def _one_source(sources: Sequence[str | None]) -> str | None:
    """The fallback an hour's slots came from: the first one that is not the provider's own
    (an hour mixing its own and a fallback's prices names the fallback)."""
    return next((source for source in sources if source is not None), None)


def hourly_averages(slots: Sequence[Slot], zone: ZoneInfo) -> list[AveragedSlot]:
    """The hours ``slots`` (ascending, one currency) cover completely, each with the
    time-weighted mean of its slots' prices (and of their market prices and prices without
    VAT where every slot of the hour has one)."""
    by_hour: dict[datetime, list[tuple[Slot, datetime, datetime]]] = {}
    for slot in slots:
        moment = slot.valid_from
        while moment < slot.valid_to:
            start = _hour_start(moment, zone)
            end = min(start + HOUR, slot.valid_to)
            by_hour.setdefault(start, []).append((slot, moment, end))
            moment = end
    out: list[AveragedSlot] = []
    for start in sorted(by_hour):
        parts = by_hour[start]
        end = start + HOUR
        covered = sum(((b - a) for _, a, b in parts), timedelta())
        if covered != HOUR or parts[0][1] != start or parts[-1][2] != end:
            continue  # a gap or a partial hour: no average
        seconds = [(b - a).total_seconds() for _, a, b in parts]
        covering = [slot for slot, _, _ in parts]
        out.append(
            AveragedSlot(
                start,
                end,
                _mean([s.price_pence for s in covering], seconds),
                covering[0].currency,
                _mean_if_known([s.price_pence_exc_vat for s in covering], seconds),
                _mean_if_known([s.market_pence for s in covering], seconds),
                any(s.provisional for s in covering),
                any(s.estimate for s in covering),
                _one_source([s.source for s in covering]),
            )
        )
    return out
