"""The derived retained topics of one provider/region, as JSON-ready dicts (pure).

From the known slots, the market calendar, the level bands and the standing windows this builds
``today``, ``tomorrow``, ``stats/<period>``, ``level``, ``windows/<name>``, ``predbat`` and
``emhass`` (shapes: README "MQTT topics"). The figures themselves are :mod:`energyd.prices`;
this module only chooses the periods and lays the figures out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from energyd.clock import MarketCalendar, iso_utc
from energyd.config import LevelBand, WindowSettings
from energyd.mqtt.payloads import minor_unit
from energyd.prices import (
    Window,
    WindowMode,
    find_window,
    is_complete,
    keep_started,
    level_for,
    period_stats,
    series_step,
    slot_json,
    slots_in,
    window_json,
    window_period,
)
from energyd.providers.base import EnergyPriceSlot

__all__ = ["Derived", "derive", "series_head", "window_payload"]

#: The periods published under ``stats/``.
PERIODS = ("today", "tomorrow", "next_24h")


@dataclass(frozen=True, slots=True)
class Derived:
    """Topic suffix -> payload, plus the standing windows chosen (kept for stickiness)."""

    payloads: dict[str, dict[str, Any]]
    windows: dict[str, Window | None]


def series_head(provider: str, region: str, currency: str) -> dict[str, Any]:
    """The keys every series payload of one provider/region starts with."""
    return {
        "provider": provider,
        "region": region,
        "unit": f"{minor_unit(currency)}/kWh",
        "currency": currency,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _day_payload(
    head: dict[str, Any],
    day: date,
    calendar: MarketCalendar,
    slots: Sequence[EnergyPriceSlot],
) -> dict[str, Any]:
    """A local calendar day; ``complete``: all of it is known; ``available``: all of the
    market's own day (Agile: 23:00 -> 23:00 UK, what one publication covers) is known."""
    start, end = calendar.day_bounds(day)
    inside = slots_in(slots, start, end)
    market = calendar.market_day_bounds(day)
    return {
        **head,
        "date": day.isoformat(),
        "start": iso_utc(start),
        "end": iso_utc(end),
        "complete": is_complete(inside, start, end),
        "available": is_complete(slots_in(slots, *market), *market),
        "count": len(inside),
        "slots": [slot_json(slot) for slot in inside],
    }


def window_payload(
    head: Mapping[str, Any],
    *,
    name: str | None,
    window: Window | None,
    mode: WindowMode,
    minutes: int,
    contiguous: bool,
    period: tuple[datetime, datetime],
    now: datetime | None,
) -> dict[str, Any]:
    """A window as published (``now`` None: no ``active`` key, as in the ``cheapest`` reply)."""
    body = window_json(
        window,
        minutes=minutes,
        period_start=period[0],
        period_end=period[1],
        contiguous=contiguous,
        mode=mode,
        now=now,
    )
    return {**head, "name": name, **body}


def derive(
    *,
    provider: str,
    region: str,
    currency: str,
    slots: Sequence[EnergyPriceSlot],
    calendar: MarketCalendar,
    levels: Sequence[LevelBand],
    windows: Sequence[WindowSettings],
    previous: Mapping[str, Window | None],
    now: datetime,
) -> Derived:
    """Every derived payload for one provider/region at ``now`` (``slots`` ascending)."""
    head = {**series_head(provider, region, currency), "updated_at": iso_utc(now)}
    today = calendar.local_date(now)
    tomorrow = today + timedelta(days=1)
    bounds = {
        "today": calendar.day_bounds(today),
        "tomorrow": calendar.day_bounds(tomorrow),
        "next_24h": (now, now + timedelta(hours=24)),
    }
    payloads: dict[str, dict[str, Any]] = {
        "today": _day_payload(head, today, calendar, slots),
        "tomorrow": _day_payload(head, tomorrow, calendar, slots),
    }
    for name in PERIODS:
        stats = period_stats(slots, *bounds[name], now)
        payloads[f"stats/{name}"] = {**head, "period": name, **stats.as_json()}

    current = next((slot for slot in slots if slot.contains(now)), None)
    payloads["level"] = {
        **head,
        "level": level_for(None if current is None else current.price_pence, levels),
        "price": None if current is None else _round(current.price_pence),
        "valid_from": None if current is None else iso_utc(current.valid_from),
        "valid_to": None if current is None else iso_utc(current.valid_to),
        "bands": [{"name": band.name, "below": band.below} for band in levels],
    }

    chosen: dict[str, Window | None] = {}
    for setting in windows:
        period = window_period(now, calendar, setting.earliest, setting.latest)
        computed = find_window(
            slots,
            setting.minutes,
            *period,
            contiguous=setting.contiguous,
            mode=setting.mode,
            not_before=now,
        )
        window = keep_started(previous.get(setting.name), computed, now)
        chosen[setting.name] = window
        payloads[f"windows/{setting.name}"] = window_payload(
            head,
            name=setting.name,
            window=window,
            mode=setting.mode,
            minutes=setting.minutes,
            contiguous=setting.contiguous,
            period=period,
            now=now,
        )

    def raw(day_slots: Sequence[EnergyPriceSlot]) -> list[dict[str, Any]]:
        return [
            {
                "start": iso_utc(s.valid_from),
                "end": iso_utc(s.valid_to),
                "value": _round(s.price_pence),
            }
            for s in day_slots
        ]

    payloads["predbat"] = {
        "raw_today": raw(slots_in(slots, *bounds["today"])),
        "raw_tomorrow": raw(slots_in(slots, *bounds["tomorrow"])),
    }
    first, step, values = series_step(slots, now)
    payloads["emhass"] = {
        "provider": provider,
        "region": region,
        "start": None if first is None else iso_utc(first),
        "step_minutes": step,
        "unit": f"{currency}/kWh",
        "prices": [round(value / 100, 6) for value in values],
        "updated_at": iso_utc(now),
    }
    return Derived(payloads, chosen)
