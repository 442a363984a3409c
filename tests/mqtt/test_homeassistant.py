"""Home Assistant discovery from the running daemon: configs, re-publish on HA online, the
management entities acting on the daemon, and removal of providers that are gone."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from energyd.config import HttpSettings, Settings
from energyd.mqtt.homeassistant import configuration_url
from tests.mqtt.test_discovery import render_option, render_region
from tests.support import fake_nordpool
from tests.support.broker import Collector, MosquittoBroker, collect, free_port
from tests.support.daemon import daemon_settings, running
from tests.support.fake_octopus import RunningFake
from tests.support.market_plugins import market_plugin
from tests.support.octopus_data import default_price
from tests.support.plugin_files import write_plugin

#: The daemons' instance name (the default, the host name, would differ between machines).
INSTANCE = "pi"


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


def ha_settings(
    tmp_path: Path,
    mosquitto: MosquittoBroker,
    base_topic: str,
    fake_api: RunningFake,
    **sections: Any,
) -> Settings:
    """A daemon of instance :data:`INSTANCE` announcing under ``<base_topic>-ha``."""
    return daemon_settings(
        tmp_path,
        mosquitto.port,
        base_topic,
        fake_api.url,
        mqtt={"discovery_prefix": f"{base_topic}-ha"},
        instance=INSTANCE,
        **sections,
    )


class TestDiscovery:
    async def test_devices_buttons_selects_and_removal(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """Configs are retained; HA online re-sends them; the refresh button and the region
        select work; a provider that stops running loses its device."""
        prefix = f"{base_topic}-ha"
        settings = ha_settings(tmp_path, mosquitto, base_topic, fake_api)
        daemon_topic = f"{prefix}/device/energyd_{INSTANCE}/config"
        provider_topic = f"{prefix}/device/energyd_{INSTANCE}_octopus_agile/config"
        async with running(settings), collect(mosquitto.port, "#") as client:
            daemon = await device_config(client, daemon_topic)
            provider = await device_config(client, provider_topic)
            assert "energyd" == daemon["dev"]["name"]
            assert "Octopus Energy (London)" == provider["dev"]["name"]
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
            south_east = next(o for o in region["options"] if o.startswith("J: "))
            settings_now = body(await client.wait_for(f"{base_topic}/settings"))
            assert "C: London" == render_region(region["value_template"], settings_now)
            command = json.dumps(render_option(region["command_template"], south_east))
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
            assert f"Octopus Energy ({south_east[3:]})" == body(updated)["dev"]["name"]

            export = {"plugin": "octopus_agile", "region": "C", "direction": "export"}
            await client.publish(
                f"{base_topic}/request/settings/set",
                json.dumps({"key": "energy.providers.agile_export", "value": export}),
            )
            export_topic = f"{prefix}/device/energyd_{INSTANCE}_agile_export/config"
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
            instance=INSTANCE,
        )
        device_topic = f"{prefix}/device/energyd_{INSTANCE}_eur_market/config"
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


class TestCurrencyOfTheFeed:
    async def test_a_nord_pool_feed_in_sek_is_announced_in_sek(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """The currency a user picks for a source that quotes in several (Nord Pool's
        ``currency``) is the device's unit, not the plugin's default EUR."""
        prefix = f"{base_topic}-ha"
        async with fake_nordpool.serve() as nordpool:
            settings = daemon_settings(
                tmp_path,
                mosquitto.port,
                base_topic,
                "http://127.0.0.1:9",
                energy={
                    "provider_id": "se",
                    "providers": {
                        "se": {
                            "plugin": "nordpool",
                            "region": "SE3",
                            "currency": "SEK",
                            "base_url": nordpool.url,
                        }
                    },
                },
                mqtt={"discovery_prefix": prefix},
                instance=INSTANCE,
            )
            device_topic = f"{prefix}/device/energyd_{INSTANCE}_se/config"
            async with running(settings), collect(mosquitto.port, "#") as client:
                device = await device_config(client, device_topic)
        price = component(device, "sensor", "current_price")
        assert "SEK/kWh" == price["unit_of_measurement"]


class TestBirth:
    async def test_configs_sent_once_per_birth(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """One `online` on homeassistant/status: each device config is sent once more (not
        twice), and the states after it."""
        prefix = f"{base_topic}-ha"
        settings = ha_settings(tmp_path, mosquitto, base_topic, fake_api)
        configs = [
            f"{prefix}/device/energyd_{INSTANCE}/config",
            f"{prefix}/device/energyd_{INSTANCE}_octopus_agile/config",
        ]
        state = f"{base_topic}/settings"
        current = f"{base_topic}/prices/octopus_agile/C/current"
        async with (
            running(settings),
            collect(mosquitto.port, f"{prefix}/#", f"{base_topic}/#") as client,
        ):
            await client.wait_for(
                current, lambda m: bool(m.payload) and body(m)["available"], within=10
            )
            for topic in configs:
                await device_config(client, topic)
            await asyncio.sleep(1.0)  # start-up publishing settles
            before = {topic: len(client.on(topic)) for topic in [*configs, state]}
            await client.publish(f"{prefix}/status", "online")
            await client.wait_count(state, before[state] + 1, within=10)
            await asyncio.sleep(1.0)  # anything sent twice would be here by now
            sent = {topic: len(client.on(topic)) - before[topic] for topic in configs}
        assert dict.fromkeys(configs, 1) == sent


class TestConfigurationUrl:
    @pytest.mark.parametrize(
        ("host", "expected"),
        [
            ("127.0.0.1", "http://127.0.0.1:8765/"),
            ("0.0.0.0", f"http://{socket.gethostname()}:8765/"),
            ("::", f"http://{socket.gethostname()}:8765/"),
            ("::1", "http://[::1]:8765/"),
            ("energyd.lan", "http://energyd.lan:8765/"),
        ],
    )
    def test_status_page_address(self, host: str, expected: str) -> None:
        """The address of the status page; "every interface" is named by the host name."""
        assert expected == configuration_url(HttpSettings(enabled=True, host=host, port=8765))

    def test_none_without_http(self) -> None:
        """HTTP off (or no settings): no link."""
        assert (None, None) == (
            configuration_url(HttpSettings(enabled=False)),
            configuration_url(None),
        )

    async def test_devices_link_to_the_status_page(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """With HTTP on 0.0.0.0, every device's configuration_url is http://<host name>:port/."""
        prefix = f"{base_topic}-ha"
        port = free_port()
        settings = ha_settings(
            tmp_path,
            mosquitto,
            base_topic,
            fake_api,
            http={"enabled": True, "host": "0.0.0.0", "port": port},
        )
        async with running(settings), collect(mosquitto.port, f"{prefix}/#") as client:
            daemon = await device_config(client, f"{prefix}/device/energyd_{INSTANCE}/config")
            provider = await device_config(
                client, f"{prefix}/device/energyd_{INSTANCE}_octopus_agile/config"
            )
        expected = f"http://{socket.gethostname()}:{port}/"
        assert (expected, expected) == (daemon["dev"]["cu"], provider["dev"]["cu"])


class TestPredbat:
    async def test_predbat_sensor_reads_major_units(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """The Predbat rates sensor's attributes topic holds raw_today with `value` equal to
        the current price's price_major (GBP/kWh: Predbat multiplies by 100)."""
        prefix = f"{base_topic}-ha"
        settings = ha_settings(tmp_path, mosquitto, base_topic, fake_api)
        current_topic = f"{base_topic}/prices/octopus_agile/C/current"
        async with running(settings), collect(mosquitto.port, "#") as client:
            provider = await device_config(
                client, f"{prefix}/device/energyd_{INSTANCE}_octopus_agile/config"
            )
            sensor = component(provider, "sensor", "predbat_rates")
            current = await client.wait_for(
                current_topic, lambda m: bool(m.payload) and body(m)["available"], within=10
            )
            rates = await client.wait_for(
                sensor["json_attributes_topic"],
                lambda m: bool(m.payload) and body(m)["raw_today"],
                within=10,
            )
        now = body(current)
        rate = next(r for r in body(rates)["raw_today"] if r["start"] == now["valid_from"])
        assert (now["price_major"], now["valid_to"]) == (rate["value"], rate["end"])


class TestUpgrade:
    async def test_devices_of_the_old_ids_are_removed(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """The retained configs of a version without the instance in the ids (energyd,
        energyd_<provider>) are emptied at start: no duplicate devices after an upgrade."""
        prefix = f"{base_topic}-ha"
        old = [f"{prefix}/device/energyd/config", f"{prefix}/device/energyd_octopus_agile/config"]
        settings = ha_settings(tmp_path, mosquitto, base_topic, fake_api)
        async with collect(mosquitto.port) as setup:
            for topic in old:
                await setup.publish(topic, '{"dev": {"ids": ["old"]}}', retain=True)
        async with running(settings), collect(mosquitto.port, f"{prefix}/#") as client:
            for topic in old:
                await client.wait_for(topic, lambda m: m.payload == b"", within=10)
            await device_config(client, f"{prefix}/device/energyd_{INSTANCE}_octopus_agile/config")
