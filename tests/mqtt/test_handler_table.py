"""The MQTT command table without a broker: each command is its operation, answered through
the router the daemon wires (energyd.app.wire), over a real SQLite store and a real plugin."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from energyd.api.arguments import PricesArgs
from energyd.app import Components, Wiring, wire
from energyd.config import load_settings
from tests.mqtt.test_handlers import DOCUMENTED
from tests.support.plugin_files import good_plugin
from tests.support.rig import daemon_parts


@dataclass
class Table:
    parts: Components
    wiring: Wiring

    async def ask(self, command: str, body: dict[str, Any]) -> dict[str, Any]:
        reply: dict[str, Any] = json.loads(
            await self.wiring.router.answer(command, json.dumps(body).encode())
        )
        return reply


@pytest.fixture
async def table(tmp_path: Path) -> AsyncIterator[Table]:
    settings = load_settings(
        None,
        config_dir=tmp_path / "config",
        energy={"provider_id": "demo", "providers": {"demo": {"region": "C"}}},
    )
    async with daemon_parts(settings, {"demo_provider.py": good_plugin("demo")}) as parts:
        table = Table(parts, wire(parts))
        await parts.service.refresh()
        yield table


class TestTable:
    async def test_every_documented_command_is_routed(self, table: Table) -> None:
        """The wired router serves exactly the README's commands."""
        assert DOCUMENTED == table.wiring.router.names()

    async def test_prices_is_the_operation(self, table: Table) -> None:
        """The prices command's data is what Operations.prices answers for the same window."""
        start, end = "2030-01-01T00:00:00Z", "2030-01-01T02:00:00Z"
        reply = await table.ask("prices", {"start": start, "end": end, "transaction": 7})
        expected = await table.wiring.operations.prices(PricesArgs(start=start, end=end))
        assert {"status": "ok", "data": expected, "error": None, "transaction": 7} == reply

    async def test_figures_and_audit(self, table: Table) -> None:
        """figures and audit answer over MQTT as over HTTP (level, stats; audit records)."""
        figures = await table.ask("figures", {})
        audit = await table.ask("audit", {"limit": 5})
        assert ("ok", "ok") == (figures["status"], audit["status"])
        assert {"level", "stats", "windows"} <= set(figures["data"])
        assert [] == audit["data"]["records"]


class TestErrors:
    async def test_unknown_provider(self, table: Table) -> None:
        """A provider that does not run is unknown_provider, the code HTTP gives it too."""
        reply = await table.ask("figures", {"provider": "nope"})
        assert "unknown_provider" == reply["error"]["code"]

    async def test_store_unavailable_everywhere(self, table: Table) -> None:
        """A StoreError (here: a table gone under the daemon) is store_unavailable over MQTT
        (it was `failed` before), as over HTTP."""
        with contextlib.closing(sqlite3.connect(table.parts.settings.db_path)) as db:
            db.execute("DROP TABLE price_slots")
            db.commit()
        reply = await table.ask("prices", {"hours": 1})
        assert "store_unavailable" == reply["error"]["code"]

    async def test_bad_argument(self, table: Table) -> None:
        """An argument the model refuses is invalid_argument, naming the field."""
        reply = await table.ask("cheapest", {"minutes": 0})
        assert "invalid_argument" == reply["error"]["code"]
        assert "minutes" in json.dumps(reply["error"])
