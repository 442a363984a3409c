"""A loopback stand-in of Energi Data Service (aiohttp.web), for tests and trying energyd.

Serves ``GET /dataset/DayAheadPrices`` the way the real API answers (the layout of the recorded
``tests/fixtures/energidataservice`` bodies):

- ``start`` (included) / ``end`` (excluded) in Danish time, as ``yyyy``, ``yyyy-MM``,
  ``yyyy-MM-dd`` or ``yyyy-MM-ddTHH:mm`` (the API guide's formats); without ``end`` the
  answer runs to the newest record, without ``start`` it begins two days before ``end`` (the
  real dataset reaches back years: a stand-in simplification);
- ``filter`` a JSON object ``{"PriceArea": [...]}`` (a single string also works), else every
  area the stand-in knows (:data:`AREAS`, a subset of the real dataset's);
- ``sort`` ``"TimeUTC asc"`` / ``"TimeUTC desc"`` (default newest first, as the recorded
  ``Elspotprices`` answer without ``start`` shows; areas in name order within one time);
- ``limit`` (default 100; ``state.max_limit`` caps it, as a server might) and ``offset``;
- the envelope ``total`` (records matching before offset/limit), ``filters`` (the filter as a
  JSON *string*, only when one was given), ``limit``, ``dataset``, ``records``; records
  ``TimeUTC`` / ``TimeDK`` (naive), ``PriceArea``, ``DayAheadPriceEUR``, ``DayAheadPriceDKK``.

Records are 15 minutes from delivery day 2025-10-01 and hourly before, per Danish day (so
92 / 96 / 100 quarter hours on 2026-03-29 / ordinary days / 2026-10-25). Prices come from
:func:`default_price` (EUR/MWh) and are converted at the fixed rate :data:`DKK_PER_EUR`
(:func:`dkk`); ``state.dkk_missing`` (UTC starts) leaves DKK ``null`` with EUR present, a
price function returning ``None`` leaves both ``null``. Nothing at or after
``state.published_until`` is served: the real "not yet" is simply fewer records.

The real limit, "1 request per dataset per minute per IP", is enforced: a second accepted
request to the same dataset within ``state.min_interval`` seconds (60; 0 turns it off) by
``state.clock`` (injectable) answers 429 with ``Retry-After`` (the rest of the minute, whole
seconds). Refused requests do not restart the minute.

``state.faults`` answers the next requests, in order, before the limit is looked at: an HTTP
status (429 with ``Retry-After: state.retry_after``), ``"hang"`` (no answer for
``state.hang_seconds`` or until the server stops) or ``"garbage"`` (HTTP 200, JSON cut off).
``state.requests`` lists every request's path and query.

Run it by hand: ``python -m tests.support.fake_energidataservice --port 8083`` (127.0.0.1
only), then set ``base_url = "http://127.0.0.1:8083"`` for the energidataservice provider.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from tests.support.loopback import answer_fault, run_by_hand, serve_on_loopback

__all__ = [
    "AREAS",
    "DANISH",
    "DKK_PER_EUR",
    "FIXTURES",
    "GARBAGE",
    "STATE",
    "FakeEnergiDataServiceState",
    "RunningFake",
    "day_ahead_body",
    "day_starts",
    "default_price",
    "dkk",
    "load_fixture",
    "main",
    "make_app",
    "record",
    "serve",
    "step_for",
]

DANISH = ZoneInfo("Europe/Copenhagen")
#: Recorded responses of the real API (see the README there).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "energidataservice"
#: Price areas the stand-in serves (the real dataset has these and more).
AREAS = ("DE", "DK1", "DK2", "NO2", "SE3", "SE4")
#: DKK per EUR of every DKK price: the rate of the recorded Elspotprices answer (690.700059 DKK
#: for 92.540001 EUR).
DKK_PER_EUR = 7.4638
#: First delivery day of 15-minute SDAC products.
QUARTER_HOURS_FROM = date(2025, 10, 1)
#: The body of the ``"garbage"`` fault: JSON cut off mid-record.
GARBAGE = b'{"total":192,"filters":"{\\"PriceArea\\":[\\"DK1\\"]}","limit":200,"records":[{"Ti'

PriceFunction = Callable[[str, datetime], float | None]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Fault = int | str


def load_fixture(name: str) -> dict[str, Any]:
    """A recorded response from tests/fixtures/energidataservice/ (``name`` without .json)."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def default_price(area: str, start: datetime) -> float:
    """EUR/MWh for the slot starting at ``start`` (UTC): ``80 + 60 sin(2π h / 24)`` with ``h``
    the hours since 1970 (quarter hours included), plus 3 per letter-and-digit sum of the area
    code mod 5, and 150 less in the 11:00 UTC hour (so some prices are negative); 2 decimals."""
    hours = start.timestamp() / 3600
    price = 80 + 60 * math.sin(hours / 24 * 2 * math.pi) + 3 * (sum(map(ord, area)) % 5)
    return round(price - 150 if start.hour == 11 else price, 2)


def dkk(eur: float) -> float:
    """The DKK/MWh price of ``eur`` EUR/MWh at :data:`DKK_PER_EUR`, 6 decimals as EDS has."""
    return round(eur * DKK_PER_EUR, 6)


def step_for(day: date) -> timedelta:
    """Slot length of Danish ``day``: 15 minutes from 2025-10-01, an hour before."""
    return timedelta(minutes=15) if day >= QUARTER_HOURS_FROM else timedelta(hours=1)


def day_starts(day: date) -> list[datetime]:
    """Every slot start of Danish ``day`` in UTC (92 / 96 / 100 quarter hours, 23-25 hours)."""
    start = datetime(day.year, day.month, day.day, tzinfo=DANISH).astimezone(UTC)
    after = day + timedelta(days=1)
    end = datetime(after.year, after.month, after.day, tzinfo=DANISH).astimezone(UTC)
    step = step_for(day)
    return [start + step * n for n in range((end - start) // step)]


def record(
    area: str, start: datetime, eur: float | None, dkk_price: float | None
) -> dict[str, Any]:
    """One DayAheadPrices record in the recorded key order."""
    return {
        "TimeUTC": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "TimeDK": start.astimezone(DANISH).strftime("%Y-%m-%dT%H:%M:%S"),
        "PriceArea": area,
        "DayAheadPriceEUR": eur,
        "DayAheadPriceDKK": dkk_price,
    }


def _records(
    days: Iterable[date],
    areas: Sequence[str],
    prices: PriceFunction,
    dkk_missing: Iterable[datetime] = (),
) -> list[dict[str, Any]]:
    missing = set(dkk_missing)
    out: list[dict[str, Any]] = []
    for day in days:
        for start in day_starts(day):
            for area in sorted(areas):
                eur = prices(area, start)
                value = None if eur is None or start in missing else dkk(eur)
                out.append(record(area, start, eur, value))
    return out


def day_ahead_body(
    days: Iterable[date],
    areas: Sequence[str] = ("DK1", "DK2"),
    prices: PriceFunction | None = None,
    *,
    limit: int = 1000,
) -> dict[str, Any]:
    """A whole-day DayAheadPrices answer (ascending) in the recorded envelope layout."""
    records = _records(days, areas, prices or default_price)
    return {
        "total": len(records),
        "filters": json.dumps({"PriceArea": list(areas)}, separators=(",", ":")),
        "limit": limit,
        "dataset": "DayAheadPrices",
        "records": records,
    }


def _danish_moment(value: str) -> datetime | None:
    """``yyyy``, ``yyyy-MM``, ``yyyy-MM-dd`` or ``yyyy-MM-ddTHH:mm`` Danish time -> UTC."""
    try:
        if len(value) == 4:
            local = datetime(int(value), 1, 1)
        elif len(value) == 7:
            local = datetime(int(value[:4]), int(value[5:7]), 1)
        else:
            local = datetime.fromisoformat(value)
    except ValueError:
        return None
    if local.tzinfo is not None:
        return None
    return local.replace(tzinfo=DANISH).astimezone(UTC)


def _areas(raw: str | None) -> tuple[tuple[str, ...], str | None] | None:
    """The areas a ``filter`` asks for, and the ``filters`` string to echo (None: no filter)."""
    if raw is None:
        return AREAS, None
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(parsed, dict) or set(parsed) - {"PriceArea"}:
        return None
    wanted = parsed.get("PriceArea", list(AREAS))
    wanted = [wanted] if isinstance(wanted, str) else wanted
    if not isinstance(wanted, list) or not all(isinstance(a, str) for a in wanted):
        return None
    return tuple(a for a in AREAS if a in wanted), json.dumps(parsed, separators=(",", ":"))


@dataclass
class FakeEnergiDataServiceState:
    """What a test sees and steers: requests, faults, the publication horizon, the limit."""

    requests: list[str] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    retry_after: str = "30"
    published_until: datetime | None = None
    #: UTC slot starts whose DKK price is null while EUR is there.
    dkk_missing: set[datetime] = field(default_factory=set)
    #: The largest ``limit`` served (None: as asked).
    max_limit: int | None = None
    #: Seconds between two accepted requests to one dataset (the real limit: 60); 0: none.
    min_interval: float = 60.0
    clock: Callable[[], float] = time.monotonic
    #: dataset -> ``clock()`` of its last accepted request.
    last_accepted: dict[str, float] = field(default_factory=dict)
    hang_seconds: float = 30.0
    #: Set when the server stops: hung requests give up then.
    released: asyncio.Event = field(default_factory=asyncio.Event)


STATE = web.AppKey("energidataservice_state", FakeEnergiDataServiceState)


def _bad(message: str) -> web.Response:
    return web.json_response({"error": "Bad Request", "message": message}, status=400)


def _query(query: Mapping[str, str], state: FakeEnergiDataServiceState) -> dict[str, Any] | str:
    """The request's parameters checked, or what is wrong with them."""
    end = _danish_moment(query["end"]) if "end" in query else None
    if "end" in query and end is None:
        return "end is not yyyy, yyyy-MM, yyyy-MM-dd or yyyy-MM-ddTHH:mm"
    if "start" in query:
        start = _danish_moment(query["start"])
        if start is None:
            return "start is not yyyy, yyyy-MM, yyyy-MM-dd or yyyy-MM-ddTHH:mm"
    else:
        start = (end or datetime.now(UTC)) - timedelta(days=2)
    if end is None:
        end = state.published_until or datetime.now(UTC) + timedelta(days=2)
    areas = _areas(query.get("filter"))
    if areas is None:
        return 'filter is not a JSON object like {"PriceArea":["DK1"]}'
    sort = query.get("sort", "TimeUTC desc").strip().split()
    if (
        len(sort) not in (1, 2)
        or sort[0] not in ("TimeUTC", "TimeDK")
        or sort[1:]
        not in (
            [],
            ["asc"],
            ["desc"],
        )
    ):
        return f"cannot sort by {query.get('sort')!r}"
    try:
        limit, offset = int(query.get("limit", "100")), int(query.get("offset", "0"))
    except ValueError:
        return "limit and offset are whole numbers"
    if limit < 1 or offset < 0:
        return "limit must be at least 1 and offset at least 0"
    return {
        "window": (start, end),
        "areas": areas[0],
        "filters": areas[1],
        "descending": sort[1:] == ["desc"],
        "limit": min(limit, state.max_limit or limit),
        "offset": offset,
    }


def make_app(prices: PriceFunction | None = None) -> web.Application:
    """The stand-in API; ``prices(area, start_utc)`` -> EUR/MWh or None (default
    :func:`default_price`)."""
    price_of: PriceFunction = prices or default_price
    state = FakeEnergiDataServiceState()

    async def day_ahead(request: web.Request) -> web.Response:
        asked = _query(request.query, state)
        if isinstance(asked, str):
            return _bad(asked)
        start, end = asked["window"]
        first = start.astimezone(DANISH).date() - timedelta(days=1)
        count = (end - start).days + 3
        records = [
            row
            for row in _records(
                (first + timedelta(days=n) for n in range(count)),
                asked["areas"],
                price_of,
                state.dkk_missing,
            )
            if start <= _utc(row) < end
            and (state.published_until is None or _utc(row) < state.published_until)
        ]
        if asked["descending"]:  # newest first; areas stay in name order within one time
            records.sort(key=_utc, reverse=True)
        offset, limit = asked["offset"], asked["limit"]
        body: dict[str, Any] = {"total": len(records)}
        if asked["filters"] is not None:
            body["filters"] = asked["filters"]
        body |= {
            "limit": limit,
            "dataset": "DayAheadPrices",
            "records": records[offset : offset + limit],
        }
        return web.json_response(body)

    def throttled(dataset: str) -> web.Response | None:
        if state.min_interval <= 0:
            return None
        now = state.clock()
        last = state.last_accepted.get(dataset)
        if last is not None and now - last < state.min_interval:
            wait = math.ceil(state.min_interval - (now - last))
            return web.Response(
                status=429, text="Too Many Requests", headers={"Retry-After": str(wait)}
            )
        state.last_accepted[dataset] = now
        return None

    @web.middleware
    async def record_and_inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        state.requests.append(request.path_qs)
        if not state.faults:
            refused = throttled(request.path)
            return refused or await handler(request)
        return await answer_fault(
            state.faults.popleft(),
            retry_after=state.retry_after,
            hang_seconds=state.hang_seconds,
            release=state.released,
            garbage=web.Response(body=GARBAGE, content_type="application/json"),
        )

    app = web.Application(middlewares=[record_and_inject])
    app[STATE] = state
    app.router.add_get("/dataset/DayAheadPrices", day_ahead)
    return app


def _utc(row: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(row["TimeUTC"])).replace(tzinfo=UTC)


@dataclass
class RunningFake:
    """The stand-in served on loopback: its base URL and its state."""

    url: str
    state: FakeEnergiDataServiceState


@contextlib.asynccontextmanager
async def serve(app: web.Application | None = None) -> AsyncIterator[RunningFake]:
    """Serve ``app`` (default: ``make_app()``) on 127.0.0.1 and a free port."""
    app = app or make_app()
    state = app[STATE]
    async with serve_on_loopback(app, state.released) as url:
        yield RunningFake(url, state)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the stand-in on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(description="Energi Data Service stand-in on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8083, help="TCP port (default 8083)")
    parser.add_argument(
        "--no-rate-limit", action="store_true", help="do not answer 429 within a minute"
    )
    args = parser.parse_args(argv)
    app = make_app()
    if args.no_rate_limit:
        app[STATE].min_interval = 0
    run_by_hand(
        app, args.port, f"fake Energi Data Service: base_url = http://127.0.0.1:{args.port}"
    )


if __name__ == "__main__":
    main()
