"""The HTTP app and its server (energyd.http.server); JSON for every error (energyd.http.errors)."""

from __future__ import annotations

import re
import socket

import aiohttp
import pytest

from energyd.config import HttpSettings
from energyd.exceptions import ConfigError
from energyd.http import (
    HttpServer,
    make_http_app,
)
from energyd.http.server import ListenError
from tests.support.http_rig import (
    BASE,
    Rig,
    call,
    error_code,
)


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
        app = make_http_app(operations=rig.operations(), settings=HttpSettings())
        server = HttpServer(app, host="127.0.0.1", port=0)
        async with server:
            with pytest.raises(RuntimeError):
                await server.__aenter__()

    async def test_port_in_use_is_a_runtime_error(self, rig: Rig) -> None:
        """A port another socket listens on is a ListenError naming host:port and "address
        already in use" -- not a ConfigError (exit 2 would stop systemd restarting us)."""
        app = make_http_app(operations=rig.operations(), settings=HttpSettings())
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            with pytest.raises(ListenError) as caught:
                async with HttpServer(app, host="127.0.0.1", port=port):
                    pass
        assert not isinstance(caught.value, ConfigError)
        assert str(caught.value).startswith(
            f"http: cannot listen on 127.0.0.1:{port}: address already in use"
        )

    async def test_stops_cleanly(self, rig: Rig) -> None:
        """After the server is left, its port no longer accepts connections."""
        app = make_http_app(operations=rig.operations(), settings=HttpSettings())
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
