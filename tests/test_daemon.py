"""The whole daemon against a real mosquitto and a local Octopus-shaped API server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from energyd.domain.time import iso_utc, slot_floor
from tests.support.broker import Collector, MosquittoBroker, collect, free_port
from tests.support.daemon import daemon_settings, running
from tests.support.fake_octopus import RunningFake
from tests.support.octopus_data import default_price
from tests.support.plugins import BUNDLED_FILES
from tests.support.process import start_energyd, write_config


def payload(message: Any) -> Any:
    return json.loads(bytes(message.payload))


async def ask(client: Collector, base: str, command: str, body: str) -> dict[str, Any]:
    """Send a JSON request with a fresh transaction and wait for the reply echoing it."""
    marker = os.urandom(4).hex()
    data = json.loads(body)
    data["transaction"] = marker
    await client.publish(f"{base}/request/{command}", json.dumps(data))
    message = await client.wait_for(
        f"{base}/response/{command}", lambda m: payload(m).get("transaction") == marker
    )
    reply: dict[str, Any] = payload(message)
    return reply


def price_at(region: str, start: str) -> float:
    """What the fake API charges for the slot starting at ``start`` (ISO, as published)."""
    return default_price(region, datetime.fromisoformat(start.replace("Z", "+00:00")))


def is_current(body: dict[str, Any]) -> bool:
    """The payload's slot is the current one (or was, when a boundary passed just now)."""
    now = datetime.now(UTC)
    slots = {slot_floor(moment, 30) for moment in (now, now - timedelta(seconds=5))}
    return body["valid_from"] in {iso_utc(start) for start in slots}


class TestPrices:
    async def test_current_price_matches_the_api(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """Within seconds of start the current slot's value_inc_vat is retained on MQTT."""
        settings = daemon_settings(tmp_path, mosquitto.port, base_topic, fake_api.url)
        async with running(settings), collect(mosquitto.port, f"{base_topic}/#") as client:
            current = await client.wait_for(
                f"{base_topic}/prices/octopus_agile/C/current",
                lambda m: payload(m)["available"],
                within=10,
            )
            body = payload(current)
            assert price_at("C", body["valid_from"]) == body["price"]
            assert is_current(body)
            assert ("p/kWh", "GBP", "GBP/kWh") == (
                body["unit"],
                body["currency"],
                body["unit_major"],
            )
            assert round(body["price"] / 100, 6) == body["price_major"]
            status = await client.wait_for(f"{base_topic}/status", lambda m: m.retain or True)
            assert b"online" == bytes(status.payload)
            nxt = await client.wait_for(
                f"{base_topic}/prices/octopus_agile/C/next", lambda m: payload(m)["available"]
            )
            assert body["valid_to"] == payload(nxt)["valid_from"]
            upcoming = await client.wait_for(
                f"{base_topic}/prices/octopus_agile/C/upcoming", lambda m: payload(m)["count"] > 0
            )
            assert body["valid_from"] == payload(upcoming)["slots"][0]["start"]
            providers = await client.wait_for(
                f"{base_topic}/providers",
                lambda m: payload(m)["providers"][0]["health"]["state"] in ("ok", "degraded"),
            )
            plugins = payload(providers)["plugins"]
            assert [(name, "up_to_date") for name in BUNDLED_FILES] == [
                (p["file"], p["status"]) for p in plugins
            ]
        assert any("period_from" in r for r in fake_api.state.requests)

    async def test_restart_publishes_stored_prices_during_an_outage(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """After a restart with the provider unreachable, stored prices are still published."""
        settings = daemon_settings(tmp_path, mosquitto.port, base_topic, fake_api.url)
        topic = f"{base_topic}/prices/octopus_agile/C/current"
        async with running(settings), collect(mosquitto.port, topic) as client:
            await client.wait_for(topic, lambda m: payload(m)["available"], within=10)
        fake_api.state.down = True  # the same API, unreachable
        async with running(settings), collect(mosquitto.port, f"{base_topic}/#") as client:
            fresh = await client.wait_for(  # not the retained one: published by the restart
                topic, lambda m: not m.retain and payload(m)["available"], within=10
            )
            assert price_at("C", payload(fresh)["valid_from"]) == payload(fresh)["price"]
            refresh = await ask(client, base_topic, "refresh", "{}")
            assert "fetch_failed" == refresh["error"]["code"]
            assert "ProviderConnectionError" == refresh["error"]["details"]["runs"][0]["error_type"]
            health = await client.wait_for(  # the retained health names the failure
                f"{base_topic}/providers",
                lambda m: "last fetch failed" in payload(m)["providers"][0]["health"]["message"],
                within=10,
            )
            assert "degraded" == payload(health)["providers"][0]["health"]["state"]
            still = await ask(client, base_topic, "prices", '{"hours": 1}')
            first = still["data"]["slots"][0]
            assert price_at("C", first["start"]) == first["price"]


class TestFigures:
    async def test_derived_topics_and_cheapest(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """Stats, level, windows, Predbat, EMHASS and settings are retained; cheapest answers."""
        settings = daemon_settings(
            tmp_path,
            mosquitto.port,
            base_topic,
            fake_api.url,
            prices={"windows": [{"name": "next_2h", "minutes": 120}]},
        )
        prefix = f"{base_topic}/prices/octopus_agile/C"
        async with running(settings), collect(mosquitto.port, f"{base_topic}/#") as client:
            stats = await client.wait_for(
                f"{prefix}/stats/today", lambda m: payload(m)["count"] > 0, within=10
            )
            assert payload(stats)["min"] <= payload(stats)["mean"] <= payload(stats)["max"]
            level = await client.wait_for(f"{prefix}/level", lambda m: payload(m)["price"])
            assert price_at("C", payload(level)["valid_from"]) == payload(level)["price"]
            window = await client.wait_for(
                f"{prefix}/windows/next_2h", lambda m: payload(m)["available"]
            )
            assert 4 == len(payload(window)["slots"])
            predbat = await client.wait_for(f"{prefix}/predbat", lambda m: payload(m)["raw_today"])
            assert payload(predbat)["raw_today"][0]["value"] is not None
            emhass = await client.wait_for(f"{prefix}/emhass", lambda m: payload(m)["prices"])
            first_step = payload(emhass)
            assert round(price_at("C", first_step["start"]) / 100, 6) == first_step["prices"][0]
            chosen = await client.wait_for(f"{base_topic}/settings")
            assert "C" == payload(chosen)["providers"]["octopus_agile"]["region"]
            reply = await ask(client, base_topic, "cheapest", '{"minutes": 120}')
            assert "ok" == reply["status"], reply
            assert (True, 4) == (reply["data"]["available"], len(reply["data"]["slots"]))
            odd = await ask(client, base_topic, "cheapest", '{"minutes": 60, "earliest": "25:00"}')
            assert "invalid_argument" == odd["error"]["code"]


class TestHttp:
    async def test_http_server_runs_inside_the_daemon(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """With http.enabled the daemon serves health, readiness and the figures."""
        port = free_port()
        settings = daemon_settings(
            tmp_path,
            mosquitto.port,
            base_topic,
            fake_api.url,
            http={"enabled": True, "port": port},
            prices={"windows": [{"name": "next_2h", "minutes": 120}]},
        )
        current = f"{base_topic}/prices/octopus_agile/C/current"
        async with running(settings), collect(mosquitto.port, current) as client:
            await client.wait_for(current, lambda m: payload(m)["available"], within=10)
            async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
                async with http.get("/healthz") as response:
                    assert 200 == response.status
                async with http.get("/readyz") as response:
                    ready = await response.json()
                    assert 200 == response.status, ready
                async with http.get("/api/figures") as response:
                    figures = await response.json()
        assert price_at("C", figures["level"]["valid_from"]) == figures["level"]["price"]
        assert ["next_2h"] == [w["name"] for w in figures["windows"]]


class TestCommands:
    async def test_refresh_status_and_errors(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """refresh, providers/status and malformed requests are each answered."""
        settings = daemon_settings(tmp_path, mosquitto.port, base_topic, fake_api.url)
        async with running(settings), collect(mosquitto.port, f"{base_topic}/#") as client:
            await client.wait_for(f"{base_topic}/status", within=10)
            refresh = await ask(client, base_topic, "refresh", "{}")
            assert "ok" == refresh["status"]
            assert ["ok"] == [run["outcome"] for run in refresh["data"]["runs"]]
            status = await ask(client, base_topic, "providers/status", "{}")
            assert "octopus_agile" == status["data"]["providers"][0]["id"]
            bad = await ask(client, base_topic, "providers/update", '{"name": "../x_provider.py"}')
            assert ("error", "invalid_name") == (bad["status"], bad["error"]["code"])
            unknown = await ask(client, base_topic, "refresh", '{"provider": "nope"}')
            assert "unknown_provider" == unknown["error"]["code"]
            wrong = await ask(client, base_topic, "prices", '{"hours": "many"}')
            assert "invalid_argument" == wrong["error"]["code"]
            await client.publish(f"{base_topic}/request/health", b"{not json")
            broken = await client.wait_for(
                f"{base_topic}/response/health", lambda m: payload(m)["status"] == "error"
            )
            assert "invalid_json" == payload(broken)["error"]["code"]
            health = await ask(client, base_topic, "health", "{}")
            assert health["data"]["mqtt_connected"] is True
            probed = await ask(client, base_topic, "health", '{"probe": true}')
            assert "ok" == probed["data"]["probes"]["octopus_agile"]["state"], probed

    async def test_prices_window(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """The prices command answers a window from the store."""
        settings = daemon_settings(tmp_path, mosquitto.port, base_topic, fake_api.url)
        current = f"{base_topic}/prices/octopus_agile/C/current"
        async with running(settings), collect(mosquitto.port, f"{base_topic}/#") as client:
            await client.wait_for(current, lambda m: payload(m)["available"], within=10)
            reply = await ask(client, base_topic, "prices", '{"hours": 2}')
            slots = reply["data"]["slots"]
            assert 4 <= len(slots) <= 5
            assert price_at("C", slots[0]["start"]) == slots[0]["price"]

    async def test_settings_set_moves_region(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """Changing the region publishes the new region's prices and clears the old topics;
        the change survives a restart; a region the plugin refuses changes nothing."""
        settings = daemon_settings(tmp_path, mosquitto.port, base_topic, fake_api.url)
        old = f"{base_topic}/prices/octopus_agile/C/current"
        new = f"{base_topic}/prices/octopus_agile/J/current"
        async with running(settings), collect(mosquitto.port, f"{base_topic}/#") as client:
            await client.wait_for(old, lambda m: payload(m)["available"], within=10)
            refused = await ask(
                client,
                base_topic,
                "settings/set",
                '{"key": "energy.providers.octopus_agile.region", "value": "Z"}',
            )
            assert "invalid_config" == refused["error"]["code"]
            assert "energy.providers.octopus_agile.region" in refused["error"]["details"]
            reply = await ask(
                client,
                base_topic,
                "settings/set",
                '{"key": "energy.providers.octopus_agile.region", "value": "J"}',
            )
            assert "ok" == reply["status"], reply
            moved = await client.wait_for(new, lambda m: payload(m)["available"], within=10)
            assert price_at("J", payload(moved)["valid_from"]) == payload(moved)["price"]
            await client.wait_for(old, lambda m: m.payload == b"")
            got = await ask(client, base_topic, "settings/get", "{}")
            assert "J" == got["data"]["energy"]["providers"]["octopus_agile"]["region"]
        async with running(settings), collect(mosquitto.port, new) as client:
            again = await client.wait_for(new, lambda m: not m.retain, within=10)
            assert "J" == payload(again)["region"]


class TestBroker:
    async def test_broker_restart_republishes_retained_state(
        self, tmp_path: Path, broker: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """After the broker restarts (state lost), the daemon re-publishes everything."""
        settings = daemon_settings(tmp_path, broker.port, base_topic, fake_api.url)
        topic = f"{base_topic}/prices/octopus_agile/C/current"
        async with running(settings):
            async with collect(broker.port, topic) as client:
                await client.wait_for(topic, lambda m: payload(m)["available"], within=10)
            broker.stop()
            broker.start(forget=True)
            async with collect(broker.port, f"{base_topic}/#") as client:
                back = await client.wait_for(topic, lambda m: payload(m)["available"], within=15)
                assert price_at("C", payload(back)["valid_from"]) == payload(back)["price"]
                await client.wait_for_payload(f"{base_topic}/status", b"online", within=15)


class TestProcess:
    async def test_sigterm_publishes_offline_and_exits_zero(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """`energyd run` stops on SIGTERM within seconds, exit 0, offline retained."""
        config = write_config(
            tmp_path / "energyd.toml",
            config_dir=tmp_path / "config",
            base_url=fake_api.url,
            mqtt_port=mosquitto.port,
            base_topic=base_topic,
        )
        process = await start_energyd(
            config, "run", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        try:
            async with collect(mosquitto.port, f"{base_topic}/#") as client:
                await client.wait_for(
                    f"{base_topic}/prices/octopus_agile/C/current",
                    lambda m: payload(m)["available"],
                    within=15,
                )
                process.send_signal(signal.SIGTERM)
                async with asyncio.timeout(10):
                    code = await process.wait()
                assert 0 == code
                await client.wait_for_payload(f"{base_topic}/status", b"offline")
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.stderr is not None
        log = (await process.stderr.read()).decode()
        assert "daemon.stopped" in log

    async def test_invalid_config_exits_2(self, tmp_path: Path) -> None:
        """check-config names the bad key and exits 2."""
        config = write_config(tmp_path / "bad.toml", config_dir=tmp_path, region="Z")
        process = await start_energyd(
            config,
            "check-config",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), 30)
        assert 2 == process.returncode
        assert "energy.providers.octopus_agile.region" in err.decode()
