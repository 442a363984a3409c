"""The HTTP endpoints (energyd.http.routes): each route, its parser and its operation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from energyd.api.arguments import CheapestArgs
from energyd.config import MqttSettings
from energyd.mqtt.client import MqttClient
from energyd.mqtt.commands import CommandRouter
from tests.support.broker import MosquittoBroker
from tests.support.fake_octopus import RunningFake
from tests.support.http_rig import (
    BASE,
    PLUGIN,
    Rig,
    StubFigures,
    call,
    error_code,
    http_rig,
    iso,
    scrape,
    serving,
    value,
)
from tests.support.plugins import BUNDLED_FILES, BUNDLED_IDS


class TestPluginManagement:
    async def test_status_lists_plugins_and_provider_health(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """The status endpoint lists every plugin file and each running provider's health."""
        await rig.service.refresh()
        status, body = await call(client, "GET", f"{BASE}/status")
        assert 200 == status
        assert [(name, "up_to_date") for name in BUNDLED_FILES] == [
            (p["file"], p["status"]) for p in body["plugins"]
        ]
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
        assert "up_to_date" == {p["file"]: p["status"] for p in after["plugins"]}[PLUGIN]

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
        assert ("reload", "http", f"loaded: {', '.join(BUNDLED_IDS)}") == (
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

    async def test_key_and_value_form_is_accepted(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """The body may also be {"key", "value"}, as the MQTT settings/set command takes."""
        payload = {"key": "energy.providers.octopus_agile.region", "value": "J"}
        status, body = await call(client, "PUT", "/api/settings", json=payload)
        assert (200, "J") == (status, body["energy"]["providers"]["octopus_agile"]["region"])
        assert {"energy.providers.octopus_agile.region": "J"} == await rig.store.get_overrides()

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


class TestCheapest:
    async def test_same_arguments_as_the_command(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """GET /api/cheapest takes the cheapest command's arguments and answers its reply."""
        await rig.service.refresh()
        status, body = await call(client, "GET", "/api/cheapest?minutes=120&contiguous=false")
        assert (200, True, False, 4) == (
            status,
            body["available"],
            body["contiguous"],
            len(body["slots"]),
        )
        expected = await rig.operations().cheapest(CheapestArgs(minutes=120, contiguous=False))
        assert [s["start"] for s in expected["slots"]] == [s["start"] for s in body["slots"]]
        assert ("octopus_agile", "C", "cheapest") == (
            body["provider"],
            body["region"],
            body["mode"],
        )

    async def test_local_times_and_datetimes(self, rig: Rig, client: aiohttp.ClientSession) -> None:
        """earliest/latest as market "HH:MM", or as datetimes (a '+' left unencoded too)."""
        await rig.service.refresh()
        query = "minutes=60&earliest=00:00&latest=07:00&mode=most_expensive"
        status, body = await call(client, "GET", f"/api/cheapest?{query}")
        assert (200, "most_expensive") == (status, body["mode"])
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        end = start + timedelta(hours=3)
        query = f"minutes=60&earliest={start.isoformat()}&latest={iso(end)}"
        status, body = await call(client, "GET", f"/api/cheapest?{query}")
        assert (200, iso(start), iso(end)) == (status, body["period_start"], body["period_end"])

    @pytest.mark.parametrize(
        "query",
        [
            "",
            "minutes=0",
            "minutes=abc",
            "minutes=1441",
            "minutes=60&earliest=25:00",
            "minutes=60&earliest=00:00&latest=2026-01-01T00:00:00Z",
            "minutes=60&earliest=2026-01-01T00:00:00Z&latest=2026-03-01T00:00:00Z",
            "minutes=60&mode=middling",
        ],
    )
    async def test_bad_arguments_are_400(self, client: aiohttp.ClientSession, query: str) -> None:
        """Missing, out of range or inconsistent arguments are invalid_argument."""
        status, body = await call(client, "GET", f"/api/cheapest?{query}")
        assert (400, "invalid_argument") == (status, error_code(body))

    async def test_unknown_provider_is_404(self, client: aiohttp.ClientSession) -> None:
        """A provider that does not run is unknown_provider."""
        status, body = await call(client, "GET", "/api/cheapest?minutes=60&provider=nope")
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

    async def test_a_failed_fetch_is_an_error(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """A provider failure is a 502 fetch_failed whose details hold the run (outcome error);
        see tests/http/test_routes_outcomes.py."""
        rig.fake.state.faults.extend([500] * 10)
        status, body = await call(client, "POST", "/api/refresh")
        assert (502, "error") == (status, body["error"]["details"]["runs"][0]["outcome"])


class TestFiguresAndAudit:
    async def test_figures_without_a_source_is_404(self, client: aiohttp.ClientSession) -> None:
        """Without a figures source the endpoint says the figures are not available."""
        status, body = await call(client, "GET", "/api/figures")
        assert (404, "not_available") == (status, error_code(body))

    async def test_figures_come_from_the_source(self, rig: Rig) -> None:
        """The endpoint returns what the figures source gives for the chosen provider."""
        figures = StubFigures({"level": {"level": "cheap"}, "stats": {}, "windows": []})
        async with serving(rig, figures=figures) as client:
            status, body = await call(client, "GET", "/api/figures?provider=octopus_agile")
            assert (200, {"level": {"level": "cheap"}, "stats": {}, "windows": []}) == (
                status,
                body,
            )
            assert [rig.service.spec()] == figures.asked
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
        """Without prices the prices check fails and names the state and the provider."""
        status, body = await call(client, "GET", "/readyz")
        assert (503, "not_ready") == (status, body["status"])
        assert (False, "unknown", ["octopus_agile"]) == (
            body["checks"]["prices"]["ok"],
            body["checks"]["prices"]["state"],
            body["checks"]["prices"]["failing"],
        )
        assert body["checks"]["store"]["ok"]

    async def test_health_is_the_command_reply(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """GET /api/health answers what the MQTT health command does; ok agrees with /readyz."""
        await rig.service.refresh()
        status, body = await call(client, "GET", "/api/health?probe=true")
        assert 200 == status
        assert {
            "mqtt_connected",
            "broker",
            "store",
            "providers",
            "ok",
            "checks",
            "event_loop",
            "probes",
        } == set(body)
        _, ready = await call(client, "GET", "/readyz")
        assert (True, ready["checks"]) == (body["ok"], body["checks"])

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
