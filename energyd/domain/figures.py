"""Derived price figures: period statistics, level bands, cheapest windows, EMHASS steps (pure).

Inputs are sequences of :class:`Slot` in ascending time order without overlaps (as
the store returns them); they may have gaps and may be 15, 30 or 60 minutes long, or mixed —
any whole number of minutes, with edges on whole UTC minutes, which is what
:func:`energyd.providers.validation.validate_slots` lets into the store.
Datetimes are timezone-aware (naive ones raise ``ValueError``); prices stay in minor units per
kWh as in the slots. Every mean is weighted by time, so a 60-minute slot counts four times as
much as a 15-minute one. Results are frozen dataclasses whose ``as_json()`` gives the figure
keys of the MQTT payloads, rounded to 4 decimal places; the caller adds provider, region and
units.

A published figure never depends on when it was built, only on the slots and on the moment
it describes: :func:`state_moment` is that moment (the last slot edge, grid boundary or day
start passed), so two daemons over the same prices publish the same bytes, and a figure built
twice between two boundaries is built the same.
"""

from __future__ import annotations

import bisect
import functools
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import repeat
from typing import Literal, NotRequired, Protocol, TypedDict, TypeVar, overload

from energyd.domain.calendar import MarketCalendar
from energyd.domain.slots import Slot
from energyd.domain.time import iso_or_none, iso_utc, require_aware
from energyd.domain.units import MINOR_DIGITS, round_price

__all__ = [
    "DIGITS",
    "Band",
    "PeriodStats",
    "SlotJson",
    "StatsJson",
    "Window",
    "WindowJson",
    "WindowMode",
    "WindowNowJson",
    "current_and_next",
    "find_window",
    "is_complete",
    "keep_started",
    "level_for",
    "period_stats",
    "rank_at",
    "series_step",
    "slots_in",
    "state_moment",
    "window_json",
    "window_period",
]

WindowMode = Literal["cheapest", "most_expensive"]
S = TypeVar("S", bound=Slot)


class Band(Protocol):
    """**Protocol**: a price level, for prices below ``below`` (minor units per kWh; the last
    band has ``None`` and takes everything above)."""

    @property
    def name(self) -> str: ...

    @property
    def below(self) -> float | None: ...


DIGITS = MINOR_DIGITS  # decimal places of published figures (minor units per kWh)
_MODES = ("cheapest", "most_expensive")
_US = timedelta(microseconds=1)
_PRICE = operator.attrgetter("price_pence")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE_US = 60_000_000
# Two window means closer than this (minor units) are equal, so float noise cannot break a tie.
_TIE = 1e-9


def _micros(delta: timedelta) -> int:
    return delta // _US


class SlotJson(TypedDict):
    """One slot of a published series (price in minor units per kWh; ``market``: the
    source's price, where a price formula made ``price`` out of it; ``provisional``: only
    present, true, when the source may still replace the price; ``estimate``: only present,
    true, for a forecast, with its band ``low`` / ``high`` where the source gives one;
    ``source``: only present where a fallback provider's price fills a gap, its key)."""

    start: str
    end: str
    price: float | None
    market: NotRequired[float | None]
    provisional: NotRequired[bool]
    estimate: NotRequired[bool]
    low: NotRequired[float | None]
    high: NotRequired[float | None]
    source: NotRequired[str]


class StatsJson(TypedDict):
    """The figures of a ``stats/<period>`` payload (:meth:`PeriodStats.as_json`): the
    period's alone, published when prices change (the rank of now is ``level``'s, published
    at every slot boundary)."""

    start: str | None
    end: str | None
    complete: bool
    count: int
    min: float | None
    max: float | None
    mean: float | None
    median: float | None
    min_at: str | None
    max_at: str | None
    estimated_minutes: int


class _WindowHead(TypedDict):
    mode: WindowMode
    minutes: int
    contiguous: bool
    period_start: str | None
    period_end: str | None
    available: bool
    start: str | None
    end: str | None
    mean: float | None
    estimated_minutes: int


class WindowJson(_WindowHead):
    """The window keys of a window payload (:func:`window_json` without ``now``: the
    ``cheapest`` reply's)."""

    slots: list[SlotJson]


class WindowNowJson(WindowJson):
    """The window keys of a window asked for at a moment (:func:`window_json` with ``now``:
    the standing windows'), with ``active``: ``now`` is inside a chosen slot. On the wire
    ``active`` comes before ``slots``."""

    active: bool


#: How many slots' JSON :func:`slot_json` keeps (a few days of quarter hours of a dozen feeds).
SLOT_JSON_KEPT = 4096


def slot_json(slot: Slot) -> SlotJson:
    """One slot, compactly: ``{"start", "end", "price"}`` (minor units per kWh), the shape of
    every series energyd publishes; ``"market"`` too where a price formula applies.

    The same (equal) slot gives the same dict, built once: the ``prices`` command and every
    series re-serialise the same stored slots, and building each one's texts was half of a
    ``prices`` reply's time. So the dict is shared: put it into a payload, never change it.
    """
    try:
        return _kept_slot_json(slot)  # type: ignore[arg-type]  # hashable or TypeError
    except TypeError:  # a slot type that cannot be hashed: built each time
        return _slot_json(slot)


def _slot_json(slot: Slot) -> SlotJson:
    body: SlotJson = {
        "start": iso_utc(slot.valid_from),
        "end": iso_utc(slot.valid_to),
        "price": round_price(slot.price_pence),
    }
    if slot.market_pence is not None:
        body["market"] = round_price(slot.market_pence)
    if slot.provisional:
        body["provisional"] = True
    if slot.estimate:
        body["estimate"] = True
        if slot.estimate_low_pence is not None or slot.estimate_high_pence is not None:
            body["low"] = round_price(slot.estimate_low_pence)
            body["high"] = round_price(slot.estimate_high_pence)
    if slot.source is not None:
        body["source"] = slot.source
    return body


_kept_slot_json = functools.lru_cache(maxsize=SLOT_JSON_KEPT)(_slot_json)


# -- periods ---------------------------------------------------------------------------------


def slots_in(slots: Sequence[S], start: datetime, end: datetime) -> list[S]:
    """The slots overlapping ``[start, end)``, in order (binary search: ``slots`` ascending)."""
    start = require_aware(start, "start")
    end = require_aware(end, "end")
    if end <= start:
        return []
    lo = bisect.bisect_right(slots, start, key=lambda s: s.valid_to)
    hi = bisect.bisect_left(slots, end, lo=lo, key=lambda s: s.valid_from)
    return list(slots[lo:hi])


def is_complete(slots: Sequence[Slot], start: datetime, end: datetime) -> bool:
    """Whether the slots cover ``[start, end)`` without a gap (an empty period is complete)."""
    cursor = require_aware(start, "start")
    end = require_aware(end, "end")
    for slot in slots_in(slots, cursor, end):
        if slot.valid_from > cursor:
            return False
        cursor = max(cursor, slot.valid_to)
    return cursor >= end


@dataclass(frozen=True, slots=True)
class PeriodStats:
    """Figures over one period (today, tomorrow, the next 24 h); ``None`` when no slots.

    - ``count``: the slots overlapping the period; ``complete``: they cover it without a gap.
    - ``mean`` and ``median`` are weighted by the time each slot spends inside the period (a
      slot cut by the period's start or end counts for its part inside); with equal weights
      ``median`` is the usual median (mean of the two middle prices for an even count).
    - ``min_at`` / ``max_at``: the start of the first slot at the minimum / maximum price.
    - ``current_rank``: 1 + the number of slots in the period strictly cheaper than the slot
      containing ``now`` (ties share the better rank: 1, 2, 2, 4).
    - ``current_percentile``: ``(current_rank - 1) / (count - 1) * 100``, rounded to 1 dp:
      the share of the *other* slots that are strictly cheaper; 0 = cheapest, 100 = dearest
      (0 when the slot is the only one).
    - ``current_*`` are ``None`` when ``now`` is outside the period or in a gap.
    - ``estimated_minutes``: how much of the period the slots that are forecasts cover (0:
      every figure is from prices the source has set).
    """

    start: datetime
    end: datetime
    complete: bool
    count: int
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    median: float | None = None
    min_at: datetime | None = None
    max_at: datetime | None = None
    current_rank: int | None = None
    current_percentile: float | None = None
    estimated_minutes: int = 0

    def as_json(self) -> StatsJson:
        """The figures of a ``stats/<period>`` payload: the period's, not ``current_*``
        (they change at every slot boundary; ``level`` publishes them)."""
        return {
            "start": iso_or_none(self.start),
            "end": iso_or_none(self.end),
            "complete": self.complete,
            "count": self.count,
            "min": round_price(self.min),
            "max": round_price(self.max),
            "mean": round_price(self.mean),
            "median": round_price(self.median),
            "min_at": iso_or_none(self.min_at),
            "max_at": iso_or_none(self.max_at),
            "estimated_minutes": self.estimated_minutes,
        }


def _weighted_median(pairs: list[tuple[float, int]]) -> float:
    """The price below which half of the (integer) weight lies; ties between halves average."""
    ordered = sorted(pairs)
    total = sum(weight for _, weight in ordered)
    seen = 0
    for index, (price, weight) in enumerate(ordered):
        seen += weight
        if 2 * seen > total:
            return price
        if 2 * seen == total:
            return (price + ordered[index + 1][0]) / 2
    return ordered[-1][0]  # not reached: weights are positive


def period_stats(
    slots: Sequence[Slot], start: datetime, end: datetime, now: datetime
) -> PeriodStats:
    """Statistics of the slots overlapping ``[start, end)`` (see :class:`PeriodStats`)."""
    start = require_aware(start, "start")
    end = require_aware(end, "end")
    now = require_aware(now, "now")
    inside = slots_in(slots, start, end)
    complete = is_complete(inside, start, end)
    if not inside:
        return PeriodStats(start, end, complete, 0)
    weights = [_micros(min(s.valid_to, end) - max(s.valid_from, start)) for s in inside]
    prices = [s.price_pence for s in inside]
    low, high = min(prices), max(prices)
    mean = math.fsum(p * w for p, w in zip(prices, weights, strict=True)) / sum(weights)
    rank, percentile = _rank(inside, prices, start, end, now)
    return PeriodStats(
        start=start,
        end=end,
        complete=complete,
        count=len(inside),
        min=low,
        max=high,
        mean=mean,
        median=_weighted_median(list(zip(prices, weights, strict=True))),
        min_at=inside[prices.index(low)].valid_from,
        max_at=inside[prices.index(high)].valid_from,
        current_rank=rank,
        current_percentile=percentile,
        estimated_minutes=sum(
            weight for slot, weight in zip(inside, weights, strict=True) if slot.estimate
        )
        // _MINUTE_US,
    )


def rank_at(
    slots: Sequence[Slot], start: datetime, end: datetime, now: datetime
) -> tuple[int | None, float | None]:
    """``current_rank`` and ``current_percentile`` of :func:`period_stats` alone (cheap: no
    median, published at every slot boundary), for the slot containing ``now`` among those
    overlapping ``[start, end)``."""
    inside = slots_in(slots, start, end)
    return _rank(inside, list(map(_PRICE, inside)), start, end, require_aware(now, "now"))


def _rank(
    inside: Sequence[Slot], prices: Sequence[float], start: datetime, end: datetime, now: datetime
) -> tuple[int | None, float | None]:
    if not start <= now < end:
        return None, None
    current, _ = current_and_next(inside, now)
    if current is None:
        return None, None
    # the prices strictly below it, counted at C speed (operator.gt: ints and floats alike)
    cheaper = sum(map(operator.gt, repeat(current.price_pence), prices))
    others = len(prices) - 1
    return cheaper + 1, round(100.0 * cheaper / others, 1) if others else 0.0


def state_moment(
    slots: Sequence[Slot], now: datetime, *, slot_minutes: int | None, day_start: datetime
) -> datetime:
    """The moment published state is built for at ``now``: the latest slot edge of
    ``slots`` (ascending), boundary of the ``slot_minutes`` grid (UTC epoch) or ``day_start``
    (the market's local midnight) at or before ``now`` -- the boundaries the scheduler
    announces. Nothing published changes between two of them, so state built for this moment
    is the same whenever it is built (a window "in the next 24 hours" starts here)."""
    now = require_aware(now, "now")
    edges = [require_aware(day_start, "day_start")]
    if slot_minutes is not None:
        step = slot_minutes * _MINUTE_US
        edges.append(_EPOCH + timedelta(microseconds=_micros(now - _EPOCH) // step * step))
    index = bisect.bisect_right(slots, now, key=lambda s: s.valid_to)
    if index:
        edges.append(slots[index - 1].valid_to)
    if index < len(slots) and slots[index].valid_from <= now:
        edges.append(slots[index].valid_from)
    return max(edge for edge in edges if edge <= now)


# -- levels ----------------------------------------------------------------------------------


def level_for(price: float | None, bands: Sequence[Band]) -> str | None:
    """The name of the first band whose ``below`` is above ``price`` (``below`` is exclusive:
    a price exactly on a bound belongs to the next band up); the last band, without
    ``below``, takes the rest. ``None`` for no price (or NaN) or no matching band."""
    if price is None or math.isnan(price):
        return None
    for band in bands:
        if band.below is None or price < band.below:
            return band.name
    return None


# -- windows ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """A chosen block of slots: ``[start, end)``, its time-weighted ``mean``, the ``slots``
    (ascending), and what was asked: ``minutes``, ``contiguous``, ``mode`` and the period
    ``[period_start, period_end)`` searched. A non-contiguous window may have gaps between
    its slots; ``start`` / ``end`` are then the first slot's start and the last slot's end."""

    start: datetime
    end: datetime
    mean: float
    slots: tuple[Slot, ...]
    minutes: int
    contiguous: bool
    mode: WindowMode
    period_start: datetime
    period_end: datetime

    @property
    def length(self) -> timedelta:
        """Total length of the chosen slots (at least ``minutes``)."""
        return sum((s.duration for s in self.slots), timedelta())

    @property
    def estimated_minutes(self) -> int:
        """How much of the chosen slots are forecasts, in whole minutes."""
        return sum((s.duration for s in self.slots if s.estimate), timedelta()) // timedelta(
            minutes=1
        )

    def is_active(self, now: datetime) -> bool:
        """Whether ``now`` is inside one of the chosen slots."""
        return any(s.contains(now) for s in self.slots)

    @overload
    def as_json(self, now: None = None) -> WindowJson: ...
    @overload
    def as_json(self, now: datetime) -> WindowNowJson: ...
    def as_json(self, now: datetime | None = None) -> WindowJson | WindowNowJson:
        """The window keys of a ``windows/<name>`` payload (see :func:`window_json`)."""
        return window_json(
            self,
            minutes=self.minutes,
            period_start=self.period_start,
            period_end=self.period_end,
            contiguous=self.contiguous,
            mode=self.mode,
            now=now,
        )


@overload
def window_json(
    window: Window | None,
    *,
    minutes: int,
    period_start: datetime,
    period_end: datetime,
    contiguous: bool = ...,
    mode: WindowMode = ...,
    now: None = None,
) -> WindowJson: ...
@overload
def window_json(
    window: Window | None,
    *,
    minutes: int,
    period_start: datetime,
    period_end: datetime,
    contiguous: bool = ...,
    mode: WindowMode = ...,
    now: datetime,
) -> WindowNowJson: ...
def window_json(
    window: Window | None,
    *,
    minutes: int,
    period_start: datetime,
    period_end: datetime,
    contiguous: bool = True,
    mode: WindowMode = "cheapest",
    now: datetime | None = None,
) -> WindowJson | WindowNowJson:
    """``mode .. slots`` of a window payload, for a window found or not (``available``
    false, ``start``/``end``/``mean`` null). ``active`` (now inside a chosen slot) only when
    ``now`` is given: the ``cheapest`` command reply has no ``active``."""
    head: _WindowHead = {
        "mode": mode,
        "minutes": minutes,
        "contiguous": contiguous,
        "period_start": iso_or_none(period_start),
        "period_end": iso_or_none(period_end),
        "available": window is not None,
        "start": None if window is None else iso_or_none(window.start),
        "end": None if window is None else iso_or_none(window.end),
        "mean": None if window is None else round_price(window.mean),
        "estimated_minutes": 0 if window is None else window.estimated_minutes,
    }
    slots = [] if window is None else [slot_json(s) for s in window.slots]
    if now is None:
        asked: WindowJson = {**head, "slots": slots}
        return asked
    active = window is not None and window.is_active(require_aware(now, "now"))
    at_now: WindowNowJson = {**head, "active": active, "slots": slots}
    return at_now


def _weighted_mean(slots: Sequence[Slot]) -> float:
    weights = [_micros(s.duration) for s in slots]
    total = math.fsum(s.price_pence * w for s, w in zip(slots, weights, strict=True))
    return total / sum(weights)


def _runs(slots: Sequence[Slot]) -> list[list[Slot]]:
    """Split ascending slots into gap-free runs."""
    runs: list[list[Slot]] = []
    for slot in slots:
        if runs and runs[-1][-1].valid_to == slot.valid_from:
            runs[-1].append(slot)
        else:
            runs.append([slot])
    return runs


def _best_contiguous(slots: Sequence[Slot], need: int, sign: float) -> tuple[Slot, ...] | None:
    """The best gap-free block reaching ``need`` microseconds; ``sign`` 1 cheapest, -1 dearest.

    From each start slot the block grows slot by slot until it is long enough (two pointers
    over prefix sums); the lowest ``sign * mean`` wins, the earliest start on a tie.
    """
    best: tuple[Slot, ...] | None = None
    best_score = math.inf
    for run in _runs(slots):
        length = [0]
        money = [0.0]
        for slot in run:
            micros = _micros(slot.duration)
            length.append(length[-1] + micros)
            money.append(money[-1] + slot.price_pence * micros)
        j = 0
        for i in range(len(run)):
            j = max(j, i)
            while j < len(run) and length[j] - length[i] < need:
                j += 1
            if length[j] - length[i] < need:
                break  # later starts in this run are shorter still
            score = sign * (money[j] - money[i]) / (length[j] - length[i])
            if score < best_score - _TIE:
                best, best_score = tuple(run[i:j]), score
    return best


def _best_scattered(slots: Sequence[Slot], need: int, sign: float) -> tuple[Slot, ...] | None:
    """The cheapest (dearest) slots, earlier first on a tie, until ``need`` is reached."""
    chosen: list[Slot] = []
    total = 0
    for slot in sorted(slots, key=lambda s: (sign * s.price_pence, s.valid_from)):
        if total >= need:
            break
        chosen.append(slot)
        total += _micros(slot.duration)
    if total < need:
        return None
    return tuple(sorted(chosen, key=lambda s: s.valid_from))


def find_window(
    slots: Sequence[Slot],
    minutes: int,
    earliest: datetime,
    latest: datetime,
    *,
    contiguous: bool = True,
    mode: WindowMode = "cheapest",
    not_before: datetime | None = None,
) -> Window | None:
    """The cheapest (or dearest) ``minutes`` within ``[earliest, latest)``, in whole slots.

    Only slots entirely inside the period count, and with ``not_before`` (pass ``now``) only
    those ending after it: the slot under way still counts, past ones do not.

    - ``contiguous``: the gap-free run of slots with the lowest (``most_expensive``: highest)
      time-weighted mean among, for every start slot, the shortest run from it that is at
      least ``minutes`` long (45 minutes of half-hours is an hour); ties go to the earliest.
    - not ``contiguous``: the cheapest (dearest) slots, earlier first on equal prices, until
      their total length reaches ``minutes``; returned in time order.

    ``None`` when the known prices in the period are not enough. ``ValueError`` for
    ``minutes`` <= 0, an unknown ``mode`` or a naive datetime.
    """
    if minutes <= 0:
        raise ValueError(f"minutes must be positive, got {minutes}")
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {', '.join(_MODES)}, got {mode!r}")
    earliest = require_aware(earliest, "earliest")
    latest = require_aware(latest, "latest")
    floor = None if not_before is None else require_aware(not_before, "not_before")
    eligible = [
        s
        for s in slots_in(slots, earliest, latest)
        if s.valid_from >= earliest
        and s.valid_to <= latest
        and (floor is None or s.valid_to > floor)
    ]
    need = minutes * 60 * 1_000_000
    sign = 1.0 if mode == "cheapest" else -1.0
    if contiguous:
        chosen = _best_contiguous(eligible, need, sign)
    else:
        chosen = _best_scattered(eligible, need, sign)
    if chosen is None:
        return None
    return Window(
        start=chosen[0].valid_from,
        end=chosen[-1].valid_to,
        mean=_weighted_mean(chosen),
        slots=chosen,
        minutes=minutes,
        contiguous=contiguous,
        mode=mode,
        period_start=earliest,
        period_end=latest,
    )


def _clock(value: str, name: str) -> time:
    hours, sep, mins = value.partition(":")
    if not (sep and len(hours) == 2 and len(mins) == 2 and hours.isdigit() and mins.isdigit()):
        raise ValueError(f'{name} must be a local time "HH:MM", got {value!r}')
    try:
        return time(int(hours), int(mins))
    except ValueError as exc:
        raise ValueError(f'{name} must be a local time "HH:MM", got {value!r}') from exc


def window_period(
    now: datetime,
    calendar: MarketCalendar,
    earliest: str | None,
    latest: str | None,
) -> tuple[datetime, datetime]:
    """The period ``[start, end)`` (UTC) a window is searched in, from market-local "HH:MM".

    - both: the current occurrence of ``earliest .. latest`` if ``now`` is inside it, else the
      next one; ``latest`` at or before ``earliest`` ends on the following day.
    - ``earliest`` only: from ``earliest`` on today's local date to ``earliest`` the next day.
    - ``latest`` only: from ``now`` to the next ``latest`` strictly after ``now``.
    - neither: ``now .. now + 24 h``.

    Days are local days of the market, so a period over a clock change is 1 h shorter or
    longer; a time in the skipped hour counts in the offset before the change and one in
    the repeated hour is its first occurrence (``MarketCalendar.at_local``).
    """
    now = require_aware(now, "now")
    today = calendar.local_date(now)
    day = timedelta(days=1)
    if earliest is None and latest is None:
        return now, now + timedelta(hours=24)
    if earliest is None:
        assert latest is not None
        until = _clock(latest, "latest")
        end = calendar.at_local(today, until)
        if end <= now:
            end = calendar.at_local(today + day, until)
        return now, end
    since = _clock(earliest, "earliest")
    if latest is None:
        return calendar.at_local(today, since), calendar.at_local(today + day, since)
    until = _clock(latest, "latest")
    overnight = until <= since
    for start_day in (today - day, today, today + day):
        end_day: date = start_day + day if overnight else start_day
        start = calendar.at_local(start_day, since)
        end = calendar.at_local(end_day, until)
        if end > now:
            return start, end
    raise AssertionError("unreachable: tomorrow's occurrence ends after now")  # pragma: no cover


def keep_started(previous: Window | None, computed: Window | None, now: datetime) -> Window | None:
    """Stickiness of standing windows: a window that has started (``start <= now < end``) is
    kept until it ends, even if prices now point elsewhere; otherwise the new computation.

    ``previous`` is dropped anyway when it was asked with other ``minutes``, ``contiguous`` or
    ``mode`` than ``computed`` (the configuration changed)."""
    now = require_aware(now, "now")
    if previous is None or not previous.start <= now < previous.end:
        return computed
    if computed is not None and (previous.minutes, previous.contiguous, previous.mode) != (
        computed.minutes,
        computed.contiguous,
        computed.mode,
    ):
        return computed
    return previous


# -- series ----------------------------------------------------------------------------------


def series_step(
    slots: Sequence[Slot], now: datetime
) -> tuple[datetime | None, int | None, list[float]]:
    """Prices per fixed step from the slot containing ``now`` for as long as they run gap-free.

    Returns the current slot's start, the step in minutes (the greatest common divisor of the
    slot lengths, i.e. the smallest one for 15/30/60-minute slots) and one price per step: a
    60-minute slot with 30-minute steps gives two equal entries. ``(None, None, [])`` when no
    slot contains ``now``. ``ValueError`` when the lengths are not whole minutes (slot
    validation refuses such slots; older stored data may still hold them).
    """
    now = require_aware(now, "now")
    index = bisect.bisect_right(slots, now, key=lambda s: s.valid_to)
    if index >= len(slots) or not slots[index].contains(now):
        return None, None, []
    run = [slots[index]]
    for slot in slots[index + 1 :]:
        if slot.valid_from != run[-1].valid_to:
            break
        run.append(slot)
    lengths = [_micros(s.duration) for s in run]
    step = math.gcd(*lengths)
    if step % 60_000_000:
        raise ValueError("slot lengths must be whole minutes")
    values = [s.price_pence for s, n in zip(run, lengths, strict=True) for _ in range(n // step)]
    return run[0].valid_from, step // 60_000_000, values


def current_and_next(slots: Sequence[S], now: datetime) -> tuple[S | None, S | None]:
    """The slot containing ``now`` and the one after it (ascending ``slots``, no overlaps;
    binary search: a boundary of 100 feeds asks this 100 times)."""
    index = bisect.bisect_right(slots, now, key=lambda s: s.valid_to)
    current = slots[index] if index < len(slots) and slots[index].valid_from <= now else None
    after = current.valid_to if current is not None else now
    later = bisect.bisect_left(slots, after, lo=index, key=lambda s: s.valid_from)
    return current, slots[later] if later < len(slots) else None
