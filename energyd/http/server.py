"""The HTTP application (routes, middlewares, the status page) and its server lifecycle."""

from __future__ import annotations

import base64
import errno
import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import resources
from types import TracebackType
from typing import Final, Self

import structlog
from aiohttp import web

from energyd.api.operations import Operations
from energyd.config import HttpSettings
from energyd.exceptions import ConfigError, EnergydError
from energyd.http.auth import WritePolicy, auth_middleware, write_policy
from energyd.http.errors import error_middleware
from energyd.http.metrics import FetchTally
from energyd.http.routes import Api

__all__ = ["MAX_BODY_BYTES", "HttpServer", "ListenError", "make_http_app", "status_page"]

log = structlog.get_logger("energyd.http")

#: Largest request body read (larger ones get 413).
MAX_BODY_BYTES = 64 * 1024
SHUTDOWN_TIMEOUT = 5.0
POLICY = web.AppKey("energyd_write_policy", WritePolicy)

_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)

#: Bind failures that are no configuration error (they can clear up by themselves).
_TRANSIENT_BIND: Final[Mapping[int, str]] = {
    errno.EADDRINUSE: "address already in use (another process listens there; stop it, or"
    " set http.port to a free port)",
    errno.EADDRNOTAVAIL: "address not available on this machine (yet)",
}


class ListenError(EnergydError):
    """The HTTP server cannot listen for a reason of the moment (the port is in use): a
    runtime failure (exit 1, restarted by systemd), not invalid configuration (exit 2)."""


def status_page() -> tuple[bytes, str]:
    """The status page and a Content-Security-Policy admitting exactly its inline code."""
    html = resources.files("energyd").joinpath("web/status.html").read_text("utf-8")
    hashes: dict[str, list[str]] = {"script": [], "style": []}
    for kind, code in _INLINE.findall(html):
        digest = base64.b64encode(hashlib.sha256(code.encode("utf-8")).digest()).decode()
        hashes[kind].append(f"'sha256-{digest}'")
    csp = "; ".join(
        [
            "default-src 'none'",
            f"script-src {' '.join(hashes['script']) or 'none'}",
            f"style-src {' '.join(hashes['style']) or 'none'}",
            "connect-src 'self'",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return html.encode("utf-8"), csp


def make_http_app(*, operations: Operations, settings: HttpSettings) -> web.Application:
    """The aiohttp application serving ``operations``; serve it with :class:`HttpServer` (or
    aiohttp's test server).

    ``settings.host`` and ``settings.token`` decide who may change state (see
    :mod:`energyd.http.auth`); the app does not bind anything itself.
    """
    token = settings.token.get_secret_value() if settings.token is not None else None
    policy = write_policy(settings.host, token)
    app = web.Application(
        client_max_size=MAX_BODY_BYTES,
        middlewares=[error_middleware, auth_middleware(policy, token)],
    )
    app[POLICY] = policy
    api = Api(operations, policy, FetchTally(datetime.now(UTC)))
    api.add_routes(app)
    page, csp = status_page()

    async def index(_: web.Request) -> web.Response:
        response = web.Response(body=page, content_type="text/html", charset="utf-8")
        response.headers["Content-Security-Policy"] = csp
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    app.router.add_get("/", index)
    return app


class HttpServer:
    """Serves an app on ``host:port`` while entered: ``async with HttpServer(app, ...) as s``.

    ``port`` 0 picks a free port; :attr:`port` is the bound one. Entering twice is an error.
    """

    def __init__(
        self,
        app: web.Application,
        *,
        host: str,
        port: int,
        shutdown_timeout: float = SHUTDOWN_TIMEOUT,
    ) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
        self._entered = False
        self.port: int | None = None

    @classmethod
    def from_settings(cls, app: web.Application, settings: HttpSettings) -> HttpServer:
        return cls(app, host=settings.host, port=settings.port)

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError("HttpServer can be entered once")
        self._entered = True
        await self._runner.setup()
        try:
            site = web.TCPSite(self._runner, self._host, self._port)
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            where = f"{self._host}:{self._port}"
            reason = _TRANSIENT_BIND.get(exc.errno or 0)
            if reason is not None:
                # Not the configuration's fault: another process holds the port, or the
                # address is not up yet. A runtime error (exit 1), so systemd restarts us.
                raise ListenError(f"http: cannot listen on {where}: {reason}") from exc
            raise ConfigError(
                f"http: cannot listen on {where}: {exc}", {"http.port": str(exc)}
            ) from exc
        except BaseException:
            await self._runner.cleanup()
            raise
        address = self._runner.addresses[0]
        self.port = int(address[1])
        policy = self._app.get(POLICY, WritePolicy.OPEN)
        log.info("http.started", host=self._host, port=self.port, writes=policy.value)
        if policy is WritePolicy.REFUSED:
            log.warning(
                "http.writes_refused",
                host=self._host,
                reason="listening beyond loopback without http.token: updates, refresh and"
                " settings changes over HTTP are refused; set http.token to allow them",
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._runner.cleanup()
        log.info("http.stopped", port=self.port)
