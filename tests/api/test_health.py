"""The broker in the health assessment, and the reply fields the status page reads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from energyd.api.arguments import HealthArgs, NoArgs
from energyd.api.health import broker_json
from energyd.config import MqttSettings
from energyd.mqtt.client import MqttClient, MqttStats
from energyd.mqtt.commands import CommandRouter
from tests.support.broker import MosquittoBroker, unique_id
from tests.support.fake_octopus import RunningFake
from tests.support.http_rig import Rig, call, http_rig, serving

SINCE = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)


@dataclass
class Broker:
    """A stand-in for the MQTT connection."""

    connected: bool
    stats: MqttStats = field(default_factory=MqttStats)


@pytest.fixture
async def rig(tmp_path: Path, fake_api: RunningFake) -> AsyncIterator[Rig]:
    async with http_rig(tmp_path, fake_api) as built:
        await built.service.refresh()
        yield built


async def eventually(check: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 -- polls state that has no event to wait on
            await asyncio.sleep(0.02)


class TestBrokerJson:
    def test_no_client_is_absent(self) -> None:
        """A process without an MQTT client has no broker state (and no time)."""
        assert {"state": "absent", "since": None, "last_error": None} == broker_json(None)

    def test_connected_since_the_connect(self) -> None:
        """Connected: since the connection that is up was made."""
        broker = Broker(True, MqttStats(connects=2, last_error="gone", connected_since=SINCE))
        expected = {"state": "connected", "since": "2025-03-01T12:30:00Z", "last_error": "gone"}
        assert expected == broker_json(broker)

    def test_disconnected_since_the_drop(self) -> None:
        """Disconnected: since the drop, and why it dropped."""
        stats = MqttStats(last_error="Connection refused", disconnected_since=SINCE)
        expected = {
            "state": "disconnected",
            "since": "2025-03-01T12:30:00Z",
            "last_error": "Connection refused",
        }
        assert expected == broker_json(Broker(False, stats))


class TestHealthReply:
    async def test_a_down_broker_is_not_ok_anywhere(self, rig: Rig) -> None:
        """Prices current but the broker down: health, readiness and the mqtt check say not
        ok, and the check says since when and why."""
        stats = MqttStats(last_error="Connection refused", disconnected_since=SINCE)
        ops = rig.operations(broker=Broker(False, stats))
        health = await ops.health(HealthArgs())
        ready = await ops.readiness(NoArgs())
        assert (True, False, "not_ready") == (
            health["checks"]["prices"]["ok"],
            health["ok"],
            ready["status"],
        )
        detail = "not connected to the broker since 2025-03-01T12:30:00Z (Connection refused)"
        assert (False, detail) == (ready["checks"]["mqtt"]["ok"], ready["checks"]["mqtt"]["detail"])
        assert "disconnected" == health["broker"]["state"]

    async def test_http_health_and_overview_carry_what_the_page_reads(self, rig: Rig) -> None:
        """GET /api/health has the broker state; the overview names each provider's region."""
        async with serving(rig) as client:
            _, health = await call(client, "GET", "/api/health")
            _, overview = await call(client, "GET", "/api/drivers/energy-providers/status")
        assert {"state": "absent", "since": None, "last_error": None} == health["broker"]
        assert [("C", "London")] == [(p["region"], p["region_name"]) for p in overview["providers"]]


class TestRealBroker:
    async def test_state_follows_the_connection(
        self, rig: Rig, broker: MosquittoBroker, base_topic: str
    ) -> None:
        """Against a real mosquitto: connected since the connect; after the broker stops,
        disconnected since then, with the error, and not ready."""
        settings = MqttSettings(
            host="127.0.0.1",
            port=broker.port,
            client_id=unique_id("energyd"),
            base_topic=base_topic,
            reconnect_min_seconds=0.05,
            reconnect_max_seconds=0.2,
        )
        mqtt = MqttClient(settings, CommandRouter())
        ops = rig.operations(broker=mqtt)
        async with mqtt:
            await mqtt.wait_ready()
            up = (await ops.health(HealthArgs()))["broker"]
            assert ("connected", True) == (up["state"], up["since"] is not None)
            stopped = datetime.now(UTC)
            broker.stop()
            await eventually(lambda: not mqtt.connected)
            down = (await ops.health(HealthArgs()))["broker"]
            since = down["since"]
            assert ("disconnected", True) == (down["state"], since is not None)
            assert since is not None
            assert datetime.fromisoformat(since) >= stopped.replace(microsecond=0)
            await eventually(lambda: mqtt.stats.last_error is not None)
            assert "not_ready" == (await ops.readiness(NoArgs()))["status"]
