"""A loopback stand-in of an EnergyZero-shaped price API (aiohttp.web), for the generic HTTP /
JSON plugin's tests and for trying it by hand.

- ``GET /v1/energyprices?fromDate=<ISO>&tillDate=<ISO>&...``: the shape of the recorded
  ``tests/fixtures/http_json/energyzero_today_energy.json`` (``Prices[]`` of ``price`` in
  EUR/kWh and ``readingDate`` in UTC ``Z``, then ``intervalType``, ``average``, ``fromDate``,
  ``tillDate``), one entry per whole UTC hour from the hour holding ``fromDate`` to before
  ``tillDate`` (an Amsterdam day: 23, 24 or 25 of them);
- the recorded prices moved to any day: the hour starting ``n`` hours after local (Amsterdam)
  midnight costs the recorded day's hour ``n`` (:func:`recorded_price`, hour ``n mod 24`` on a
  25-hour day);
- nothing after ``state.published_until`` (an empty ``Prices`` list when nothing is left:
  how "not yet" looks);
- ``state.required_headers``: a request without these header values is answered 401 (an
  in-house API's key); ``state.headers`` records the headers of every request;
- ``state.faults``: the next requests are answered with these, in order (an HTTP status,
  ``"hang"`` or ``"garbage"``, see :mod:`tests.support.loopback`);
- ``state.requests``: every request's path and query.

Run it by hand: ``python -m tests.support.fake_http_json --port 8085`` (127.0.0.1 only), then
point a ``http_json`` provider's ``url`` at ``http://127.0.0.1:8085/v1/energyprices``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web

from tests.support.loopback import answer_fault, serve_on_loopback

__all__ = [
    "FIXTURES",
    "GARBAGE",
    "RECORDED",
    "STATE",
    "ZONE",
    "FakeHttpJsonState",
    "RunningFake",
    "energyprices_body",
    "main",
    "make_app",
    "recorded_price",
    "serve",
]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "http_json"
ZONE = ZoneInfo("Europe/Amsterdam")
HOUR = timedelta(hours=1)
PATH = "/v1/energyprices"
#: The body of the ``"garbage"`` fault: JSON cut off mid-entry.
GARBAGE = b'{"Prices":[{"price":0.35,"readingDate":"2022-12-06T23:00:00Z"},{"pri'

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _recorded() -> list[float]:
    body = json.loads((FIXTURES / "energyzero_today_energy.json").read_text(encoding="utf-8"))
    return [float(entry["price"]) for entry in body["Prices"]]


#: The 24 recorded prices (EUR/kWh) of the Amsterdam day 7 Dec 2022, in order.
RECORDED: tuple[float, ...] = tuple(_recorded())


def recorded_price(start: datetime) -> float:
    """The recorded price (EUR/kWh) moved to the hour starting at ``start`` (UTC)."""
    local = start.astimezone(ZONE)
    midnight = datetime.combine(local.date(), time(0), ZONE).astimezone(UTC)
    return RECORDED[((start - midnight) // HOUR) % len(RECORDED)]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def energyprices_body(starts: Sequence[datetime], first: datetime, last: datetime) -> bytes:
    """An answer for the hours ``starts`` asked as ``[first, last)``, in the recorded layout."""
    prices = [{"price": recorded_price(s), "readingDate": _iso(s)} for s in starts]
    average = round(sum(p["price"] for p in prices) / len(prices), 2) if prices else 0
    body = {
        "Prices": prices,
        "intervalType": 4,
        "average": average,
        "fromDate": _iso(first),
        "tillDate": (last - timedelta(milliseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.999Z"),
    }
    return json.dumps(body, indent=2).encode()


@dataclass
class FakeHttpJsonState:
    """What a test sees and steers."""

    requests: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    required_headers: dict[str, str] = field(default_factory=dict)
    faults: deque[int | str] = field(default_factory=deque)
    retry_after: str = "30"
    published_until: datetime | None = None
    hang_seconds: float = 30.0
    released: asyncio.Event = field(default_factory=asyncio.Event)


STATE = web.AppKey("http_json_state", FakeHttpJsonState)


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("no offset")
    return moment.astimezone(UTC)


def _authorised(headers: Mapping[str, str], required: Mapping[str, str]) -> bool:
    return all(headers.get(name) == value for name, value in required.items())


def make_app() -> web.Application:
    """The stand-in API."""
    state = FakeHttpJsonState()

    async def energyprices(request: web.Request) -> web.Response:
        if not _authorised(request.headers, state.required_headers):
            return web.json_response({"error": "unauthorised"}, status=401)
        try:
            first = _moment(request.query["fromDate"])
            last = _moment(request.query["tillDate"])
        except (KeyError, ValueError):
            return web.json_response({"error": "fromDate/tillDate: ISO 8601"}, status=400)
        moment = first.replace(minute=0, second=0, microsecond=0)
        starts = []
        while moment < last:
            if state.published_until is None or moment + HOUR <= state.published_until:
                starts.append(moment)
            moment += HOUR
        return web.Response(
            body=energyprices_body(starts, first, last), content_type="application/json"
        )

    @web.middleware
    async def record_and_inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        state.requests.append(request.path_qs)
        state.headers.append(dict(request.headers))
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
    app.router.add_get(PATH, energyprices)
    return app


@dataclass
class RunningFake:
    """The stand-in served on loopback: its root URL and its state."""

    url: str
    state: FakeHttpJsonState

    @property
    def prices_url(self) -> str:
        """The ``url`` of an ``http_json`` provider reading this stand-in."""
        return self.url + PATH


@contextlib.asynccontextmanager
async def serve(app: web.Application | None = None) -> AsyncIterator[RunningFake]:
    """Serve ``app`` (default: ``make_app()``) on 127.0.0.1 and a free port."""
    app = app or make_app()
    state = app[STATE]
    async with serve_on_loopback(app) as url:
        try:
            yield RunningFake(url, state)
        finally:
            state.released.set()


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the stand-in on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(description="EnergyZero-shaped price API on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8085, help="TCP port (default 8085)")
    args = parser.parse_args(argv)
    print(f"fake price API: url = http://127.0.0.1:{args.port}{PATH}", flush=True)
    web.run_app(make_app(), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
