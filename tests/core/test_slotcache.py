"""The in-memory copy of served slots: answers what the store would, and never a price the
store no longer holds (every write path forgets what it changed; a write during a read makes
that read's copy stale at once).

Real parts: the loader with small plugin files, the price service and a SQLite store.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from energyd.core.registry import ProviderRuntime
from energyd.core.slotcache import SlotCache
from energyd.domain.records import FetchOutcome, FetchRun
from energyd.providers.base import EnergyPriceSlot
from tests.support.market_plugins import ServiceRig, market_plugin, service_rig

HALF = timedelta(minutes=30)
PLUGINS = {
    "gbp_market_provider.py": market_plugin(
        "gbp_market", currency="GBP", slot_minutes=30, market_timezone="Europe/London"
    )
}


def now() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def half_hours(start: datetime, count: int, price: float = 10.0) -> list[EnergyPriceSlot]:
    return [
        EnergyPriceSlot(start + i * HALF, start + (i + 1) * HALF, price, "GBP")
        for i in range(count)
    ]


async def store(rig: ServiceRig, key: str, slots: list[EnergyPriceSlot]) -> None:
    """Slots written straight into the store (a test's stand-in for a fetch's write)."""
    runtime = rig.service.runtime(key)
    run = FetchRun(key, runtime.spec.region, datetime.now(UTC), FetchOutcome.OK, len(slots))
    await rig.store.save_fetch(key, runtime.spec.region, slots, run, source=runtime.identity)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[ServiceRig]:
    providers = {
        "main": {"plugin": "gbp_market", "region": "DE", "fallbacks": ["spare"]},
        "spare": {"plugin": "gbp_market", "region": "NL"},
    }
    async with service_rig(tmp_path, PLUGINS, providers) as parts:
        yield parts


class TestReads:
    async def test_the_same_answer_as_the_store(self, rig: ServiceRig) -> None:
        """Reads near now are answered from memory after the first, exactly as read."""
        start = now() - timedelta(hours=5)
        await store(rig, "main", half_hours(start, 30))
        service, cache = rig.service, rig.service.slot_cache
        read = await service.slots("main", start + HALF, start + 10 * HALF)
        again = await service.slots("main", start + 2 * HALF, start + 4 * HALF)
        assert half_hours(start, 30)[1:10] == read
        assert half_hours(start, 30)[2:4] == again
        assert (1, 1) == (cache.misses, cache.hits)

    async def test_far_from_now_is_read_not_kept(self, rig: ServiceRig) -> None:
        """Last month's prices are read from the store each time, never kept."""
        start = now() - timedelta(days=30)
        await store(rig, "main", half_hours(start, 4))
        for _ in range(2):
            assert half_hours(start, 4) == await rig.service.slots("main", start, start + 4 * HALF)
        assert 0 == rig.service.slot_cache.hits


class TestForgetting:
    async def test_a_fetch_is_served_at_once(self, rig: ServiceRig) -> None:
        """After a fetch, the prices it stored are the ones served (the plugin's 8.5)."""
        start = now()
        await store(rig, "main", half_hours(start, 4, price=1.0))
        assert 1.0 == (await rig.service.slot_at("main", start)).price_pence  # type: ignore[union-attr]
        runs = await rig.service.refresh("main")
        assert [FetchOutcome.OK] == [run.outcome for run in runs]
        assert 8.5 == (await rig.service.slot_at("main", start)).price_pence  # type: ignore[union-attr]

    async def test_a_fallbacks_fetch_reaches_its_dependents(self, rig: ServiceRig) -> None:
        """``main`` has a gap its fallback ``spare`` fills: a new price of ``spare`` is
        served in ``main``'s gap too (``spare``'s write forgets ``main``'s copy)."""
        start = now()
        await store(rig, "main", half_hours(start, 2))
        await store(rig, "spare", half_hours(start, 4, price=3.0))
        gap = start + 2 * HALF
        first = await rig.service.slot_at("main", gap)
        assert (3.0, "spare") == (first.price_pence, first.source)  # type: ignore[union-attr]
        await rig.service.refresh("spare")
        again = await rig.service.slot_at("main", gap)
        assert (8.5, "spare") == (again.price_pence, again.source)  # type: ignore[union-attr]

    async def test_a_settings_change_is_served_at_once(self, rig: ServiceRig) -> None:
        """A price formula set at run time applies to the next read (the runtime is new and
        everything read before is forgotten)."""
        start = now()
        await store(rig, "main", half_hours(start, 2, price=10.0))
        assert 10.0 == (await rig.service.slot_at("main", start)).price_pence  # type: ignore[union-attr]
        await rig.service.set_settings({"energy.providers.main.tariff": {"vat_percent": 20}})
        priced = await rig.service.slot_at("main", start)
        assert priced is not None
        assert (12.0, 10.0) == (round(priced.price_pence, 6), priced.market_pence)

    async def test_a_write_during_a_read_is_not_hidden(self, rig: ServiceRig) -> None:
        """A read that began before a write does not leave its (old) copy behind."""
        runtime = rig.service.runtime("main")
        gate, reads = asyncio.Event(), 0

        async def slow_read(
            runtime: ProviderRuntime, start: datetime, end: datetime
        ) -> list[EnergyPriceSlot]:
            nonlocal reads
            reads += 1
            old = await rig.service._read_served(runtime, start, end)
            await gate.wait()
            return old

        cache = SlotCache(slow_read)
        start = now()
        await store(rig, "main", half_hours(start, 2, price=1.0))
        reading = asyncio.create_task(cache.slots(runtime, start, start + HALF))
        await asyncio.sleep(0.05)
        await store(rig, "main", half_hours(start, 2, price=2.0))
        cache.forget("main")  # what the service does after its write
        gate.set()
        assert 1.0 == (await reading)[0].price_pence  # what the store held when it was read
        assert 2.0 == (await cache.slots(runtime, start, start + HALF))[0].price_pence
        assert 2 == reads


class TestCoverage:
    @pytest.mark.parametrize("seed", range(6))
    async def test_the_same_coverage_as_the_store(self, rig: ServiceRig, seed: int) -> None:
        """Random runs of own slots with gaps and provisional ones: the cache's coverage from
        each moment is the store's (final or not)."""
        rng = random.Random(seed)
        start, slots, moment = now() - timedelta(hours=6), [], now() - timedelta(hours=6)
        for _ in range(40):
            if rng.random() < 0.15:
                moment += HALF * rng.randint(1, 3)  # a gap
            slots.append(
                EnergyPriceSlot(moment, moment + HALF, 5.0, "GBP", provisional=rng.random() < 0.2)
            )
            moment += HALF
        await store(rig, "spare", slots)
        service, runtime = rig.service, rig.service.runtime("spare")
        probes = [start + timedelta(minutes=m) for m in range(-30, 40 * 45, 17)]
        for final in (False, True):
            for probe in probes:
                cached = await service.coverage_end(runtime, probe, final=final)
                stored = await rig.store.coverage_end(
                    "spare", "NL", probe, source=runtime.identity, final=final
                )
                assert stored == cached, (probe, final)
