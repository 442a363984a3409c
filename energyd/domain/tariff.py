"""The price formula: from a source's market price to the price a household pays (pure).

Wholesale sources quote the day-ahead price without fees or tax. Per provider, energyd turns it
into the end price::

    end = clamp((market * multiplier + sum(adders) + sum(fees(t))) * (1 + VAT), floor, cap)

- ``multiplier``: a plain factor (a currency conversion, a supplier's 1.05, Agile's 2.2);
- ``adders``: fixed amounts per kWh (grid fee, energy tax, supplier margin), itemised by name;
- ``fees``: time-of-use amounts per kWh (:class:`FeeZone`): each zone whose local time of
  day, weekday and month match the slot's *start* adds its amount (zones may overlap: a
  German §14a module and a time-of-day fee both apply). Zone edges are wall-clock times in
  the tariff's zone, so an 17:00-21:00 peak is 17:00-21:00 on a 23- or 25-hour day too;
- ``vat_percent`` on everything before it, always (``vat_on = "all"``) or only when the
  pre-VAT price is positive (``"positive"``: no tax is paid back on a negative price);
- ``floor`` / ``cap``: bounds of the end price (a feed-in tariff that never charges, a
  regulated cap), applied last.

Every amount is in *minor* currency units per kWh (ct/kWh, øre/kWh, p/kWh), the unit energyd
keeps prices in; the source's unit is converted before (EUR/MWh / 10 = ct/kWh, by the plugin).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from energyd.domain.time import require_aware

__all__ = [
    "ALL_MONTHS",
    "ALL_WEEKDAYS",
    "FeeZone",
    "PriceParts",
    "Tariff",
    "VatOn",
    "clock_of",
    "months_of",
    "weekdays_of",
]

VatOn = Literal["all", "positive"]
ALL_WEEKDAYS: frozenset[int] = frozenset(range(7))  # Monday = 0, as datetime.weekday()
ALL_MONTHS: frozenset[int] = frozenset(range(1, 13))


@dataclass(frozen=True, slots=True)
class FeeZone:
    """An amount per kWh (minor units) for local times ``[start, end)`` on ``weekdays`` in
    ``months``. ``end`` ``None`` is midnight; an ``end`` before ``start`` wraps past midnight
    (22:00-06:00), and the weekday is then the one the zone *started* on."""

    amount: float
    start: time = time(0)
    end: time | None = None
    weekdays: frozenset[int] = ALL_WEEKDAYS
    months: frozenset[int] = ALL_MONTHS
    name: str = ""

    def __post_init__(self) -> None:
        if not math.isfinite(self.amount):
            raise ValueError(f"fee zone {self.name!r}: amount must be a finite number")
        if not self.weekdays <= ALL_WEEKDAYS or not self.weekdays:
            raise ValueError("weekdays must be a non-empty set of 0 (Monday) .. 6 (Sunday)")
        if not self.months <= ALL_MONTHS or not self.months:
            raise ValueError("months must be a non-empty set of 1 .. 12")
        if self.end is not None and self.end == self.start:
            raise ValueError("a fee zone cannot start and end at the same time")

    def applies(self, local: datetime) -> bool:
        """Whether this zone covers the wall-clock moment ``local`` (aware, tariff's zone)."""
        clock = local.time().replace(tzinfo=None)
        day = local.date()
        if self.end is None or self.start < self.end:  # within one day
            inside = self.start <= clock and (self.end is None or clock < self.end)
        elif clock >= self.start:  # wrapping zone, evening part: started today
            inside = True
        elif clock < self.end:  # wrapping zone, morning part: started yesterday
            inside, day = True, day - timedelta(days=1)
        else:
            inside = False
        return inside and day.weekday() in self.weekdays and day.month in self.months


@dataclass(frozen=True, slots=True)
class PriceParts:
    """One price through the formula, step by step (for an audit of the end price)."""

    market: float
    energy: float  # market * multiplier
    adders: float
    fees: float
    before_vat: float
    vat: float
    end: float

    @property
    def exc_vat(self) -> float:
        """The end price without its VAT (the floor/cap applied to it in proportion)."""
        total = self.before_vat + self.vat
        if self.vat == 0 or total == 0:
            return self.end
        return self.end * self.before_vat / total


@dataclass(frozen=True, slots=True)
class Tariff:
    """The price formula of one provider (module docstring); ``zone`` is where the fee zones'
    wall-clock times are read (the market's zone unless the user names another)."""

    zone: ZoneInfo
    multiplier: float = 1.0
    adders: Mapping[str, float] = field(default_factory=dict)
    fees: tuple[FeeZone, ...] = ()
    vat_percent: float = 0.0
    vat_on: VatOn = "all"
    floor: float | None = None
    cap: float | None = None

    def __post_init__(self) -> None:
        numbers = {"multiplier": self.multiplier, "vat_percent": self.vat_percent}
        numbers.update({f"adders.{k}": v for k, v in self.adders.items()})
        for name, value in numbers.items():
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number")
        if not 0 <= self.vat_percent < 100:
            raise ValueError("vat_percent must be from 0 to under 100 (19 means 19 %)")
        if self.floor is not None and self.cap is not None and self.floor > self.cap:
            raise ValueError("floor must not be above cap")

    @property
    def is_identity(self) -> bool:
        """Whether the formula leaves every price as it is (nothing configured)."""
        return (
            self.multiplier == 1.0
            and not any(self.adders.values())
            and not self.fees
            and self.vat_percent == 0
            and self.floor is None
            and self.cap is None
        )

    def parts(self, market: float, start: datetime) -> PriceParts:
        """``market`` (minor units per kWh) of the slot starting at ``start`` (aware), step by
        step to the end price."""
        local = require_aware(start, "start").astimezone(self.zone)
        energy = market * self.multiplier
        adders = math.fsum(self.adders.values())
        fees = math.fsum(zone.amount for zone in self.fees if zone.applies(local))
        before = energy + adders + fees
        taxed = self.vat_on == "all" or before > 0
        vat = before * self.vat_percent / 100 if taxed else 0.0
        end = before + vat
        if self.floor is not None:
            end = max(end, self.floor)
        if self.cap is not None:
            end = min(end, self.cap)
        return PriceParts(market, energy, adders, fees, before, vat, end)

    def end_price(self, market: float, start: datetime) -> float:
        """The end price of ``market`` for the slot starting at ``start``."""
        return self.parts(market, start).end


# -- reading zone definitions (what the configuration says) ---------------------------------

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MONTH_NAMES = (
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
)  # fmt: skip


def _ranges(text: str, names: tuple[str, ...], what: str) -> frozenset[int]:
    """``"mon-fri,sun"`` -> indexes into ``names``; a range may wrap (``"oct-mar"``)."""
    picked: set[int] = set()
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        first, _, last = part.partition("-")
        try:
            a = names.index(first.strip()[:3])
            b = names.index(last.strip()[:3]) if last else a
        except ValueError:
            raise ValueError(
                f"{what} {part!r}: use {names[0]} .. {names[-1]}, ranges like "
                f"{names[0]}-{names[4]} and commas"
            ) from None
        picked.update(names.index(n) for n in _wrap(names, a, b))
    if not picked:
        raise ValueError(f"no {what}s given")
    return frozenset(picked)


def _wrap(names: tuple[str, ...], a: int, b: int) -> list[str]:
    if a <= b:
        return list(names[a : b + 1])
    return list(names[a:]) + list(names[: b + 1])


def weekdays_of(text: str) -> frozenset[int]:
    """``"mon-fri"`` -> {0..4}; ``"sat,sun"``; ``"fri-mon"`` wraps."""
    return _ranges(text, _DAY_NAMES, "weekday")


def months_of(text: str) -> frozenset[int]:
    """``"oct-mar"`` -> {10, 11, 12, 1, 2, 3} (months are 1-based)."""
    return frozenset(m + 1 for m in _ranges(text, _MONTH_NAMES, "month"))


def clock_of(text: str) -> time | None:
    """``"17:00"`` -> 17:00; ``"24:00"`` -> ``None`` (midnight at the end of the day)."""
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"{text!r}: expected HH:MM")
    h, m = int(hours), int(minutes)
    if (h, m) == (24, 0):
        return None
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ValueError(f"{text!r}: not a time of day (00:00 .. 24:00)")
    return time(h, m)
