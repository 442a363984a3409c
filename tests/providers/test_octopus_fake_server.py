"""Octopus Agile plugin against the fake Octopus API on a loopback port (real HTTP, no mocks)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import aiohttp
import pytest

from energyd.exceptions import ProviderConnectionError, ProviderNotFoundError
from tests.support.fake_octopus import FakeOctopusState, make_app
from tests.support.fake_octopus import serve as serve_fake
from tests.support.octopus_data import (
    agile_day_bounds,
    default_price,
    half_hours,
    uk_day_bounds,
    utc,
    z,
)
from tests.support.plugins import octopus_agile

FAST = {"retry_base_seconds": 0.001, "retry_budget_seconds": 5}


@dataclass
class Served:
    base_url: str
    state: FakeOctopusState
    session: aiohttp.ClientSession
    provider: Any


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Any]]:
    """Start a fake Octopus server (``make_app(**kwargs)``) and an attached provider."""
    async with contextlib.AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession())

        async def start(**kwargs: Any) -> Served:
            running = await stack.enter_async_context(serve_fake(make_app(**kwargs)))
            provider = octopus_agile().OctopusAgileProvider()
            provider.attach(session, timeout=5.0)
            return Served(running.url, running.state, session, provider)

        yield start


class TestPluginAgainstFakeServer:
    async def test_discovers_and_fetches_an_agile_day(self, serve: Any) -> None:
        """Discovery, tariff lookup and one day of prices over real HTTP."""
        served = await serve()
        start, end = agile_day_bounds(date(2025, 7, 2))
        config = {**FAST, "region": "M", "base_url": served.base_url}

        slots = await served.provider.fetch_prices("M", start, end, config)

        assert half_hours(start, end) == [s.valid_from for s in slots]
        assert [default_price("M", s.valid_from) for s in slots] == [s.price_pence for s in slots]
        assert any(s.price_pence < 0 for s in slots)
        expected_paths = [
            "/v1/products/",
            "/v1/products/AGILE-24-10-01/",
            "/v1/products/AGILE-24-10-01/electricity-tariffs/E-1R-AGILE-24-10-01-M/"
            "standard-unit-rates/",
        ]
        assert expected_paths == [r.split("?")[0] for r in served.state.requests]
        assert f"period_from={z(start)}" in served.state.requests[-1].replace("%3A", ":")

    async def test_pages_capped_by_server(self, serve: Any) -> None:
        """A server capping page_size makes the plugin follow its absolute next links."""
        served = await serve(page_size_cap=10)
        start, end = uk_day_bounds(date(2026, 10, 25))
        config = {**FAST, "tariff_code": "E-1R-AGILE-24-10-01-C", "base_url": served.base_url}

        slots = await served.provider.fetch_prices("C", start, end, config)

        assert 50 == len(slots)
        assert (start, end) == (slots[0].valid_from, slots[-1].valid_to)
        assert 5 == len(served.state.requests)

    async def test_proxy_passing_octopus_links_through(self, serve: Any) -> None:
        """``next`` links pointing at api.octopus.energy are rebased onto base_url."""
        served = await serve(page_size_cap=20, link_base="https://api.octopus.energy")
        start, end = uk_day_bounds(date(2026, 3, 29))
        config = {**FAST, "tariff_code": "E-1R-AGILE-24-10-01-C", "base_url": served.base_url}

        slots = await served.provider.fetch_prices("C", start, end, config)

        assert 46 == len(slots)
        assert 3 == len(served.state.requests)

    async def test_export_direction(self, serve: Any) -> None:
        """direction=export resolves Agile Outgoing."""
        served = await serve(prices=lambda region, moment: 7.5)
        config = {**FAST, "region": "P", "direction": "export", "base_url": served.base_url}

        slots = await served.provider.fetch_prices("P", utc(2025, 1, 1), utc(2025, 1, 1, 1), config)

        assert [7.5, 7.5] == [s.price_pence for s in slots]
        assert "/E-1R-AGILE-OUTGOING-19-05-13-P/" in served.state.requests[-1]

    async def test_faults_retried(self, serve: Any) -> None:
        """Injected 503 and 429 answers are retried until the prices come."""
        served = await serve()
        served.state.faults.extend([503, 429])
        config = {**FAST, "tariff_code": "E-1R-AGILE-24-10-01-C", "base_url": served.base_url}

        slots = await served.provider.fetch_prices("C", utc(2025, 1, 1), utc(2025, 1, 1, 1), config)

        assert 2 == len(slots)
        assert 3 == len(served.state.requests)

    async def test_unknown_product(self, serve: Any) -> None:
        """A product the server does not know: ProviderNotFoundError."""
        served = await serve()
        config = {**FAST, "product_code": "AGILE-99-01-01", "base_url": served.base_url}

        with pytest.raises(ProviderNotFoundError, match="404"):
            await served.provider.fetch_prices("C", utc(2025, 1, 1), utc(2025, 1, 2), config)

    async def test_server_gone(self, serve: Any) -> None:
        """Nothing listening on the port: ProviderConnectionError."""
        served = await serve()
        async with serve_fake() as gone:
            base_url = gone.url
        config = {**FAST, "tariff_code": "E-1R-AGILE-24-10-01-C", "base_url": base_url}
        config["retry_attempts"] = 2

        with pytest.raises(ProviderConnectionError):
            await served.provider.fetch_prices("C", utc(2025, 1, 1), utc(2025, 1, 2), config)


class TestFakeServer:
    async def test_rates_newest_first_with_absolute_next(self, serve: Any) -> None:
        """Rows come newest first; ``next`` is absolute on the request's own host."""
        served = await serve()
        url = (
            f"{served.base_url}/v1/products/AGILE-24-10-01/electricity-tariffs/"
            "E-1R-AGILE-24-10-01-A/standard-unit-rates/"
        )
        params = {"period_from": "2025-01-01T00:00:00Z", "period_to": "2025-01-01T02:00:00Z"}

        async with served.session.get(url, params={**params, "page_size": "3"}) as resp:
            body = await resp.json()

        starts = [datetime.fromisoformat(row["valid_from"]) for row in body["results"]]
        assert (4, 3) == (body["count"], len(body["results"]))
        assert sorted(starts, reverse=True) == starts
        assert body["next"].startswith(f"{served.base_url}/v1/products/AGILE-24-10-01/")
        assert "page=2" in body["next"]

    async def test_unknown_product_is_404(self, serve: Any) -> None:
        """Unknown products and tariffs answer 404."""
        served = await serve()

        async with served.session.get(f"{served.base_url}/v1/products/NOPE-1/") as resp:
            assert 404 == resp.status
