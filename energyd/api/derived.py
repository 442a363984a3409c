"""The derived retained topics of one provider/region, as JSON-ready dicts (pure).

From the known slots, the market calendar, the level bands and the standing windows this builds
``today``, ``tomorrow``, ``stats/<period>``, ``level``, ``windows/<name>``, ``predbat``,
``emhass`` and (when asked for) ``hourly`` (shapes: README "MQTT topics"). The figures
themselves are :mod:`energyd.domain.figures`; this module only chooses the periods and lays
the figures out.

Payloads carry no time of their own (no ``updated_at``): ``now`` is the moment the state is
for (:func:`energyd.domain.figures.state_moment`), so the same prices give the same bytes
whenever and wherever they are built. The topics of :data:`NOW_TOPICS` (and the standing
windows) are what a slot boundary changes; the others change only with the prices (and the
day), so a boundary builds only the former (``series=False``).

Each payload is built on its own: one that raises (stored data that breaks an assumption of
a figure, say slots from an older version that today's validation refuses) is left out of
:attr:`Derived.payloads` and named in :attr:`Derived.errors`; the others are built as usual.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Final, TypeVar

from energyd.api.replies import FiguresReply
from energyd.api.shapes import (
    DayPayload,
    EmhassPayload,
    HourlyPayload,
    LevelPayload,
    PredbatPayload,
    PredbatValue,
    SeriesHead,
    StatsPayload,
    WindowPayload,
    WindowReply,
    series_head,
)
from energyd.config import WindowSettings
from energyd.domain.averages import hourly_averages
from energyd.domain.calendar import MarketCalendar
from energyd.domain.figures import (
    Band,
    Window,
    WindowMode,
    current_and_next,
    find_window,
    is_complete,
    keep_started,
    level_for,
    period_stats,
    rank_at,
    series_step,
    slot_json,
    slots_in,
    window_json,
    window_period,
)
from energyd.domain.time import iso_utc
from energyd.domain.units import major_digits, major_per_kwh, round_price, to_major
from energyd.providers.base import EnergyPriceSlot

__all__ = [
    "NOW_TOPICS",
    "PERIODS",
    "PREDBAT_MAX_BYTES",
    "Derived",
    "Payload",
    "PayloadBuilder",
    "derive",
    "known_currency",
    "predbat_value",
    "series_head",
    "standing_window_payload",
    "window_payload",
]

#: The periods published under ``stats/``.
PERIODS = ("today", "tomorrow", "next_24h")
#: The derived topics a slot boundary changes (besides ``windows/<name>``): built by
#: :func:`derive` with ``series=False``.
NOW_TOPICS = ("level",)

#: Home Assistant records a state's attributes up to 16 KiB (beyond: none at all, and a
#: warning); the ``predbat`` payload, the attributes of the *Predbat rates* sensor, stays
#: below this, leaving room for the sensor's own ``friendly_name`` and ``icon``.
PREDBAT_MAX_BYTES: Final = 16_384 - 512

#: One topic's payload, as built (a TypedDict of :mod:`energyd.api.shapes`).
Payload = Mapping[str, object]
P = TypeVar("P", bound=Payload)


@dataclass(frozen=True, slots=True)
class Derived:
    """Topic suffix -> payload, the standing windows chosen (kept for stickiness), the same
    payloads as the ``figures`` operation answers them, and the topics that could not be
    built (topic suffix -> ``"ExceptionType: message"``)."""

    payloads: dict[str, Payload]
    windows: dict[str, Window | None]
    figures: FiguresReply
    errors: dict[str, str] = field(default_factory=dict)


class PayloadBuilder:
    """Builds topic payloads one at a time: one that raises is left out of :attr:`payloads`
    and named in :attr:`errors` (topic -> ``"ExceptionType: message"``)."""

    def __init__(self) -> None:
        self.payloads: dict[str, Payload] = {}
        self.errors: dict[str, str] = {}

    def build(self, topic: str, payload: Callable[[], P]) -> P | None:
        """The payload built (and kept under ``topic``), or None when building it raised."""
        try:
            built = payload()
        except Exception as exc:  # one topic's failure must not cost the others
            self.errors[topic] = f"{type(exc).__name__}: {exc}"
            return None
        self.payloads[topic] = built
        return built


def _day_payload(
    head: SeriesHead,
    day: date,
    calendar: MarketCalendar,
    slots: Sequence[EnergyPriceSlot],
) -> DayPayload:
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
    head: SeriesHead,
    *,
    name: str | None,
    window: Window | None,
    mode: WindowMode,
    minutes: int,
    contiguous: bool,
    period: tuple[datetime, datetime],
) -> WindowReply:
    """A window as the ``cheapest`` reply has it: asked for once, so no ``active`` (the
    standing windows: :func:`standing_window_payload`)."""
    body = window_json(
        window,
        minutes=minutes,
        period_start=period[0],
        period_end=period[1],
        contiguous=contiguous,
        mode=mode,
    )
    return {**head, "name": name, **body}


def standing_window_payload(
    head: SeriesHead,
    *,
    name: str,
    window: Window | None,
    mode: WindowMode,
    minutes: int,
    contiguous: bool,
    period: tuple[datetime, datetime],
    now: datetime,
) -> WindowPayload:
    """A standing window as published on ``windows/<name>`` (with ``active``)."""
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


def known_currency(currency: str | None, slots: Sequence[EnergyPriceSlot]) -> str | None:
    """``currency`` (the provider's); without one (no plugin loaded), that of the stored
    slots themselves; ``None`` when neither says."""
    if currency is not None:
        return currency
    return slots[0].currency if slots else None


def derive(
    *,
    provider: str,
    region: str,
    currency: str | None,
    slots: Sequence[EnergyPriceSlot],
    calendar: MarketCalendar,
    levels: Sequence[Band],
    windows: Sequence[WindowSettings],
    previous: Mapping[str, Window | None],
    now: datetime,
    hourly: bool = False,
    series: bool = True,
) -> Derived:
    """Every derived payload for one provider/region at ``now`` (``slots`` ascending); each
    built in isolation (see the module doc). ``currency`` is the provider's; ``None`` (no
    plugin loaded) takes the stored slots' own (:func:`known_currency`). Without ``series``
    only ``level`` and the standing windows (what a slot boundary changes; the figures then
    have no ``stats``)."""
    currency = known_currency(currency, slots)
    head = series_head(provider, region, currency)
    today = calendar.local_date(now)
    tomorrow = today + timedelta(days=1)
    bounds = {"today": calendar.day_bounds(today)}
    built = PayloadBuilder()
    build = built.build
    stats: dict[str, StatsPayload | None] = {}
    if series:
        bounds["tomorrow"] = calendar.day_bounds(tomorrow)
        bounds["next_24h"] = (now, now + timedelta(hours=24))
        build("today", lambda: _day_payload(head, today, calendar, slots))
        build("tomorrow", lambda: _day_payload(head, tomorrow, calendar, slots))
        stats = {
            name: build(f"stats/{name}", partial(_stats_payload, head, name, slots, bounds, now))
            for name in PERIODS
        }
    level = build("level", lambda: _level_payload(head, slots, levels, bounds["today"], now))

    chosen: dict[str, Window | None] = {}
    standing_windows: list[WindowPayload] = []
    for setting in windows:
        # A window that cannot be computed keeps the one chosen before (stickiness).
        chosen[setting.name] = previous.get(setting.name)

        def standing(setting: WindowSettings = setting) -> WindowPayload:
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
            return standing_window_payload(
                head,
                name=setting.name,
                window=window,
                mode=setting.mode,
                minutes=setting.minutes,
                contiguous=setting.contiguous,
                period=period,
                now=now,
            )

        published = build(f"windows/{setting.name}", standing)
        if published is not None:
            standing_windows.append(published)

    if series:
        if hourly:
            build("hourly", lambda: _hourly_payload(head, slots, calendar))
        build("predbat", lambda: _predbat_payload(slots, bounds))
        build("emhass", lambda: _emhass_payload(provider, region, currency, slots, now))
    figures: FiguresReply = {"level": level, "stats": stats, "windows": standing_windows}
    return Derived(built.payloads, chosen, figures, built.errors)


def _hourly_payload(
    head: SeriesHead, slots: Sequence[EnergyPriceSlot], calendar: MarketCalendar
) -> HourlyPayload:
    hours = hourly_averages(slots, calendar.zone)
    return {**head, "count": len(hours), "slots": [slot_json(hour) for hour in hours]}


def _stats_payload(
    head: SeriesHead,
    name: str,
    slots: Sequence[EnergyPriceSlot],
    bounds: Mapping[str, tuple[datetime, datetime]],
    now: datetime,
) -> StatsPayload:
    stats = period_stats(slots, *bounds[name], now)
    return {**head, "period": name, **stats.as_json()}


def _level_payload(
    head: SeriesHead,
    slots: Sequence[EnergyPriceSlot],
    levels: Sequence[Band],
    today: tuple[datetime, datetime],
    now: datetime,
) -> LevelPayload:
    """The current slot's band, and its rank among today's slots (1: the cheapest; the
    percentile of the others that are cheaper), both ``null`` when no price is known."""
    current, _ = current_and_next(slots, now)
    rank, percentile = rank_at(slots, *today, now)
    return {
        **head,
        "level": level_for(None if current is None else current.price_pence, levels),
        "price": None if current is None else round_price(current.price_pence),
        "valid_from": None if current is None else iso_utc(current.valid_from),
        "valid_to": None if current is None else iso_utc(current.valid_to),
        "rank": rank,
        "percentile": percentile,
        "bands": [{"name": band.name, "below": band.below} for band in levels],
    }


def predbat_value(slot: EnergyPriceSlot) -> PredbatValue:
    """One Predbat rate: ``value`` in major units per kWh (GBP/kWh, ``price_major`` as the
    price topics round it), since Predbat multiplies a ``start``/``end`` rate by 100."""
    return {
        "start": iso_utc(slot.valid_from),
        "end": iso_utc(slot.valid_to),
        "value": round_price(slot.price_major, major_digits(slot.currency)),
    }


def _json_size(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _predbat_payload(
    slots: Sequence[EnergyPriceSlot],
    bounds: Mapping[str, tuple[datetime, datetime]],
) -> PredbatPayload:
    """Today's and tomorrow's rates (the Nord Pool shape). Home Assistant takes the payload
    as the attributes of the *Predbat rates* sensor: if it would pass
    :data:`PREDBAT_MAX_BYTES`, today's earliest rates go first (2 x 100 quarter hours fit as
    they are: about 15.7 KB; more only once tomorrow is known, in the afternoon, when the
    morning is over). Not from the time it is built: the same prices, the same payload."""
    today = [predbat_value(s) for s in slots_in(slots, *bounds["today"])]
    tomorrow = [predbat_value(s) for s in slots_in(slots, *bounds["tomorrow"])]
    payload: PredbatPayload = {"raw_today": today, "raw_tomorrow": tomorrow}
    size = _json_size(payload)
    while size > PREDBAT_MAX_BYTES and today:
        size -= _json_size(today.pop(0)) + (1 if today else 0)  # the entry and its comma
    return payload


def _emhass_payload(
    provider: str,
    region: str,
    currency: str | None,
    slots: Sequence[EnergyPriceSlot],
    now: datetime,
) -> EmhassPayload:
    """Prices in major units per kWh (GBP/kWh), as EMHASS's cost forecasts take them."""
    first, step, values = series_step(slots, now)
    prices: list[float | None] = []
    if currency is not None:
        digits = major_digits(currency)
        prices = [round_price(to_major(value, currency), digits) for value in values]
    elif values:  # not reached: slots carry their currency (known_currency)
        raise ValueError("prices without a known currency cannot be converted to major units")
    return {
        "provider": provider,
        "region": region,
        "start": None if first is None else iso_utc(first),
        "step_minutes": step,
        "unit": None if currency is None else major_per_kwh(currency),
        "prices": prices,
    }
