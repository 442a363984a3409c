"""An in-memory copy of the slots each running provider serves, over a window around now.

Every published topic, the slot boundaries and the ``prices`` / ``cheapest`` commands read a
provider's served slots (its own stored prices, gaps filled from its fallbacks, through its
price formula). Through aiosqlite each read costs a thread hop and a conversion of every row
(0.2-0.6 ms); a boundary of 100 feeds read them 100 times. :class:`SlotCache` reads a window
of ``[now - BEHIND, now + AHEAD)`` once and answers every read inside it from memory.

The cache never serves a price the store no longer holds: every write goes through the price
service, which calls :meth:`SlotCache.forget` for the provider it wrote (a fetch, whatever its
outcome) or for all of them (settings, overrides, price formulas, plugins). An entry remembers
the runtime it was read for (rebuilt by the registry on every settings or plugin change) and
the version of each provider it was read from (its own key and its fallbacks'), taken *before*
the read: a write that lands while a read is under way makes that read's entry stale at once.
Another process writing into the same database (``energyd fetch`` beside a running daemon) is
seen after the daemon's next fetch of that provider.
"""

from __future__ import annotations

import bisect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from energyd.core.registry import ProviderRuntime
from energyd.domain.figures import slots_in
from energyd.providers.base import EnergyPriceSlot

__all__ = ["AHEAD", "BEHIND", "SlotCache"]

#: How far back a cached window reaches: the start of the market's local day (25 h on the
#: day the clocks go back) and a slot before it.
BEHIND = timedelta(hours=26)
#: How far ahead: the publisher's horizon (3 days) and a day, so a window read at one moment
#: serves the reads of the next day too.
AHEAD = timedelta(days=4)

#: The shortest window: the one slot containing a moment.
_INSTANT = timedelta(microseconds=1)

#: Reads the served slots of ``[start, end)`` of a runtime from the store.
Read = Callable[[ProviderRuntime, datetime, datetime], Awaitable[list[EnergyPriceSlot]]]


@dataclass(frozen=True, slots=True)
class _Entry:
    runtime: ProviderRuntime
    versions: tuple[int, ...]
    start: datetime
    end: datetime
    slots: list[EnergyPriceSlot]
    #: The provider's own slots among them (those no fallback filled in).
    own: list[EnergyPriceSlot]
    #: ``final`` -> the own slots (only final ones when true) and where the gap-free run
    #: from each ends; ``None`` when the slots overlap (the store answers then). Built once.
    runs: dict[bool, _Runs | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Runs:
    slots: list[EnergyPriceSlot]
    ends: list[datetime]

    @classmethod
    def of(cls, slots: list[EnergyPriceSlot]) -> _Runs | None:
        """Where the run of ``slots`` (ascending) from each one ends, by one backward pass;
        ``None`` for overlapping slots (the store follows those its own way)."""
        ends: list[datetime] = []
        for index in range(len(slots) - 1, -1, -1):
            slot = slots[index]
            if index + 1 < len(slots):
                after = slots[index + 1]
                if after.valid_from < slot.valid_to:
                    return None
                if after.valid_from == slot.valid_to:
                    ends.append(ends[-1])
                    continue
            ends.append(slot.valid_to)
        ends.reverse()
        return cls(slots, ends)


class SlotCache:
    """The served slots of each running provider over ``[now - BEHIND, now + AHEAD)``."""

    def __init__(
        self,
        read: Read,
        *,
        behind: timedelta = BEHIND,
        ahead: timedelta = AHEAD,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._read = read
        self._behind = behind
        self._ahead = ahead
        self._clock = clock or (lambda: datetime.now(UTC))
        self._entries: dict[str, _Entry] = {}
        self._versions: dict[str, int] = {}
        self._epoch = 0
        #: Reads answered from memory and from the store (for tests and benchmarks).
        self.hits = 0
        self.misses = 0

    def forget(self, key: str | None = None) -> None:
        """Provider ``key``'s stored prices or fetch runs changed (``None``: anything may
        have): no entry read before now is served again."""
        if key is None:
            self._epoch += 1
            self._entries.clear()
            return
        self._versions[key] = self._versions.get(key, 0) + 1
        self._entries.pop(key, None)

    def version(self, key: str) -> tuple[int, int]:
        """A token that changes whenever :meth:`forget` covers ``key``."""
        return self._epoch, self._versions.get(key, 0)

    def _versions_of(self, runtime: ProviderRuntime) -> tuple[int, ...]:
        return (
            self._epoch,
            self._versions.get(runtime.key, 0),
            *(self._versions.get(key, 0) for key in runtime.fallbacks),
        )

    async def slots(
        self, runtime: ProviderRuntime, start: datetime, end: datetime
    ) -> list[EnergyPriceSlot]:
        """The served slots overlapping ``[start, end)``, ascending: from memory when the
        cached window holds that period, else read (and kept when it lies within the window
        of now)."""
        if end < start:
            raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
        entry = None if start == end else await self._entry(runtime, start, end)
        if entry is None:
            return await self._read(runtime, start, end)
        return slots_in(entry.slots, start, end)

    async def coverage_end(
        self, runtime: ProviderRuntime, moment: datetime, *, final: bool = False
    ) -> tuple[bool, datetime | None]:
        """``(True, end)``: where the gap-free run of the provider's own slots (none a
        fallback filled in; ``final``: provisional ones are gaps) containing ``moment`` ends,
        ``None`` when none contains it, as :meth:`PriceStore.coverage_end` answers; ``(False,
        None)`` when the cache cannot say (``moment`` not near now, the run reaching the end
        of the window, overlapping slots): ask the store."""
        entry = await self._entry(runtime, moment, moment + _INSTANT)
        if entry is None:
            return False, None
        if final not in entry.runs:
            own = [slot for slot in entry.own if not slot.provisional] if final else entry.own
            entry.runs[final] = _Runs.of(own)
        runs = entry.runs[final]
        if runs is None:
            return False, None
        index = bisect.bisect_right(runs.slots, moment, key=lambda s: s.valid_to)
        if index == len(runs.slots) or runs.slots[index].valid_from > moment:
            return True, None
        end = runs.ends[index]
        return end < entry.end, end if end < entry.end else None

    async def _entry(
        self, runtime: ProviderRuntime, start: datetime, end: datetime
    ) -> _Entry | None:
        versions = self._versions_of(runtime)
        entry = self._entries.get(runtime.key)
        if (
            entry is not None
            and entry.runtime is runtime
            and entry.versions == versions
            and entry.start <= start
            and end <= entry.end
        ):
            self.hits += 1
            return entry
        self.misses += 1
        now = self._clock()
        low, high = now - self._behind, now + self._ahead
        if not (low <= start and end <= high):
            return None  # far from now (last month's prices): read as asked, not kept
        slots = await self._read(runtime, low, high)
        own = [slot for slot in slots if slot.source is None] if runtime.fallbacks else slots
        entry = _Entry(runtime, versions, low, high, slots, own)
        if self._versions_of(runtime) == versions:  # no write while reading
            self._entries[runtime.key] = entry
        return entry
