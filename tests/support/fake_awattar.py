"""A loopback stand-in of aWATTar's market data API (aiohttp.web), for tests and trying energyd.

One server plays both countries, told apart by a path prefix:

- ``GET /de/v1/marketdata`` and ``GET /at/v1/marketdata`` (base_url ``<url>/de`` or ``<url>/at``
  for the awattar plugin), and the bare ``GET /v1/marketdata`` for ``state.country``;
- ``start`` / ``end`` in epoch milliseconds, as the real API takes them; the rows are whole UTC
  hours from the hour holding ``start`` to before ``end`` (so a CET/CEST day has 23, 24 or 25
  of them), each with its own ``end_timestamp``. Without ``start`` the window starts now,
  without ``end`` it lasts 24 h from the hour holding ``start`` (the recorded "now → +24 h"
  answer holds 24 rows from the current hour; the flooring is inferred from it);
- the shape of the recorded ``tests/fixtures/awattar`` bodies: ``object`` ``"list"``, ``data``
  rows with ``start_timestamp`` / ``end_timestamp`` / ``marketprice`` / ``unit`` ``"Eur/MWh"``,
  and ``url`` ``"/de/v1/marketdata"`` (the path, no query);
- prices from :func:`default_price`: a function of the country and the hour, two decimals;
- nothing after ``state.published_until`` (rows ending later are left out: the real API's
  "not yet" is simply fewer rows, or none; never an error status);
- ``state.faults``: the next requests are answered with these, in order: an HTTP status (429
  with ``Retry-After: state.retry_after``), ``"hang"`` (no answer for ``state.hang_seconds``,
  or until the server stops) or ``"garbage"`` (HTTP 200 with a truncated JSON body);
- ``state.requests``: every request's path and query.

Run it by hand: ``python -m tests.support.fake_awattar --port 8082`` (127.0.0.1 only), then set
``base_url = "http://127.0.0.1:8082/de"`` (or ``/at``) for the awattar provider.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.support.loopback import answer_fault, run_by_hand, serve_on_loopback

__all__ = [
    "COUNTRIES",
    "FIXTURES",
    "GARBAGE",
    "STATE",
    "FakeAwattarState",
    "RunningFake",
    "default_price",
    "epoch_ms",
    "hour_starts",
    "load_fixture",
    "main",
    "make_app",
    "marketdata_body",
    "serve",
]

#: Recorded responses of the real API (see the README there).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "awattar"
COUNTRIES = ("DE", "AT")
HOUR = timedelta(hours=1)
#: The body of the ``"garbage"`` fault: JSON cut off mid-row.
GARBAGE = b'{"object":"list","data":[{"start_timestamp":1774738800000,"end_timest'

PriceFunction = Callable[[str, datetime], float]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Fault = int | str


def load_fixture(name: str) -> dict[str, Any]:
    """A recorded response from tests/fixtures/awattar/ (``name`` without ``.json``)."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def epoch_ms(moment: datetime) -> int:
    """An aware datetime as whole milliseconds since 1970."""
    return int(moment.timestamp() * 1000)


def _from_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


def default_price(country: str, start: datetime) -> float:
    """EUR/MWh for the hour starting at ``start`` (UTC): ``100 + 50 sin(2π h / 24)`` with ``h``
    the hours since 1970, plus 7.5 for AT, and 120 less in the 12:00 UTC hour (so some
    prices are negative); rounded to 2 decimals."""
    hours = start.timestamp() / 3600
    price = 100 + 50 * math.sin(hours / 24 * 2 * math.pi) + (7.5 if country == "AT" else 0)
    return round(price - 120 if start.hour == 12 else price, 2)


def hour_starts(start: datetime, end: datetime) -> list[datetime]:
    """Whole UTC hours from the one holding ``start`` up to (not including) ``end``."""
    moment = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    starts: list[datetime] = []
    while moment < end:
        starts.append(moment)
        moment += HOUR
    return starts


def marketdata_body(
    rows: Sequence[tuple[datetime, datetime, float]], country: str = "DE"
) -> dict[str, Any]:
    """A ``/v1/marketdata`` answer in the key order of the recorded ones."""
    return {
        "object": "list",
        "data": [
            {
                "start_timestamp": epoch_ms(begin),
                "end_timestamp": epoch_ms(end),
                "marketprice": price,
                "unit": "Eur/MWh",
            }
            for begin, end, price in rows
        ],
        "url": f"/{country.lower()}/v1/marketdata",
    }


@dataclass
class FakeAwattarState:
    """What a test sees and steers: requests made, faults to inject, the publication horizon."""

    requests: list[str] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    retry_after: str = "30"
    published_until: datetime | None = None
    #: The country of the bare ``/v1/marketdata`` path.
    country: str = "DE"
    hang_seconds: float = 30.0
    #: Set when the server stops: hung requests give up then.
    released: asyncio.Event = field(default_factory=asyncio.Event)


STATE = web.AppKey("awattar_state", FakeAwattarState)


def _window(query: Any) -> tuple[datetime, datetime] | None:
    try:
        start = _from_ms(int(query["start"])) if "start" in query else datetime.now(UTC)
        hour = start.replace(minute=0, second=0, microsecond=0)
        end = _from_ms(int(query["end"])) if "end" in query else hour + timedelta(hours=24)
    except (ValueError, OverflowError, OSError):
        return None
    return start, end


def make_app(prices: PriceFunction | None = None) -> web.Application:
    """The stand-in API; ``prices(country, start_utc)`` -> EUR/MWh (default
    :func:`default_price`)."""
    price_of = prices or default_price
    state = FakeAwattarState()

    async def marketdata(request: web.Request) -> web.Response:
        prefix = request.match_info.get("country")
        country = state.country if prefix is None else prefix.upper()
        window = _window(request.query)
        if window is None:
            return web.json_response({"error": "start/end are not epoch milliseconds"}, status=400)
        rows = [
            (begin, begin + HOUR, price_of(country, begin))
            for begin in hour_starts(*window)
            if state.published_until is None or begin + HOUR <= state.published_until
        ]
        return web.json_response(marketdata_body(rows, country))

    @web.middleware
    async def record_and_inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        state.requests.append(request.path_qs)
        if not state.faults:
            return await handler(request)
        return await answer_fault(
            state.faults.popleft(),
            retry_after=state.retry_after,
            hang_seconds=state.hang_seconds,
            release=state.released,
            garbage=web.Response(body=GARBAGE, content_type="application/json"),
        )

    app = web.Application(middlewares=[record_and_inject])
    app[STATE] = state
    app.router.add_get("/v1/marketdata", marketdata)
    app.router.add_get(r"/{country:de|at}/v1/marketdata", marketdata)
    return app


@dataclass
class RunningFake:
    """The stand-in served on loopback: its root URL and its state."""

    url: str
    state: FakeAwattarState

    def base_url(self, country: str) -> str:
        """The awattar plugin's ``base_url`` for ``country`` (``"DE"`` / ``"AT"``)."""
        return f"{self.url}/{country.lower()}"


@contextlib.asynccontextmanager
async def serve(app: web.Application | None = None) -> AsyncIterator[RunningFake]:
    """Serve ``app`` (default: ``make_app()``) on 127.0.0.1 and a free port."""
    app = app or make_app()
    state = app[STATE]
    async with serve_on_loopback(app, state.released) as url:
        yield RunningFake(url, state)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the stand-in on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(description="aWATTar market data stand-in on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8082, help="TCP port (default 8082)")
    args = parser.parse_args(argv)
    root = f"http://127.0.0.1:{args.port}"
    run_by_hand(make_app(), args.port, f"fake aWATTar API: base_url = {root}/de or {root}/at")


if __name__ == "__main__":
    main()
