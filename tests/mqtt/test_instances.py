"""Two energyd on one broker: their own client ids (``energyd-<instance>``) and Home Assistant
ids side by side; one client id twice: the log says the session was taken over."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
import structlog

from energyd.config import MqttSettings
from energyd.mqtt.client import MqttClient
from energyd.mqtt.commands import CommandRouter
from tests.support.broker import MosquittoBroker, collect, unique_id
from tests.support.daemon import daemon_settings, running
from tests.support.fake_octopus import RunningFake

pytestmark = pytest.mark.mqtt

#: How long two daemons must stay connected side by side.
SIDE_BY_SIDE_SECONDS = 4.0


def connected_ids(broker: MosquittoBroker) -> list[str]:
    """Every client id the broker accepted, in order (its connection messages)."""
    return re.findall(r"New client connected from \S+ as (\S+) ", broker.logs())


def unique_ids(payload: bytes) -> set[str]:
    config: dict[str, Any] = json.loads(payload)
    return {c["unique_id"] for c in config["cmps"].values()} | set(config["dev"]["ids"])


class TestSideBySide:
    async def test_two_instances_stay_connected(
        self, tmp_path: Path, broker: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """Instances "kitchen" and "garage" connect as energyd-kitchen and energyd-garage,
        stay connected for seconds (each says online once, no disconnect in the log) and
        announce devices whose ids they do not share."""
        prefix = f"{base_topic}-ha"
        daemons = {
            name: daemon_settings(
                tmp_path / name,
                broker.port,
                f"{base_topic}-{name}",
                fake_api.url,
                mqtt={"client_id": None, "discovery_prefix": prefix},
                instance=name,
            )
            for name in ("kitchen", "garage")
        }
        assert {"energyd-kitchen", "energyd-garage"} == {s.client_id for s in daemons.values()}
        statuses = [f"{base_topic}-{name}/status" for name in daemons]
        devices = [f"{prefix}/device/energyd_{name}_octopus_agile/config" for name in daemons]
        with structlog.testing.capture_logs() as logs:
            async with (
                collect(broker.port, f"{prefix}/#", *statuses) as client,
                running(daemons["kitchen"]),
                running(daemons["garage"]),
            ):
                for topic in devices:
                    await client.wait_for(topic, lambda m: bool(m.payload), within=10)
                await asyncio.sleep(SIDE_BY_SIDE_SECONDS)
                online = [client.payloads(topic).count(b"online") for topic in statuses]
                kitchen, garage = (unique_ids(client.payloads(t)[-1]) for t in devices)
        events = [entry["event"] for entry in logs]
        assert [1, 1] == online
        assert [] == [e for e in events if e in ("mqtt.disconnected", "mqtt.session_taken_over")]
        assert {"energyd-kitchen", "energyd-garage"} <= set(connected_ids(broker))
        assert set() == kitchen & garage
        assert "energyd_kitchen_octopus_agile_current_price" in kitchen


class TestSessionTakenOver:
    async def test_same_client_id_is_named_in_the_log(
        self, broker: MosquittoBroker, base_topic: str
    ) -> None:
        """Two clients with one client id knock each other off: the log says so in plain
        words, naming the client id and what to change."""
        client_id = unique_id("energyd-twin")
        settings = MqttSettings(
            host="127.0.0.1",
            port=broker.port,
            base_topic=base_topic,
            reconnect_min_seconds=0.05,
            reconnect_max_seconds=0.2,
        )
        with structlog.testing.capture_logs() as logs:
            async with (
                MqttClient(settings, CommandRouter(), client_id=client_id) as first,
                MqttClient(settings, CommandRouter(), client_id=client_id),
            ):
                async with asyncio.timeout(10):
                    while not any(e["event"] == "mqtt.session_taken_over" for e in logs):  # noqa: ASYNC110 -- log entries have no event to wait on
                        await asyncio.sleep(0.05)
                assert client_id == first.client_id
        # MQTT v5 brokers that say why (reason code 142, "Session taken over") get the first
        # wording; mosquitto 2.0.11 just closes the connection, so the repeated drops tell.
        taken = next(e for e in logs if e["event"] == "mqtt.session_taken_over")
        advice = "give each energyd its own `instance` or `mqtt.client_id`"
        assert ("warning", client_id) == (taken["log_level"], taken["client_id"])
        assert taken["message"].endswith(f"client id {client_id}; {advice}")

    def test_client_id_comes_from_the_daemon(self) -> None:
        """The client id given (Settings.client_id) wins; else mqtt.client_id; never random."""
        named = MqttSettings(client_id="mine")
        assert ["given", "mine"] == [
            MqttClient(named, CommandRouter(), client_id="given").client_id,
            MqttClient(named, CommandRouter()).client_id,
        ]
        assert MqttClient(MqttSettings(), CommandRouter()).client_id.startswith("energyd-")
