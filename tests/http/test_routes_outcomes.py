"""HTTP answers that say what happened: a failed refresh, refused arguments in plain words,
DELETE /api/settings, and plugin updates by provider id."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.support.fake_octopus import RunningFake
from tests.support.http_rig import BASE, PLUGIN, Rig, call, error_code, http_rig, serving

REGION = "energy.providers.octopus_agile.region"


class TestFailedRefresh:
    async def test_a_failed_fetch_is_a_502_with_the_runs(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """A refresh whose fetch fails is 502 fetch_failed; details.runs has the run's error."""
        rig.fake.state.faults.extend([500] * 10)
        status, body = await call(client, "POST", "/api/refresh")
        assert (502, "fetch_failed") == (status, error_code(body))
        (run,) = body["error"]["details"]["runs"]
        assert ("octopus_agile", "error", "ProviderServerError") == (
            run["provider"],
            run["outcome"],
            run["error_type"],
        )
        assert f"octopus_agile C: ProviderServerError: {run['error']}" in body["error"]["message"]


class TestPlainRefusals:
    async def test_a_bad_time_says_what_is_expected(self, client: aiohttp.ClientSession) -> None:
        """earliest=25:00 is refused as "expected HH:MM ...", without validator internals."""
        status, body = await call(client, "GET", "/api/cheapest?minutes=60&earliest=25:00")
        assert (400, "invalid_argument") == (status, error_code(body))
        assert {
            "earliest": "expected HH:MM (market time) or an ISO 8601 datetime with an offset,"
            ' got "25:00"'
        } == body["error"]["details"]

    async def test_a_near_miss_query_key_is_refused(self, client: aiohttp.ClientSession) -> None:
        """A query key close to a field (earlist) is refused with a did-you-mean; a key far
        from every field (a cache buster) is still ignored."""
        status, body = await call(client, "GET", "/api/cheapest?minutes=60&earlist=00:00")
        assert (400, {"earlist": "unknown key; did you mean 'earliest'?"}) == (
            status,
            body["error"]["details"],
        )
        status, _ = await call(client, "GET", "/api/audit?limit=2&_=1712345678")
        assert 200 == status

    async def test_unknown_body_key_is_refused_with_did_you_mean(
        self, client: aiohttp.ClientSession
    ) -> None:
        """A body key the operation does not take is refused, naming the close one."""
        payload = {"valuess": {REGION: "J"}}
        status, body = await call(client, "PUT", "/api/settings", json=payload)
        assert (400, "invalid_payload") == (status, error_code(body))
        assert "unknown key; did you mean 'values'?" == body["error"]["details"]["valuess"]

    async def test_part_slots_are_refused(self, client: aiohttp.ClientSession) -> None:
        """Octopus's slots are 30 minutes: minutes=45 is refused naming them."""
        status, body = await call(client, "GET", "/api/cheapest?minutes=45")
        assert (400, "invalid_argument") == (status, error_code(body))
        assert "octopus_agile's 30-minute slots; give 30 or 60" in body["error"]["message"]


class TestSettingsReset:
    async def test_delete_one_key_and_all(self, rig: Rig, client: aiohttp.ClientSession) -> None:
        """DELETE ?key= drops that override (the file's value applies); ?all=true every one."""
        await call(client, "PUT", "/api/settings", json={"key": REGION, "value": "J"})
        status, body = await call(client, "DELETE", f"/api/settings?key={REGION}")
        assert (200, [REGION], [], "C") == (
            status,
            body["reset"],
            body["overrides"],
            body["energy"]["providers"]["octopus_agile"]["region"],
        )
        assert ({}, "C") == (await rig.store.get_overrides(), rig.service.spec().region)
        await call(client, "PUT", "/api/settings", json={"key": REGION, "value": "J"})
        status, body = await call(client, "DELETE", "/api/settings?all=true")
        assert (200, [REGION]) == (status, body["reset"])
        assert {} == await rig.store.get_overrides()

    @pytest.mark.parametrize(
        ("query", "status", "code"),
        [
            ("", 400, "invalid_argument"),
            ("?key=", 400, "invalid_argument"),
            ("?all=maybe", 400, "invalid_argument"),
            (f"?key={REGION}&all=true", 400, "invalid_argument"),
            (f"?keys={REGION}", 400, "invalid_argument"),
            ("?key=energy.providers.octopus_agile.regoin", 422, "invalid_setting"),
        ],
    )
    async def test_refused(
        self, client: aiohttp.ClientSession, query: str, status: int, code: str
    ) -> None:
        """Neither or both forms, an empty key, or a key that is not overridden are refused."""
        got, body = await call(client, "DELETE", f"/api/settings{query}")
        assert (status, code) == (got, error_code(body))

    async def test_needs_the_token(self, tmp_path: Path, fake_api: RunningFake) -> None:
        """Like PUT, DELETE changes state: without the bearer token it is a 401."""
        async with (
            http_rig(tmp_path, fake_api) as rig,
            serving(rig, token="s3cret") as client,
        ):
            status, body = await call(client, "DELETE", "/api/settings?all=true")
            assert (401, "unauthorized") == (status, error_code(body))
            headers = {"Authorization": "Bearer s3cret"}
            status, body = await call(client, "DELETE", "/api/settings?all=true", headers=headers)
            assert (200, []) == (status, body["reset"])


class TestUpdateById:
    async def test_by_provider_id_and_already_up_to_date(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """update/octopus_agile updates the plugin providing it; again, it is up to date."""
        await rig.make_plugin_older()
        status, body = await call(client, "POST", f"{BASE}/update/octopus_agile")
        assert (200, PLUGIN, "0.0.1", "updated") == (
            status,
            body["file"],
            body["version_before"],
            body["message"],
        )
        status, body = await call(client, "POST", f"{BASE}/update/octopus_agile")
        assert (200, True, "already up to date") == (status, body["ok"], body["message"])
        assert body["version_before"] == body["version_after"]
        newest = (await rig.store.audit_log(1))[0]
        assert ("already up to date", "http") == (newest.message, newest.actor)
