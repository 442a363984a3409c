"""The HTTP server: real loader and bundled Octopus plugin, real SQLite, a local Octopus API."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from multidict import CIMultiDict
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from energyd.config import HttpSettings, MqttSettings, Settings, load_settings
from energyd.core.selection import ProviderSpec
from energyd.core.service import PriceService
from energyd.core.store import PriceStore
from energyd.domain.records import FetchOutcome, FetchRun
from energyd.exceptions import CommandError, ConfigError
from energyd.http import (
    HttpServer,
    WritePolicy,
    authorize,
    is_loopback,
    make_http_app,
    write_policy,
)
from energyd.http.metrics import Mark, Metric, render, unseen_runs
from energyd.mqtt.client import MqttClient
from energyd.mqtt.commands import CommandRouter
from energyd.providers.loader import EnergyProviderLoader, bundled_plugin_dir
from energyd.providers.management import ProviderManager
from tests.support.broker import MosquittoBroker
from tests.support.fake_octopus import RunningFake

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
    loader = EnergyProviderLoader(settings.config_dir, bundled_plugin_dir())
    loader.deploy_bundled_if_empty()
    loader.load_all()
    async with PriceStore(settings.db_path) as store, aiohttp.ClientSession() as session:
        service = PriceService(settings, store, loader, session)
        await service.start()
        manager = ProviderManager(loader, store, on_change=service.plugins_changed)
        yield Rig(settings, loader, store, service, manager, fake)


@contextlib.asynccontextmanager
async def serving(
    rig: Rig,
    *,
    host: str = "127.0.0.1",
    token: str | None = None,
    mqtt: MqttClient | None = None,
    figures: Any = None,
) -> AsyncIterator[aiohttp.ClientSession]:
    """Serve the app on 127.0.0.1 (``host`` only feeds the auth decision) and a client."""
    settings = HttpSettings(
        enabled=True, host=host, port=0, token=None if token is None else SecretStr(token)
    )
    app = make_http_app(
        service=rig.service, manager=rig.manager, mqtt=mqtt, settings=settings, figures=figures
    )
    async with (
        HttpServer(app, host="127.0.0.1", port=0) as server,
        aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as client,
    ):
        yield client


@pytest.fixture
async def rig(tmp_path: Path, fake_api: RunningFake) -> AsyncIterator[Rig]:
    async with http_rig(tmp_path, fake_api) as built:
        yield built


@pytest.fixture
async def client(rig: Rig) -> AsyncIterator[aiohttp.ClientSession]:
    async with serving(rig) as session:
        yield session


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


class TestPluginManagement:
    async def test_status_lists_plugins_and_provider_health(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """The status endpoint lists every plugin file and each running provider's health."""
        await rig.service.refresh()
        status, body = await call(client, "GET", f"{BASE}/status")
        assert 200 == status
        assert [(PLUGIN, "up_to_date")] == [(p["file"], p["status"]) for p in body["plugins"]]
        assert ["octopus_agile"] == [p["id"] for p in body["providers"]]
        assert "octopus_agile" == body["selected"]
        expected = await rig.service.overview()
        assert expected["plugins"] == body["plugins"]
        assert (
            expected["providers"][0]["health"]["last_success"]
            == (body["providers"][0]["health"]["last_success"])
        )

    async def test_update_copies_the_bundled_plugin_and_audits_it(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """Updating an outdated plugin reloads it and writes an audit record by "http"."""
        await rig.make_plugin_older()
        status, body = await call(client, "POST", f"{BASE}/update/{PLUGIN}")
        assert 200 == status
        bundled = rig.loader.metadata("octopus_agile").version
        assert ("update", PLUGIN, "0.0.1", bundled, "http", True) == (
            body["action"],
            body["file"],
            body["version_before"],
            body["version_after"],
            body["actor"],
            body["ok"],
        )
        stored = (await rig.store.audit_log(1))[0].as_json()
        assert {k: v for k, v in stored.items() if k != "at"} == {
            k: v for k, v in body.items() if k != "at"
        }
        _, after = await call(client, "GET", f"{BASE}/status")
        assert "up_to_date" == after["plugins"][0]["status"]

    async def test_update_all_updates_then_has_nothing_to_do(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """Update-all updates the outdated plugin once, then reports nothing to update."""
        await rig.make_plugin_older()
        status, body = await call(client, "POST", f"{BASE}/update-all")
        assert 200 == status
        assert [(PLUGIN, "0.0.1", "http")] == [
            (r["file"], r["version_before"], r["actor"]) for r in body["updates"]
        ]
        _, again = await call(client, "POST", f"{BASE}/update-all")
        assert [("*", "nothing to update")] == [(r["file"], r["message"]) for r in again["updates"]]
        actions = [(r.action, r.actor) for r in await rig.store.audit_log(10)]
        assert [("update_all", "http"), ("update_all", "http"), ("reload", "test")] == actions

    async def test_reload_is_audited(self, rig: Rig, client: aiohttp.ClientSession) -> None:
        """Reload re-imports the plugins and records who asked."""
        status, body = await call(client, "POST", f"{BASE}/reload")
        assert 200 == status
        assert ("reload", "http", "loaded: octopus_agile") == (
            body["action"],
            body["actor"],
            body["message"],
        )

    @pytest.mark.parametrize(
        ("name", "status", "code"),
        [
            ("..%2F..%2Fetc%2Fpasswd", 400, "invalid_name"),
            ("..%2F..%2Fetc%2Foctopus_agile_provider.py", 400, "invalid_name"),
            ("evil.py", 400, "invalid_name"),
            ("Octopus_provider.py", 400, "invalid_name"),
            ("octopus_agile_provider.py%00", 400, "invalid_name"),
            ("x" * 300 + "_provider.py%0a", 400, "invalid_name"),
            ("nosuch_provider.py", 404, "unknown_provider"),
        ],
    )
    async def test_bad_plugin_names_are_refused_and_audited(
        self, rig: Rig, client: aiohttp.ClientSession, name: str, status: int, code: str
    ) -> None:
        """Bad or unknown plugin names get a 4xx code, an audit record, and touch no file."""
        before = sorted(p.name for p in rig.settings.config_dir.rglob("*"))
        got, body = await call(client, "POST", f"{BASE}/update/{name}")
        assert (status, code) == (got, error_code(body))
        newest = (await rig.store.audit_log(1))[0]
        assert ("update", False, "http") == (newest.action, newest.ok, newest.actor)
        assert len(newest.file) <= 200
        assert before == sorted(p.name for p in rig.settings.config_dir.rglob("*"))

    @pytest.mark.parametrize("name", ["../../etc/passwd", "%2E%2E", "%2e%2e/%2e%2e/etc/passwd"])
    async def test_dot_segments_never_reach_the_handler(
        self, rig: Rig, client: aiohttp.ClientSession, name: str
    ) -> None:
        """A path whose dot segments normalise away is a plain 404, nothing audited."""
        async with client.post(f"{BASE}/update/{name}") as response:
            assert 404 == response.status
            assert "not_found" == error_code(await response.json())
        assert [] == await rig.store.audit_log(10)


class TestSettings:
    async def test_get_shows_effective_settings_with_secrets_redacted(
        self, tmp_path: Path, fake_api: RunningFake
    ) -> None:
        """GET /api/settings is the service's view: passwords and tokens redacted."""
        extra = {"mqtt": {"password": "hunter2"}, "http": {"token": "s3cret-token"}}
        async with http_rig(tmp_path, fake_api, **extra) as rig, serving(rig) as client:
            async with client.get("/api/settings") as response:
                text = await response.text()
            assert 200 == response.status
            assert "hunter2" not in text
            assert "s3cret-token" not in text
            assert rig.service.settings_view() == json.loads(text)
            assert "**********" == json.loads(text)["mqtt"]["password"]

    async def test_put_validates_persists_applies_and_fetches(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """A good change is applied, persisted as an override, and triggers a fetch."""
        payload = {"values": {"energy.providers.octopus_agile.region": "J"}}
        status, body = await call(client, "PUT", "/api/settings", json=payload)
        assert 200 == status
        assert "J" == body["energy"]["providers"]["octopus_agile"]["region"]
        assert [("octopus_agile", "J", "ok")] == [
            (r["provider"], r["region"], r["outcome"]) for r in body["runs"]
        ]
        assert {"energy.providers.octopus_agile.region": "J"} == await rig.store.get_overrides()
        assert "J" == rig.service.spec().region

    async def test_plugin_rejection_is_422_per_field(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """The plugin's validate_config errors come back per field; nothing is persisted."""
        payload = {"values": {"energy.providers.octopus_agile.region": "Z"}}
        status, body = await call(client, "PUT", "/api/settings", json=payload)
        assert (422, "invalid_config") == (status, error_code(body))
        assert ["energy.providers.octopus_agile.region"] == list(body["error"]["details"])
        assert {} == await rig.store.get_overrides()

    @pytest.mark.parametrize(
        ("values", "field"),
        [
            ({"mqtt.host": "elsewhere"}, "mqtt.host"),
            ({"energy.provider_id": "nope"}, "energy.provider_id"),
            ({"energy.provider_id": 5}, "energy.provider_id"),
            ({"energy.providers.octopus_agile": "not an object"}, "energy.providers.octopus_agile"),
        ],
    )
    async def test_bad_keys_and_shapes_are_422_per_field(
        self, client: aiohttp.ClientSession, values: dict[str, Any], field: str
    ) -> None:
        """Keys that cannot change at run time, and bad shapes, are named in the details."""
        status, body = await call(client, "PUT", "/api/settings", json={"values": values})
        assert (422, "invalid_setting") == (status, error_code(body))
        assert [field] == list(body["error"]["details"])

    @pytest.mark.parametrize(
        ("data", "code"),
        [
            (b"{not json", "invalid_json"),
            (b'{"values": {"energy.provider_id": NaN}}', "invalid_json"),
            (b'{"values": {"energy.providers.octopus_agile.note": 1e999}}', "invalid_json"),
            (b'{"values": {"energy.providers.octopus_agile.note": -Infinity}}', "invalid_json"),
            (b"\xff\xfe", "invalid_json"),
            (b'{"values": {"energy.providers.octopus_agile.\\ud800": 1}}', "invalid_json"),
            (b'{"values": {"energy.providers.octopus_agile.note": "\\udfff"}}', "invalid_json"),
            (b"[" * 100_00 + b"]" * 100_00, "invalid_json"),
            (b'{"values": {"energy.provider_id": ' + b"1" * 5000 + b"}}", "invalid_json"),
            (b"[]", "invalid_payload"),
            (b'"energy.provider_id"', "invalid_payload"),
            (b'{"energy.provider_id": "octopus_agile"}', "invalid_payload"),
            (b'{"values": ["energy.provider_id"]}', "invalid_payload"),
            (b'{"values": {}, "extra": 1}', "invalid_payload"),
        ],
    )
    async def test_bad_bodies_are_400(
        self, client: aiohttp.ClientSession, data: bytes, code: str
    ) -> None:
        """Bodies that are not JSON, or not {"values": {...}}, are refused with a 400."""
        status, body = await call(client, "PUT", "/api/settings", data=data)
        assert (400, code) == (status, error_code(body))

    async def test_empty_values_are_422(self, client: aiohttp.ClientSession) -> None:
        """An empty change set is a settings error, not a silent success."""
        status, body = await call(client, "PUT", "/api/settings", json={"values": {}})
        assert (422, "invalid_setting") == (status, error_code(body))

    async def test_huge_body_is_413(self, client: aiohttp.ClientSession) -> None:
        """A body over 64 KiB is refused before it is parsed."""
        big = json.dumps({"values": {"energy.providers.octopus_agile.note": "x" * 70_000}})
        status, body = await call(client, "PUT", "/api/settings", data=big)
        assert (413, "payload_too_large") == (status, error_code(body))


class TestPrices:
    async def test_default_window_is_the_next_24_hours(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """Without start and end the answer covers now .. +24 h, as stored."""
        await rig.service.refresh()
        status, body = await call(client, "GET", "/api/prices")
        assert 200 == status
        start = datetime.fromisoformat(body["start"])
        end = datetime.fromisoformat(body["end"])
        assert timedelta(hours=24) == end - start
        stored = await rig.store.slots("octopus_agile", "C", start, end)
        assert [iso(s.valid_from) for s in stored] == [s["start"] for s in body["slots"]]
        assert ("octopus_agile", "C", "GBP") == (body["provider"], body["region"], body["currency"])
        first = body["slots"][0]
        assert (
            datetime.fromisoformat(first["start"]) <= start < datetime.fromisoformat(first["end"])
        )

    async def test_explicit_window_accepts_offsets(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """start/end with an offset (also a '+' left unencoded) select that window."""
        await rig.service.refresh()
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        start, end = now - timedelta(hours=2), now + timedelta(hours=3)
        query = f"/api/prices?provider=octopus_agile&start={start.isoformat()}&end={iso(end)}"
        status, body = await call(client, "GET", query)
        assert 200 == status
        assert (iso(start), iso(end), 10) == (body["start"], body["end"], len(body["slots"]))
        query = f"/api/prices?start={iso(start)}&hours=1.5"
        status, body = await call(client, "GET", query)
        assert (200, iso(start + timedelta(hours=1.5)), 3) == (
            status,
            body["end"],
            len(body["slots"]),
        )

    @pytest.mark.parametrize("day", ["today", "tomorrow"])
    async def test_day_is_the_market_day(
        self, rig: Rig, client: aiohttp.ClientSession, day: str
    ) -> None:
        """day=today|tomorrow is the local market day of the provider, as stored."""
        await rig.service.refresh()
        status, body = await call(client, "GET", f"/api/prices?day={day}")
        assert 200 == status
        spec = rig.service.spec()
        calendar = rig.service.calendar(spec)
        local = calendar.local_date(datetime.now(UTC)) + timedelta(days=day == "tomorrow")
        start, end = calendar.day_bounds(local)
        stored = await rig.store.slots(spec.key, spec.region, start, end)
        assert (local.isoformat(), iso(start), iso(end)) == (
            body["date"],
            body["start"],
            body["end"],
        )
        assert stored
        assert len(stored) == len(body["slots"])

    @pytest.mark.parametrize(
        "query",
        [
            "start=yesterday",
            "start=2026-01-01T00:00:00",
            "end=2026-13-01T00:00:00Z",
            "start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z",
            "start=2026-01-01T00:00:00Z&end=2026-03-01T00:00:00Z",
            "start=9999-12-31T23:00:00Z",
            "start=0001-01-01T00:00:00%2B23:59",
            "day=monday",
            "day=today&start=2026-01-01T00:00:00Z",
            "hours=0",
            "hours=745",
            "hours=nan",
            "hours=abc",
            "hours=2&end=2026-01-01T00:00:00Z",
        ],
    )
    async def test_bad_windows_are_400(self, client: aiohttp.ClientSession, query: str) -> None:
        """Unparseable, naive, reversed, too long or overflowing windows are a 400."""
        status, body = await call(client, "GET", f"/api/prices?{query}")
        assert (400, "invalid_argument") == (status, error_code(body))

    async def test_unknown_provider_is_404(self, client: aiohttp.ClientSession) -> None:
        """Asking for a provider that does not run is a 404 with a stable code."""
        status, body = await call(client, "GET", "/api/prices?provider=nope")
        assert (404, "unknown_provider") == (status, error_code(body))


class TestRefresh:
    async def test_refresh_fetches_and_reports_runs(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """POST /api/refresh fetches every running provider and stores the slots."""
        status, body = await call(client, "POST", "/api/refresh")
        assert 200 == status
        (run,) = body["runs"]
        assert ("octopus_agile", "ok") == (run["provider"], run["outcome"])
        assert run["slots"] == sum((await rig.store.counts()).values())

    async def test_refresh_one_provider(self, client: aiohttp.ClientSession) -> None:
        """?provider= refreshes that provider only; an unknown one is a 404."""
        status, body = await call(client, "POST", "/api/refresh?provider=octopus_agile")
        assert (200, ["octopus_agile"]) == (status, [r["provider"] for r in body["runs"]])
        status, body = await call(client, "POST", "/api/refresh?provider=nope")
        assert (404, "unknown_provider") == (status, error_code(body))

    async def test_a_failed_fetch_is_reported_not_raised(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """A provider failure is a run with outcome error in a 200 reply."""
        rig.fake.state.faults.extend([500] * 10)
        status, body = await call(client, "POST", "/api/refresh")
        assert (200, "error") == (status, body["runs"][0]["outcome"])


class TestFiguresAndAudit:
    async def test_figures_without_a_source_is_404(self, client: aiohttp.ClientSession) -> None:
        """Without a figures callable the endpoint says the figures are not available."""
        status, body = await call(client, "GET", "/api/figures")
        assert (404, "not_available") == (status, error_code(body))

    async def test_figures_come_from_the_callable(self, rig: Rig) -> None:
        """The endpoint returns what the figures callable gives for the chosen provider."""
        asked: list[tuple[ProviderSpec, datetime]] = []

        async def figures(spec: ProviderSpec, now: datetime) -> dict[str, Any]:
            asked.append((spec, now))
            return {"level": {"level": "cheap"}, "stats": {}, "windows": []}

        async with serving(rig, figures=figures) as client:
            status, body = await call(client, "GET", "/api/figures?provider=octopus_agile")
            assert (200, {"level": {"level": "cheap"}, "stats": {}, "windows": []}) == (
                status,
                body,
            )
            assert [rig.service.spec()] == [spec for spec, _ in asked]
            status, body = await call(client, "GET", "/api/figures?provider=nope")
            assert (404, "unknown_provider") == (status, error_code(body))

    async def test_audit_lists_newest_first_with_a_limit(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """The audit endpoint returns the newest records, at most ``limit``."""
        for _ in range(3):
            await call(client, "POST", f"{BASE}/reload")
        status, body = await call(client, "GET", "/api/audit?limit=2")
        assert 200 == status
        assert [r.as_json() for r in await rig.store.audit_log(2)] == body["records"]

    @pytest.mark.parametrize("limit", ["0", "-1", "abc", "1001", "1" * 5000])
    async def test_bad_limits_are_400(self, client: aiohttp.ClientSession, limit: str) -> None:
        """A limit that is not 1..1000 is a 400."""
        status, body = await call(client, "GET", f"/api/audit?limit={limit}")
        assert (400, "invalid_argument") == (status, error_code(body))


class TestHealth:
    async def test_healthz_is_alive(self, client: aiohttp.ClientSession) -> None:
        """/healthz answers as long as the process serves."""
        assert (200, {"status": "ok"}) == await call(client, "GET", "/healthz")

    async def test_ready_after_a_fetch_without_mqtt(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """With prices stored, the store open and plugins loaded, /readyz is 200."""
        await rig.service.refresh()
        status, body = await call(client, "GET", "/readyz")
        assert (200, "ready") == (status, body["status"])
        assert {"store", "plugins", "prices", "mqtt"} == set(body["checks"])
        assert all(check["ok"] for check in body["checks"].values())

    async def test_not_ready_before_any_fetch(self, client: aiohttp.ClientSession) -> None:
        """Without prices the prices check fails and names the state."""
        status, body = await call(client, "GET", "/readyz")
        assert (503, "not_ready") == (status, body["status"])
        assert (False, "unknown") == (
            body["checks"]["prices"]["ok"],
            body["checks"]["prices"]["state"],
        )
        assert body["checks"]["store"]["ok"]

    async def test_closed_store_is_not_ready(self, rig: Rig, client: aiohttp.ClientSession) -> None:
        """A store that cannot answer fails its check (a 503, not a 500)."""
        await rig.store.__aexit__(None, None, None)
        status, body = await call(client, "GET", "/readyz")
        assert (503, False) == (status, body["checks"]["store"]["ok"])

    @pytest.mark.mqtt
    async def test_broker_connection_is_part_of_readiness(
        self, rig: Rig, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """The mqtt check follows the client's connection to the broker."""
        await rig.service.refresh()
        mqtt = MqttClient(
            MqttSettings(
                host="127.0.0.1", port=mosquitto.port, base_topic=base_topic, client_id=base_topic
            ),
            CommandRouter(),
        )
        async with serving(rig, mqtt=mqtt) as client:
            status, body = await call(client, "GET", "/readyz")
            assert (503, False) == (status, body["checks"]["mqtt"]["ok"])
            async with mqtt:
                await mqtt.wait_ready()
                status, body = await call(client, "GET", "/readyz")
                assert (200, True) == (status, body["checks"]["mqtt"]["ok"])
                metrics = await scrape(client)
                assert 1 == value(metrics, "energyd_mqtt_connected")
                assert value(metrics, "energyd_mqtt_published_total") >= 1


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


class TestMetrics:
    async def test_metrics_parse_and_match_the_store(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """Fetch counts, stored slots, the current price and health agree with the store."""
        await rig.service.refresh()
        rig.fake.state.faults.extend([500] * 10)
        await rig.service.refresh()
        families = await scrape(client)
        assert "counter" == families["energyd_fetches"].type
        assert 2 == value(families, "energyd_fetches_total", provider="octopus_agile")
        assert 1 == value(families, "energyd_fetch_failures_total", provider="octopus_agile")
        counts = await rig.store.counts()
        stored = value(families, "energyd_slots_stored", provider="octopus_agile", region="C")
        assert counts[("octopus_agile", "C")] == stored
        slot = await rig.store.slot_at("octopus_agile", "C", datetime.now(UTC))
        assert slot is not None
        price = value(families, "energyd_current_price", provider="octopus_agile", region="C")
        assert slot.price_pence == price
        health = {s.labels["state"]: s.value for s in families["energyd_provider_health"].samples}
        assert {"degraded": 1.0} == {k: v for k, v in health.items() if v}
        last_ok = await rig.store.last_fetch("octopus_agile", "C", FetchOutcome.OK)
        assert last_ok is not None
        assert last_ok.started_at.timestamp() == value(
            families, "energyd_last_success_timestamp_seconds", provider="octopus_agile"
        )
        assert 1 == value(families, "energyd_plugin_info", file=PLUGIN, status="up_to_date")
        assert "energyd_mqtt_connected" not in families

    async def test_counters_only_grow_by_new_runs(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """Scraping again without fetches leaves the counters; a new fetch adds one."""
        await rig.service.refresh()
        first = value(await scrape(client), "energyd_fetches_total", provider="octopus_agile")
        second = value(await scrape(client), "energyd_fetches_total", provider="octopus_agile")
        await rig.service.refresh()
        third = value(await scrape(client), "energyd_fetches_total", provider="octopus_agile")
        assert (1, 1, 2) == (first, second, third)

    async def test_unknown_price_is_absent_not_zero(self, client: aiohttp.ClientSession) -> None:
        """Before any fetch there is no current-price sample at all."""
        families = await scrape(client)
        assert [] == families["energyd_current_price"].samples
        assert 0 == value(families, "energyd_fetches_total", provider="octopus_agile")

    def test_label_values_are_escaped(self) -> None:
        """Quotes, backslashes and newlines in label values survive a strict parser."""
        metric = Metric("energyd_test", 'help with "quotes" and \\ backslash', "gauge")
        weird = 'a"b\\c\nd'
        metric.add(1.5, file=weird)
        (family,) = text_string_to_metric_families(render([metric]))
        assert [({"file": weird}, 1.5)] == [(s.labels, s.value) for s in family.samples]


def run_at(seconds: int, outcome: FetchOutcome = FetchOutcome.OK) -> FetchRun:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    return FetchRun("p", "C", start, outcome)


class TestFetchCounting:
    def test_counts_runs_after_the_mark(self) -> None:
        """Runs newer than the mark are new; the mark moves to the newest."""
        runs = [run_at(30), run_at(20), run_at(10)]
        fresh, mark = unseen_runs(runs, Mark(run_at(15).started_at))
        assert ([run_at(30), run_at(20)], Mark(run_at(30).started_at, 1)) == (fresh, mark)

    def test_runs_at_the_same_instant_are_counted_once(self) -> None:
        """A second run in the same millisecond as the mark is new; a seen one is not."""
        at = run_at(10).started_at
        fresh, mark = unseen_runs([run_at(10), run_at(10)], Mark(at, 1))
        assert ([run_at(10)], Mark(at, 2)) == (fresh, mark)
        fresh, mark = unseen_runs([run_at(10), run_at(10)], mark)
        assert ([], Mark(at, 2)) == (fresh, mark)


class TestAuth:
    @pytest.mark.parametrize(
        ("host", "expected"),
        [
            ("127.0.0.1", True),
            ("127.1.2.3", True),
            ("::1", True),
            ("[::1]", True),
            ("localhost", True),
            ("LocalHost", True),
            ("::ffff:127.0.0.1", True),
            ("0.0.0.0", False),
            ("::", False),
            ("", False),
            ("192.168.1.10", False),
            ("energyd.local", False),
            ("localhost.example.com", False),
        ],
    )
    def test_loopback_hosts(self, host: str, expected: bool) -> None:
        """Only addresses and names that can only mean this machine count as loopback."""
        assert expected == is_loopback(host)

    @pytest.mark.parametrize(
        ("host", "token", "expected"),
        [
            ("127.0.0.1", None, WritePolicy.OPEN),
            ("127.0.0.1", "", WritePolicy.OPEN),
            ("127.0.0.1", "t", WritePolicy.TOKEN),
            ("0.0.0.0", None, WritePolicy.REFUSED),
            ("0.0.0.0", "t", WritePolicy.TOKEN),
        ],
    )
    def test_policy_from_host_and_token(
        self, host: str, token: str | None, expected: WritePolicy
    ) -> None:
        """A token always wins; without one, loopback is open and anything else refused."""
        assert expected == write_policy(host, token)

    @pytest.mark.parametrize(
        ("policy", "headers"),
        [
            (WritePolicy.TOKEN, {"Authorization": "Bearer token"}),
            (WritePolicy.TOKEN, {"authorization": "bearer  token "}),
            (WritePolicy.OPEN, {"Host": "127.0.0.1:8765"}),
            (WritePolicy.OPEN, {"Host": "[::1]:8765"}),
            (WritePolicy.OPEN, {"Host": "localhost:8765", "Origin": "http://localhost:8765"}),
            (WritePolicy.OPEN, {"Host": "127.0.0.1", "Sec-Fetch-Site": "same-origin"}),
        ],
    )
    def test_allowed_writes(self, policy: WritePolicy, headers: dict[str, str]) -> None:
        """A right token, or a same-origin loopback request without token configured."""
        authorize(policy, "token", "POST", CIMultiDict(headers))

    @pytest.mark.parametrize(
        ("policy", "headers", "code"),
        [
            (WritePolicy.TOKEN, {}, "unauthorized"),
            (WritePolicy.TOKEN, {"Authorization": "Bearer wrong"}, "unauthorized"),
            (WritePolicy.TOKEN, {"Authorization": "Basic dG9rZW4="}, "unauthorized"),
            (WritePolicy.TOKEN, {"Authorization": "Bearer tökén-ish"}, "unauthorized"),
            (WritePolicy.TOKEN, {"Authorization": "Bearer"}, "unauthorized"),
            (WritePolicy.REFUSED, {"Authorization": "Bearer token"}, "forbidden"),
            (WritePolicy.OPEN, {}, "forbidden"),
            (WritePolicy.OPEN, {"Host": "evil.example:8765"}, "forbidden"),
            (
                WritePolicy.OPEN,
                {"Host": "127.0.0.1:8765", "Origin": "http://evil.example"},
                "forbidden",
            ),
            (WritePolicy.OPEN, {"Host": "127.0.0.1:8765", "Origin": "null"}, "forbidden"),
            (
                WritePolicy.OPEN,
                {"Host": "127.0.0.1:8765", "Sec-Fetch-Site": "cross-site"},
                "forbidden",
            ),
        ],
    )
    def test_refused_writes(self, policy: WritePolicy, headers: dict[str, str], code: str) -> None:
        """A missing or wrong token is unauthorized; refused policy or foreign origin forbidden."""
        with pytest.raises(CommandError) as caught:
            authorize(policy, "token", "POST", CIMultiDict(headers))
        assert code == caught.value.code

    def test_reading_is_always_allowed(self) -> None:
        """GET and HEAD need no token, even when writes are refused."""
        for policy in WritePolicy:
            authorize(policy, "token", "GET", CIMultiDict())
            authorize(policy, "token", "HEAD", CIMultiDict())

    async def test_token_on_loopback_is_required(self, rig: Rig) -> None:
        """With a token configured, POST needs it even on loopback; GET does not."""
        async with serving(rig, token="s3cret") as client:
            async with client.post(f"{BASE}/reload") as response:
                assert 401 == response.status
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
                assert "unauthorized" == error_code(await response.json())
            wrong = {"Authorization": "Bearer nope"}
            status, _ = await call(client, "POST", f"{BASE}/reload", headers=wrong)
            assert 401 == status
            right = {"Authorization": "Bearer s3cret"}
            status, _ = await call(client, "POST", f"{BASE}/reload", headers=right)
            assert 200 == status
            status, _ = await call(client, "GET", f"{BASE}/status")
            assert 200 == status
        assert ["reload"] == [r.action for r in await rig.store.audit_log(10)]

    async def test_beyond_loopback_without_token_refuses_writes(self, rig: Rig) -> None:
        """Configured beyond loopback with no token: writes are 403 and a warning is logged."""
        with structlog.testing.capture_logs() as logs:
            async with serving(rig, host="0.0.0.0") as client:
                status, body = await call(client, "POST", "/api/refresh")
                assert (403, "forbidden") == (status, error_code(body))
                status, body = await call(client, "GET", "/api/info")
                assert (200, "refused") == (status, body["writes"])
        warnings = [e for e in logs if e["event"] == "http.writes_refused"]
        assert ["warning"] == [e["log_level"] for e in warnings]
        assert [] == await rig.store.fetch_runs()

    async def test_beyond_loopback_with_token(self, rig: Rig) -> None:
        """Configured beyond loopback with a token: the token opens writes."""
        async with serving(rig, host="0.0.0.0", token="s3cret") as client:
            status, _ = await call(client, "POST", f"{BASE}/reload")
            assert 401 == status
            headers = {"Authorization": "Bearer s3cret"}
            status, _ = await call(client, "POST", f"{BASE}/reload", headers=headers)
            assert 200 == status

    async def test_cross_origin_write_on_open_loopback_is_refused(
        self, client: aiohttp.ClientSession
    ) -> None:
        """Without a token, a request from another web origin cannot change state."""
        headers = {"Origin": "http://evil.example"}
        status, body = await call(client, "POST", f"{BASE}/reload", headers=headers)
        assert (403, "forbidden") == (status, error_code(body))
        headers = {"Host": "rebound.example:8765"}
        status, body = await call(client, "POST", f"{BASE}/reload", headers=headers)
        assert (403, "forbidden") == (status, error_code(body))


class TestErrors:
    async def test_unknown_route_is_json_404(self, client: aiohttp.ClientSession) -> None:
        """An unknown path gets a JSON 404."""
        status, body = await call(client, "GET", "/no/such/thing")
        assert (404, "not_found") == (status, error_code(body))

    async def test_wrong_method_is_json_405(self, client: aiohttp.ClientSession) -> None:
        """A known path with the wrong method gets a JSON 405 that lists the allowed ones."""
        async with client.get(f"{BASE}/update-all") as response:
            assert 405 == response.status
            assert "POST" in response.headers["Allow"]
            assert "method_not_allowed" == error_code(await response.json())

    async def test_no_bad_request_causes_a_500(self, client: aiohttp.ClientSession) -> None:
        """A sweep of malformed requests gets only 4xx JSON answers."""
        requests = [
            ("POST", f"{BASE}/update/..%2F..%2Fetc%2Fpasswd", None),
            ("POST", f"{BASE}/update/%ff%fe", None),
            ("POST", f"{BASE}/update/", None),
            ("PUT", "/api/settings", b"\x00\x01"),
            ("PUT", "/api/settings", b'{"values": {"energy.providers.x.y": {"z": [1e999]}}}'),
            ("PUT", "/api/settings", b'{"values": {"energy.providers.Bad Key.region": "C"}}'),
            ("GET", "/api/prices?start=%00", None),
            ("GET", "/api/prices?start=2026-01-01T00:00:00%2B99:00", None),
            ("GET", "/api/prices?provider=../../etc", None),
            ("GET", "/api/audit?limit=1e3", None),
            ("POST", "/api/refresh?provider=%00", None),
            ("DELETE", "/api/settings", None),
            ("GET", "/../../etc/passwd", None),
        ]
        for method, path, data in requests:
            async with client.request(method, path, data=data) as response:
                body = await response.json()
                assert 400 <= response.status < 500, (method, path, response.status, body)
                assert {"code", "message"} <= set(body["error"]), (method, path)


class TestServer:
    async def test_entering_twice_is_an_error(self, rig: Rig) -> None:
        """An HttpServer serves once; a second enter is a RuntimeError."""
        app = make_http_app(
            service=rig.service, manager=rig.manager, mqtt=None, settings=HttpSettings()
        )
        server = HttpServer(app, host="127.0.0.1", port=0)
        async with server:
            with pytest.raises(RuntimeError):
                await server.__aenter__()

    async def test_port_in_use_is_a_config_error(self, rig: Rig) -> None:
        """Binding a port that is taken names http.port."""
        settings = HttpSettings()
        first = make_http_app(
            service=rig.service, manager=rig.manager, mqtt=None, settings=settings
        )
        second = make_http_app(
            service=rig.service, manager=rig.manager, mqtt=None, settings=settings
        )
        async with HttpServer(first, host="127.0.0.1", port=0) as running:
            assert running.port is not None
            with pytest.raises(ConfigError) as caught:
                async with HttpServer(second, host="127.0.0.1", port=running.port):
                    pass
        assert ["http.port"] == list(caught.value.errors)

    async def test_stops_cleanly(self, rig: Rig) -> None:
        """After the server is left, its port no longer accepts connections."""
        app = make_http_app(
            service=rig.service, manager=rig.manager, mqtt=None, settings=HttpSettings()
        )
        async with HttpServer(app, host="127.0.0.1", port=0) as server:
            url = f"http://127.0.0.1:{server.port}/healthz"
            async with aiohttp.ClientSession() as session, session.get(url) as response:
                assert 200 == response.status
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientConnectionError):
                async with session.get(url):
                    pass

    async def test_status_page_is_served_with_a_strict_policy(
        self, client: aiohttp.ClientSession
    ) -> None:
        """GET / is the HTML page; its CSP allows its own inline code and nothing remote."""
        async with client.get("/") as response:
            assert 200 == response.status
            assert "text/html" == response.content_type
            page = await response.text()
            csp = response.headers["Content-Security-Policy"]
        assert "<svg" in page
        assert "default-src 'none'" in csp
        assert "connect-src 'self'" in csp
        assert re.search(r"script-src 'sha256-[A-Za-z0-9+/=]+'", csp)
        assert not re.search(r"""(src|href)=["']https?://""", page)
