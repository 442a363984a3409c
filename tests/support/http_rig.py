"""The HTTP app built from the daemon's parts (:func:`energyd.app.build`): loader and bundled
Octopus plugin, real SQLite, a local Octopus API; and helpers to call it and read its answers."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from energyd.api.operations import Operations
from energyd.api.ports import BrokerStatus, FiguresSource
from energyd.config import HttpSettings, Settings, load_settings
from energyd.core.selection import ProviderSpec
from energyd.core.service import PriceService
from energyd.core.store import PriceStore
from energyd.http import HttpServer, make_http_app
from energyd.mqtt.client import MqttClient
from energyd.providers.loader import EnergyProviderLoader
from energyd.providers.management import ProviderManager
from tests.support.fake_octopus import RunningFake
from tests.support.rig import daemon_parts

PLUGIN = "octopus_agile_provider.py"
BASE = "/api/drivers/energy-providers"


@dataclass
class Rig:
    settings: Settings
    loader: EnergyProviderLoader
    store: PriceStore
    service: PriceService
    manager: ProviderManager
    fake: RunningFake

    async def make_plugin_older(self) -> None:
        """Rewrite the deployed plugin's version to 0.0.1 and reload it."""
        path = self.settings.plugin_dir / PLUGIN
        text = path.read_text()
        older, count = re.subn(
            r'^__version__ = "[^"]*"', '__version__ = "0.0.1"', text, count=1, flags=re.M
        )
        assert 1 == count
        path.write_text(older)
        await self.manager.reload("test")

    def operations(
        self, *, figures: FiguresSource | None = None, broker: BrokerStatus | None = None
    ) -> Operations:
        """The application layer over these parts."""
        # Not Components.operations: an HTTP test chooses the figures source (none, or a stub),
        # where the daemon's operations always share the publisher's.
        return Operations(self.service, self.manager, self.store, figures=figures, broker=broker)


@dataclass
class StubFigures:
    """A figures source that answers ``reply`` and notes who asked."""

    reply: dict[str, Any]
    asked: list[ProviderSpec] = field(default_factory=list)

    async def figures(self, spec: ProviderSpec, now: datetime) -> dict[str, Any]:
        self.asked.append(spec)
        return self.reply


@contextlib.asynccontextmanager
async def http_rig(tmp_path: Path, fake: RunningFake, **extra: Any) -> AsyncIterator[Rig]:
    """Everything the HTTP server serves, built from real parts (nothing fetched yet)."""
    settings = load_settings(
        None,
        config_dir=tmp_path / "config",
        energy={
            "provider_id": "octopus_agile",
            "providers": {
                "octopus_agile": {
                    "region": "C",
                    "base_url": fake.url,
                    "retry_attempts": 1,
                    "retry_base_seconds": 0.01,
                    "retry_budget_seconds": 1,
                }
            },
        },
        refresh={"fetch_timeout_seconds": 10},
        **extra,
    )
    async with daemon_parts(settings) as parts:
        yield Rig(settings, parts.loader, parts.store, parts.service, parts.manager, fake)


@contextlib.asynccontextmanager
async def serving(
    rig: Rig,
    *,
    host: str = "127.0.0.1",
    token: str | None = None,
    mqtt: MqttClient | None = None,
    figures: FiguresSource | None = None,
) -> AsyncIterator[aiohttp.ClientSession]:
    """Serve the app on 127.0.0.1 (``host`` only feeds the auth decision) and a client."""
    settings = HttpSettings(
        enabled=True, host=host, port=0, token=None if token is None else SecretStr(token)
    )
    operations = rig.operations(figures=figures, broker=mqtt)
    app = make_http_app(operations=operations, settings=settings)
    async with (
        HttpServer(app, host="127.0.0.1", port=0) as server,
        aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as client,
    ):
        yield client


async def call(
    client: aiohttp.ClientSession, method: str, path: str, **kwargs: Any
) -> tuple[int, Any]:
    async with client.request(method, path, **kwargs) as response:
        text = await response.text()
        assert response.content_type == "application/json", (path, text[:200])
        return response.status, json.loads(text)


def error_code(body: Any) -> str:
    code: str = body["error"]["code"]
    return code


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def scrape(client: aiohttp.ClientSession) -> dict[str, Any]:
    async with client.get("/metrics") as response:
        assert 200 == response.status
        assert "text/plain; version=0.0.4; charset=utf-8" == response.headers["Content-Type"]
        text = await response.text()
    return {family.name: family for family in text_string_to_metric_families(text)}


def value(families: dict[str, Any], name: str, **labels: str) -> float:
    for family in families.values():
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"no sample {name} {labels}")
