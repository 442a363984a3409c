"""The timer loops, driven by a travelled wall clock (asyncio's monotonic clock is untouched).

Real parts: the Octopus plugin against the fake API on loopback, a SQLite store, mosquitto.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import time_machine

from energyd.config import Settings, load_settings
from energyd.core.scheduler import Scheduler
from energyd.core.service import PriceService
from energyd.core.store import PriceStore
from energyd.domain.records import FetchOutcome
from energyd.mqtt.client import MqttClient
from energyd.mqtt.commands import CommandRouter
from energyd.mqtt.state import StatePublisher
from energyd.providers.loader import init_energy_provider_loader
from tests.support.broker import MosquittoBroker, collect
from tests.support.fake_octopus import make_app, serve
from tests.support.octopus_data import default_price, uk_publish_horizon

LONDON_1630 = datetime(2026, 11, 25, 16, 30, tzinfo=UTC)


@dataclass
class Horizon:
    """Where the fake API's published prices end; a test moves it."""

    late: bool = True

    def __call__(self, now: datetime) -> datetime:
        full = uk_publish_horizon(now)
        return full - timedelta(days=1) if self.late else full


def settings_for(tmp_path: Path, url: str, port: int, base_topic: str) -> Settings:
    return load_settings(
        None,
        config_dir=tmp_path / "config",
        energy={
            "providers": {
                "octopus_agile": {"region": "C", "base_url": url, "retry_budget_seconds": 1}
            }
        },
        mqtt={
            "host": "127.0.0.1",
            "port": port,
            "base_topic": base_topic,
            "client_id": f"{base_topic}-sched",
        },
        refresh={"retry_min_seconds": 0.2, "retry_max_seconds": 0.4},
    )


@contextlib.asynccontextmanager
async def scheduler_running(settings: Settings) -> AsyncIterator[PriceStore]:
    loader = init_energy_provider_loader(settings.config_dir)
    async with PriceStore(settings.db_path) as store, aiohttp.ClientSession() as session:
        service = PriceService(settings, store, loader, session)
        await service.start()
        mqtt = MqttClient(settings.mqtt, CommandRouter())
        publisher = StatePublisher(service, mqtt)
        scheduler = Scheduler(service, publisher, settings.refresh)
        service.add_listener(publisher.on_change)
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(mqtt.run()),
                group.create_task(scheduler.run()),
            ]
            try:
                yield store
            finally:
                for task in tasks:
                    task.cancel()


async def wait_until(predicate: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Poll a store condition (the store has no change notification to wait on)."""
    async with asyncio.timeout(within):
        while not await predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


class TestLatePrices:
    async def test_retries_until_tomorrow_is_complete(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """At 16:30 UK with tomorrow not yet published, the loop retries with backoff and
        stops retrying once tomorrow (until 23:00 UK) is stored."""
        horizon = Horizon(late=True)
        tomorrow_23 = datetime(2026, 11, 26, 23, 0, tzinfo=UTC)
        with time_machine.travel(LONDON_1630, tick=True):
            async with serve(make_app(horizon=horizon)) as api:
                settings = settings_for(tmp_path, api.url, mosquitto.port, base_topic)
                async with scheduler_running(settings) as store:

                    async def covered_today() -> bool:
                        end = await store.coverage_end("octopus_agile", "C", datetime.now(UTC))
                        return end is not None and end >= tomorrow_23 - timedelta(days=1)

                    await wait_until(covered_today)
                    await asyncio.sleep(0.5)  # a retry or two while tomorrow is missing
                    horizon.late = False

                    async def complete() -> bool:
                        end = await store.coverage_end("octopus_agile", "C", datetime.now(UTC))
                        return end is not None and end >= tomorrow_23

                    await wait_until(complete)
                    runs = await store.fetch_runs(provider_id="octopus_agile")
                    count = len(runs)
                    await asyncio.sleep(1.0)  # complete now: no more retries
                    assert count == len(await store.fetch_runs(provider_id="octopus_agile"))
        assert count >= 2
        assert all(FetchOutcome.OK == run.outcome for run in runs)


class TestBoundaries:
    @pytest.mark.parametrize(
        "moment",
        [
            datetime(2026, 11, 25, 16, 29, 58, 500000, tzinfo=UTC),
            # the night the clocks go back: 01:00-02:00 UK happens twice
            datetime(2026, 10, 25, 0, 59, 58, 500000, tzinfo=UTC),
        ],
    )
    async def test_new_slot_published_at_the_boundary(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, moment: datetime
    ) -> None:
        """Just before a boundary the current slot is published, and the next one follows
        promptly when the wall clock crosses the boundary."""
        boundary = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        topic = f"{base_topic}/prices/octopus_agile/C/current"
        with time_machine.travel(moment, tick=True):
            async with serve(make_app(horizon=uk_publish_horizon)) as api:
                settings = settings_for(tmp_path, api.url, mosquitto.port, base_topic)
                async with scheduler_running(settings), collect(mosquitto.port, topic) as client:
                    stamp = boundary.isoformat().replace("+00:00", "Z")
                    message = await client.wait_for(
                        topic,
                        lambda m: json.loads(bytes(m.payload)).get("valid_from") == stamp,
                        within=8,
                    )
        body = json.loads(bytes(message.payload))
        assert default_price("C", boundary) == body["price"]
