"""The whole daemon in-process, facing stale slots and a plugin that blocks its event loop
(issue 7, items 5 and 8): it goes on, and says what happened."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog

from energyd.app import build
from energyd.config import load_settings
from energyd.core.loopwatch import TICK_SECONDS
from energyd.core.store import PriceStore
from energyd.domain.records import FetchOutcome, FetchRun
from energyd.providers.base import EnergyPriceSlot
from tests.core.test_service_faults import BLOCKING
from tests.support.broker import MosquittoBroker, collect, free_port
from tests.support.daemon import daemon_settings, running
from tests.support.identity import source_of
from tests.support.plugins import BUNDLED_PLUGINS
from tests.test_daemon import ask
from tests.test_notify import FakeNotifySocket


@pytest.fixture
def systemd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeNotifySocket]:
    """systemd's end of NOTIFY_SOCKET, set in this process's environment for the daemon."""
    path = str(tmp_path / "notify.sock")
    fake = FakeNotifySocket(path)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    try:
        yield fake
    finally:
        fake.close()


def payload(message: Any) -> Any:
    return json.loads(bytes(message.payload))


def health_of(message: Any) -> dict[str, Any]:
    health: dict[str, Any] = payload(message)["providers"][0]["health"]
    return health


class TestStaleSlots:
    async def test_five_second_slots_in_the_store_do_not_stop_the_daemon(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """5-second slots left in the store by an older version: the daemon starts, publishes,
        keeps running, and health names the topic it cannot build."""
        dead = f"http://127.0.0.1:{free_port()}"
        settings = daemon_settings(tmp_path, mosquitto.port, base_topic, dead)
        start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
        step = timedelta(seconds=5)
        slots = [EnergyPriceSlot(start + i * step, start + (i + 1) * step, 9.0) for i in range(720)]
        run = FetchRun("octopus_agile", "C", datetime.now(UTC), FetchOutcome.OK, slots=720)
        settings.db_path.parent.mkdir(parents=True, exist_ok=True)
        async with PriceStore(settings.db_path) as store:
            source = source_of(settings, "octopus_agile")
            await store.save_fetch("octopus_agile", "C", slots, run, source=source)
        async with (
            running(settings) as daemon,
            collect(mosquitto.port, f"{base_topic}/#") as client,
        ):
            providers = await client.wait_for(
                f"{base_topic}/providers", lambda m: health_of(m)["derived_errors"], within=5
            )
            level = await client.wait_for(f"{base_topic}/prices/octopus_agile/C/level")
            reply = await ask(client, base_topic, "health", "{}")
            assert not daemon.done()
        errors = health_of(providers)["derived_errors"]
        assert ["emhass"] == list(errors)
        assert errors["emhass"].startswith("ValueError: ")
        assert 9.0 == payload(level)["price"]
        assert errors == reply["data"]["providers"]["octopus_agile"]["derived_errors"]


class TestBlockingPlugin:
    async def test_a_blocking_plugin_is_named_everywhere(
        self,
        tmp_path: Path,
        mosquitto: MosquittoBroker,
        base_topic: str,
        systemd: FakeNotifySocket,
    ) -> None:
        """fetch_prices sleeping 0.7 s: the log, energyd/providers, the health reply (with the
        event loop's figures) and systemd's STATUS= all name the plugin, the call and the time."""
        plugins = tmp_path / "config" / "providers" / "energy"
        plugins.mkdir(parents=True)
        (plugins / "blocking_provider.py").write_text(BLOCKING)
        settings = daemon_settings(
            tmp_path,
            mosquitto.port,
            base_topic,
            "http://unused",
            energy={
                "provider_id": "blocking",
                "providers": {"blocking": {"region": "C", "block": 0.7}},
            },
        )
        with structlog.testing.capture_logs() as logs:
            async with (
                running(settings) as daemon,
                collect(mosquitto.port, f"{base_topic}/#") as client,
            ):
                providers = await client.wait_for(  # the retained health: no time of the block
                    f"{base_topic}/providers",
                    lambda m: "blocked the event loop" in health_of(m)["message"],
                    within=5,
                )
                status = await systemd.wait_for(
                    lambda m: "blocking blocked the event loop" in m, within=5
                )
                await asyncio.sleep(0.3)  # a loop-watch tick after the block
                reply = await ask(client, base_topic, "health", "{}")
                assert not daemon.done()
        assert ("degraded", None) == (
            health_of(providers)["state"],
            health_of(providers).get("loop_block"),
        )
        block = reply["data"]["providers"]["blocking"]["loop_block"]
        assert ("fetch_prices", True) == (block["call"], block["seconds"] >= 0.7)
        assert re.search(r"blocking blocked the event loop for 0\.[78] s in fetch_prices", status)
        assert status.startswith("STATUS=blocking: degraded; ")
        loop = reply["data"]["event_loop"]
        # the monitor wakes at most one tick early into a block: lag >= block - tick
        assert loop["max_lag_seconds"] >= 0.7 - TICK_SECONDS
        assert "blocking" == loop["blocked_by"]
        assert loop["lag_seconds"] < 0.5
        blocked = [e for e in logs if e["event"] == "loop.blocked"]
        assert [("blocking", "fetch_prices")] == [(e["provider"], e["call"]) for e in blocked]


class TestUpgrade:
    async def test_a_plugin_new_in_this_release_is_deployed_when_configured(
        self, tmp_path: Path
    ) -> None:
        """A folder deployed by an older energyd (Octopus only): a provider on a plugin that
        ships now (Nord Pool) starts with it deployed, and the old file is left as it was."""
        deployed = tmp_path / "config" / "providers" / "energy"
        deployed.mkdir(parents=True)
        old = BUNDLED_PLUGINS / "octopus_agile_provider.py"
        (deployed / old.name).write_bytes(old.read_bytes() + b"\n# edited by the user\n")
        settings = load_settings(
            None,
            config_dir=tmp_path / "config",
            energy={
                "provider_id": "se",
                "providers": {"se": {"plugin": "nordpool", "region": "SE3", "currency": "SEK"}},
            },
        )
        async with build(settings) as parts:
            assert "nordpool" in parts.loader.providers
            assert None is parts.service.problem(parts.service.spec("se"))
        assert ["nordpool_provider.py", "octopus_agile_provider.py"] == sorted(
            p.name for p in deployed.iterdir()
        )
        assert (deployed / old.name).read_bytes().endswith(b"# edited by the user\n")
