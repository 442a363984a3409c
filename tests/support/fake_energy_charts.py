"""A loopback stand-in of the Energy-Charts price API (aiohttp.web), for tests and trying energyd.

Serves ``GET /price?bzn=<zone>&start=<date or ISO>&end=<date or ISO>`` the way the real API
answers (shape of the recorded ``tests/fixtures/energy_charts`` bodies): parallel arrays
``unix_seconds`` / ``price`` (EUR/MWh) for every slot start from ``start`` to ``end``
inclusive, ``license_info``, ``unit`` ``"EUR / MWh"`` and ``deprecated``. Slots are 15 minutes
from 2025-10-01 and hourly before (CH always hourly); prices are deterministic
(:func:`default_price`). Nothing after ``state.published_until`` is served: a window with no
published slot answers HTTP 404, as the real API does. An unknown zone answers 400.
``state.faults`` answers the next requests with the given faults (:data:`Fault`: a status,
429 with ``Retry-After``; ``"hang"``; ``"garbage"``, a ``/price`` answer cut off).

Run it by hand: ``python -m tests.support.fake_energy_charts --port 8081`` (127.0.0.1 only),
then set ``base_url = "http://127.0.0.1:8081"`` for the energy_charts provider.
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

from tests.support.loopback import Fault, answer_fault, run_by_hand, serve_on_loopback

__all__ = [
    "FIXTURES",
    "STATE",
    "FakeEnergyChartsState",
    "RunningFake",
    "day_starts",
    "default_price",
    "load_fixture",
    "main",
    "make_app",
    "price_body",
    "serve",
]

BERLIN = ZoneInfo("Europe/Berlin")
#: Recorded responses of the real API (see the README there).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "energy_charts"
#: First delivery day of 15-minute SDAC products.
QUARTER_HOURS_FROM = date(2025, 10, 1)
SMARD_LICENSE = "CC BY 4.0 (creativecommons.org/licenses/by/4.0) from Bundesnetzagentur | SMARD.de"
EPEX_LICENSE = "The data is provided by EPEX Spot for private and internal use only."
#: Zones this stand-in knows (a subset of the real list is enough for tests).
ZONES = frozenset({"AT", "BE", "CH", "DE-LU", "DK1", "FR", "IT-North", "NL", "NO2", "SE3", "SE4"})
_SMARD_ZONES = frozenset({"AT", "BE", "CH", "DE-LU", "FR", "NL"})

#: The body of the ``"garbage"`` fault: the JSON cut off mid-array.
GARBAGE = b'{"license_info":"CC BY 4.0","unix_seconds":[1764543600,17645'

PriceFunction = Callable[[str, datetime], float]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def load_fixture(name: str) -> dict[str, Any]:
    """A recorded response from tests/fixtures/energy_charts/ (``name`` without ``.json``)."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def default_price(zone: str, start: datetime) -> float:
    """A deterministic EUR/MWh price with a daily shape, some hours negative, 2 decimals."""
    hours = start.timestamp() / 3600
    base = 90 + 60 * math.sin(hours / 24 * 2 * math.pi) + 5 * (len(zone) % 3)
    return round(base - 100 if int(hours) % 24 == 13 else base, 2)


def step_for(zone: str, day: date) -> timedelta:
    """Slot length on local ``day``: 15 minutes from 2025-10-01 (hourly for CH, and before)."""
    if zone == "CH" or day < QUARTER_HOURS_FROM:
        return timedelta(hours=1)
    return timedelta(minutes=15)


def day_starts(day: date, step: timedelta) -> list[datetime]:
    """Every slot start of local Berlin ``day`` in UTC (92 / 96 / 100 quarter-hours)."""
    start = datetime.combine(day, time(0), tzinfo=BERLIN).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=BERLIN).astimezone(UTC)
    count = (end - start) // step
    return [start + step * n for n in range(count)]


def price_body(
    starts: Sequence[datetime], prices: Sequence[float | None], license_info: str = SMARD_LICENSE
) -> dict[str, Any]:
    """A ``/price`` answer in the key order of the recorded 2024 response."""
    return {
        "license_info": license_info,
        "unix_seconds": [int(moment.timestamp()) for moment in starts],
        "price": list(prices),
        "unit": "EUR / MWh",
        "deprecated": False,
    }


def _moment(value: str, *, end: bool) -> datetime | None:
    """``2024-12-10`` (a Berlin day; as ``end`` its last minute) or ISO with an offset."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            local = datetime.combine(day + timedelta(days=1) if end else day, time(0), BERLIN)
            return local.astimezone(UTC) - (timedelta(minutes=1) if end else timedelta(0))
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=BERLIN)).astimezone(UTC)


@dataclass
class FakeEnergyChartsState:
    """What a test sees and steers: requests made, faults to inject, the publication horizon."""

    requests: list[str] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    retry_after: str = "30"
    hang_seconds: float = 30.0
    #: Set when the stand-in stops: a hung request ends then.
    released: asyncio.Event = field(default_factory=asyncio.Event)
    published_until: datetime | None = None
    deprecated: bool = False


STATE = web.AppKey("energy_charts_state", FakeEnergyChartsState)


def make_app(prices: PriceFunction | None = None) -> web.Application:
    """The stand-in API; ``prices(zone, start_utc)`` -> EUR/MWh (default :func:`default_price`)."""
    price_of = prices or default_price
    state = FakeEnergyChartsState()

    async def price(request: web.Request) -> web.Response:
        zone = request.query.get("bzn", "")
        if zone not in ZONES:
            return web.json_response({"detail": f"unknown bidding zone {zone!r}"}, status=400)
        raw_start = request.query.get("start", datetime.now(BERLIN).date().isoformat())
        start = _moment(raw_start, end=False)
        end = _moment(request.query.get("end", raw_start[:10]), end=True)
        if start is None or end is None:
            return web.json_response({"detail": "start/end are not dates or times"}, status=400)
        day = start.astimezone(BERLIN).date() - timedelta(days=1)
        starts: list[datetime] = []
        while datetime.combine(day, time(0), BERLIN).astimezone(UTC) <= end:
            starts += [t for t in day_starts(day, step_for(zone, day)) if start <= t <= end]
            day += timedelta(days=1)
        if state.published_until is not None:
            starts = [t for t in starts if t < state.published_until]
        if not starts:
            return web.Response(status=404, text="no content")
        licence = SMARD_LICENSE if zone in _SMARD_ZONES else EPEX_LICENSE
        body = price_body(starts, [price_of(zone, t) for t in starts], licence)
        body["deprecated"] = state.deprecated
        return web.json_response(body)

    @web.middleware
    async def record_and_inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        state.requests.append(request.path_qs)
        if state.faults:
            return await answer_fault(
                state.faults.popleft(),
                retry_after=state.retry_after,
                hang_seconds=state.hang_seconds,
                release=state.released,
                garbage=web.Response(body=GARBAGE, content_type="application/json"),
            )
        return await handler(request)

    app = web.Application(middlewares=[record_and_inject])
    app[STATE] = state
    app.router.add_get("/price", price)
    return app


@dataclass
class RunningFake:
    """The stand-in served on loopback: its base URL and its state."""

    url: str
    state: FakeEnergyChartsState


@contextlib.asynccontextmanager
async def serve(app: web.Application | None = None) -> AsyncIterator[RunningFake]:
    """Serve ``app`` (default: ``make_app()``) on 127.0.0.1 and a free port."""
    app = app or make_app()
    async with serve_on_loopback(app, app[STATE].released) as url:
        yield RunningFake(url, app[STATE])


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the stand-in on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(description="Energy-Charts price API stand-in on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="TCP port (default 8081)")
    args = parser.parse_args(argv)
    run_by_hand(
        make_app(), args.port, f"fake Energy-Charts API: base_url = http://127.0.0.1:{args.port}"
    )


if __name__ == "__main__":
    main()
