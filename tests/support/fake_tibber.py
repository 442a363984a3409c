"""A loopback stand-in of Tibber's GraphQL API (aiohttp.web), for tests and trying energyd.

- ``POST /v1-beta/gql`` with ``{"query": "..."}`` and ``Authorization: Bearer <state.token>``;
  another token is answered as Tibber answers an expired one: HTTP 200 with ``errors``
  (``extensions.code`` ``UNAUTHENTICATED``), no ``data``;
- the query must ask ``viewer { homes { ... priceInfo(resolution: ...) { today {...}
  tomorrow {...} } } }``; the resolution is read from it (none: ``HOURLY``, Tibber's default)
  and each price entry holds exactly the fields asked for, of ``total energy tax startsAt
  currency level`` (others: HTTP 400 ``GRAPHQL_VALIDATION_FAILED``, as Tibber answers them);
- the shape of the recorded ``tests/fixtures/tibber`` bodies: ``homes`` with ``id``,
  ``appNickname``, ``currentSubscription.priceInfo``; ``startsAt`` in the home's local time
  with its offset (``2025-09-19T00:00:00.000+02:00``), one entry per quarter hour or hour of
  the local day (92 / 96 / 100, or 23 / 24 / 25);
- prices from :func:`price_of`: the recorded 96 ``total``s of 19 Sep 2025 as a profile by local
  quarter hour (see the README there), per home a cent more;
- ``state.homes``: the homes of the token (default the recorded ``foo-bar`` / ``my-alias``); a
  home whose id is in ``state.no_subscription`` has ``currentSubscription: null``;
- ``state.quarter_hourly_empty``: ``QUARTER_HOURLY`` answers ``current: null, today: [],
  tomorrow: []`` (as in May 2026) while ``HOURLY`` still works;
- ``state.published_until``: tomorrow's entries ending later are left out (``tomorrow: []``
  before publication, the real API's "not yet"); ``state.today`` fixes the local day;
- ``state.faults``: the next requests are answered with these, in order: an HTTP status (429
  with ``Retry-After: state.retry_after``; 504 with an HTML page, as Tibber's gateway sends
  it), ``"hang"``, ``"garbage"`` (HTTP 200 with a truncated body) or ``"internal"`` (HTTP 200
  with a GraphQL ``INTERNAL_SERVER_ERROR``);
- ``state.requests``: every request's resolution (``None``: refused before reading it;
  ``"fault 429"``: answered by an injected fault).

Run it by hand: ``python -m tests.support.fake_tibber --port 8084`` (127.0.0.1 only), then set
``base_url = "http://127.0.0.1:8084"`` and ``token = "test-token"`` for the tibber provider.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import re
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from tests.support.loopback import answer_fault, run_by_hand, serve_on_loopback

__all__ = [
    "FIXTURES",
    "GARBAGE",
    "QUARTER_HOURLY_FIXTURE",
    "STATE",
    "TOKEN",
    "FakeTibberState",
    "RunningFake",
    "day_starts",
    "load_fixture",
    "main",
    "make_app",
    "price_of",
    "profile",
    "serve",
]

#: Recorded responses of the real API (see the README there).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tibber"
QUARTER_HOURLY_FIXTURE = "priceInfo_QUARTER_HOURLY_today-tomorrow_2025-09-19_20"
HOURLY_FIXTURE = "priceInfo_HOURLY_today_tomorrow-empty_2023-10-27"
TOKEN = "test-token"
FIELDS = ("total", "energy", "tax", "startsAt", "currency", "level")
#: Each quarter hour's distance from its hour's price (currency/kWh): their mean is 0.
QUARTER_SPREAD = (-0.006, -0.002, 0.002, 0.006)
#: The body of the ``"garbage"`` fault: JSON cut off mid-entry.
GARBAGE = b'{"data":{"viewer":{"homes":[{"id":"foo-bar","currentSubscription":{"priceInfo":{"to'
GATEWAY_TIMEOUT = "<html><head><title>504 Gateway Time-out</title></head><body>504</body></html>"
_RESOLUTION = re.compile(r"priceInfo\s*(?:\(\s*resolution\s*:\s*(\w+)\s*\))?\s*\{")
_ENTRY_FIELDS = re.compile(r"\b(today|tomorrow|current)\s*\{([^{}]*)\}")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Fault = int | str


def load_fixture(name: str) -> dict[str, Any]:
    """A recorded response from tests/fixtures/tibber/ (``name`` without ``.json``)."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


@functools.cache
def profile() -> tuple[float, ...]:
    """The 96 recorded quarter-hourly ``total``s of 19 Sep 2025 (each hour's four alike)."""
    (home,) = load_fixture(QUARTER_HOURLY_FIXTURE)["data"]["viewer"]["homes"]
    return tuple(row["total"] for row in home["currentSubscription"]["priceInfo"]["today"])


def price_of(resolution: str, start: datetime, zone: ZoneInfo, home: int = 0) -> dict[str, float]:
    """``total``, ``energy``, ``tax`` (currency/kWh, 4 decimals) of the slot at ``start``: the
    profile's price of its local hour (the same hour twice on the autumn clock change), a
    quarter hour spread around it by :data:`QUARTER_SPREAD`; home ``n`` ``n`` cents more;
    ``tax`` 40 % of ``total``."""
    local = start.astimezone(zone)
    hour_price = profile()[local.hour * 4] + home * 0.01
    spread = QUARTER_SPREAD[local.minute // 15] if resolution == "QUARTER_HOURLY" else 0.0
    total = round(hour_price + spread, 4)
    tax = round(total * 0.4, 4)
    return {"total": total, "energy": round(total - tax, 4), "tax": tax}


def day_starts(day: date, zone: ZoneInfo, minutes: int) -> list[datetime]:
    """The slot starts of local ``day`` (UTC), every ``minutes`` from local midnight."""
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    step = timedelta(minutes=minutes)
    return [start + step * n for n in range((end - start) // step)]


def _level(total: float) -> str:
    return "CHEAP" if total < 0.25 else "EXPENSIVE" if total > 0.4 else "NORMAL"


def _stamp(start: datetime, zone: ZoneInfo) -> str:
    return start.astimezone(zone).isoformat(timespec="milliseconds")


def _error(message: str, code: str, status: int = 200) -> web.Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return web.json_response(body, status=status)


@dataclass
class FakeTibberState:
    """What a test sees and steers: requests made, faults, homes, what is published."""

    token: str = TOKEN
    homes: list[tuple[str, str | None]] = field(default_factory=lambda: [("foo-bar", "my-alias")])
    no_subscription: set[str] = field(default_factory=set)
    currency: str = "EUR"
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Berlin"))
    today: date | None = None
    quarter_hourly_empty: bool = False
    published_until: datetime | None = None
    requests: list[str | None] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    retry_after: str = "30"
    hang_seconds: float = 30.0
    #: Set when the server stops: hung requests give up then.
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def local_today(self) -> date:
        return self.today or datetime.now(self.zone).date()


STATE = web.AppKey("tibber_state", FakeTibberState)


def _entries(
    state: FakeTibberState, resolution: str, day: date, fields: Sequence[str], home: int
) -> list[dict[str, Any]]:
    minutes = 15 if resolution == "QUARTER_HOURLY" else 60
    rows = []
    for start in day_starts(day, state.zone, minutes):
        end = start + timedelta(minutes=minutes)
        if state.published_until is not None and end > state.published_until:
            continue
        full: dict[str, Any] = {
            **price_of(resolution, start, state.zone, home),
            "startsAt": _stamp(start, state.zone),
            "currency": state.currency,
        }
        full["level"] = _level(full["total"])
        rows.append({name: full[name] for name in fields})
    return rows


def _price_info(
    state: FakeTibberState, resolution: str, asked: dict[str, list[str]], home: int
) -> dict[str, Any]:
    today = state.local_today()
    info: dict[str, Any] = {}
    empty = resolution == "QUARTER_HOURLY" and state.quarter_hourly_empty
    if "current" in asked:
        info["current"] = None  # the plugin never asks; the empty answer of May 2026 had it null
    for key, day in (("today", today), ("tomorrow", today + timedelta(days=1))):
        if key in asked:
            info[key] = [] if empty else _entries(state, resolution, day, asked[key], home)
    return info


def make_app() -> web.Application:
    """The stand-in API (state in ``app[STATE]``)."""
    state = FakeTibberState()

    async def gql(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {state.token}":
            state.requests.append(None)
            return _error("invalid token: the access token is not valid", "UNAUTHENTICATED")
        try:
            payload = await request.json()
        except ValueError:
            state.requests.append(None)
            return _error("body is not JSON", "GRAPHQL_PARSE_FAILED", 400)
        query = payload.get("query") if isinstance(payload, dict) else None
        found = _RESOLUTION.search(query) if isinstance(query, str) else None
        if not isinstance(query, str) or found is None or "homes" not in query:
            state.requests.append(None)
            return _error("this stand-in answers viewer.homes priceInfo", "GRAPHQL_PARSE_FAILED")
        resolution = found.group(1) or "HOURLY"
        state.requests.append(resolution)
        if resolution not in ("HOURLY", "QUARTER_HOURLY"):
            message = f'Value "{resolution}" does not exist in "PriceInfoResolution" enum.'
            return _error(message, "GRAPHQL_VALIDATION_FAILED", 400)
        asked = {key: text.split() for key, text in _ENTRY_FIELDS.findall(query)}
        for names in asked.values():
            unknown = [name for name in names if name not in FIELDS]
            if unknown:
                message = f'Cannot query field "{unknown[0]}" on type "Price".'
                return _error(message, "GRAPHQL_VALIDATION_FAILED", 400)
        homes = []
        for index, (home_id, nickname) in enumerate(state.homes):
            subscription = (
                None
                if home_id in state.no_subscription
                else {"priceInfo": _price_info(state, resolution, asked, index)}
            )
            home: dict[str, Any] = {"id": home_id}
            if "appNickname" in query:
                home["appNickname"] = nickname
            home["currentSubscription"] = subscription
            homes.append(home)
        return web.json_response({"data": {"viewer": {"homes": homes}}})

    @web.middleware
    async def inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not state.faults:
            return await handler(request)
        fault = state.faults.popleft()
        state.requests.append(f"fault {fault}")
        if fault == 504:
            return web.Response(status=504, text=GATEWAY_TIMEOUT, content_type="text/html")
        if fault == "internal":
            return _error("Something went wrong", "INTERNAL_SERVER_ERROR")
        return await answer_fault(
            fault,
            retry_after=state.retry_after,
            hang_seconds=state.hang_seconds,
            release=state.released,
            garbage=web.Response(body=GARBAGE, content_type="application/json"),
        )

    app = web.Application(middlewares=[inject])
    app[STATE] = state
    app.router.add_post("/v1-beta/gql", gql)
    return app


@dataclass
class RunningFake:
    """The stand-in served on loopback: its root URL (the plugin's ``base_url``), its state."""

    url: str
    state: FakeTibberState

    def config(self, **extra: Any) -> dict[str, Any]:
        """The plugin keys for this stand-in: ``base_url`` and the accepted token."""
        return {"base_url": self.url, "token": self.state.token, **extra}


@contextlib.asynccontextmanager
async def serve(app: web.Application | None = None) -> AsyncIterator[RunningFake]:
    """Serve ``app`` (default: ``make_app()``) on 127.0.0.1 and a free port."""
    app = app or make_app()
    state = app[STATE]
    async with serve_on_loopback(app, state.released) as url:
        yield RunningFake(url, state)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the stand-in on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(description="Tibber GraphQL stand-in on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8084, help="TCP port (default 8084)")
    args = parser.parse_args(argv)
    banner = f"fake Tibber API: base_url = http://127.0.0.1:{args.port}, token = {TOKEN}"
    run_by_hand(make_app(), args.port, banner)


if __name__ == "__main__":
    main()
