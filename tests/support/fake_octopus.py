"""A small fake of the Octopus Energy REST API (aiohttp.web), for tests and for trying energyd.

Serves, for every product in ``products`` and all 14 regions::

    /v1/products/                                                    (paginated; ?is_tracker=)
    /v1/products/{code}/                                             (404 when unknown)
    /v1/products/{code}/electricity-tariffs/{tariff}/standard-unit-rates/
    /v1/products/{code}/gas-tariffs/{tariff}/standard-unit-rates/    (products with gas)
    /v1/accounts/{number}/                                           (Basic auth: the API key)
    /v1/industry/grid-supply-points/?postcode=...                    (region of a postcode)

Unit rates are deterministic, honour ``period_from`` / ``period_to`` / ``page_size`` / ``page``,
come newest first, and link to the next page with an absolute URL built from the request's own
host (or ``link_base``, to mimic a proxy that passes Octopus's links through). Agile products
give half-hours of ``prices(region, valid_from)`` (p/kWh inc VAT); the products in ``rates``
(default :data:`~tests.support.octopus_data.FAMILY_RATES`) give their family's rows: Go, Cosy,
Flux blocks on the UK wall clock, Tracker's one row per UK day (electricity and gas),
open-ended rows, DIRECT_DEBIT / NON_DIRECT_DEBIT duplicates, a product gone quiet or gone
(:class:`~tests.support.octopus_data.ProductRates`). Rows ending after ``state.published_until``
are not served yet. ``state.faults`` answers the next requests with given HTTP statuses (or
``"hang"`` / ``"garbage"``); ``state.down`` drops every connection unanswered (an outage of the
API at the address energyd is configured with); ``state.requests`` records every path and query
asked for.

Run it by hand: ``python -m tests.support.fake_octopus --port 8080`` (binds 127.0.0.1 only),
then set ``base_url = "http://127.0.0.1:8080"`` for the octopus_agile provider.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import re
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from yarl import URL

from tests.support.loopback import answer_fault, run_by_hand, serve_on_loopback
from tests.support.octopus_data import (
    FAMILY_RATES,
    REGIONS,
    SLOT,
    ProductRates,
    default_price,
    default_products,
    family_products,
    half_hours,
    page,
    product_detail,
    rates_rows,
    uk_publish_horizon,
    unit_rate_row,
)

__all__ = ["STATE", "FakeOctopusState", "RunningFake", "main", "make_app", "serve"]

PriceFunction = Callable[[str, datetime], float]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_TARIFF = re.compile(r"^(?P<fuel>[EG])-1R-(?P<product>.+)-(?P<region>[A-Z])$")
#: The body of the ``"garbage"`` fault: JSON cut off mid-row.
GARBAGE = b'{"count":48,"next":null,"previous":null,"results":[{"value_exc_vat":17.4'
AGILE = ProductRates("agile")
#: Without period_to the real API pages through years of history; the fake serves this much.
DEFAULT_SPAN = timedelta(days=2)


@dataclass
class FakeOctopusState:
    """What a test can see and steer: requests made, faults to inject (HTTP statuses)."""

    requests: list[str] = field(default_factory=list)
    faults: deque[int | str] = field(default_factory=deque)
    retry_after: str = "0"
    down: bool = False
    #: Rows ending later are not published yet (None: everything asked for).
    published_until: datetime | None = None
    hang_seconds: float = 30.0
    #: Set when the server stops: hung requests give up then.
    released: asyncio.Event = field(default_factory=asyncio.Event)


STATE = web.AppKey("octopus_state", FakeOctopusState)


def _not_found(detail: str = "Not found.") -> web.Response:
    return web.json_response({"detail": detail}, status=404)


def _bad_request(key: str, message: str) -> web.Response:
    return web.json_response({key: [message]}, status=400)


def _parse_time(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


def _positive_int(value: str | None, default: int) -> int | None:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        return None
    return number if number > 0 else None


#: Outward codes -> grid supply point groups the stand-in knows (a city centre per region;
#: ``ZZ1`` is invented, for a postcode that spans two groups).
POSTCODE_GROUPS: dict[str, tuple[str, ...]] = {
    "CB1": ("_A",),
    "NG1": ("_B",),
    "SW1A": ("_C",),
    "L1": ("_D",),
    "B1": ("_E",),
    "NE1": ("_F",),
    "M1": ("_G",),
    "SO14": ("_H",),
    "CT1": ("_J",),
    "CF10": ("_K",),
    "BS1": ("_L",),
    "LS1": ("_M",),
    "EH1": ("_N",),
    "AB10": ("_P",),
    "ZZ1": ("_D", "_E"),
}


def _outward(postcode: str) -> str:
    """``"sw1a 1aa"``, ``"SW1A1AA"`` or ``"SW1A"`` -> ``"SW1A"`` (the inward part is 3 long)."""
    text = "".join(postcode.split()).upper()
    return text[:-3] if len(text) > 4 else text


class _FakeOctopus:
    def __init__(
        self,
        prices: PriceFunction,
        page_size_cap: int,
        products: Sequence[Mapping[str, Any]],
        horizon: Callable[[datetime], datetime] | None,
        link_base: str | None,
        rates: Mapping[str, ProductRates],
        accounts: Mapping[str, tuple[str, Mapping[str, Any]]],
        state: FakeOctopusState,
    ) -> None:
        self.rates = dict(rates)
        self.accounts = dict(accounts)
        self.state = state
        self.prices = prices
        self.page_size_cap = page_size_cap
        self.products = {str(item["code"]): dict(item) for item in products}
        self.horizon = horizon
        self.link_base = URL(link_base) if link_base else None

    def _link(self, request: web.Request, page_number: int) -> str:
        url = request.url.update_query(page=str(page_number))
        if self.link_base is not None:
            url = self.link_base.with_path(url.path).with_query(url.query)
        return str(url)

    def _paginate(self, request: web.Request, rows: Sequence[Mapping[str, Any]]) -> web.Response:
        size = _positive_int(request.query.get("page_size"), 100)
        number = _positive_int(request.query.get("page"), 1)
        if size is None:
            return _bad_request("page_size", "A positive integer is required.")
        if number is None:
            return _not_found("Invalid page.")
        size = min(size, self.page_size_cap)
        first = (number - 1) * size
        if first and first >= len(rows):
            return _not_found("Invalid page.")
        chunk = rows[first : first + size]
        next_url = self._link(request, number + 1) if first + size < len(rows) else None
        previous_url = self._link(request, number - 1) if number > 1 else None
        return web.json_response(page(chunk, next_url, previous_url, count=len(rows)))

    async def grid_supply_points(self, request: web.Request) -> web.Response:
        """As Octopus: all 14 groups without a postcode, ``count: 0`` for an unknown one."""
        postcode = request.query.get("postcode")
        if postcode is None:
            groups: tuple[str, ...] = tuple(f"_{region}" for region in REGIONS)
        else:
            groups = POSTCODE_GROUPS.get(_outward(postcode), ())
        return self._paginate(request, [{"group_id": group} for group in groups])

    async def products_list(self, request: web.Request) -> web.Response:
        listed = list(self.products.values())
        tracker = request.query.get("is_tracker")
        if tracker is not None:
            listed = [p for p in listed if bool(p.get("is_tracker")) == (tracker == "true")]
        return self._paginate(request, listed)

    def spec(self, code: str) -> ProductRates:
        return self.rates.get(code, AGILE)

    async def product(self, request: web.Request) -> web.Response:
        code = request.match_info["code"]
        if code not in self.products or self.spec(code).gone:
            return _not_found("No EnergyProduct matches the given query.")
        summary = self.products[code]
        base = f"{request.scheme}://{request.host}"
        detail = product_detail(code, base=base, gas=self.spec(code).gas)
        detail["available_from"] = summary.get("available_from")
        detail["available_to"] = summary.get("available_to")
        detail["brand"] = summary.get("brand", "OCTOPUS_ENERGY")
        return web.json_response(detail)

    async def account(self, request: web.Request) -> web.Response:
        """``/v1/accounts/{number}/``: the account's body for its API key (Basic auth, the key
        as user name), 401 for another key or none, 404 for an unknown account."""
        number = request.match_info["number"]
        entry = self.accounts.get(number)
        if entry is None:
            return _not_found()
        key, body = entry
        wanted = "Basic " + base64.b64encode(f"{key}:".encode()).decode("ascii")
        if request.headers.get("Authorization") != wanted:
            return web.json_response({"detail": "Invalid API key"}, status=401)
        return web.json_response(dict(body))

    async def unit_rates(self, request: web.Request) -> web.Response:
        code = request.match_info["code"]
        match = _TARIFF.match(request.match_info["tariff"])
        if code not in self.products or match is None or self.spec(code).gone:
            return _not_found()
        if match["product"] != code or match["region"] not in REGIONS:
            return _not_found()
        gas = request.path.split("/")[4] == "gas-tariffs"
        if (match["fuel"] == "G") != gas or (gas and not self.spec(code).gas):
            return _not_found()
        now = datetime.now(UTC)
        bounds: dict[str, datetime | None] = {}
        for key in ("period_from", "period_to"):
            raw = request.query.get(key)
            bounds[key] = None if raw is None else _parse_time(raw)
            if raw is not None and bounds[key] is None:
                return _bad_request(key, "Enter a valid date/time.")
        end = bounds["period_to"] or (self.horizon(now) if self.horizon else now + DEFAULT_SPAN)
        start = bounds["period_from"] or end - DEFAULT_SPAN
        if self.horizon is not None:
            end = min(end, self.horizon(now))
        region = match["region"]
        spec = self.spec(code)
        if spec.kind == "agile" and spec.quiet_from is None:
            rows = [
                unit_rate_row(moment, moment + SLOT, self.prices(region, moment))
                for moment in half_hours(start, end)
            ]
            rows.reverse()  # newest first
        else:
            fuel = "gas" if gas else "electricity"
            rows = rates_rows(spec, region, start, end, fuel=fuel, agile_price=self.prices)
            if self.horizon is not None:
                rows = [r for r in rows if _ends_by(r, self.horizon(now))]
        if self.state.published_until is not None:
            rows = [r for r in rows if _ends_by(r, self.state.published_until)]
        return self._paginate(request, rows)


def _ends_by(row: Mapping[str, Any], limit: datetime) -> bool:
    """Whether a row is published by ``limit`` (an open-ended row always is)."""
    end = row["valid_to"]
    return end is None or datetime.fromisoformat(end) <= limit


def make_app(
    prices: PriceFunction | None = None,
    *,
    page_size_cap: int = 1500,
    products: Sequence[Mapping[str, Any]] | None = None,
    horizon: Callable[[datetime], datetime] | None = None,
    link_base: str | None = None,
    rates: Mapping[str, ProductRates] | None = None,
    accounts: Mapping[str, tuple[str, Mapping[str, Any]]] | None = None,
) -> web.Application:
    """The fake API. ``prices(region, valid_from)`` -> p/kWh inc VAT (default: deterministic,
    some negative); ``horizon(now)`` limits published prices (e.g. ``uk_publish_horizon``);
    ``link_base`` makes ``next`` links point at another origin, as Octopus's do behind a proxy;
    ``rates`` says how products other than Agile are priced (default :data:`FAMILY_RATES`;
    any product not in it is Agile-like); ``accounts``: number -> (API key, account body).
    """
    state = FakeOctopusState()
    fake = _FakeOctopus(
        prices or default_price,
        page_size_cap,
        default_products() if products is None else products,
        horizon,
        link_base,
        FAMILY_RATES if rates is None else rates,
        accounts or {},
        state,
    )

    @web.middleware
    async def record_and_inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        state.requests.append(request.path_qs)
        if state.down and request.transport is not None:
            request.transport.abort()  # the client sees the connection die, as in an outage
            raise web.HTTPServiceUnavailable
        if state.faults:
            fault = state.faults.popleft()
            if isinstance(fault, str):
                return await answer_fault(
                    fault,
                    retry_after=state.retry_after,
                    hang_seconds=state.hang_seconds,
                    release=state.released,
                    garbage=web.Response(body=GARBAGE, content_type="application/json"),
                )
            headers = {"Retry-After": state.retry_after} if fault == 429 else {}
            return web.json_response({"detail": "injected fault"}, status=fault, headers=headers)
        return await handler(request)

    app = web.Application(middlewares=[record_and_inject])
    app[STATE] = state
    app.router.add_get("/v1/industry/grid-supply-points/", fake.grid_supply_points)
    app.router.add_get("/v1/products/", fake.products_list)
    app.router.add_get("/v1/products/{code}/", fake.product)
    app.router.add_get(
        "/v1/products/{code}/electricity-tariffs/{tariff}/standard-unit-rates/", fake.unit_rates
    )
    app.router.add_get(
        "/v1/products/{code}/gas-tariffs/{tariff}/standard-unit-rates/", fake.unit_rates
    )
    app.router.add_get("/v1/accounts/{number}/", fake.account)
    return app


@dataclass
class RunningFake:
    """A fake API served on loopback: its base URL and its request/fault state."""

    url: str
    state: FakeOctopusState


@contextlib.asynccontextmanager
async def serve(app: web.Application | None = None) -> AsyncIterator[RunningFake]:
    """Serve ``app`` (default: ``make_app()``) on 127.0.0.1 and an ephemeral port."""
    app = app or make_app()
    state = app[STATE]
    async with serve_on_loopback(app, state.released) as url:
        yield RunningFake(url, state)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the fake API on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(description="Fake Octopus Energy API on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default 8080)")
    parser.add_argument("--page-size-cap", type=int, default=1500, help="largest page served")
    parser.add_argument(
        "--publish-horizon",
        action="store_true",
        help="serve prices only up to 23:00 UK today (tomorrow after 16:00), like Octopus",
    )
    args = parser.parse_args(argv)
    app = make_app(  # every family's current product, so any family = "..." is discovered
        page_size_cap=args.page_size_cap,
        products=family_products(),
        horizon=uk_publish_horizon if args.publish_horizon else None,
    )
    run_by_hand(app, args.port, f"fake Octopus API: base_url = http://127.0.0.1:{args.port}")


if __name__ == "__main__":
    main()
