"""The scheduler's slot boundaries follow each provider's own slot length (never a fixed 30
minutes): a 15-minute EUR market wakes it every quarter hour."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from energyd.core.scheduler import MAX_SLEEP, Scheduler
from energyd.domain.records import FetchOutcome, FetchRun
from energyd.providers.base import EnergyPriceSlot
from tests.support.market_plugins import ServiceRig, market_plugin, service_rig

NOW = datetime(2026, 11, 25, 12, 7, 30, tzinfo=UTC)
PLUGINS = {
    "eur_market_provider.py": market_plugin("eur_market"),
    "gbp_market_provider.py": market_plugin(
        "gbp_market", currency="GBP", slot_minutes=30, market_timezone="Europe/London"
    ),
}


@pytest.fixture
def make_rig(tmp_path: Path) -> Any:
    def make(providers: dict[str, dict[str, Any]]) -> Any:
        return service_rig(tmp_path, PLUGINS, providers)

    return make


async def boundary(rig: ServiceRig, now: datetime = NOW) -> datetime:
    return await Scheduler(rig.service, rig.settings.refresh)._next_boundary(now)


@pytest.fixture
async def eur_only(make_rig: Any) -> AsyncIterator[ServiceRig]:
    async with make_rig({"eur_market": {"region": "DE"}}) as rig:
        yield rig


class TestBoundaries:
    async def test_quarter_hours(self, eur_only: ServiceRig) -> None:
        """A 15-minute provider's next boundary is the next quarter hour, not half hour."""
        assert datetime(2026, 11, 25, 12, 15, tzinfo=UTC) == await boundary(eur_only)

    async def test_half_hours(self, make_rig: Any) -> None:
        """A 30-minute provider's is the next half hour."""
        async with make_rig({"gbp_market": {"region": "C"}}) as rig:
            assert datetime(2026, 11, 25, 12, 30, tzinfo=UTC) == await boundary(rig)

    async def test_the_shortest_rhythm_wins(self, make_rig: Any) -> None:
        """With both running, the scheduler wakes for the earliest boundary of either."""
        providers = {"gbp_market": {"region": "C"}, "eur_market": {"region": "DE"}}
        async with make_rig(providers) as rig:
            assert datetime(2026, 11, 25, 12, 15, tzinfo=UTC) == await boundary(rig)

    async def test_a_stored_slot_edge_counts(self, eur_only: ServiceRig) -> None:
        """A stored slot ending before the grid's next boundary is woken for too."""
        start = datetime(2026, 11, 25, 12, 5, tzinfo=UTC)
        slot = EnergyPriceSlot(start, start + timedelta(minutes=5), 10.0, "EUR")
        run = FetchRun("eur_market", "DE", NOW, FetchOutcome.OK, slots=1)
        source = eur_only.service.runtime("eur_market").identity
        await eur_only.store.save_fetch("eur_market", "DE", [slot], run, source=source)
        assert datetime(2026, 11, 25, 12, 10, tzinfo=UTC) == await boundary(eur_only)

    async def test_no_plugin_no_grid(self, make_rig: Any) -> None:
        """A provider without a plugin has no rhythm of its own: look again after MAX_SLEEP."""
        async with make_rig({"missing": {"plugin": "nowhere", "region": "X"}}) as rig:
            assert NOW + timedelta(seconds=MAX_SLEEP) == await boundary(rig)
