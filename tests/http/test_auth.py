"""Who may change state over HTTP (energyd.http.auth): the pure decision and the middleware."""

from __future__ import annotations

import aiohttp
import pytest
import structlog
from multidict import CIMultiDict

from energyd.exceptions import CommandError
from energyd.http import (
    WritePolicy,
    authorize,
    is_loopback,
    write_policy,
)
from tests.support.http_rig import (
    BASE,
    Rig,
    call,
    error_code,
    serving,
)


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
