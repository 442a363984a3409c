"""Octopus Agile plugin: fetching prices (HTTP mocked at the transport with aioresponses)."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
import structlog
from aioresponses import aioresponses
from yarl import URL

from energyd import exceptions
from energyd.exceptions import (
    ProviderConfigError,
    ProviderConnectionError,
    ProviderDataError,
    ProviderEmptyError,
    ProviderFetchError,
    ProviderNotFoundError,
    ProviderRateLimitError,
    ProviderServerError,
)
from energyd.providers.base import EnergyPriceSlot, HealthState
from energyd.providers.validation import validate_slots
from tests.support.octopus_data import (
    API,
    REGIONS,
    SLOT,
    agile_rows,
    half_hours,
    load_fixture,
    page,
    page_chain,
    product_detail,
    rates_url,
    uk_day_bounds,
    unit_rate_row,
    utc,
    with_query,
    z,
)
from tests.support.plugins import octopus_agile

FAST = {"region": "C", "retry_base_seconds": 0.001, "retry_budget_seconds": 5}
FLEX = "AGILE-FLEX-22-11-25"


@pytest.fixture
async def provider(http_mock: aioresponses) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession() as session:
        instance = octopus_agile().OctopusAgileProvider()
        instance.attach(session, timeout=5.0)
        yield instance


def rates_pattern(product: str, tariff: str, base: str = API) -> re.Pattern[str]:
    """Any query on one tariff's standard-unit-rates endpoint."""
    return re.compile(re.escape(rates_url(base, product, tariff)) + r"(\?.*)?$")


def requested(http_mock: aioresponses) -> list[URL]:
    """Every URL requested, in first-request order."""
    return [url for (_, url) in http_mock.requests]


def calls(http_mock: aioresponses, url: URL | str) -> int:
    """How many times one URL (query included) was requested."""
    key = URL(url).with_query(sorted(URL(url).query.items()))  # as aioresponses keys them
    return sum(len(v) for (_, u), v in http_mock.requests.items() if u == key)


def slot(start: str, end: str, inc: float, exc: float) -> EnergyPriceSlot:
    return EnergyPriceSlot(
        valid_from=_iso(start),
        valid_to=_iso(end),
        price_pence=inc,
        currency="GBP",
        price_pence_exc_vat=exc,
    )


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class TestRecordedResponses:
    async def test_recorded_page_parsed_exactly(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """The recorded AGILE-FLEX unit-rate page becomes these five slots, ascending."""
        body = {**load_fixture("standard_unit_rates_E-1R-AGILE-FLEX-22-11-25-J_page1_truncated")}
        body["next"] = None
        http_mock.get(rates_pattern(FLEX, f"E-1R-{FLEX}-J"), payload=body)
        config = {**FAST, "region": "J", "tariff_code": f"E-1R-{FLEX}-J"}

        slots = await provider.fetch_prices(
            "J", utc(2024, 5, 7, 19, 30), utc(2024, 5, 7, 22), config
        )

        expected = [
            slot("2024-05-07T19:30:00Z", "2024-05-07T20:00:00Z", 22.5435, 21.47),
            slot("2024-05-07T20:00:00Z", "2024-05-07T20:30:00Z", 20.1915, 19.23),
            slot("2024-05-07T20:30:00Z", "2024-05-07T21:00:00Z", 18.291, 17.42),
            slot("2024-05-07T21:00:00Z", "2024-05-07T21:30:00Z", 18.753, 17.86),
            slot("2024-05-07T21:30:00Z", "2024-05-07T22:00:00Z", 18.291, 17.42),
        ]
        assert expected == slots

    async def test_recorded_next_link_followed_verbatim(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """The recorded absolute ``next`` link (``?page=2``) is requested as given."""
        body = load_fixture("standard_unit_rates_E-1R-AGILE-FLEX-22-11-25-J_page1_truncated")
        http_mock.get(rates_pattern(FLEX, f"E-1R-{FLEX}-J"), payload=body)
        http_mock.get(body["next"], payload=page([]))
        config = {**FAST, "region": "J", "tariff_code": f"E-1R-{FLEX}-J"}

        slots = await provider.fetch_prices(
            "J", utc(2024, 5, 7, 19, 30), utc(2024, 5, 7, 22), config
        )

        assert 5 == len(slots)
        assert 1 == calls(http_mock, body["next"])

    @pytest.mark.parametrize("region", REGIONS)
    async def test_tariff_code_for_every_region_from_recorded_product(
        self, provider: Any, http_mock: aioresponses, region: str
    ) -> None:
        """product_code AGILE-FLEX-22-11-25 resolves to E-1R-AGILE-FLEX-22-11-25-<region>."""
        start = utc(2024, 5, 7, 12)
        http_mock.get(f"{API}/v1/products/{FLEX}/", payload=load_fixture(f"product_detail_{FLEX}"))
        http_mock.get(
            rates_pattern(FLEX, f"E-1R-{FLEX}-{region}"),
            payload=page(agile_rows(start, start + SLOT)),
        )
        config = {**FAST, "region": region, "product_code": FLEX}

        slots = await provider.fetch_prices(region, start, start + SLOT, config)

        assert [start] == [s.valid_from for s in slots]

    async def test_varying_payment_key_and_direct_debit_rows(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Flexible (``varying`` key, open-ended DD/NDD rows) gives the DIRECT_DEBIT price."""
        http_mock.get(
            f"{API}/v1/products/VAR-22-11-01/",
            payload=load_fixture("product_detail_VAR-22-11-01_regions_A-C"),
        )
        since = utc(2024, 3, 31, 23)
        rows = [
            unit_rate_row(since, None, 24.5, 23.33, "DIRECT_DEBIT"),
            unit_rate_row(since, None, 25.9, 24.67, "NON_DIRECT_DEBIT"),
        ]
        http_mock.get(rates_pattern("VAR-22-11-01", "E-1R-VAR-22-11-01-B"), payload=page(rows))
        config = {**FAST, "region": "B", "product_code": "VAR-22-11-01"}
        start = utc(2024, 5, 1)

        slots = await provider.fetch_prices("B", start, start + timedelta(days=1), config)

        assert half_hours(start, start + timedelta(days=1)) == [s.valid_from for s in slots]
        assert {24.5} == {s.price_pence for s in slots}
        assert {23.33} == {s.price_pence_exc_vat for s in slots}


class TestProductSelection:
    async def test_discovers_latest_agile_import(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Without codes, the recorded products list yields AGILE-24-04-03 for import."""
        start = utc(2024, 5, 20, 10)
        http_mock.get(f"{API}/v1/products/", payload=load_fixture("products_list_2024-05"))
        http_mock.get(
            f"{API}/v1/products/AGILE-24-04-03/", payload=product_detail("AGILE-24-04-03")
        )
        http_mock.get(
            rates_pattern("AGILE-24-04-03", "E-1R-AGILE-24-04-03-C"),
            payload=page(agile_rows(start, start + SLOT)),
        )

        slots = await provider.fetch_prices("C", start, start + SLOT, FAST)

        assert 1 == len(slots)
        assert "/v1/products/AGILE-24-04-03/electricity-tariffs/E-1R-AGILE-24-04-03-C/" in str(
            requested(http_mock)[-1]
        )

    async def test_discovers_agile_outgoing_for_export(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """direction=export picks AGILE-OUTGOING-19-05-13 from the recorded list."""
        start = utc(2024, 5, 20, 10)
        code = "AGILE-OUTGOING-19-05-13"
        http_mock.get(f"{API}/v1/products/", payload=load_fixture("products_list_2024-05"))
        http_mock.get(f"{API}/v1/products/{code}/", payload=product_detail(code))
        http_mock.get(
            rates_pattern(code, f"E-1R-{code}-C"), payload=page(agile_rows(start, start + SLOT))
        )

        slots = await provider.fetch_prices(
            "C", start, start + SLOT, {**FAST, "direction": "export"}
        )

        assert 1 == len(slots)
        assert f"/electricity-tariffs/E-1R-{code}-C/" in str(requested(http_mock)[-1])

    async def test_product_code_skips_discovery(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A product_code is used as given: no products list is requested."""
        start = utc(2025, 1, 1)
        code = "AGILE-24-10-01"
        http_mock.get(f"{API}/v1/products/{code}/", payload=product_detail(code))
        http_mock.get(
            rates_pattern(code, f"E-1R-{code}-C"), payload=page(agile_rows(start, start + SLOT))
        )

        await provider.fetch_prices("C", start, start + SLOT, {**FAST, "product_code": code})

        assert [f"/v1/products/{code}/", rates_url("", code, f"E-1R-{code}-C")] == [
            u.path for u in requested(http_mock)
        ]

    async def test_tariff_code_wins_and_skips_lookups(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A tariff_code beats product_code and needs no product requests at all."""
        start = utc(2025, 1, 1)
        http_mock.get(
            rates_pattern("AGILE-23-12-06", "E-1R-AGILE-23-12-06-C"),
            payload=page(agile_rows(start, start + SLOT)),
        )
        config = {**FAST, "product_code": "AGILE-24-10-01", "tariff_code": "e-1r-agile-23-12-06-c"}

        await provider.fetch_prices("C", start, start + SLOT, config)

        assert [rates_url("", "AGILE-23-12-06", "E-1R-AGILE-23-12-06-C")] == [
            u.path for u in requested(http_mock)
        ]

    async def test_discovery_is_cached(self, provider: Any, http_mock: aioresponses) -> None:
        """A second fetch reuses the discovered product and tariff codes."""
        start = utc(2024, 5, 20, 10)
        http_mock.get(f"{API}/v1/products/", payload=load_fixture("products_list_2024-05"))
        http_mock.get(
            f"{API}/v1/products/AGILE-24-04-03/", payload=product_detail("AGILE-24-04-03")
        )
        http_mock.get(
            rates_pattern("AGILE-24-04-03", "E-1R-AGILE-24-04-03-C"),
            payload=page(agile_rows(start, start + SLOT)),
            repeat=True,
        )

        await provider.fetch_prices("C", start, start + SLOT, FAST)
        await provider.fetch_prices("C", start, start + SLOT, FAST)

        assert 1 == calls(http_mock, f"{API}/v1/products/")
        assert 1 == calls(http_mock, f"{API}/v1/products/AGILE-24-04-03/")

    async def test_cache_expires(self, provider: Any, http_mock: aioresponses) -> None:
        """With a zero cache lifetime every fetch discovers the product again."""
        start = utc(2024, 5, 20, 10)
        http_mock.get(
            f"{API}/v1/products/", payload=load_fixture("products_list_2024-05"), repeat=True
        )
        http_mock.get(
            f"{API}/v1/products/AGILE-24-04-03/",
            payload=product_detail("AGILE-24-04-03"),
            repeat=True,
        )
        http_mock.get(
            rates_pattern("AGILE-24-04-03", "E-1R-AGILE-24-04-03-C"),
            payload=page(agile_rows(start, start + SLOT)),
            repeat=True,
        )
        provider.cache_ttl_seconds = 0.0

        await provider.fetch_prices("C", start, start + SLOT, FAST)
        await provider.fetch_prices("C", start, start + SLOT, FAST)

        assert 2 == calls(http_mock, f"{API}/v1/products/")

    async def test_product_404_drops_the_cache(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """After the discovered product answers 404, the next fetch discovers again."""
        start = utc(2024, 5, 20, 10)
        products = load_fixture("products_list_2024-05")
        detail = product_detail("AGILE-24-04-03")
        pattern = rates_pattern("AGILE-24-04-03", "E-1R-AGILE-24-04-03-C")
        http_mock.get(f"{API}/v1/products/", payload=products, repeat=True)
        http_mock.get(f"{API}/v1/products/AGILE-24-04-03/", payload=detail, repeat=True)
        http_mock.get(pattern, payload=page(agile_rows(start, start + SLOT)))
        http_mock.get(pattern, status=404, payload={"detail": "Not found."})
        http_mock.get(pattern, payload=page(agile_rows(start, start + SLOT)))

        await provider.fetch_prices("C", start, start + SLOT, FAST)
        with pytest.raises(ProviderNotFoundError):
            await provider.fetch_prices("C", start, start + SLOT, FAST)
        await provider.fetch_prices("C", start, start + SLOT, FAST)

        assert 2 == calls(http_mock, f"{API}/v1/products/")

    async def test_region_missing_from_product(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A product without the region's tariff is a clear not-found error."""
        http_mock.get(
            f"{API}/v1/products/VAR-22-11-01/",
            payload=load_fixture("product_detail_VAR-22-11-01_regions_A-C"),
        )
        start = utc(2025, 1, 1)
        config = {**FAST, "region": "P", "product_code": "VAR-22-11-01"}

        with pytest.raises(ProviderNotFoundError, match="region P"):
            await provider.fetch_prices("P", start, start + SLOT, config)


class TestWindowAndPaging:
    async def test_period_and_page_size_always_sent(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """period_from / period_to (UTC, Z) and page_size are on the unit-rate request."""
        start, end = utc(2025, 1, 1, 23), utc(2025, 1, 2, 23)
        http_mock.get(
            rates_pattern("AGILE-24-10-01", "E-1R-AGILE-24-10-01-C"),
            payload=page(agile_rows(start, end)),
        )
        config = {**FAST, "tariff_code": "E-1R-AGILE-24-10-01-C", "page_size": 200}

        await provider.fetch_prices("C", start, end, config)

        query = dict(requested(http_mock)[0].query)
        expected = {
            "period_from": "2025-01-01T23:00:00Z",
            "period_to": "2025-01-02T23:00:00Z",
            "page_size": "200",
        }
        assert expected == query

    async def test_three_page_chain(self, provider: Any, http_mock: aioresponses) -> None:
        """Pages are followed until ``next`` is null and joined into one ascending list."""
        start, end = utc(2025, 2, 1), utc(2025, 2, 1, 3)
        first = with_query(
            rates_url(API, "AGILE-24-10-01", "E-1R-AGILE-24-10-01-C"),
            period_from="2025-02-01T00:00:00Z",
            period_to="2025-02-01T03:00:00Z",
            page_size=2,
        )
        chain = page_chain(first, agile_rows(start, end), page_size=2)
        for url, body in chain:
            http_mock.get(url, payload=body)
        config = {**FAST, "tariff_code": "E-1R-AGILE-24-10-01-C", "page_size": 2}

        slots = await provider.fetch_prices("C", start, end, config)

        assert 3 == len(chain)
        assert half_hours(start, end) == [s.valid_from for s in slots]
        assert [1, 1, 1] == [calls(http_mock, url) for url, _ in chain]

    async def test_too_many_pages(self, provider: Any, http_mock: aioresponses) -> None:
        """A chain longer than max_pages is a data error, not a silent truncation."""
        start, end = utc(2025, 2, 1), utc(2025, 2, 1, 3)
        first = with_query(
            rates_url(API, "AGILE-24-10-01", "E-1R-AGILE-24-10-01-C"),
            period_from="2025-02-01T00:00:00Z",
            period_to="2025-02-01T03:00:00Z",
            page_size=2,
        )
        for url, body in page_chain(first, agile_rows(start, end), page_size=2):
            http_mock.get(url, payload=body)
        config = {**FAST, "tariff_code": "E-1R-AGILE-24-10-01-C", "page_size": 2, "max_pages": 2}

        with pytest.raises(ProviderDataError, match="max_pages=2"):
            await provider.fetch_prices("C", start, end, config)

    async def test_foreign_next_link_rebased_onto_base_url(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A mirror passing Octopus's absolute ``next`` links through is still followed."""
        mirror = "http://mirror.example:8080/octopus"
        body = load_fixture("standard_unit_rates_E-1R-AGILE-FLEX-22-11-25-J_page1_truncated")
        http_mock.get(rates_pattern(FLEX, f"E-1R-{FLEX}-J", base=mirror), payload=body)
        page2 = (
            f"{mirror}/v1/products/{FLEX}/electricity-tariffs/E-1R-{FLEX}-J/standard-unit-rates/"
        )
        http_mock.get(f"{page2}?page=2", payload=page([]))
        config = {**FAST, "region": "J", "tariff_code": f"E-1R-{FLEX}-J", "base_url": mirror + "/"}

        await provider.fetch_prices("J", utc(2024, 5, 7, 19, 30), utc(2024, 5, 7, 22), config)

        assert 1 == calls(http_mock, f"{page2}?page=2")

    async def test_slots_outside_window_dropped(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Rows before the window or after it are not returned."""
        start, end = utc(2025, 3, 1, 10), utc(2025, 3, 1, 11)
        http_mock.get(
            rates_pattern("AGILE-24-10-01", "E-1R-AGILE-24-10-01-C"),
            payload=page(agile_rows(start - timedelta(hours=2), end + timedelta(hours=2))),
        )
        config = {**FAST, "tariff_code": "E-1R-AGILE-24-10-01-C"}

        slots = await provider.fetch_prices("C", start, end, config)

        assert [start, start + SLOT] == [s.valid_from for s in slots]

    async def test_long_row_split_into_half_hours(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A 4-hour row (Go-style) becomes eight 30-minute slots at its price."""
        start = utc(2025, 3, 1, 0, 30)
        row = unit_rate_row(start, start + timedelta(hours=4), 8.5, 8.0952)
        http_mock.get(
            rates_pattern("GO-VAR-22-10-14", "E-1R-GO-VAR-22-10-14-C"), payload=page([row])
        )
        config = {**FAST, "tariff_code": "E-1R-GO-VAR-22-10-14-C"}

        slots = await provider.fetch_prices("C", start, start + timedelta(hours=4), config)

        assert half_hours(start, start + timedelta(hours=4)) == [s.valid_from for s in slots]
        assert {timedelta(minutes=30)} == {s.duration for s in slots}
        assert {8.5} == {s.price_pence for s in slots}

    async def test_negative_prices_kept(self, provider: Any, http_mock: aioresponses) -> None:
        """Negative prices are ordinary prices."""
        start = utc(2025, 5, 11, 12)
        rows = [
            unit_rate_row(start + SLOT, start + 2 * SLOT, -0.21, -0.2),
            unit_rate_row(start, start + SLOT, -4.725, -4.5),
        ]
        http_mock.get(rates_pattern("AGILE-24-10-01", "E-1R-AGILE-24-10-01-C"), payload=page(rows))
        config = {**FAST, "tariff_code": "E-1R-AGILE-24-10-01-C"}

        slots = await provider.fetch_prices("C", start, start + 2 * SLOT, config)

        assert [-4.725, -0.21] == [s.price_pence for s in slots]
        assert [-4.5, -0.2] == [s.price_pence_exc_vat for s in slots]

    @pytest.mark.parametrize(
        ("day", "expected_slots"), [(date(2026, 3, 29), 46), (date(2026, 10, 25), 50)]
    )
    async def test_clock_change_days_complete(
        self, provider: Any, http_mock: aioresponses, day: date, expected_slots: int
    ) -> None:
        """UK clock-change days come back whole (46 / 50 half-hours), ascending, contiguous."""
        start, end = uk_day_bounds(day)
        http_mock.get(
            rates_pattern("AGILE-24-10-01", "E-1R-AGILE-24-10-01-C"),
            payload=page(agile_rows(start - timedelta(hours=1), end + timedelta(hours=1))),
        )
        config = {**FAST, "tariff_code": "E-1R-AGILE-24-10-01-C"}

        slots = await provider.fetch_prices("C", start, end, config)

        assert expected_slots == len(slots)
        assert (start, end) == (slots[0].valid_from, slots[-1].valid_to)
        assert all(a.valid_to == b.valid_from for a, b in itertools.pairwise(slots))
        assert slots == validate_slots(slots, start, end, currency="GBP")


class TestCurrentPriceAndHealth:
    async def test_current_price(self, provider: Any, http_mock: aioresponses) -> None:
        """get_current_price returns the half-hour containing ``now``."""
        now = utc(2025, 6, 1, 13, 47)
        http_mock.get(
            rates_pattern("AGILE-24-10-01", "E-1R-AGILE-24-10-01-C"),
            payload=page(agile_rows(utc(2025, 6, 1, 13, 30), utc(2025, 6, 1, 14))),
        )
        config = {**FAST, "tariff_code": "E-1R-AGILE-24-10-01-C"}

        current = await provider.get_current_price("C", config, now=now)

        assert utc(2025, 6, 1, 13, 30) == current.valid_from

    async def test_current_price_none_when_unpublished(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """No rows for now: ``None``, not an exception."""
        http_mock.get(rates_pattern("AGILE-24-10-01", "E-1R-AGILE-24-10-01-C"), payload=page([]))
        config = {**FAST, "tariff_code": "E-1R-AGILE-24-10-01-C"}

        assert None is await provider.get_current_price("C", config, now=utc(2025, 6, 1, 13))

    async def test_health_ok(self, provider: Any, http_mock: aioresponses) -> None:
        """Prices for the current hour: ok."""
        now = datetime.now(UTC)
        http_mock.get(
            rates_pattern("AGILE-24-10-01", "E-1R-AGILE-24-10-01-C"),
            payload=page(agile_rows(now - timedelta(hours=1), now + timedelta(hours=2))),
        )

        health = await provider.health_check("C", {**FAST, "tariff_code": "E-1R-AGILE-24-10-01-C"})

        assert HealthState.OK == health.state

    async def test_health_degraded_when_empty(self, provider: Any, http_mock: aioresponses) -> None:
        """Reachable but nothing published for now: degraded."""
        http_mock.get(rates_pattern("AGILE-24-10-01", "E-1R-AGILE-24-10-01-C"), payload=page([]))

        health = await provider.health_check("C", {**FAST, "tariff_code": "E-1R-AGILE-24-10-01-C"})

        assert HealthState.DEGRADED == health.state

    async def test_health_error_without_retrying(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A server error: error state naming the status, after a single request."""
        pattern = rates_pattern("AGILE-24-10-01", "E-1R-AGILE-24-10-01-C")
        http_mock.get(pattern, status=503, repeat=True)

        health = await provider.health_check("C", {**FAST, "tariff_code": "E-1R-AGILE-24-10-01-C"})

        assert HealthState.ERROR == health.state
        assert "503" in health.message
        assert 1 == sum(len(v) for v in http_mock.requests.values())


TARIFF = "E-1R-AGILE-24-10-01-C"
RATES = rates_pattern("AGILE-24-10-01", TARIFF)
ONE_TRY = {**FAST, "tariff_code": TARIFF, "retry_attempts": 1}
RETRYING = {**FAST, "tariff_code": TARIFF, "retry_attempts": 4}
START = utc(2025, 1, 1)
END = START + 2 * SLOT


def good_page() -> dict[str, Any]:
    return page(agile_rows(START, END))


def total_calls(http_mock: aioresponses) -> int:
    return sum(len(v) for v in http_mock.requests.values())


def rows_with(**changes: Any) -> list[dict[str, Any]]:
    """Two good rows, the newest one changed (``None`` deletes a key)."""
    rows = agile_rows(START, END)
    for key, value in changes.items():
        if value is None:
            del rows[0][key]
        else:
            rows[0][key] = value
    return rows


class TestErrorMapping:
    @pytest.mark.parametrize(
        ("status", "error"),
        [
            (404, "ProviderNotFoundError"),
            (500, "ProviderServerError"),
            (502, "ProviderServerError"),
            (503, "ProviderServerError"),
            (403, "ProviderServerError"),
            (400, "ProviderServerError"),
            (401, "ProviderServerError"),
        ],
    )
    async def test_status_to_error_class(
        self, provider: Any, http_mock: aioresponses, status: int, error: str
    ) -> None:
        """Each HTTP status maps to its error class, named with the path and the status."""
        http_mock.get(RATES, status=status, body="<html>nope</html>", content_type="text/html")

        with pytest.raises(getattr(exceptions, error)) as caught:
            await provider.fetch_prices("C", START, END, ONE_TRY)

        assert f"/{TARIFF}/standard-unit-rates/" in str(caught.value)
        assert f"HTTP {status}" in str(caught.value)

    @pytest.mark.parametrize("status", [403, 500, 503, 418])
    async def test_server_error_carries_status(
        self, provider: Any, http_mock: aioresponses, status: int
    ) -> None:
        """ProviderServerError.status is the HTTP status."""
        http_mock.get(RATES, status=status)

        with pytest.raises(ProviderServerError) as caught:
            await provider.fetch_prices("C", START, END, ONE_TRY)

        assert status == caught.value.status

    @pytest.mark.parametrize(
        ("header", "expected"),
        [({"Retry-After": "7"}, 7.0), ({}, None), ({"Retry-After": "x"}, None)],
    )
    async def test_rate_limit_retry_after(
        self, provider: Any, http_mock: aioresponses, header: dict[str, str], expected: float | None
    ) -> None:
        """429 -> ProviderRateLimitError with Retry-After seconds, or None without a usable one."""
        http_mock.get(RATES, status=429, headers=header)

        with pytest.raises(ProviderRateLimitError) as caught:
            await provider.fetch_prices("C", START, END, ONE_TRY)

        assert expected == caught.value.retry_after

    async def test_rate_limit_retry_after_http_date(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """An HTTP-date Retry-After becomes the seconds until then."""
        when = datetime.now(UTC) + timedelta(minutes=10)
        http_mock.get(RATES, status=429, headers={"Retry-After": format_datetime(when, True)})

        with pytest.raises(ProviderRateLimitError) as caught:
            await provider.fetch_prices("C", START, END, ONE_TRY)

        assert 500 < caught.value.retry_after <= 600

    @pytest.mark.parametrize(
        "exception",
        [
            aiohttp.ClientConnectionError("refused"),
            TimeoutError(),
            aiohttp.ClientPayloadError("cut"),
        ],
    )
    async def test_transport_errors(
        self, provider: Any, http_mock: aioresponses, exception: Exception
    ) -> None:
        """aiohttp errors and timeouts become ProviderConnectionError, chained."""
        http_mock.get(RATES, exception=exception)

        with pytest.raises(ProviderConnectionError) as caught:
            await provider.fetch_prices("C", START, END, ONE_TRY)

        assert exception is caught.value.__cause__

    async def test_no_credentials_in_messages(self, provider: Any, http_mock: aioresponses) -> None:
        """A user:password in base_url never shows up in an error message."""
        config = {**ONE_TRY, "base_url": "https://user:s3cret@mirror.example"}

        with pytest.raises(ProviderConnectionError) as caught:
            await provider.fetch_prices("C", START, END, config)

        assert "s3cret" not in str(caught.value)

    @pytest.mark.parametrize(
        ("body", "content_type"),
        [
            ("<html>Service Unavailable</html>", "text/html"),
            ("", "application/json"),
            ("[1, 2]", "application/json"),
            ('"text"', "application/json"),
            (b"\xff\xfe{}", "application/json"),
        ],
    )
    async def test_body_not_a_json_object(
        self, provider: Any, http_mock: aioresponses, body: str | bytes, content_type: str
    ) -> None:
        """A 200 whose body is not a JSON object is a data error."""
        http_mock.get(RATES, body=body, content_type=content_type)

        with pytest.raises(ProviderDataError):
            await provider.fetch_prices("C", START, END, ONE_TRY)

    @pytest.mark.parametrize(
        "body",
        [
            {"count": 0, "next": None, "results": {"rows": []}},
            {"count": 0, "next": None},
            {**page([]), "next": 42},
            page(rows_with(value_inc_vat=True)),
            page(rows_with(value_inc_vat="18.2")),
            page(rows_with(value_inc_vat=None)),
            page(rows_with(value_exc_vat=None)),
            page(rows_with(valid_from=None)),
            page(rows_with(valid_to=None)),
            page(rows_with(valid_from="yesterday")),
            page(rows_with(valid_from="2025-01-01T00:30:00")),
            page(rows_with(valid_to="2025-01-01T00:30:00Z")),
            page(rows_with(valid_to="2025-01-01T01:10:00Z")),
            page(rows_with(payment_method=3)),
            {**page([]), "results": [*agile_rows(START, END), "row"]},
        ],
        ids=[
            "results-object",
            "results-missing",
            "next-number",
            "bool-price",
            "string-price",
            "missing-inc",
            "missing-exc",
            "missing-from",
            "missing-to",
            "bad-date",
            "naive-date",
            "empty-period",
            "uneven-period",
            "payment-number",
            "row-not-object",
        ],
    )
    async def test_malformed_answers(
        self, provider: Any, http_mock: aioresponses, body: dict[str, Any]
    ) -> None:
        """Malformed rows or pages fail the whole fetch with ProviderDataError."""
        http_mock.get(RATES, payload=body)

        with pytest.raises(ProviderDataError):
            await provider.fetch_prices("C", START, END, ONE_TRY)

    @pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
    async def test_non_finite_price(
        self, provider: Any, http_mock: aioresponses, token: str
    ) -> None:
        """NaN / Infinity (which Python's json accepts) are refused as not JSON: data errors."""
        row = (
            f'{{"value_exc_vat": 1.0, "value_inc_vat": {token}, "valid_from": "{z(START)}", '
            f'"valid_to": "{z(START + SLOT)}", "payment_method": null}}'
        )
        http_mock.get(RATES, body=f'{{"count": 1, "next": null, "results": [{row}]}}')

        with pytest.raises(ProviderDataError, match="body is not JSON"):
            await provider.fetch_prices("C", START, END, ONE_TRY)

    async def test_conflicting_duplicate(self, provider: Any, http_mock: aioresponses) -> None:
        """Two rows for one half-hour with different prices: data error."""
        rows = [*agile_rows(START, END), unit_rate_row(START, START + SLOT, 99.0)]
        http_mock.get(RATES, payload=page(rows))

        with pytest.raises(ProviderDataError, match="conflicting"):
            await provider.fetch_prices("C", START, END, ONE_TRY)

    async def test_identical_duplicate_kept_once(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """The same row twice (e.g. repeated across pages) yields one slot."""
        rows = agile_rows(START, END)
        http_mock.get(RATES, payload=page([*rows, rows[0]]))

        slots = await provider.fetch_prices("C", START, END, ONE_TRY)

        assert [START, START + SLOT] == [s.valid_from for s in slots]

    @pytest.mark.parametrize(
        "rows", [[], agile_rows(START - timedelta(hours=2), START)], ids=["none", "outside"]
    )
    async def test_empty(
        self, provider: Any, http_mock: aioresponses, rows: list[dict[str, Any]]
    ) -> None:
        """A well-formed answer without prices in the window: ProviderEmptyError."""
        http_mock.get(RATES, payload=page(rows))

        with pytest.raises(ProviderEmptyError):
            await provider.fetch_prices("C", START, END, RETRYING)

        assert 1 == total_calls(http_mock)

    async def test_invalid_config_raises_config_error(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """fetch_prices refuses an invalid config before any request."""
        with pytest.raises(ProviderConfigError) as caught:
            await provider.fetch_prices("C", START, END, {**FAST, "direction": "sideways"})

        assert {"direction"} == set(caught.value.errors)
        assert 0 == total_calls(http_mock)

    async def test_naive_window_rejected(self, provider: Any) -> None:
        """Naive datetimes are a programming error."""
        with pytest.raises(ValueError, match="timezone-aware"):
            await provider.fetch_prices("C", datetime(2025, 1, 1), END, ONE_TRY)

    async def test_without_session(self) -> None:
        """A provider the daemon never attached fails with a connection error."""
        with pytest.raises(ProviderConnectionError, match="session"):
            await octopus_agile().OctopusAgileProvider().fetch_prices("C", START, END, ONE_TRY)


class TestRetries:
    async def test_retry_then_success(self, provider: Any, http_mock: aioresponses) -> None:
        """503, a connection error and a 403 are retried until the answer comes."""
        http_mock.get(RATES, status=503)
        http_mock.get(RATES, exception=aiohttp.ClientConnectionError("reset"))
        http_mock.get(RATES, status=403)
        http_mock.get(RATES, payload=good_page())

        slots = await provider.fetch_prices("C", START, END, RETRYING)

        assert 2 == len(slots)
        assert 4 == total_calls(http_mock)

    async def test_retry_after_honoured(self, provider: Any, http_mock: aioresponses) -> None:
        """A 429 with a small Retry-After is waited out and retried."""
        http_mock.get(RATES, status=429, headers={"Retry-After": "0.01"})
        http_mock.get(RATES, payload=good_page())

        slots = await provider.fetch_prices("C", START, END, RETRYING)

        assert 2 == len(slots)
        assert 2 == total_calls(http_mock)

    async def test_attempts_exhausted(self, provider: Any, http_mock: aioresponses) -> None:
        """After retry_attempts failures the last error is raised."""
        http_mock.get(RATES, status=502, repeat=True)

        with pytest.raises(ProviderServerError):
            await provider.fetch_prices("C", START, END, {**RETRYING, "retry_attempts": 3})

        assert 3 == total_calls(http_mock)

    async def test_budget_exceeded(self, provider: Any, http_mock: aioresponses) -> None:
        """With no retry budget left the first failure is final."""
        http_mock.get(RATES, status=503, repeat=True)

        with pytest.raises(ProviderServerError):
            await provider.fetch_prices("C", START, END, {**RETRYING, "retry_budget_seconds": 0})

        assert 1 == total_calls(http_mock)

    async def test_retry_after_beyond_budget(self, provider: Any, http_mock: aioresponses) -> None:
        """A Retry-After longer than the budget raises the rate-limit error at once."""
        http_mock.get(RATES, status=429, headers={"Retry-After": "30"}, repeat=True)

        with pytest.raises(ProviderRateLimitError) as caught:
            await provider.fetch_prices("C", START, END, {**RETRYING, "retry_budget_seconds": 1})

        assert 30.0 == caught.value.retry_after
        assert 1 == total_calls(http_mock)

    @pytest.mark.parametrize(
        "response",
        [{"status": 404}, {"status": 400}, {"body": "<html/>", "content_type": "text/html"}],
        ids=["not-found", "bad-request", "not-json"],
    )
    async def test_not_retried(
        self, provider: Any, http_mock: aioresponses, response: dict[str, Any]
    ) -> None:
        """404, other 4xx and data errors are not retried."""
        http_mock.get(RATES, repeat=True, **response)

        with pytest.raises(ProviderFetchError):
            await provider.fetch_prices("C", START, END, RETRYING)

        # a 404 also asks the products list once, for a successor (rollover)
        assert 1 == sum(len(v) for (_, u), v in http_mock.requests.items() if RATES.match(str(u)))

    async def test_retry_resumes_at_failed_page(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A failure on page 2 retries page 2 only."""
        first = with_query(
            rates_url(API, "AGILE-24-10-01", TARIFF),
            period_from=z(START),
            period_to=z(END),
            page_size=1,
        )
        (url1, body1), (url2, body2) = page_chain(first, agile_rows(START, END), page_size=1)
        http_mock.get(url1, payload=body1)
        http_mock.get(url2, status=500)
        http_mock.get(url2, payload=body2)

        slots = await provider.fetch_prices("C", START, END, {**RETRYING, "page_size": 1})

        assert 2 == len(slots)
        assert (1, 2) == (calls(http_mock, url1), calls(http_mock, url2))


class TestLogging:
    async def test_discovery_is_an_event_with_fields(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Discovering the product logs ``octopus_agile.discovered`` with its fields."""
        start = utc(2024, 5, 20, 10)
        http_mock.get(f"{API}/v1/products/", payload=load_fixture("products_list_2024-05"))
        http_mock.get(
            f"{API}/v1/products/AGILE-24-04-03/", payload=product_detail("AGILE-24-04-03")
        )
        http_mock.get(
            rates_pattern("AGILE-24-04-03", "E-1R-AGILE-24-04-03-C"),
            payload=page(agile_rows(start, start + SLOT)),
        )

        with structlog.testing.capture_logs() as logs:
            await provider.fetch_prices("C", start, start + SLOT, FAST)

        (event,) = [e for e in logs if e["event"] == "octopus_agile.discovered"]
        expected = ("info", "octopus_agile", "import", "AGILE-24-04-03")
        assert expected == (
            event["log_level"],
            event["provider"],
            event["direction"],
            event["product"],
        )

    async def test_retries_are_events_without_secrets(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A retry logs ``provider.retry`` with fields; base_url's password appears nowhere."""
        mirror = "https://user:s3cret@mirror.example"
        pattern = rates_pattern("AGILE-24-10-01", TARIFF, base=mirror)
        http_mock.get(pattern, status=503)
        http_mock.get(pattern, payload=good_page())

        with structlog.testing.capture_logs() as logs:
            slots = await provider.fetch_prices("C", START, END, {**RETRYING, "base_url": mirror})

        (retry,) = [e for e in logs if e["event"] == "provider.retry"]
        assert 2 == len(slots)
        expected = ("warning", "octopus_agile", 1, "ProviderServerError")
        assert expected == (retry["log_level"], retry["provider"], retry["attempt"], retry["error"])
        assert "s3cret" not in repr(logs)
