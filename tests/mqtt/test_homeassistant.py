"""Home Assistant discovery from the running daemon: configs, re-publish on HA online, the
management entities acting on the daemon, and removal of providers that are gone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.broker import Collector, MosquittoBroker, collect
from tests.support.daemon import daemon_settings, running
from tests.support.fake_octopus import RunningFake
from tests.support.market_plugins import market_plugin
from tests.support.octopus_data import default_price
from tests.support.plugin_files import write_plugin


def body(message: Any) -> Any:
    return json.loads(bytes(message.payload))


def component(config: dict[str, Any], platform: str, needle: str) -> dict[str, Any]:
    """The component of ``platform`` whose id contains ``needle``."""
    return next(
        value for key, value in config["cmps"].items() if value["p"] == platform and needle in key
    )


async def device_config(client: Collector, topic: str) -> dict[str, Any]:
    message = await client.wait_for(topic, lambda m: bool(m.payload), within=10)
    config: dict[str, Any] = body(message)
    return config


class TestDiscovery:
    async def test_devices_buttons_selects_and_removal(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """Configs are retained; HA online re-sends them; the refresh button and the region
        select work; a provider that stops running loses its device."""
        prefix = f"{base_topic}-ha"
        settings = daemon_settings(
            tmp_path,
            mosquitto.port,
            base_topic,
            fake_api.url,
            mqtt={"discovery_prefix": prefix},
        )
        daemon_topic = f"{prefix}/device/energyd/config"
        provider_topic = f"{prefix}/device/energyd_octopus_agile/config"
        async with running(settings), collect(mosquitto.port, "#") as client:
            daemon = await device_config(client, daemon_topic)
            provider = await device_config(client, provider_topic)
            assert "energyd" == daemon["dev"]["name"]
            assert "energyd" == provider["o"]["name"]
            price = component(provider, "sensor", "current_price")
            assert ("GBP/kWh", "monetary") == (
                price["unit_of_measurement"],
                price["device_class"],
            )
            assert "state_class" not in price
            assert f"{base_topic}/prices/octopus_agile/C/current" == price["state_topic"]

            before = len(client.on(provider_topic))
            await client.publish(f"{prefix}/status", "online")
            await client.wait_count(provider_topic, before + 1, within=10)

            refresh = component(provider, "button", "refresh")
            await client.publish(refresh["command_topic"], refresh["payload_press"])
            reply = await client.wait_for(f"{base_topic}/response/refresh", within=10)
            assert "ok" == body(reply)["status"]

            region = component(provider, "select", "region")
            assert "J" in region["options"]
            command = region["command_template"].replace("{{ value }}", "J")
            await client.publish(region["command_topic"], command)
            moved = await client.wait_for(
                f"{base_topic}/prices/octopus_agile/J/current",
                lambda m: body(m)["available"],
                within=10,
            )
            assert body(moved)["valid_from"] is not None
            assert default_price("J", _start(body(moved))) == body(moved)["price"]
            updated = await client.wait_for(
                provider_topic, lambda m: bool(m.payload) and "/J/" in m.payload.decode()
            )
            assert (
                price["unique_id"]
                == component(body(updated), "sensor", "current_price")["unique_id"]
            )

            export = {"plugin": "octopus_agile", "region": "C", "direction": "export"}
            await client.publish(
                f"{base_topic}/request/settings/set",
                json.dumps({"key": "energy.providers.agile_export", "value": export}),
            )
            export_topic = f"{prefix}/device/energyd_agile_export/config"
            await device_config(client, export_topic)
            await client.publish(
                f"{base_topic}/request/settings/set",
                json.dumps({"key": "energy.providers.agile_export.enabled", "value": False}),
            )
            await client.wait_for(export_topic, lambda m: m.payload == b"", within=10)


def _start(payload: dict[str, Any]) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(payload["valid_from"].replace("Z", "+00:00"))


class TestCurrencies:
    async def test_a_eur_provider_is_announced_in_euros(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """A EUR plugin's device: prices in EUR/kWh, EUR level bands as the enum's options;
        settings/set refuses a bad band ladder and applies a good one to topic and device."""
        write_plugin(
            tmp_path / "config" / "providers" / "energy",
            "eur_market_provider.py",
            market_plugin("eur_market", price=8.5),
        )
        prefix = f"{base_topic}-ha"
        settings = daemon_settings(
            tmp_path,
            mosquitto.port,
            base_topic,
            "http://127.0.0.1:9",
            energy={"provider_id": "eur_market", "providers": {"eur_market": {"region": "DE"}}},
            mqtt={"discovery_prefix": prefix},
        )
        device_topic = f"{prefix}/device/energyd_eur_market/config"
        level_topic = f"{base_topic}/prices/eur_market/DE/level"
        reply_topic = f"{base_topic}/response/settings/set"
        async with running(settings), collect(mosquitto.port, "#") as client:
            device = await device_config(client, device_topic)
            price = component(device, "sensor", "current_price")
            today_min = component(device, "sensor", "today_min_price")
            level = component(device, "sensor", "price_level")
            assert ("EUR/kWh", "monetary") == (price["unit_of_measurement"], price["device_class"])
            assert "EUR/kWh" == today_min["unit_of_measurement"]
            assert "(v / 100)" in today_min["value_template"]
            assert ["negative", "cheap", "normal", "expensive"] == level["options"]

            key = "energy.providers.eur_market.levels"
            bad = [{"name": "low", "below": 9}, {"name": "high", "below": 3}, {"name": "top"}]
            await client.publish(
                f"{base_topic}/request/settings/set",
                json.dumps({"key": key, "value": bad, "transaction": "bad"}),
            )
            refused = await client.wait_for(
                reply_topic, lambda m: body(m).get("transaction") == "bad", within=10
            )
            assert ("error", "invalid_setting") == (
                body(refused)["status"],
                body(refused)["error"]["code"],
            )
            assert key in json.dumps(body(refused)["error"])

            good = [{"name": "low", "below": 9}, {"name": "high"}]
            await client.publish(
                f"{base_topic}/request/settings/set",
                json.dumps({"key": key, "value": good, "transaction": "good"}),
            )
            applied = await client.wait_for(
                reply_topic, lambda m: body(m).get("transaction") == "good", within=10
            )
            assert "ok" == body(applied)["status"]
            published = await client.wait_for(
                level_topic, lambda m: body(m)["level"] == "low", within=10
            )
            assert [{"name": "low", "below": 9.0}, {"name": "high", "below": None}] == body(
                published
            )["bands"]
            updated = await client.wait_for(
                device_topic, lambda m: b'"options":["low","high"]' in m.payload, within=10
            )
            assert ["low", "high"] == component(body(updated), "sensor", "price_level")["options"]
