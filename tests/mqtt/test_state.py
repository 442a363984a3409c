"""The publisher over a real SQLite store and a real mosquitto: a topic that cannot be built
is skipped and reported, never fatal (issue 7.8)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog

from energyd.app import Wiring, wire
from energyd.config import Settings, load_settings
from energyd.core.service import PriceService
from energyd.core.store import PriceStore
from energyd.domain.records import FetchOutcome, FetchRun
from energyd.domain.time import iso_utc
from energyd.mqtt.client import MqttClient
from energyd.mqtt.state import StatePublisher
from energyd.providers.base import EnergyPriceSlot, HealthState
from tests.support.broker import Collector, MosquittoBroker, collect
from tests.support.plugin_files import good_plugin
from tests.support.rig import daemon_parts, running

EMHASS_ERROR = "ValueError: slot lengths must be whole minutes"


@dataclass
class Rig:
    settings: Settings
    store: PriceStore
    service: PriceService
    mqtt: MqttClient
    publisher: StatePublisher
    prefix: str
    wiring: Wiring


@pytest.fixture
async def rig(tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str) -> AsyncIterator[Rig]:
    settings = load_settings(
        None,
        config_dir=tmp_path / "config",
        energy={"provider_id": "demo", "providers": {"demo": {"region": "C"}}},
        mqtt={
            "host": "127.0.0.1",
            "port": mosquitto.port,
            "base_topic": base_topic,
            "client_id": f"{base_topic}-pub",
        },
    )
    async with daemon_parts(settings, {"demo_provider.py": good_plugin("demo")}) as parts:
        wiring = wire(parts, retire_delay=0.05)
        async with running(wiring, "mqtt", "retire"):
            yield Rig(
                settings,
                parts.store,
                parts.service,
                wiring.mqtt,
                wiring.publisher,
                f"{base_topic}/prices/demo/C",
                wiring,
            )


def seconds_slots(start: datetime, count: int, seconds: int = 5) -> list[EnergyPriceSlot]:
    step = timedelta(seconds=seconds)
    return [EnergyPriceSlot(start + i * step, start + (i + 1) * step, 10.0) for i in range(count)]


def half_hours(start: datetime, count: int) -> list[EnergyPriceSlot]:
    step = timedelta(minutes=30)
    return [EnergyPriceSlot(start + i * step, start + (i + 1) * step, 20.0) for i in range(count)]


async def store_stale(rig: Rig, slots: list[EnergyPriceSlot]) -> None:
    """Slots put straight into the store, as an older energyd (without today's validation)
    would have left them."""
    run = FetchRun("demo", "C", datetime.now(UTC), FetchOutcome.OK, slots=len(slots))
    source = rig.service.runtime("demo").identity
    await rig.store.save_fetch("demo", "C", slots, run, source=source)


def body(message: Any) -> Any:
    return json.loads(bytes(message.payload))


async def retained(rig: Rig, port: int) -> dict[str, Any]:
    """Every retained topic under the rig's prefix, as a fresh subscriber sees it."""
    async with collect(port, f"{rig.prefix}/#") as fresh:
        await fresh.wait_for(f"{rig.prefix}/current")
        await asyncio.sleep(0.2)  # the rest of the retained burst
        return {m.topic.value.removeprefix(rig.prefix + "/"): body(m) for m in fresh.messages}


class TestFiveSecondSlots:
    async def test_publish_all_survives_and_health_names_the_topic(
        self, rig: Rig, mosquitto: MosquittoBroker
    ) -> None:
        """Stored 5-second slots: publish_all publishes every topic but emhass, logs
        derived.failed once, and the provider's health names emhass."""
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        await store_stale(rig, seconds_slots(now - timedelta(minutes=1), 720))
        with structlog.testing.capture_logs() as logs:
            await rig.publisher.publish_all()
            await rig.publisher.publish_all()
        failed = [e for e in logs if e["event"] == "derived.failed"]
        assert [("demo", "C", "emhass", EMHASS_ERROR)] == [
            (e["provider"], e["region"], e["topic"], e["error"]) for e in failed
        ]
        health = await rig.service.health(rig.service.spec())
        assert {"emhass": EMHASS_ERROR} == health.derived_errors
        assert HealthState.DEGRADED == health.state
        assert "emhass" in health.message
        topics = await retained(rig, mosquitto.port)
        assert "emhass" not in topics
        assert 10.0 == topics["level"]["price"]
        assert topics["current"]["available"]

    async def test_the_boundary_loop_keeps_running(self, rig: Rig, base_topic: str) -> None:
        """The boundary loop publishes over the stale slots at each of their 5-second
        boundaries, again and again, without dying; a wake-up only plans again."""
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        await store_stale(rig, seconds_slots(now - timedelta(minutes=1), 720))
        topic = f"{rig.prefix}/level"
        async with (
            collect(rig.settings.mqtt.port, topic) as client,
            running(rig.wiring, "boundary", "publisher") as loops,
        ):
            loop, follow = loops["boundary"], loops["publisher"]
            await client.wait_count(topic, 1)
            for published in (2, 3):
                rig.wiring.scheduler.wake()
                await wait_count_or_death(client, topic, published, loop, within=8)
            assert not loop.done()
            assert not follow.done()
        assert {"emhass": EMHASS_ERROR} == rig.service.faults.derived_errors("demo")

    async def test_the_earlier_retained_value_is_kept(
        self, rig: Rig, mosquitto: MosquittoBroker
    ) -> None:
        """emhass built at one moment and not at the next keeps its earlier retained value
        (not emptied); health recovers once it can be built again."""
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        good = half_hours(start - timedelta(hours=1), 4)  # until start + 1 h
        stale = seconds_slots(start + timedelta(hours=1, minutes=30), 720)  # after a gap
        await store_stale(rig, good + stale)
        first = start + timedelta(minutes=10)
        await rig.publisher.publish_prices(now=first)
        await rig.publisher.publish_prices(now=start + timedelta(hours=1, minutes=35))
        assert ["emhass"] == list(rig.service.faults.derived_errors("demo"))
        await asyncio.sleep(0.2)  # past the retire delay
        topics = await retained(rig, mosquitto.port)
        assert iso_utc(start) == topics["emhass"]["start"]  # as built at ``first``
        await rig.publisher.publish_prices(now=first)
        assert {} == rig.service.faults.derived_errors("demo")


async def wait_count_or_death(
    client: Collector, topic: str, count: int, loop: asyncio.Task[None], within: float = 5
) -> None:
    """Wait for the ``count``-th message on ``topic``, failing at once if ``loop`` died."""
    waiting = asyncio.create_task(client.wait_count(topic, count, within=within))
    done, _ = await asyncio.wait(
        {waiting, loop}, timeout=within, return_when=asyncio.FIRST_COMPLETED
    )
    if loop in done:
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        loop.result()  # raises what killed the loop
        raise AssertionError("the boundary loop ended")
    assert waiting in done, f"no publish within {within:g} s"


class TestHealthAtBoundaries:
    async def test_prices_running_out_at_a_boundary_republish_health(
        self, rig: Rig, base_topic: str
    ) -> None:
        """No fetch, only time passing: when the last known slot ends, the retained providers
        topic says ``stale`` (it used to wait for the next fetch); boundaries that change
        nothing in it publish nothing there."""
        now = datetime.now(UTC).replace(microsecond=0)
        await store_stale(rig, seconds_slots(now - timedelta(seconds=20), 6, seconds=4))
        topic = f"{base_topic}/providers"

        def states(client: Collector) -> list[str]:
            return [body(m)["providers"][0]["health"]["state"] for m in client.messages]

        async with (
            collect(rig.settings.mqtt.port, topic) as client,
            running(rig.wiring, "boundary", "publisher"),
        ):
            await client.wait_count(topic, 1)
            assert "stale" != states(client)[0]
            await client.wait_count(topic, 2)  # when the last slot ends, not before
            assert "stale" == states(client)[-1]
            await asyncio.sleep(1.0)  # further boundaries (the slot grid) change nothing
            assert 2 == len(states(client))
