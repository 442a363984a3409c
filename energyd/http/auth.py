"""Who may change state over HTTP: a pure decision from the configured host and token.

- Reading (GET, HEAD, OPTIONS) is open: nothing secret is served (settings come redacted).
- A configured ``http.token`` is required on every state-changing request (POST, PUT, ...),
  as ``Authorization: Bearer <token>``, wherever the server listens.
- Listening on loopback without a token, state-changing requests are open to this machine,
  but only when they name a loopback ``Host`` and come from no other web origin, so that a web
  page in a local browser cannot drive the daemon (cross-site requests, DNS rebinding).
- Listening beyond loopback without a token, state-changing requests are refused (403).
"""

from __future__ import annotations

import enum
import hmac
import ipaddress
from collections.abc import Mapping

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from yarl import URL

from energyd.exceptions import CommandError

__all__ = [
    "SAFE_METHODS",
    "WritePolicy",
    "auth_middleware",
    "authorize",
    "is_loopback",
    "write_policy",
]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


class WritePolicy(enum.StrEnum):
    """How state-changing requests are treated."""

    OPEN = "open"  # loopback, no token: local, same-origin requests only
    TOKEN = "token"  # a bearer token is required
    REFUSED = "refused"  # beyond loopback and no token: always 403


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name, optionally ``[v6]``) can only be this machine."""
    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def write_policy(host: str, token: str | None) -> WritePolicy:
    """The policy for a server configured with ``host`` and ``token`` (empty = none)."""
    if token:
        return WritePolicy.TOKEN
    return WritePolicy.OPEN if is_loopback(host) else WritePolicy.REFUSED


def _bearer(header: str | None) -> bytes | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip().encode("utf-8", "surrogateescape")


def _host_name(host_header: str) -> str:
    """The name part of a ``Host`` header (``[::1]:8765`` -> ``::1``)."""
    try:
        return URL(f"http://{host_header}").raw_host or ""
    except ValueError:
        return ""


def _same_origin(origin: str, host_header: str) -> bool:
    try:
        url = URL(origin)
    except ValueError:
        return False
    if url.scheme not in ("http", "https") or url.raw_host is None:
        return False
    port = f":{url.port}" if url.port is not None and not url.is_default_port() else ""
    host = f"[{url.raw_host}]" if ":" in url.raw_host else url.raw_host
    return f"{host}{port}".lower() == host_header.lower()


def authorize(
    policy: WritePolicy, token: str | None, method: str, headers: Mapping[str, str]
) -> None:
    """Raise :class:`CommandError` (``unauthorized`` / ``forbidden``) unless allowed."""
    if method.upper() in SAFE_METHODS:
        return
    if policy is WritePolicy.REFUSED:
        raise CommandError(
            "forbidden",
            "state-changing requests are refused: the server listens beyond loopback and no"
            " http.token is configured",
        )
    if policy is WritePolicy.TOKEN:
        given = _bearer(headers.get("Authorization"))
        expected = (token or "").encode("utf-8", "surrogateescape")
        if given is None or not hmac.compare_digest(given, expected):
            raise CommandError("unauthorized", "a valid 'Authorization: Bearer <token>' is needed")
        return
    host = headers.get("Host", "")
    if not is_loopback(_host_name(host)):
        raise CommandError(
            "forbidden", "without http.token, state-changing requests must address a loopback host"
        )
    origin = headers.get("Origin")
    cross_site = headers.get("Sec-Fetch-Site", "").lower() == "cross-site"
    if cross_site or (origin is not None and not _same_origin(origin, host)):
        raise CommandError("forbidden", "cross-origin state-changing requests are refused")


def auth_middleware(policy: WritePolicy, token: str | None) -> Middleware:
    """An aiohttp middleware applying :func:`authorize` to every request."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        authorize(policy, token, request.method, request.headers)
        return await handler(request)

    return check
