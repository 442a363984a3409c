"""The MQTT commands (energyd.mqtt.handlers): the whole daemon against a real mosquitto and a
local Octopus-shaped API; each new command, and the one definition of healthy."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from energyd.domain.calendar import MarketCalendar
from tests.support.broker import Collector, MosquittoBroker, collect, free_port
from tests.support.daemon import daemon_settings, running
from tests.support.fake_octopus import RunningFake

UK = MarketCalendar.of("Europe/London")
#: The commands README's table lists, new ones included.
DOCUMENTED = [
    "audit",
    "cheapest",
    "figures",
    "health",
    "prices",
    "providers/reload",
    "providers/status",
    "providers/update",
    "providers/update-all",
    "refresh",
    "settings/get",
    "settings/reset",
    "settings/set",
]


async def ask(client: Collector, base: str, command: str, body: dict[str, Any]) -> Any:
    """Send a request with a fresh transaction; the reply that echoes it."""
    marker = os.urandom(4).hex()
    await client.publish(f"{base}/request/{command}", json.dumps({**body, "transaction": marker}))
    message = await client.wait_for(
        f"{base}/response/{command}",
        lambda m: json.loads(bytes(m.payload)).get("transaction") == marker,
        within=10,
    )
    return json.loads(bytes(message.payload))


@pytest.fixture
async def daemon(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
) -> AsyncIterator[tuple[Collector, int]]:
    """A running daemon with prices stored, a standing window, HTTP on, and a client."""
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
    async with running(settings), collect(mosquitto.port, f"{base_topic}/#") as client:
        await client.wait_for(
            current, lambda m: json.loads(bytes(m.payload))["available"], within=10
        )
        yield client, port


class TestTable:
    async def test_every_documented_command_is_served(
        self, daemon: tuple[Collector, int], base_topic: str
    ) -> None:
        """The daemon serves exactly the commands the README lists (unknown_command says)."""
        client, _ = daemon
        reply = await ask(client, base_topic, "does-not-exist", {})
        assert ("unknown_command", DOCUMENTED) == (
            reply["error"]["code"],
            reply["error"]["details"]["commands"],
        )


class TestNewCommands:
    async def test_prices_of_the_market_day(
        self, daemon: tuple[Collector, int], base_topic: str
    ) -> None:
        """prices takes day=today|tomorrow, the market's local day, as /api/prices does."""
        client, _ = daemon
        for day, offset in (("today", 0), ("tomorrow", 1)):
            reply = await ask(client, base_topic, "prices", {"day": day})
            local = UK.local_date(datetime.now(UTC)) + timedelta(days=offset)
            start, end = UK.day_bounds(local)
            assert ("ok", local.isoformat()) == (reply["status"], reply["data"]["date"])
            assert start == datetime.fromisoformat(reply["data"]["start"])
            assert end == datetime.fromisoformat(reply["data"]["end"])
        both = await ask(client, base_topic, "prices", {"day": "today", "hours": 2})
        assert "invalid_argument" == both["error"]["code"]

    async def test_figures_over_mqtt_and_http_agree(
        self, daemon: tuple[Collector, int], base_topic: str
    ) -> None:
        """figures answers level, stats and windows, the same as GET /api/figures."""
        client, port = daemon
        reply = await ask(client, base_topic, "figures", {"provider": "octopus_agile"})
        async with (
            aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http,
            http.get("/api/figures") as response,
        ):
            over_http = await response.json()
        data = reply["data"]
        assert ["next_2h"] == [w["name"] for w in data["windows"]]
        assert over_http["windows"][0]["start"] == data["windows"][0]["start"]
        assert over_http["level"]["price"] == data["level"]["price"]
        unknown = await ask(client, base_topic, "figures", {"provider": "nope"})
        assert "unknown_provider" == unknown["error"]["code"]

    async def test_audit(self, daemon: tuple[Collector, int], base_topic: str) -> None:
        """audit lists the newest records, at most limit; actor mqtt for MQTT's actions."""
        client, _ = daemon
        await ask(client, base_topic, "providers/reload", {})
        await ask(client, base_topic, "providers/update-all", {})
        reply = await ask(client, base_topic, "audit", {"limit": 1})
        assert [("update_all", "mqtt")] == [
            (r["action"], r["actor"]) for r in reply["data"]["records"]
        ]
        bad = await ask(client, base_topic, "audit", {"limit": 0})
        assert ("invalid_argument", ["limit"]) == (
            bad["error"]["code"],
            list(bad["error"]["details"]),
        )


class TestRepliesThatSayWhatHappened:
    async def test_settings_reset(self, daemon: tuple[Collector, int], base_topic: str) -> None:
        """settings/reset drops an override ({"keys"} or {"all"}); the file's region applies
        again; a key that is not overridden is invalid_setting; neither form is refused."""
        client, _ = daemon
        key = "energy.providers.octopus_agile.region"
        await ask(client, base_topic, "settings/set", {"key": key, "value": "J"})
        reply = await ask(client, base_topic, "settings/reset", {"keys": [key]})
        assert ("ok", [key], [], "C") == (
            reply["status"],
            reply["data"]["reset"],
            reply["data"]["overrides"],
            reply["data"]["energy"]["providers"]["octopus_agile"]["region"],
        )
        again = await ask(client, base_topic, "settings/reset", {"keys": [key]})
        assert ("invalid_setting", [key]) == (
            again["error"]["code"],
            list(again["error"]["details"]),
        )
        await ask(client, base_topic, "settings/set", {"key": key, "value": "J"})
        every = await ask(client, base_topic, "settings/reset", {"all": True})
        assert [key] == every["data"]["reset"]
        neither = await ask(client, base_topic, "settings/reset", {})
        assert "invalid_argument" == neither["error"]["code"]

    async def test_a_failed_refresh_is_an_error(
        self, daemon: tuple[Collector, int], base_topic: str, fake_api: RunningFake
    ) -> None:
        """A refresh whose fetch fails replies status error, fetch_failed, with the run."""
        client, _ = daemon
        fake_api.state.faults.extend([500] * 20)
        reply = await ask(client, base_topic, "refresh", {})
        fake_api.state.faults.clear()
        assert ("error", None, "fetch_failed") == (
            reply["status"],
            reply["data"],
            reply["error"]["code"],
        )
        (run,) = reply["error"]["details"]["runs"]
        assert ("error", "ProviderServerError") == (run["outcome"], run["error_type"])

    async def test_unknown_keys_and_plain_reasons(
        self, daemon: tuple[Collector, int], base_topic: str
    ) -> None:
        """An unknown key is refused with a did-you-mean; a bad time says what it takes."""
        client, _ = daemon
        typo = await ask(client, base_topic, "cheapest", {"minutes": 60, "earlist": "00:00"})
        assert ("invalid_argument", {"earlist": "unknown key; did you mean 'earliest'?"}) == (
            typo["error"]["code"],
            typo["error"]["details"],
        )
        bad = await ask(client, base_topic, "cheapest", {"minutes": 60, "earliest": "25:00"})
        assert bad["error"]["details"]["earliest"].startswith("expected HH:MM")
        part = await ask(client, base_topic, "cheapest", {"minutes": 45})
        assert "30-minute slots" in part["error"]["message"]

    async def test_update_by_provider_id(
        self, daemon: tuple[Collector, int], base_topic: str
    ) -> None:
        """providers/update takes the provider id; an up-to-date plugin is "already up to
        date" (ok)."""
        client, _ = daemon
        reply = await ask(client, base_topic, "providers/update", {"name": "octopus_agile"})
        assert ("ok", "octopus_agile_provider.py", "already up to date") == (
            reply["status"],
            reply["data"]["file"],
            reply["data"]["message"],
        )


class TestOneDefinitionOfHealthy:
    async def test_healthy_daemon(self, daemon: tuple[Collector, int], base_topic: str) -> None:
        """health says ok and /readyz 200, naming the same parts alike."""
        client, port = daemon
        health = (await ask(client, base_topic, "health", {}))["data"]
        async with (
            aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http,
            http.get("/readyz") as response,
        ):
            ready = await response.json()
            status = response.status
        assert (True, True, 200) == (health["ok"], health["mqtt_connected"], status)
        assert set(ready["checks"]) == set(health["checks"])
        assert {name: c["ok"] for name, c in ready["checks"].items()} == {
            name: c["ok"] for name, c in health["checks"].items()
        }

    async def test_a_provider_in_error_fails_both(
        self,
        tmp_path: Path,
        mosquitto: MosquittoBroker,
        base_topic: str,
        fake_api: RunningFake,
    ) -> None:
        """A provider whose plugin is missing: health ok false and /readyz 503, both naming
        that provider."""
        port = free_port()
        settings = daemon_settings(
            tmp_path,
            mosquitto.port,
            base_topic,
            fake_api.url,
            http={"enabled": True, "port": port},
            energy={
                "providers": {
                    "octopus_agile": {"region": "C", "base_url": fake_api.url},
                    "ghost": {"plugin": "no_such_plugin", "region": "C"},
                }
            },
        )
        current = f"{base_topic}/prices/octopus_agile/C/current"
        async with running(settings), collect(mosquitto.port, f"{base_topic}/#") as client:
            await client.wait_for(
                current, lambda m: json.loads(bytes(m.payload))["available"], within=10
            )
            health = (await ask(client, base_topic, "health", {}))["data"]
            async with (
                aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http,
                http.get("/readyz") as response,
            ):
                ready = await response.json()
                status = response.status
        assert (False, 503) == (health["ok"], status)
        assert ["ghost"] == health["checks"]["prices"]["failing"]
        assert ["ghost"] == ready["checks"]["prices"]["failing"]
        assert "error" == health["providers"]["ghost"]["state"]
        assert "ghost: error" in ready["checks"]["prices"]["detail"]
