"""Markets other than Agile over a real SQLite store and a real mosquitto: a EUR provider with
15-minute slots publishes in its own units and bands, and a provider whose plugin is not
loaded publishes nulls, never a guessed GBP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from energyd.app import wire
from energyd.mqtt.state import StatePublisher
from tests.support.broker import MosquittoBroker, collect
from tests.support.market_plugins import ServiceRig, market_plugin, service_rig
from tests.support.plugin_files import good_plugin
from tests.support.rig import running

QUARTER = timedelta(minutes=15)


@dataclass
class Rig:
    running: ServiceRig
    publisher: StatePublisher
    base: str


@pytest.fixture
async def rig(tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str) -> AsyncIterator[Rig]:
    plugins = {
        "eur_market_provider.py": market_plugin("eur_market", price=8.5),
        "demo_provider.py": good_plugin("demo"),
    }
    providers = {
        "eur_market": {"region": "DE"},
        "demo": {"region": "C"},
        "missing": {"plugin": "nowhere", "region": "X"},
    }
    mqtt_settings = {
        "host": "127.0.0.1",
        "port": mosquitto.port,
        "base_topic": base_topic,
        "client_id": f"{base_topic}-pub",
    }
    async with service_rig(tmp_path, plugins, providers, mqtt=mqtt_settings) as parts:
        wiring = wire(parts)
        async with running(wiring, "mqtt"):
            yield Rig(parts, wiring.publisher, f"{base_topic}/prices")


async def retained(port: int, prefix: str, first: str) -> dict[str, Any]:
    """Every retained topic under ``prefix``, as a fresh subscriber sees it."""
    async with collect(port, f"{prefix}/#") as fresh:
        await fresh.wait_for(f"{prefix}/{first}")
        await asyncio.sleep(0.3)  # the rest of the retained burst
        return {
            m.topic.value.removeprefix(prefix + "/"): json.loads(bytes(m.payload))
            for m in fresh.messages
        }


def moment(text: str | None) -> datetime:
    assert text is not None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class TestEuroQuarterHours:
    async def test_prices_in_cents_and_euros(self, rig: Rig, mosquitto: MosquittoBroker) -> None:
        """current/next/upcoming: c/kWh and EUR/kWh, 15-minute slots, 8.5 c = 0.085 EUR."""
        await rig.running.service.refresh("eur_market")
        await rig.publisher.publish_all()
        topics = await retained(mosquitto.port, f"{rig.base}/eur_market/DE", "current")
        current = topics["current"]
        expected = (True, 8.5, "c/kWh", "EUR", 0.085, "EUR/kWh")
        actual = (
            current["available"],
            current["price"],
            current["unit"],
            current["currency"],
            current["price_major"],
            current["unit_major"],
        )
        assert expected == actual
        assert QUARTER == moment(current["valid_to"]) - moment(current["valid_from"])
        assert moment(current["valid_to"]) == moment(topics["next"]["valid_from"])
        assert ("c/kWh", "EUR") == (topics["upcoming"]["unit"], topics["upcoming"]["currency"])

    async def test_derived_topics(self, rig: Rig, mosquitto: MosquittoBroker) -> None:
        """A day of quarter hours, EUR bands, EMHASS steps of 15 minutes in EUR/kWh."""
        await rig.running.service.refresh("eur_market")
        await rig.publisher.publish_all()
        topics = await retained(mosquitto.port, f"{rig.base}/eur_market/DE", "emhass")
        today = topics["today"]
        day = moment(today["end"]) - moment(today["start"])
        assert (day // QUARTER, True, "c/kWh") == (today["count"], today["complete"], today["unit"])
        level = topics["level"]
        assert ("cheap", 8.5) == (level["level"], level["price"])
        assert [
            {"name": "negative", "below": 0.0},
            {"name": "cheap", "below": 10.0},
            {"name": "normal", "below": 25.0},
            {"name": "expensive", "below": None},
        ] == level["bands"]
        emhass = topics["emhass"]
        assert (15, "EUR/kWh", 0.085) == (
            emhass["step_minutes"],
            emhass["unit"],
            emhass["prices"][0],
        )
        assert (8.5, "c/kWh") == (topics["stats/today"]["min"], topics["stats/today"]["unit"])

    async def test_gbp_neighbour_unchanged(self, rig: Rig, mosquitto: MosquittoBroker) -> None:
        """A GBP provider beside it keeps p/kWh, GBP/kWh and the pence bands."""
        await rig.running.service.refresh()
        await rig.publisher.publish_all()
        topics = await retained(mosquitto.port, f"{rig.base}/demo/C", "level")
        assert ("p/kWh", "GBP/kWh") == (topics["current"]["unit"], topics["current"]["unit_major"])
        assert "GBP/kWh" == topics["emhass"]["unit"]
        assert [0.0, 12.0, 20.0, None] == [band["below"] for band in topics["level"]["bands"]]
        assert "normal" == topics["level"]["level"]  # 12.5 p


class TestWithoutAPlugin:
    async def test_nulls_not_a_guessed_currency(self, rig: Rig, mosquitto: MosquittoBroker) -> None:
        """No plugin, nothing stored: prices and units are null, no level, no EMHASS prices."""
        await rig.publisher.publish_all()
        topics = await retained(mosquitto.port, f"{rig.base}/missing/X", "current")
        current = topics["current"]
        expected = (False, None, None, None, None)
        actual = (
            current["available"],
            current["price"],
            current["unit"],
            current["currency"],
            current["unit_major"],
        )
        assert expected == actual
        assert (None, None) == (topics["upcoming"]["unit"], topics["today"]["currency"])
        assert (None, ["negative", "normal"]) == (
            topics["level"]["level"],
            [band["name"] for band in topics["level"]["bands"]],
        )
        assert (None, []) == (topics["emhass"]["unit"], topics["emhass"]["prices"])
