"""The price service with a real plugin file that blocks the event loop (issue 7.5)."""

from __future__ import annotations

import re
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from energyd.config import load_settings
from energyd.core.service import PriceService
from energyd.domain.records import FetchOutcome
from energyd.http.metrics import FetchTally, collect_metrics, render
from energyd.providers.base import HealthState
from tests.support.rig import daemon_parts

# fetch_prices and health_check sleep (blocking the loop) for config["block"] seconds.
BLOCKING = textwrap.dedent(
    """\
    import asyncio
    import time
    from datetime import timedelta

    from providers.energy.base import (
        EnergyPriceProvider, EnergyPriceSlot, EnergyProviderMetadata, HealthState,
        ProviderHealth,
    )

    __version__ = "1.0.0"


    class Blocking(EnergyPriceProvider):
        def get_metadata(self):
            return EnergyProviderMetadata(
                provider_id="blocking", display_name="Blocking", version=__version__
            )

        def validate_config(self, config):
            return {}

        async def fetch_prices(self, region, start_utc, end_utc, config):
            await asyncio.sleep(0)
            time.sleep(float(config.get("block", 0)))
            slots = []
            moment = start_utc
            while moment < end_utc:
                slots.append(EnergyPriceSlot(moment, moment + timedelta(minutes=30), 10.0))
                moment += timedelta(minutes=30)
            return slots

        async def health_check(self, region, config):
            time.sleep(float(config.get("block", 0)))
            return ProviderHealth(HealthState.OK, "fine")
    """
)


@dataclass
class Rig:
    service: PriceService
    plugin_dir: Path


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    settings = load_settings(
        None,
        config_dir=tmp_path / "config",
        energy={"provider_id": "blocking", "providers": {"blocking": {"region": "C"}}},
    )
    async with daemon_parts(settings, {"blocking_provider.py": BLOCKING}) as parts:
        yield Rig(parts.service, settings.plugin_dir)


async def block_for(rig: Rig, seconds: float) -> None:
    await rig.service.set_settings({"energy.providers.blocking.block": seconds})


class TestBlockingPlugin:
    async def test_a_blocking_fetch_is_named_in_health(self, rig: Rig) -> None:
        """fetch_prices sleeping 0.7 s: the fetch works, health is degraded and says who
        blocked the loop, for how long, in which call."""
        await block_for(rig, 0.7)
        (run,) = await rig.service.refresh()
        assert FetchOutcome.OK == run.outcome
        health = (await rig.service.health(rig.service.spec())).as_json()
        block = health["loop_block"]
        assert ("fetch_prices", True) == (block["call"], block["seconds"] >= 0.7)
        assert "degraded" == health["state"]
        assert re.search(r"blocked the event loop for 0\.[78] s in fetch_prices", health["message"])

    async def test_a_later_fetch_that_does_not_block_restores_health(self, rig: Rig) -> None:
        """The next fetch without a block: ok again, loop_block keeps the last block."""
        await block_for(rig, 0.6)
        await rig.service.refresh()
        await block_for(rig, 0)
        await rig.service.refresh()
        report = await rig.service.health(rig.service.spec())
        assert HealthState.OK == report.state
        assert report.loop_block is not None
        assert "fetch_prices" == report.loop_block.call

    async def test_the_overview_carries_the_block(self, rig: Rig) -> None:
        """providers[i].health of the overview (the retained topic and providers/status)."""
        await block_for(rig, 0.6)
        await rig.service.refresh()
        (provider,) = (await rig.service.overview())["providers"]
        assert "fetch_prices" == provider["health"]["loop_block"]["call"]
        assert {} == provider["health"]["derived_errors"]

    async def test_a_blocking_health_check_is_named(self, rig: Rig) -> None:
        """The probe's health_check is timed the same way."""
        await block_for(rig, 0.6)
        probe = await rig.service.probe(rig.service.spec())
        assert "ok" == probe["state"]
        block = rig.service.faults.last_block("blocking")
        assert block is not None
        assert "health_check" == block.call


class TestMetrics:
    async def test_the_block_is_a_metric(self, rig: Rig) -> None:
        """/metrics carries the last block per provider and call, and the topic error count."""
        await block_for(rig, 0.6)
        await rig.service.refresh()
        rig.service.faults.loop_tick(0.01, 0.0)
        text = render(await collect_metrics(rig.service, None, FetchTally(datetime.now(UTC))))
        (line,) = [x for x in text.splitlines() if x.startswith("energyd_plugin_loop_block_")]
        name, value = line.rsplit(" ", 1)
        assert 'energyd_plugin_loop_block_seconds{provider="blocking",call="fetch_prices"}' == name
        assert float(value) >= 0.6
        assert 'energyd_derived_errors{provider="blocking"} 0' in text
        assert "energyd_event_loop_lag_seconds 0.01" in text
