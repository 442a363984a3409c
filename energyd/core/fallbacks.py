"""Reading a provider's prices with its fallbacks: the slots it serves and how its failover
looks now (the store's side of :mod:`energyd.domain.failover`, which holds the rules).

:class:`FallbackReader` reads the stored slots of a provider's own source and, where it has
gaps, those of its fallbacks (other running providers, in the order configured, in its
currency); it says which fallback serves now and since when, which fallbacks cannot be used,
and where the provider and the fallbacks it is cross-checked against disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from energyd.core.registry import ProviderRuntime
from energyd.core.store import PriceStore
from energyd.domain.failover import Disagreement, disagreements, fill_gaps, gaps, serving_since
from energyd.domain.health import Failover
from energyd.providers.base import EnergyPriceSlot
from energyd.providers.validation import MAX_SLOT_LENGTH

__all__ = ["INSTANT", "FallbackReader"]

#: The shortest window: the one slot containing a moment.
INSTANT = timedelta(microseconds=1)
#: How far back the run of a fallback serving now is followed, at least (``since``).
LOOK_BACK = timedelta(days=2)
#: How far ahead of now the provider and its fallbacks are compared.
CROSS_CHECK_AHEAD = timedelta(days=2)


class FallbackReader:
    """The stored slots of running providers, their gaps filled from their fallbacks."""

    def __init__(
        self,
        store: PriceStore,
        runtimes: Callable[[], Sequence[ProviderRuntime]],
        look_back: timedelta = LOOK_BACK,
    ) -> None:
        self._store = store
        self._runtimes = runtimes
        self._look_back = max(LOOK_BACK, look_back)

    async def own(
        self, runtime: ProviderRuntime, start: datetime, end: datetime
    ) -> list[EnergyPriceSlot]:
        """The stored slots of ``[start, end)`` of the provider's own source, as stored."""
        spec = runtime.spec
        return await self._store.slots(spec.key, spec.region, start, end, source=runtime.identity)

    async def served(
        self, runtime: ProviderRuntime, start: datetime, end: datetime
    ) -> list[EnergyPriceSlot]:
        """The provider's own stored slots of ``[start, end)``, gaps filled from its usable
        fallbacks (:func:`energyd.domain.failover.fill_gaps`), market prices as stored."""
        own = await self.own(runtime, start, end)
        if not runtime.fallbacks or not gaps(own, start, end):
            return own
        # Gaps are found around the window, so a fallback slot reaching into it is cut where
        # the provider's own prices are, not where the window happens to start.
        low, high = start - MAX_SLOT_LENGTH, end + MAX_SLOT_LENGTH
        around = await self.own(runtime, low, high)
        usable, _ = self._fallbacks(runtime)
        filling = [(other.key, await self.own(other, low, high)) for other in usable]
        served = fill_gaps(around, filling, low, high, _cut)
        return [s for s in served if s.valid_to > start and s.valid_from < end]

    async def failover(self, runtime: ProviderRuntime, now: datetime) -> Failover:
        """Which fallback serves ``now`` (and since when), which fallbacks cannot be used, and
        where the provider and the fallbacks it is cross-checked against disagree."""
        usable, problems = self._fallbacks(runtime)
        serving = None
        spec = runtime.spec
        own_now = await self._store.slot_at(spec.key, spec.region, now, source=runtime.identity)
        if own_now is None:
            around = await self.served(runtime, now - self._look_back, now + INSTANT)
            serving = serving_since(around, now)
        found: list[Disagreement] = []
        checked = [other for other in usable if other.key in runtime.cross_checked]
        if checked:
            # the prices still to be served: a past disagreement is history, not a fault
            start, end = now, now + CROSS_CHECK_AHEAD
            own = await self.own(runtime, start, end)
            for other in checked:
                theirs = await self.own(other, start, end)
                found.extend(
                    disagreements(own, theirs, other.key, runtime.tolerance, _market_price)
                )
        found.sort(key=lambda d: (d.start, d.source))
        return Failover(serving=serving, problems=tuple(problems), disagreements=tuple(found))

    def _fallbacks(self, runtime: ProviderRuntime) -> tuple[list[ProviderRuntime], list[str]]:
        """The fallbacks of ``runtime`` that can be used, in order, and why the others
        cannot (not running, another currency)."""
        running = {other.key: other for other in self._runtimes()}
        usable, problems = [], []
        for key in runtime.fallbacks:
            other = running.get(key)
            if other is None:
                problems.append(f"fallback {key} is not running")
            elif other.currency != runtime.currency:
                problems.append(
                    f"fallback {key} quotes {other.currency}, not {runtime.currency}: not used"
                )
            else:
                usable.append(other)
        return usable, problems


def _cut(slot: EnergyPriceSlot, start: datetime, end: datetime, source: str) -> EnergyPriceSlot:
    """A fallback's ``slot`` limited to ``[start, end)`` and named as coming from ``source``."""
    return replace(slot, valid_from=start, valid_to=end, source=source)


def _market_price(slot: EnergyPriceSlot) -> float:
    """The price two sources are compared on: the energy alone where the source quotes it
    beside an all-in price, else the price as stored (before any formula)."""
    return slot.price_pence if slot.energy_pence is None else slot.energy_pence
