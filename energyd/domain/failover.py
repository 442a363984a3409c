"""Failover between sources and cross-checking them (pure).

A provider may name fallbacks: other configured providers whose prices fill the periods it has
no price for, in the order given. Every slot served from a fallback names it (``source``), the
primary's own slots always win, and a fallback's slot that reaches into a period the primary
covers is cut to the gap (prices are per kWh over time, so a cut hour keeps its price).

Where the primary and a fallback both have a price for the same period and they differ beyond a
tolerance, that is a *disagreement*: health names it, and the primary's price is still the one
served. Only slots with the same start and end are compared (an hourly source against a
quarter-hourly one differs by design).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from energyd.domain.slots import Slot
from energyd.domain.time import iso_utc, require_aware

__all__ = [
    "Disagreement",
    "Tolerance",
    "disagreements",
    "fill_gaps",
    "gaps",
    "serving_since",
]

S = TypeVar("S", bound=Slot)

#: ``cut(slot, start, end, source)``: ``slot`` limited to ``[start, end)`` and named as coming
#: from fallback ``source`` (the caller's slot type knows how to copy itself).
Cut = Callable[[S, datetime, datetime, str], S]


def gaps(slots: Sequence[Slot], start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The parts of ``[start, end)`` that ``slots`` (ascending, not overlapping) leave open."""
    start, end = require_aware(start, "start"), require_aware(end, "end")
    found: list[tuple[datetime, datetime]] = []
    reached = start
    for slot in slots:
        if slot.valid_to <= reached:
            continue
        if slot.valid_from >= end:
            break
        if slot.valid_from > reached:
            found.append((reached, slot.valid_from))
        reached = max(reached, slot.valid_to)
    if reached < end:
        found.append((reached, end))
    return found


def fill_gaps(
    own: Sequence[S],
    fallbacks: Sequence[tuple[str, Sequence[S]]],
    start: datetime,
    end: datetime,
    cut: Cut[S],
) -> list[S]:
    """``own`` with the open parts of ``[start, end)`` filled from each fallback in turn
    (``(key, slots)``, slots ascending): a fallback fills only what the ones before it left
    open, each piece cut to its gap. Ascending; ``own`` unchanged where it has prices."""
    served: list[S] = list(own)
    for key, slots in fallbacks:
        open_parts = gaps(sorted(served, key=lambda s: s.valid_from), start, end)
        if not open_parts:
            break
        for gap_start, gap_end in open_parts:
            for slot in slots:
                if slot.valid_to <= gap_start or slot.valid_from >= gap_end:
                    continue
                piece_start = max(slot.valid_from, gap_start)
                piece_end = min(slot.valid_to, gap_end)
                served.append(cut(slot, piece_start, piece_end, key))
    served.sort(key=lambda s: s.valid_from)
    return served


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How far two sources may differ (minor units per kWh) before it is a disagreement: more
    than ``percent`` of the larger absolute price and more than ``minimum``."""

    percent: float = 5.0
    minimum: float = 0.5

    def allows(self, first: float, second: float) -> bool:
        limit = max(self.minimum, self.percent / 100 * max(abs(first), abs(second)))
        return math.isclose(first, second) or abs(first - second) <= limit


@dataclass(frozen=True, slots=True)
class Disagreement:
    """One period two sources price differently beyond the tolerance."""

    start: datetime
    end: datetime
    primary: float
    other: float
    source: str

    @property
    def percent(self) -> float | None:
        """The difference relative to the primary's price (``None`` for a price of 0)."""
        return None if self.primary == 0 else 100 * (self.other - self.primary) / abs(self.primary)

    def describe(self) -> str:
        """``2026-12-02T10:00:00Z 10.00 vs 11.00 from de_entsoe (+10.0 %)``."""
        share = "" if self.percent is None else f" ({self.percent:+.1f} %)"
        return (
            f"{iso_utc(self.start)} {self.primary:.2f} vs {self.other:.2f} "
            f"from {self.source}{share}"
        )


def disagreements(
    own: Sequence[S],
    other: Sequence[S],
    source: str,
    tolerance: Tolerance,
    price: Callable[[S], float],
) -> list[Disagreement]:
    """The periods (same start and end) ``own`` and ``other`` price beyond ``tolerance``,
    ascending; ``price`` reads the price to compare (the market price, before any formula)."""
    theirs = {(s.valid_from, s.valid_to): s for s in other}
    found = []
    for slot in own:
        match = theirs.get((slot.valid_from, slot.valid_to))
        if match is None:
            continue
        mine, their = price(slot), price(match)
        if not tolerance.allows(mine, their):
            found.append(Disagreement(slot.valid_from, slot.valid_to, mine, their, source))
    return found


def serving_since(served: Sequence[Slot], now: datetime) -> tuple[str, datetime] | None:
    """Which fallback serves the price for ``now`` and since when: the start of the unbroken
    run of its slots that reaches ``now`` (``None``: the provider's own price, or none)."""
    now = require_aware(now, "now")
    ordered = sorted(served, key=lambda s: s.valid_from)
    index = next((i for i, s in enumerate(ordered) if s.contains(now)), None)
    if index is None or ordered[index].source is None:
        return None
    key = ordered[index].source
    assert key is not None
    since = ordered[index].valid_from
    for slot in reversed(ordered[:index]):
        if slot.source != key or slot.valid_to != since:
            break
        since = slot.valid_from
    return key, since
