"""A loopback stand-in of the Nord Pool data portal API (aiohttp.web), for tests and trying energyd.

Serves the two day-ahead endpoints in the layouts of the recorded ``tests/fixtures/nordpool``
bodies (same keys, same order):

- ``GET /DayAheadPrices?date=YYYY-MM-DD&market=DayAhead&deliveryArea=SE3[,SE4]&currency=EUR``:
  ``multiAreaEntries`` of the CET delivery day, 15-minute from 2025-10-01 and hourly before,
  with ``blockPriceAggregates`` (Off-peak 1 00-08, Peak 08-20, Off-peak 2 20-24 CET),
  ``areaStates`` and ``areaAverages``.
- ``GET /DayAheadPriceIndices?date=...&market=DayAhead&indexNames=SE3&currency=SEK
  &resolutionInMinutes=15|60``: ``multiIndexEntries`` of that resolution.

Prices are deterministic: :func:`default_price` gives EUR/MWh for an area and a quarter-hour
start; another currency is that times the fixed :data:`EXCHANGE_RATES` rate (the answer's
``exchangeRate``), rounded to 2 decimals (:func:`price_in`). An hourly entry (hourly days of
``DayAheadPrices``, the 60-minute index) is the mean of its four quarter-hour prices in the
currency, rounded to 2 decimals (:func:`hourly_price`; the real index can differ from that
mean by a few hundredths). A clock-change day has 92 / 100 quarter-hours (23 / 25 hours).

Nothing starting at or after ``state.published_until`` is served; a day with nothing left
answers as the real API does before publication: ``DayAheadPrices`` HTTP 204 with no body,
``DayAheadPriceIndices`` HTTP 200 with empty ``multiIndexEntries`` and ``areaStates`` (the
recorded FI answer). ``state.area_state`` is the ``areaStates`` state (``Final`` by default).
A malformed request (market, date, area, currency, resolution) answers 400 (the real API's
answer to those is not recorded). ``state.faults`` answers the next requests with: an HTTP
status (429 carries ``Retry-After: state.retry_after``), ``"hang"`` (no answer until
``state.hang_seconds`` pass or the stand-in stops) or ``"garbage"`` (HTTP 200, a truncated
JSON body). ``state.requests`` lists every request's path and query, ``state.user_agents``
their User-Agent.

Run it by hand: ``python -m tests.support.fake_nordpool --port 8082`` (127.0.0.1 only), then
set ``base_url = "http://127.0.0.1:8082"`` for the nordpool provider.
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
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from tests.support.loopback import answer_fault, run_by_hand, serve_on_loopback

__all__ = [
    "AREAS",
    "EXCHANGE_RATES",
    "FIXTURES",
    "STATE",
    "FakeNordPoolState",
    "RunningFake",
    "day_starts",
    "default_price",
    "hourly_price",
    "indices_body",
    "load_fixture",
    "main",
    "make_app",
    "price_in",
    "prices_body",
    "serve",
]

BERLIN = ZoneInfo("Europe/Berlin")
#: Recorded responses of the real API (see the README there).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nordpool"
#: First delivery day of 15-minute SDAC products.
QUARTER_HOURS_FROM = date(2025, 10, 1)
QUARTER = timedelta(minutes=15)
HOUR = timedelta(hours=1)
#: Nord Pool's delivery areas (pynordpool's list).
AREAS = frozenset(
    {"EE", "LT", "LV", "AT", "BE", "FR", "GER", "NL", "PL", "DK1", "DK2", "FI", "BG", "TEL", "SYS"}
    | {f"NO{n}" for n in range(1, 6)}
    | {f"SE{n}" for n in range(1, 5)}
)
#: Fixed EUR -> currency rates of this stand-in (roughly the late-2025 ones).
EXCHANGE_RATES: dict[str, float] = {
    "EUR": 1.0,
    "BGN": 1.95583,
    "DKK": 7.4606,
    "NOK": 11.5,
    "PLN": 4.25,
    "RON": 5.08,
    "SEK": 11.0,
}
#: Block aggregates of a DayAheadPrices answer: name, first and last local hour (exclusive).
BLOCKS = (("Off-peak 1", 0, 8), ("Peak", 8, 20), ("Off-peak 2", 20, 24))
#: The body of the "garbage" fault: JSON cut off in the middle.
GARBAGE = b'{"deliveryDateCET":"2026-03-29","multiAreaEntries":[{"deliveryStart":"2026-03'

PriceFunction = Callable[[str, datetime], float | None]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Fault = int | str


def load_fixture(name: str) -> dict[str, Any]:
    """A recorded response from tests/fixtures/nordpool/ (``name`` without ``.json``)."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def default_price(area: str, start: datetime) -> float:
    """A deterministic EUR/MWh price of ``area`` for the quarter-hour from ``start``: a daily
    wave, an offset per area, negative in the 12:00 UTC hour; 2 decimals."""
    hours = start.timestamp() / 3600
    base = 60 + 40 * math.sin(hours / 24 * 2 * math.pi) + 3 * (sum(map(ord, area)) % 7)
    base += (start.minute // 15) * 1.25
    return round(base - 80 if int(hours) % 24 == 12 else base, 2)


def price_in(eur_per_mwh: float | None, currency: str) -> float | None:
    """A EUR/MWh price in ``currency``/MWh at the stand-in's fixed rate, 2 decimals."""
    return None if eur_per_mwh is None else round(eur_per_mwh * EXCHANGE_RATES[currency], 2)


def hourly_price(quarters: Sequence[float | None]) -> float | None:
    """The hour's price: the mean of its quarter-hour prices (``None`` if one is missing)."""
    known = [value for value in quarters if value is not None]
    if not known or len(known) != len(quarters):
        return None
    return round(sum(known) / len(known), 2)


def day_starts(day: date, step: timedelta) -> list[datetime]:
    """Every slot start of CET/CEST ``day`` in UTC (92 / 96 / 100 quarter-hours)."""
    start = datetime.combine(day, time(0), tzinfo=BERLIN).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=BERLIN).astimezone(UTC)
    return [start + step * n for n in range(int((end - start) / step))]


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _updated(day: date) -> str:
    """``updatedAt``: 12:45 CET/CEST the day before, in the recorded 7-digit form."""
    local = datetime.combine(day - timedelta(days=1), time(12, 45), tzinfo=BERLIN)
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _entries(
    areas: Sequence[str],
    currency: str,
    starts: Sequence[datetime],
    step: timedelta,
    price_of: PriceFunction,
) -> list[dict[str, Any]]:
    entries = []
    for start in starts:
        quarters = [start + QUARTER * n for n in range(step // QUARTER)]
        per_area = {
            area: hourly_price([price_in(price_of(area, q), currency) for q in quarters])
            if step != QUARTER
            else price_in(price_of(area, start), currency)
            for area in areas
        }
        entries.append(
            {"deliveryStart": _z(start), "deliveryEnd": _z(start + step), "entryPerArea": per_area}
        )
    return entries


def _stats(values: Sequence[float | None]) -> dict[str, float] | None:
    known = [value for value in values if value is not None]
    if not known:
        return None
    return {
        "average": round(sum(known) / len(known), 2),
        "min": min(known),
        "max": max(known),
    }


def prices_body(
    day: date,
    areas: Sequence[str],
    currency: str,
    entries: Sequence[dict[str, Any]],
    state: str = "Final",
) -> dict[str, Any]:
    """A ``DayAheadPrices`` answer in the key order of the recorded SE3 one."""
    blocks = []
    for name, first, last in BLOCKS:
        low = datetime.combine(day, time(first), BERLIN).astimezone(UTC)
        high = datetime.combine(day + timedelta(days=last // 24), time(last % 24), BERLIN)
        inside = [e for e in entries if low <= _parse(e["deliveryStart"]) < high.astimezone(UTC)]
        if not inside:
            continue
        per_area = {area: _stats([e["entryPerArea"][area] for e in inside]) for area in areas}
        blocks.append(
            {
                "blockName": name,
                "deliveryStart": inside[0]["deliveryStart"],
                "deliveryEnd": inside[-1]["deliveryEnd"],
                "averagePricePerArea": per_area,
            }
        )
    averages = []
    for area in areas:
        stats = _stats([e["entryPerArea"][area] for e in entries])
        averages.append({"areaCode": area, "price": None if stats is None else stats["average"]})
    return {
        "deliveryDateCET": day.isoformat(),
        "version": 3,
        "updatedAt": _updated(day),
        "deliveryAreas": list(areas),
        "market": "DayAhead",
        "multiAreaEntries": list(entries),
        "blockPriceAggregates": blocks,
        "currency": currency,
        "exchangeRate": EXCHANGE_RATES[currency],
        "areaStates": [{"state": state, "areas": list(areas)}],
        "areaAverages": averages,
    }


def indices_body(
    day: date,
    areas: Sequence[str],
    currency: str,
    resolution: int,
    entries: Sequence[dict[str, Any]],
    state: str = "Final",
) -> dict[str, Any]:
    """A ``DayAheadPriceIndices`` answer in the recorded key order; no entries: "not yet"
    (version 0, empty ``areaStates``), as recorded for FI."""
    return {
        "deliveryDateCET": day.isoformat(),
        "version": 3 if entries else 0,
        "updatedAt": _updated(day),
        "market": "DayAhead",
        "indexNames": list(areas),
        "currency": currency,
        "resolutionInMinutes": resolution,
        "areaStates": [{"state": state, "areas": list(areas)}] if entries else [],
        "multiIndexEntries": list(entries),
    }


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass
class FakeNordPoolState:
    """What a test sees and steers: requests made, faults to inject, the publication horizon."""

    requests: list[str] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    retry_after: str = "30"
    published_until: datetime | None = None
    area_state: str = "Final"
    hang_seconds: float = 30.0
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


STATE = web.AppKey("nordpool_state", FakeNordPoolState)


def _bad(detail: str) -> web.Response:
    return web.json_response({"detail": detail}, status=400)


def make_app(prices: PriceFunction | None = None) -> web.Application:
    """The stand-in API; ``prices(area, quarter_start_utc)`` -> EUR/MWh or ``None`` (a null
    in the answer); default :func:`default_price`."""
    price_of = prices or default_price
    state = FakeNordPoolState()

    def query(request: web.Request, name: str) -> tuple[date, list[str], str] | web.Response:
        """The common parameters, or the 400 answer for them."""
        if request.query.get("market") != "DayAhead":
            return _bad("market must be DayAhead")
        try:
            day = date.fromisoformat(request.query.get("date", ""))
        except ValueError:
            return _bad("date must be YYYY-MM-DD")
        areas = [a for a in request.query.get(name, "").split(",") if a]
        if not areas or not set(areas) <= AREAS:
            return _bad(f"unknown {name} {request.query.get(name)!r}")
        currency = request.query.get("currency", "EUR")
        if currency not in EXCHANGE_RATES:
            return _bad(f"unknown currency {currency!r}")
        return day, areas, currency

    def published(day: date, step: timedelta) -> list[datetime]:
        starts = day_starts(day, step)
        if state.published_until is None:
            return starts
        return [start for start in starts if start < state.published_until]

    async def day_ahead_prices(request: web.Request) -> web.Response:
        asked = query(request, "deliveryArea")
        if isinstance(asked, web.Response):
            return asked
        day, areas, currency = asked
        step = QUARTER if day >= QUARTER_HOURS_FROM else HOUR
        starts = published(day, step)
        if not starts:
            return web.Response(status=204)
        entries = _entries(areas, currency, starts, step, price_of)
        return web.json_response(prices_body(day, areas, currency, entries, state.area_state))

    async def day_ahead_indices(request: web.Request) -> web.Response:
        asked = query(request, "indexNames")
        if isinstance(asked, web.Response):
            return asked
        day, areas, currency = asked
        resolution = request.query.get("resolutionInMinutes", "")
        if resolution not in ("15", "60"):
            return _bad("resolutionInMinutes must be 15 or 60")
        step = timedelta(minutes=int(resolution))
        entries = _entries(areas, currency, published(day, step), step, price_of)
        body = indices_body(day, areas, currency, int(resolution), entries, state.area_state)
        return web.json_response(body)  # application/json; charset=utf-8, as recorded

    @web.middleware
    async def record_and_inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        state.requests.append(request.path_qs)
        state.user_agents.append(request.headers.get("User-Agent", ""))
        if not state.faults:
            return await handler(request)
        return await answer_fault(
            state.faults.popleft(),
            retry_after=state.retry_after,
            hang_seconds=state.hang_seconds,
            release=state.stopping,
            garbage=web.Response(body=GARBAGE, content_type="application/json"),
        )

    app = web.Application(middlewares=[record_and_inject])
    app[STATE] = state
    app.router.add_get("/DayAheadPrices", day_ahead_prices)
    app.router.add_get("/DayAheadPriceIndices", day_ahead_indices)
    return app


@dataclass
class RunningFake:
    """The stand-in served on loopback: its base URL and its state."""

    url: str
    state: FakeNordPoolState


@contextlib.asynccontextmanager
async def serve(app: web.Application | None = None) -> AsyncIterator[RunningFake]:
    """Serve ``app`` (default: ``make_app()``) on 127.0.0.1 and a free port; a hanging
    request is released when the block ends."""
    app = app or make_app()
    async with serve_on_loopback(app, app[STATE].stopping) as url:
        yield RunningFake(url, app[STATE])


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the stand-in on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(description="Nord Pool data portal stand-in on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8082, help="TCP port (default 8082)")
    args = parser.parse_args(argv)
    run_by_hand(
        make_app(), args.port, f"fake Nord Pool API: base_url = http://127.0.0.1:{args.port}"
    )


if __name__ == "__main__":
    main()
