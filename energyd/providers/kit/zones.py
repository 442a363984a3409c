"""Prices by local time of day, weekday and month: zones on the wall clock, exact on
clock-change days (a fixed or time-of-use tariff; Economy 7, a cheap night, a regulated TOU).

::

    zones = wall_clock_zones(
        [{"price": 9.0, "from": "00:30", "to": "07:30", "name": "night"}],
        default=24.5,
        timezone="Europe/London",
    )
    zones.price_at(moment)                       # 9.0 at 01:30 UK time, any day
    zones.slots(start, end, 30, currency="GBP")  # priced slots covering [start, end)

- A zone covers the local times ``[from, to)`` on ``days`` in ``months``: ``to`` before
  ``from`` wraps past midnight (22:00-06:00), and the weekday and month are then those of the
  day the zone *started* on; ``"24:00"`` (or no ``to``) is midnight. Later zones win where
  zones overlap; outside every zone the default price applies. The zones themselves are
  :class:`energyd.domain.tariff.FeeZone` (the price formula's time-of-use fees), read by the
  same parsers (:func:`parse_local_clock`, :func:`parse_days`, :func:`parse_months`).
- Edges are wall-clock times, never local midnight plus a duration: a 00:30-04:30 zone is
  00:30-04:30 on a 23- or 25-hour day too, the repeated hour of an autumn night is in it twice.
- :func:`wall_clock_slots` cuts time into slots that follow real instants: a slot starts at
  every local time on the ``slot_minutes`` grid that exists (the spring gap has none, the
  autumn repeat has two) and wherever the clock jumps. Europe/London has 46 half-hours on
  2026-03-29 and 50 on 2026-10-25.
- :class:`Zones` and :class:`Timezone` are the config fields (``ConfigFields``): a TOML list
  of tables, normalised to one canonical form (``"11-2"`` -> ``"nov-feb"``), and an IANA zone
  name with a "did you mean".
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from energyd.domain.suggest import did_you_mean
from energyd.domain.tariff import FeeZone, clock_of, months_of, weekdays_of
from energyd.domain.time import require_aware
from energyd.providers.contract import EnergyPriceSlot
from energyd.providers.kit.config import Field, InvalidValue, Number

__all__ = [
    "Timezone",
    "WallClockZones",
    "Zones",
    "parse_days",
    "parse_local_clock",
    "parse_months",
    "wall_clock_slots",
    "wall_clock_zones",
]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
#: evcc's two-letter weekdays (``Mo-Fr``), for configs carried over.
_SHORT_DAYS = dict(zip(("mo", "tu", "we", "th", "fr", "sa", "su"), _DAYS, strict=True))
_WORD = re.compile(r"[A-Za-z]+|\d+")
_MINUTE = timedelta(minutes=1)
#: The keys of one zone, in the order of its normalised form.
ZONE_KEYS = ("name", "price", "from", "to", "days", "months")
#: A price's bound in minor units per kWh (the daemon refuses larger ones as garbage).
MAX_PRICE = 100_000.0


# -- reading what a config says -------------------------------------------------------------


def parse_local_clock(text: str) -> time | None:
    """``"17:00"`` -> 17:00; ``"24:00"`` -> ``None`` (midnight at the end of the day);
    anything else ``ValueError``."""
    return clock_of(text)


def parse_days(text: str) -> frozenset[int]:
    """``"mon-fri"`` -> {0 .. 4} (Monday 0); ``"sat,sun"``; ``"fri-mon"`` wraps; evcc's
    ``"Mo-Fr"`` too. ``ValueError`` for anything else."""
    return weekdays_of(_WORD.sub(lambda m: _SHORT_DAYS.get(m[0].lower(), m[0]), text))


def parse_months(text: str) -> frozenset[int]:
    """``"oct-mar"`` or ``"10-3"`` -> {10, 11, 12, 1, 2, 3} (1-based; a range may wrap).
    ``ValueError`` for anything else."""

    def named(match: re.Match[str]) -> str:
        word = match[0]
        if word.isdigit() and 1 <= int(word) <= 12:
            return _MONTHS[int(word) - 1]
        return word

    try:
        return months_of(_WORD.sub(named, text))
    except ValueError as exc:
        raise ValueError(f"{exc} (or numbers 1 .. 12, like 11-2)") from None


def _runs(picked: frozenset[int], names: tuple[str, ...]) -> str:
    """The canonical text of a set of indexes into ``names``: ``"mon-fri"``, ``"sat,sun"``,
    ``"nov-feb"`` (a run may wrap; all of them is ``"mon-sun"``)."""
    n = len(names)
    if len(picked) == n:
        return f"{names[0]}-{names[-1]}"
    gap = next(i for i in range(n) if i not in picked)
    order = [(gap + 1 + k) % n for k in range(n)]
    runs = [
        list(group)
        for inside, group in itertools.groupby(order, key=lambda i: i in picked)
        if inside
    ]
    parts: list[str] = []
    for run in sorted(runs):
        if len(run) >= 3:
            parts.append(f"{names[run[0]]}-{names[run[-1]]}")
        else:
            parts.extend(names[i] for i in run)
    return ",".join(parts)


def _clock_text(clock: time | None) -> str:
    return "24:00" if clock is None else f"{clock:%H:%M}"


def _minutes(clock: time | None) -> int:
    return 24 * 60 if clock is None else clock.hour * 60 + clock.minute


def _label(index: int, name: str) -> str:
    return f"zones[{index}] ({name})" if name else f"zones[{index}]"


_PRICE = Number(-MAX_PRICE, MAX_PRICE)


def _text(entry: Mapping[str, Any], key: str, default: str) -> str:
    value = entry.get(key)
    if value is None:
        return default
    if isinstance(value, list | tuple) and key in ("days", "months"):
        if not all(isinstance(item, str) for item in value):
            raise ValueError(f"{key}: a list of names, like ['sat', 'sun']")
        value = ",".join(value)
    if not isinstance(value, str):
        raise ValueError(f"{key}: {value!r} is not a string")
    return value.strip() or default


def _zone(index: int, entry: object) -> FeeZone:
    """One config entry -> its zone; ``ValueError`` naming the entry and the key."""
    if not isinstance(entry, Mapping):
        raise ValueError(f"zones[{index}]: expected a table (price, from, to ...), got {entry!r}")
    raw_name = entry.get("name", "")
    name = raw_name.strip() if isinstance(raw_name, str) else ""
    where = _label(index, name)
    if not isinstance(raw_name, str):
        raise ValueError(f"{where}: name {raw_name!r} is not a string")
    for key in entry:
        if key not in ZONE_KEYS:
            hint = did_you_mean(str(key), ZONE_KEYS) or "known: " + ", ".join(ZONE_KEYS)
            raise ValueError(f"{where}: unknown key {key!r}; {hint}")
    if entry.get("price") is None:
        raise ValueError(f"{where}: price is required (minor units per kWh)")
    try:
        price = float(_PRICE.convert(entry["price"]))
    except InvalidValue as exc:
        raise ValueError(f"{where}: price {exc}") from None
    try:
        start_text = _text(entry, "from", "00:00")
        start = parse_local_clock(start_text)
        if start is None:
            raise ValueError("from: a zone cannot start at 24:00 (use 00:00)")
    except ValueError as exc:
        raise ValueError(f"{where}: {_keyed('from', exc)}") from None
    try:
        end = parse_local_clock(_text(entry, "to", "24:00"))
    except ValueError as exc:
        raise ValueError(f"{where}: {_keyed('to', exc)}") from None
    if end == start:
        raise ValueError(f"{where}: from and to are the same time ({_clock_text(start)})")
    try:
        days = parse_days(_text(entry, "days", "mon-sun"))
    except ValueError as exc:
        raise ValueError(f"{where}: {_keyed('days', exc)}") from None
    try:
        months = parse_months(_text(entry, "months", "jan-dec"))
    except ValueError as exc:
        raise ValueError(f"{where}: {_keyed('months', exc)}") from None
    return FeeZone(price, start, end, days, months, name)


def _keyed(key: str, exc: ValueError) -> str:
    text = str(exc)
    return text if text.startswith(f"{key}:") else f"{key}: {text}"


def zone_entry(zone: FeeZone) -> dict[str, Any]:
    """A zone in its canonical config form (what :class:`Zones` normalises to)."""
    entry: dict[str, Any] = {"name": zone.name} if zone.name else {}
    entry.update(
        {
            "price": zone.amount,
            "from": _clock_text(zone.start),
            "to": _clock_text(zone.end),
            "days": _runs(zone.weekdays, _DAYS),
            "months": _runs(frozenset(m - 1 for m in zone.months), _MONTHS),
        }
    )
    return entry


def parse_zones(entries: object) -> tuple[FeeZone, ...]:
    """A config's list of zone tables -> zones, in order; ``ValueError`` naming the first
    entry and key that is wrong. ``None`` is no zones."""
    if entries is None:
        return ()
    if isinstance(entries, str | bytes) or not isinstance(entries, Sequence):
        raise ValueError(
            "expected a list of zones ([[...zones]] tables with price, from, to, days, months)"
        )
    return tuple(_zone(index, entry) for index, entry in enumerate(entries))


# -- the zones of one tariff ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WallClockZones:
    """A default price and zones on the wall clock of ``zone`` (module docstring); the last
    zone covering a moment gives its price."""

    zone: ZoneInfo
    default: float
    zones: tuple[FeeZone, ...] = ()

    def zone_at(self, moment: datetime) -> FeeZone | None:
        """The zone giving the price at ``moment`` (aware), ``None`` for the default."""
        local = require_aware(moment, "moment").astimezone(self.zone)
        return next((z for z in reversed(self.zones) if z.applies(local)), None)

    def price_at(self, moment: datetime) -> float:
        """The price at ``moment`` (aware): the last zone covering it, else the default."""
        found = self.zone_at(moment)
        return self.default if found is None else found.amount

    def off_grid(self, slot_minutes: int) -> list[str]:
        """Why each zone edge that is not on the ``slot_minutes`` grid is refused (a slot
        has one price, so a zone must start and end on slot boundaries); empty when all are."""
        problems: list[str] = []
        for index, zone in enumerate(self.zones):
            for key, clock in (("from", zone.start), ("to", zone.end)):
                if _minutes(clock) % slot_minutes:
                    problems.append(
                        f"{_label(index, zone.name)}: {key} {_clock_text(clock)} is not on the "
                        f"{slot_minutes}-minute slot grid (slot_minutes = {slot_minutes}; "
                        f"use a smaller slot_minutes or move the edge)"
                    )
        return problems

    def slots(
        self, start: datetime, end: datetime, slot_minutes: int, *, currency: str
    ) -> list[EnergyPriceSlot]:
        """The priced slots overlapping ``[start, end)`` (aware), each the price at its start
        (:func:`wall_clock_slots`)."""
        return [
            EnergyPriceSlot(begin, until, self.price_at(begin), currency)
            for begin, until in wall_clock_slots(start, end, self.zone, slot_minutes)
        ]


def wall_clock_zones(
    entries: object, *, default: float, timezone: str | ZoneInfo
) -> WallClockZones:
    """The zones of a config (a list of ``{price, from, to, days, months, name}`` tables, as
    :class:`Zones` accepts) on the wall clock of ``timezone``; ``ValueError`` when wrong."""
    zone = timezone if isinstance(timezone, ZoneInfo) else zone_info(timezone)
    return WallClockZones(zone, float(default), parse_zones(entries))


# -- slots on the wall clock ----------------------------------------------------------------


def _existing(day: date, clock: time, zone: ZoneInfo) -> set[datetime]:
    """The instants (UTC) at which the wall clock of ``zone`` shows ``clock`` on ``day``:
    none in a spring gap, two in an autumn repeat."""
    found: set[datetime] = set()
    for fold in (0, 1):
        local = datetime.combine(day, clock, zone).replace(fold=fold)
        instant = local.astimezone(UTC)
        back = instant.astimezone(zone)
        if (back.date(), back.time()) == (day, clock):
            found.add(instant)
    return found


def _offset(instant: datetime, zone: ZoneInfo) -> timedelta | None:
    return instant.astimezone(zone).utcoffset()


def _jump(low: datetime, high: datetime, zone: ZoneInfo) -> datetime | None:
    """Where the offset of ``zone`` changes between the instants ``low`` < ``high`` (the
    first minute with ``high``'s offset), or ``None`` when it does not."""
    target = _offset(high, zone)
    if _offset(low, zone) == target:
        return None
    lo, hi = 0, (high - low) // _MINUTE  # offset(low + lo) differs, offset(low + hi) is target
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset(low + mid * _MINUTE, zone) == target:
            hi = mid
        else:
            lo = mid
    return low + hi * _MINUTE


@functools.lru_cache(maxsize=64)
def _grid(slot_minutes: int) -> tuple[time, ...]:
    if not 1 <= slot_minutes <= 24 * 60 or (24 * 60) % slot_minutes:
        raise ValueError(f"slot_minutes must divide a day (15, 30, 60 ...), got {slot_minutes}")
    return tuple(time(m // 60, m % 60) for m in range(0, 24 * 60, slot_minutes))


def wall_clock_slots(
    start: datetime, end: datetime, zone: str | ZoneInfo, slot_minutes: int
) -> list[tuple[datetime, datetime]]:
    """``(valid_from, valid_to)`` in UTC of the slots overlapping ``[start, end)`` (aware):
    a slot edge at every instant whose wall-clock time in ``zone`` is on the ``slot_minutes``
    grid (from local midnight), and wherever that clock jumps. So slots follow real instants:
    a spring-forward day has fewer, an autumn day more (London: 46 / 50 half-hours), every
    slot lies within one stretch of the clock and its wall-clock start is on the grid (a
    jump that is not a whole number of slots, as Lord Howe's half hour with 60-minute slots,
    gives one shorter slot there)."""
    low, high = require_aware(start, "start"), require_aware(end, "end")
    if high <= low:
        raise ValueError(f"empty window: end {high.isoformat()} is not after {low.isoformat()}")
    tz = zone if isinstance(zone, ZoneInfo) else zone_info(zone)
    first = low.astimezone(tz).date() - timedelta(days=1)
    last = high.astimezone(tz).date() + timedelta(days=1)
    grid = _grid(slot_minutes)
    edges: set[datetime] = set()
    day = first
    while day <= last:
        for clock in grid:
            edges.update(_existing(day, clock, tz))
        day += timedelta(days=1)
    ordered = sorted(edges)
    jumps = {_jump(a, b, tz) for a, b in itertools.pairwise(ordered)}
    ordered = sorted(edges | {j for j in jumps if j is not None})
    return [(a, b) for a, b in itertools.pairwise(ordered) if b > low and a < high]


# -- config fields ---------------------------------------------------------------------------


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def zone_info(name: str) -> ZoneInfo:
    """``ZoneInfo(name)``; ``ValueError`` with a "did you mean" when there is no such zone."""
    try:
        if name.strip() != name or not name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        hint = did_you_mean(name, sorted(_zone_names()))
        maybe = f" ({hint})" if hint else ""
        raise ValueError(
            f"{name!r} is not an IANA time zone{maybe}; e.g. Europe/London, Europe/Berlin"
        ) from None


@dataclass(frozen=True, kw_only=True)
class Timezone(Field):
    """An IANA time zone name (``Europe/London``); a near miss gets a "did you mean"."""

    def convert(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise InvalidValue(f"{self.shown(value)} is not a time zone name")
        try:
            return zone_info(value).key
        except ValueError as exc:
            raise InvalidValue(str(exc)) from None

    def expected(self) -> str:
        return "an IANA time zone like Europe/London"

    def type_schema(self) -> dict[str, Any]:
        return {"type": "string", "x-format": "iana-time-zone"}


@dataclass(frozen=True, kw_only=True)
class Zones(Field):
    """A list of zone tables (``[[energy.providers.<id>.zones]]``: ``price``, ``from``,
    ``to``, ``days``, ``months``, ``name``), normalised to their canonical form
    (:func:`zone_entry`); the reason names the first wrong entry and key."""

    def convert(self, value: Any) -> Any:
        try:
            return [zone_entry(zone) for zone in parse_zones(value)]
        except ValueError as exc:
            raise InvalidValue(str(exc)) from None

    def expected(self) -> str:
        return self.description or "a list of zones (price, from, to, days, months)"

    def type_schema(self) -> dict[str, Any]:
        clock = {"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"}
        return {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "price": {"type": "number", "minimum": -MAX_PRICE, "maximum": MAX_PRICE},
                    "from": {**clock, "default": "00:00"},
                    "to": {**clock, "default": "24:00"},
                    "days": {"type": "string", "default": "mon-sun"},
                    "months": {"type": "string", "default": "jan-dec"},
                },
                "required": ["price"],
                "additionalProperties": False,
            },
        }
