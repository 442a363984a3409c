"""A loopback stand-in of an EnergyZero-shaped price API and of smard.de's chart data
(aiohttp.web), for the generic HTTP / JSON plugin's tests and for trying it by hand.

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

smard.de, two steps (markets.md section 9), for filter ``4169`` (DE-LU price) and region
``DE-LU``, resolutions ``hour`` and ``quarterhour``:

- ``GET /app/chart_data/4169/DE-LU/index_<resolution>.json``: ``{"timestamps": [ms, ...]}``,
  the starts of the last :data:`SMARD_WEEKS` weekly files, ascending: each week starts on a
  Monday 00:00 Europe/Berlin, the last is the week holding the last published slot;
- ``GET /app/chart_data/4169/DE-LU/4169_DE-LU_<resolution>_<ms>.json`` (``ms`` one of the
  index): ``{"series": [[ms, EUR/MWh or null], ...]}``, every slot of that week (a
  clock-change week has 4 quarter-hours more or fewer), ``null`` for a slot ending after
  ``state.smard_published_until`` (default: the end of tomorrow, Berlin); any other file 404;
- the prices are those of the built ``smard_style_4169_DE-LU_hour_built.json`` (the 48
  recorded Energy-Charts DE-LU hours) moved to today: the hour starting ``n`` hours after
  today's Berlin midnight (``state.anchor``) costs the built file's hour ``n mod 48``, and a
  quarter-hour that plus 0.25 EUR/MWh per quarter past the hour (:func:`smard_price`).

Run it by hand: ``python -m tests.support.fake_http_json --port 8085`` (127.0.0.1 only), then
point a ``http_json`` provider's ``url`` at ``http://127.0.0.1:8085/v1/energyprices`` (or
``index_url`` / ``url`` at the smard paths above, ``{index}`` for ``<ms>``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web

from tests.support.loopback import answer_fault, run_by_hand, serve_on_loopback

__all__ = [
    "FIXTURES",
    "GARBAGE",
    "RECORDED",
    "SMARD_FILTER",
    "SMARD_HOURS",
    "SMARD_REGION",
    "SMARD_WEEKS",
    "SMARD_ZONE",
    "STATE",
    "ZONE",
    "FakeHttpJsonState",
    "RunningFake",
    "energyprices_body",
    "main",
    "make_app",
    "recorded_price",
    "serve",
    "smard_price",
    "smard_weeks",
    "week_start",
]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "http_json"
ZONE = ZoneInfo("Europe/Amsterdam")
HOUR = timedelta(hours=1)
PATH = "/v1/energyprices"
SMARD_PATH = "/app/chart_data"
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


SMARD_FILTER = "4169"
SMARD_REGION = "DE-LU"
SMARD_ZONE = ZoneInfo("Europe/Berlin")
#: Weekly files the stand-in's index lists.
SMARD_WEEKS = 4
SMARD_STEPS = {"hour": HOUR, "quarterhour": timedelta(minutes=15)}
_SMARD_FILE = re.compile(rf"{SMARD_FILTER}_{SMARD_REGION}_(hour|quarterhour)_(\d{{1,15}})\.json")
_SMARD_INDEX = re.compile(r"index_(hour|quarterhour)\.json")


def _smard_hours() -> list[float]:
    path = FIXTURES / "smard_style_4169_DE-LU_hour_built.json"
    series = json.loads(path.read_text(encoding="utf-8"))["series"]
    return [float(value) for _, value in series if value is not None]


#: The 48 prices (EUR/MWh) of the built smard-style file, in order.
SMARD_HOURS: tuple[float, ...] = tuple(_smard_hours())


def _berlin_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), SMARD_ZONE).astimezone(UTC)


def smard_price(start: datetime, anchor: date, resolution: str = "quarterhour") -> float:
    """The stand-in's price (EUR/MWh) of the slot starting at ``start`` (UTC): the built
    hour ``n mod 48`` for the hour ``n`` hours after ``anchor``'s Berlin midnight, plus
    0.25 per quarter past the hour at ``quarterhour``."""
    offset = start - _berlin_midnight(anchor)
    hours, rest = divmod(offset, HOUR)
    price = SMARD_HOURS[hours % len(SMARD_HOURS)]
    if resolution == "quarterhour":
        price += 0.25 * (rest // SMARD_STEPS["quarterhour"])
    return round(price, 2)


def week_start(moment: datetime) -> datetime:
    """The Monday 00:00 Europe/Berlin (in UTC) of the week holding ``moment``."""
    local = moment.astimezone(SMARD_ZONE).date()
    return _berlin_midnight(local - timedelta(days=local.weekday()))


def smard_weeks(published_until: datetime) -> list[datetime]:
    """The weekly files' starts the index lists: the last one holds the last published slot."""
    last = week_start(published_until - timedelta(microseconds=1))
    local = last.astimezone(SMARD_ZONE).date()
    return [_berlin_midnight(local - timedelta(weeks=n)) for n in range(SMARD_WEEKS - 1, -1, -1)]


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


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
    #: smard: the day the built prices start on, and the end of the published slots
    #: (``None``: the end of tomorrow, Berlin, at each request).
    anchor: date = field(default_factory=lambda: datetime.now(SMARD_ZONE).date())
    smard_published_until: datetime | None = None

    def smard_until(self) -> datetime:
        """Where smard's published slots end now."""
        if self.smard_published_until is not None:
            return self.smard_published_until
        tomorrow = datetime.now(SMARD_ZONE).date() + timedelta(days=1)
        return _berlin_midnight(tomorrow + timedelta(days=1))


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

    async def chart_data(request: web.Request) -> web.Response:
        where = (request.match_info["filter"], request.match_info["region"])
        if where != (SMARD_FILTER, SMARD_REGION):
            return web.Response(status=404, text="404 Not Found")
        name = request.match_info["name"]
        until = state.smard_until()
        weeks = smard_weeks(until)
        index = _SMARD_INDEX.fullmatch(name)
        if index is not None:
            return web.json_response({"timestamps": [_ms(week) for week in weeks]})
        weekly = _SMARD_FILE.fullmatch(name)
        if weekly is None:
            return web.Response(status=404, text="404 Not Found")
        resolution, stamp = weekly.group(1), int(weekly.group(2))
        first = next((week for week in weeks if _ms(week) == stamp), None)
        if first is None:
            return web.Response(status=404, text="404 Not Found")
        step = SMARD_STEPS[resolution]
        local = first.astimezone(SMARD_ZONE).date()
        end = _berlin_midnight(local + timedelta(weeks=1))
        series: list[list[float | int | None]] = []
        moment = first
        while moment < end:
            price = smard_price(moment, state.anchor, resolution)
            series.append([_ms(moment), price if moment + step <= until else None])
            moment += step
        return web.json_response({"series": series})

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
    app.router.add_get(SMARD_PATH + "/{filter}/{region}/{name}", chart_data)
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

    def smard_index_url(self, resolution: str = "quarterhour") -> str:
        """The ``index_url`` of an ``http_json`` provider reading smard's DE-LU prices."""
        return f"{self.url}{SMARD_PATH}/{SMARD_FILTER}/{SMARD_REGION}/index_{resolution}.json"

    def smard_url(self, resolution: str = "quarterhour") -> str:
        """The ``url`` (with ``{index}``) of that provider."""
        name = f"{SMARD_FILTER}_{SMARD_REGION}_{resolution}_{{index}}.json"
        return f"{self.url}{SMARD_PATH}/{SMARD_FILTER}/{SMARD_REGION}/{name}"


@contextlib.asynccontextmanager
async def serve(app: web.Application | None = None) -> AsyncIterator[RunningFake]:
    """Serve ``app`` (default: ``make_app()``) on 127.0.0.1 and a free port."""
    app = app or make_app()
    state = app[STATE]
    async with serve_on_loopback(app, state.released) as url:
        yield RunningFake(url, state)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the stand-in on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(description="EnergyZero-shaped price API on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8085, help="TCP port (default 8085)")
    args = parser.parse_args(argv)
    run_by_hand(make_app(), args.port, f"fake price API: url = http://127.0.0.1:{args.port}{PATH}")


if __name__ == "__main__":
    main()
