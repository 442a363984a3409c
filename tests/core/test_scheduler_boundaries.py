"""Slot boundaries from the first fetch on, whatever the slot grid: the boundary loop plans
again when prices change, so edges a fetch brings (off the plugin's ``slot_minutes`` grid, on
an empty store) are announced, and announced on time (no grace).

Real parts: a plugin file whose 20-minute slots sit 10 minutes off its 30-minute grid, the
loader, a SQLite store, mosquitto; the wall clock travelled (``time_machine``, ticking).
"""

from __future__ import annotations

import asyncio
import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine

from energyd.app import wire
from energyd.config import load_settings
from energyd.core.scheduler import Scheduler, _sleep_until
from tests.support.broker import MosquittoBroker, collect
from tests.support.rig import daemon_parts, running

#: 20-minute slots from 10 past (00:10, 00:30, 00:50, 01:10, ...), on a 30-minute grid.
OFF_GRID = textwrap.dedent(
    """\
    from datetime import timedelta

    from providers.energy.base import (
        EnergyPriceProvider,
        EnergyPriceSlot,
        EnergyProviderMetadata,
    )

    __version__ = "1.0.0"


    class OffGrid(EnergyPriceProvider):
        def get_metadata(self):
            return EnergyProviderMetadata(
                provider_id="offgrid",
                display_name="Off the grid",
                version=__version__,
                supported_regions=("X",),
                currency="EUR",
                slot_minutes=30,
                market_timezone="UTC",
            )

        def validate_config(self, config):
            return {}

        async def fetch_prices(self, region, start_utc, end_utc, config):
            slots, moment = [], start_utc + timedelta(minutes=10)
            while moment + timedelta(minutes=20) <= end_utc:
                price = 10.0 + moment.hour + moment.minute / 100
                slots.append(EnergyPriceSlot(moment, moment + timedelta(minutes=20), price, "EUR"))
                moment += timedelta(minutes=20)
            return slots
    """
)
#: Just before an edge (12:10) that is not on the 30-minute grid (12:00, 12:30).
BEFORE_EDGE = datetime(2026, 11, 25, 12, 9, 55, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class TestOffGridSlots:
    async def test_the_first_fetch_brings_an_edge_that_is_announced(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """An empty store, a plugin whose slots end at 12:10: the first fetch stores them and
        the 12:10 boundary is announced (before, the loop slept on to 12:30, the grid's); the
        next ``current`` goes out right after the edge."""
        settings = load_settings(
            None,
            config_dir=tmp_path / "config",
            energy={"provider_id": "offgrid", "providers": {"offgrid": {"region": "X"}}},
            mqtt={
                "host": "127.0.0.1",
                "port": mosquitto.port,
                "base_topic": base_topic,
                "client_id": f"{base_topic}-offgrid",
            },
            homeassistant={"discovery": False},
        )
        topic = f"{base_topic}/prices/offgrid/X/current"
        edge = datetime(2026, 11, 25, 12, 10, tzinfo=UTC)
        with time_machine.travel(BEFORE_EDGE, tick=True):
            async with (
                daemon_parts(settings, {"offgrid_provider.py": OFF_GRID}) as parts,
                collect(mosquitto.port, topic) as client,
                running(wire(parts), "mqtt", "scheduler", "publisher"),
            ):
                before = await client.wait_for(
                    topic, lambda m: json.loads(m.payload)["available"], within=10
                )
                after = await client.wait_for(
                    topic, lambda m: json.loads(m.payload)["valid_from"] == stamp(edge), within=10
                )
                arrived = datetime.now(UTC)
        assert stamp(edge - timedelta(minutes=20)) == json.loads(before.payload)["valid_from"]
        assert stamp(edge + timedelta(minutes=20)) == json.loads(after.payload)["valid_to"]
        assert edge <= arrived  # never early (how late is the benchmark's business)

    async def test_every_edge_of_a_fetch_is_a_boundary(self, tmp_path: Path) -> None:
        """Once fetched, the next boundaries are the slot edges and the grid's, in order:
        12:10 (an edge), 12:30 (both), 12:50 (an edge), 13:00 (the grid)."""
        settings = load_settings(
            None,
            config_dir=tmp_path / "config",
            energy={"provider_id": "offgrid", "providers": {"offgrid": {"region": "X"}}},
        )
        with time_machine.travel(BEFORE_EDGE, tick=True):
            async with daemon_parts(settings, {"offgrid_provider.py": OFF_GRID}) as parts:
                await parts.service.refresh()
                scheduler = Scheduler(parts.service, settings.refresh)
                found, since = [], BEFORE_EDGE
                for _ in range(4):
                    since = await scheduler._next_boundary(since)
                    found.append(since.strftime("%H:%M"))
        assert ["12:10", "12:30", "12:50", "13:00"] == found


class TestWaking:
    async def test_a_price_change_plans_again_without_announcing(self, tmp_path: Path) -> None:
        """A fetch wakes the boundary loop: it plans again (the new edge) but announces no
        boundary of its own; the start is announced once."""
        settings = load_settings(
            None,
            config_dir=tmp_path / "config",
            energy={"provider_id": "offgrid", "providers": {"offgrid": {"region": "X"}}},
        )
        with time_machine.travel(BEFORE_EDGE - timedelta(minutes=5), tick=True):
            async with daemon_parts(settings, {"offgrid_provider.py": OFF_GRID}) as parts:
                wiring = wire(parts)
                watch = parts.service.events.feed("test")
                async with running(wiring, "boundary"):
                    scheduler_feed = asyncio.create_task(wiring.scheduler.follow_changes())
                    try:
                        await asyncio.sleep(0.2)
                        assert watch.take_nowait().boundary  # the start
                        await parts.service.refresh()
                        await asyncio.sleep(0.3)
                        changes = watch.take_nowait()
                    finally:
                        scheduler_feed.cancel()
        assert (False, frozenset({"offgrid"})) == (changes.boundary, changes.prices)


class TestSleeping:
    async def test_reached_or_woken(self) -> None:
        """True when the wall clock reaches the deadline (never before it), False (and the
        event cleared) when woken first."""
        wake = asyncio.Event()
        deadline = datetime.now(UTC) + timedelta(milliseconds=30)
        assert await _sleep_until(deadline, wake)
        assert datetime.now(UTC) >= deadline
        wake.set()
        assert not await _sleep_until(datetime.now(UTC) + timedelta(seconds=5), wake)
        assert not wake.is_set()

    async def test_woken_in_the_middle(self) -> None:
        """A wake-up during a long sleep ends it."""
        wake = asyncio.Event()
        asyncio.get_running_loop().call_later(0.05, wake.set)
        assert not await _sleep_until(datetime.now(UTC) + timedelta(seconds=20), wake)
