"""A small fake of the Octopus Energy REST API (aiohttp.web), for tests and for trying energyd.

Serves, for every product in ``products`` and all 14 regions::

    /v1/products/                                                    (paginated)
    /v1/products/{code}/                                             (404 when unknown)
    /v1/products/{code}/electricity-tariffs/{tariff}/standard-unit-rates/
    /v1/industry/grid-supply-points/?postcode=...                    (region of a postcode)

Unit rates are deterministic (``prices(region, valid_from)`` in p/kWh inc VAT), honour
``period_from`` / ``period_to`` / ``page_size`` / ``page``, come newest first, and link to the
next page with an absolute URL built from the request's own host (or ``link_base``, to mimic a
proxy that passes Octopus's links through). ``state.faults`` answers the next requests with
given HTTP statuses; ``state.down`` drops every connection unanswered (an outage of the API
at the address energyd is configured with); ``state.requests`` records every path and query
asked for.

Run it by hand: ``python -m tests.support.fake_octopus --port 8080`` (binds 127.0.0.1 only),
then set ``base_url = "http://127.0.0.1:8080"`` for the octopus_agile provider.
"""

from __future__ import annotations

import argparse
import contextlib
import re
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from yarl import URL

from tests.support.loopback import serve_on_loopback
from tests.support.octopus_data import (
    REGIONS,
    SLOT,
    default_price,
    default_products,
    half_hours,
    page,
    product_detail,
    uk_publish_horizon,
    unit_rate_row,
)

__all__ = ["STATE", "FakeOctopusState", "RunningFake", "main", "make_app", "serve"]

PriceFunction = Callable[[str, datetime], float]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_TARIFF = re.compile(r"^E-1R-(?P<product>.+)-(?P<region>[A-Z])$")
#: Without period_to the real API pages through years of history; the fake serves this much.
DEFAULT_SPAN = timedelta(days=2)


@dataclass
class FakeOctopusState:
    """What a test can see and steer: requests made, faults to inject (HTTP statuses)."""

    requests: list[str] = field(default_factory=list)
    faults: deque[int] = field(default_factory=deque)
    retry_after: str = "0"
    down: bool = False


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
    ) -> None:
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
        return self._paginate(request, list(self.products.values()))

    async def product(self, request: web.Request) -> web.Response:
        code = request.match_info["code"]
        if code not in self.products:
            return _not_found("No EnergyProduct matches the given query.")
        summary = self.products[code]
        detail = product_detail(code, base=f"{request.scheme}://{request.host}")
        detail["available_from"] = summary.get("available_from")
        detail["brand"] = summary.get("brand", "OCTOPUS_ENERGY")
        return web.json_response(detail)

    async def unit_rates(self, request: web.Request) -> web.Response:
        code = request.match_info["code"]
        match = _TARIFF.match(request.match_info["tariff"])
        if code not in self.products or match is None:
            return _not_found()
        if match["product"] != code or match["region"] not in REGIONS:
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
        rows = [
            unit_rate_row(moment, moment + SLOT, self.prices(region, moment))
            for moment in half_hours(start, end)
        ]
        rows.reverse()  # newest first
        return self._paginate(request, rows)


def make_app(
    prices: PriceFunction | None = None,
    *,
    page_size_cap: int = 1500,
    products: Sequence[Mapping[str, Any]] | None = None,
    horizon: Callable[[datetime], datetime] | None = None,
    link_base: str | None = None,
) -> web.Application:
    """The fake API. ``prices(region, valid_from)`` -> p/kWh inc VAT (default: deterministic,
    some negative); ``horizon(now)`` limits published prices (e.g. ``uk_publish_horizon``);
    ``link_base`` makes ``next`` links point at another origin, as Octopus's do behind a proxy.
    """
    fake = _FakeOctopus(
        prices or default_price,
        page_size_cap,
        default_products() if products is None else products,
        horizon,
        link_base,
    )
    state = FakeOctopusState()

    @web.middleware
    async def record_and_inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        state.requests.append(request.path_qs)
        if state.down and request.transport is not None:
            request.transport.abort()  # the client sees the connection die, as in an outage
            raise web.HTTPServiceUnavailable
        if state.faults:
            status = state.faults.popleft()
            headers = {"Retry-After": state.retry_after} if status == 429 else {}
            return web.json_response({"detail": "injected fault"}, status=status, headers=headers)
        return await handler(request)

    app = web.Application(middlewares=[record_and_inject])
    app[STATE] = state
    app.router.add_get("/v1/industry/grid-supply-points/", fake.grid_supply_points)
    app.router.add_get("/v1/products/", fake.products_list)
    app.router.add_get("/v1/products/{code}/", fake.product)
    app.router.add_get(
        "/v1/products/{code}/electricity-tariffs/{tariff}/standard-unit-rates/", fake.unit_rates
    )
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
    async with serve_on_loopback(app) as url:
        yield RunningFake(url, app[STATE])


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
    app = make_app(
        page_size_cap=args.page_size_cap,
        horizon=uk_publish_horizon if args.publish_horizon else None,
    )
    print(f"fake Octopus API: base_url = http://127.0.0.1:{args.port}", flush=True)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
