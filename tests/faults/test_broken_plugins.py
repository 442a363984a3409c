"""Broken plugins beside the working octopus_agile: each is reported, none stops the others.

Deployed: a syntax error, an exception at import, a fetch that hangs, a fetch that blocks the
event loop, and a plugin answering garbage slots (one provider per kind of garbage).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

from energyd.config import Settings
from tests.faults.support_faults import (
    ask,
    deploy_octopus,
    payload,
    plugin_dir,
    price_at,
    price_rows,
    read_only,
)
from tests.faults.support_plugins import BLOCK_SECONDS, GARBAGE_KINDS, PLUGINS
from tests.support.broker import Collector, MosquittoBroker, collect
from tests.support.daemon import daemon_settings, running
from tests.support.fake_octopus import RunningFake
from tests.support.plugin_files import write_plugin

FETCH_TIMEOUT = 2.0
SLACK_MS = 300.0
LOAD_ERRORS = {"syntax_error": "SyntaxError", "import_raises": "exploded at import"}
#: provider -> a text its health message must contain (the last error)
FETCH_ERRORS = {"hang": "fetch exceeded 2 s"} | {f"garbage_{kind}": "" for kind in GARBAGE_KINDS}


def broken_settings(tmp_path: Path, port: int, base: str, url: str) -> Settings:
    """octopus_agile plus one provider per broken plugin (and per kind of garbage)."""
    config_dir = tmp_path / "config"
    deploy_octopus(config_dir)
    for name, source in PLUGINS.items():
        write_plugin(plugin_dir(config_dir), name, source)
    providers: dict[str, Any] = {
        "octopus_agile": {
            "region": "C",
            "base_url": url,
            "retry_base_seconds": 0.01,
            "retry_budget_seconds": 1,
        },
        "syntax_error": {"plugin": "syntax_error", "region": "C"},
        "import_raises": {"plugin": "import_raises", "region": "C"},
        "hang": {"plugin": "hang", "region": "C"},
        "blocking": {"plugin": "blocking", "region": "C"},
    }
    for kind in GARBAGE_KINDS:
        providers[f"garbage_{kind}"] = {"plugin": "garbage", "region": "C", "garbage": kind}
    return daemon_settings(
        tmp_path,
        port,
        base,
        url,
        energy={"provider_id": "octopus_agile", "providers": providers},
        refresh={"fetch_timeout_seconds": FETCH_TIMEOUT, "retry_min_seconds": 600},
    )


@contextlib.asynccontextmanager
async def broken_daemon(
    tmp_path: Path, port: int, base: str, url: str
) -> AsyncIterator[tuple[Settings, Collector]]:
    settings = broken_settings(tmp_path, port, base, url)
    async with running(settings), collect(port, f"{base}/#") as client:
        yield settings, client


def health_of(message: Any) -> dict[str, dict[str, Any]]:
    """provider id -> health, from a ``providers`` message."""
    return {p["id"]: p["health"] for p in payload(message)["providers"]}


def fetches_done(message: Any) -> bool:
    """Every provider whose fetch must fail has had a fetch recorded (no longer ``unknown``:
    "no fetch yet"; the retained health has no time of this daemon's last attempt)."""
    health = health_of(message)
    return all(health[key]["state"] != "unknown" for key in FETCH_ERRORS)


def fetch_runs(db: Path, provider: str) -> list[tuple[Any, ...]]:
    with read_only(db) as connection:
        return connection.execute(
            "SELECT outcome, duration_ms, error_type, error FROM fetch_runs"
            " WHERE provider_id = ? ORDER BY started_at_ms",
            (provider,),
        ).fetchall()


def is_iso(text: object) -> bool:
    try:
        datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


class TestBrokenPlugins:
    async def test_broken_ones_reported_and_the_rest_runs(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """Load and fetch failures are reported; octopus_agile publishes; settings/set works."""
        current = f"{base_topic}/prices/octopus_agile/C/current"
        async with broken_daemon(tmp_path, mosquitto.port, base_topic, fake_api.url) as (
            settings,
            client,
        ):
            price = payload(
                await client.wait_for(current, lambda m: payload(m)["available"], within=15)
            )
            overview = await client.wait_for(
                f"{base_topic}/providers", fetches_done, within=FETCH_TIMEOUT + 10
            )
            changed = await ask(
                client,
                base_topic,
                "settings/set",
                {"key": "energy.providers.octopus_agile.region", "value": "A"},
                within=15,
            )
            moved = await client.wait_for(
                f"{base_topic}/prices/octopus_agile/A/current",
                lambda m: payload(m)["available"],
                within=10,
            )
        db = settings.db_path
        assert price_at(price["valid_from"]) == price["price"]
        plugins = {p["file"]: p for p in payload(overview)["plugins"]}
        health = health_of(overview)
        for key, text in LOAD_ERRORS.items():
            plugin = plugins[f"{key}_provider.py"]
            assert ("load_error", True) == (plugin["status"], text in (plugin["error"] or ""))
            message = health[key]["message"]
            assert ("error", True) == (health[key]["state"], "failed to load" in message)
        for key, text in FETCH_ERRORS.items():
            assert "error" == health[key]["state"], (key, health[key])
            assert text in health[key]["message"], (
                key,
                health[key],
            )  # "no prices fetched yet: ..."
        runs = fetch_runs(db, "hang")
        assert ["error"] * len(runs) == [run[0] for run in runs]
        assert all(run[1] <= FETCH_TIMEOUT * 1000 + SLACK_MS for run in runs), runs
        garbage = {kind: fetch_runs(db, f"garbage_{kind}") for kind in GARBAGE_KINDS}
        assert dict.fromkeys(GARBAGE_KINDS, "SlotValidationError") == {
            kind: runs[-1][2] for kind, runs in garbage.items()
        }, garbage
        assert {kind: [] for kind in GARBAGE_KINDS} == {
            kind: price_rows(db, f"garbage_{kind}") for kind in GARBAGE_KINDS
        }
        assert "ok" == changed["status"], changed
        assert price_at(payload(moved)["valid_from"], "A") == payload(moved)["price"]

    async def test_blocking_plugin_named_in_health(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """A fetch_prices that blocks the loop is named in health (with when, ``loop_block``)
        and in the providers topic's message (no time there: only this daemon knows it)."""
        async with broken_daemon(tmp_path, mosquitto.port, base_topic, fake_api.url) as (
            _,
            client,
        ):
            await client.wait_for(f"{base_topic}/status", within=15)
            deadline = time.monotonic() + 5  # the first fetch runs at start; named by then
            while True:
                reply = await ask(client, base_topic, "health", {}, within=10)
                blocking = reply["data"]["providers"]["blocking"]
                block = blocking.get("loop_block")
                if block is not None or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)

            def named(message: Any) -> bool:
                return "blocked the event loop" in health_of(message)["blocking"]["message"]

            with contextlib.suppress(TimeoutError):  # without it: the last one, compared below
                await client.wait_for(f"{base_topic}/providers", named, within=5)
            retained = [m for m in client.on(f"{base_topic}/providers") if named(m)] or (
                client.on(f"{base_topic}/providers")[-1:]
            )
        assert {"seconds": True, "call": "fetch_prices", "at": True} == {
            "seconds": block and block["seconds"] >= BLOCK_SECONDS,
            "call": block and block["call"],
            "at": block and is_iso(block["at"]),
        }, blocking
        assert "blocked the event loop" in blocking["message"], blocking
        assert {} == blocking.get("derived_errors"), blocking
        loop = reply["data"].get("event_loop") or {}
        assert {"lag_seconds", "max_lag_seconds", "blocked_by"} <= set(loop), reply["data"]
        published = health_of(retained[0])["blocking"]
        assert ("degraded", None) == (published["state"], published.get("loop_block")), published
        assert "blocked the event loop" in published["message"], published
