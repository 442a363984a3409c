"""Octopus plugin, the families beyond Agile: Go, Intelligent Go, Cosy, Flux, Tracker (gas too).

Parsers on the recorded octopus_other bodies and on rows built like them
(:func:`tests.support.octopus_data.rates_rows`); clock-change days; discovery per family;
rollover; the payment-method filter; the account's tariff. HTTP is mocked at the transport
(aioresponses).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import structlog
from aioresponses import aioresponses
from yarl import URL

from energyd.exceptions import (
    ProviderAuthError,
    ProviderDataError,
    ProviderEmptyError,
    ProviderNotFoundError,
    ProviderServerError,
)
from energyd.providers.kit.testing import ERROR_CASES, Conformance, Recorded
from tests.support.octopus_data import (
    API,
    FAMILY_RATES,
    FIXTURES_OTHER,
    SLOT,
    family_products,
    gas_rates_url,
    half_hours,
    load_fixture,
    load_other,
    page,
    product_detail,
    product_summary,
    rates_rows,
    rates_url,
    tracker_price,
    uk_day_bounds,
    utc,
)
from tests.support.plugins import octopus_agile

FAST = {"retry_base_seconds": 0.001, "retry_budget_seconds": 5}
COSY = "COSY-22-12-08"
GO = "GO-VAR-22-10-14"
TRACKER = "SILVER-25-09-02"
SPRING, AUTUMN = date(2026, 3, 29), date(2026, 10, 25)


def plugin() -> Any:
    return octopus_agile()


@pytest.fixture
async def provider(http_mock: aioresponses) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession() as session:
        instance = plugin().OctopusAgileProvider()
        instance.attach(session, timeout=5.0)
        yield instance


def any_query(url: str) -> re.Pattern[str]:
    return re.compile(re.escape(url) + r"(\?.*)?$")


def rows_page(code: str, region: str, day: date, fuel: str = "electricity") -> dict[str, Any]:
    """One UK day of ``code``'s rows, as the stand-in builds them."""
    start, end = uk_day_bounds(day)
    return page(rates_rows(FAMILY_RATES[code], region, start, end, fuel=fuel))


def calls_to(http_mock: aioresponses, path: str) -> int:
    return sum(len(v) for (_, url), v in http_mock.requests.items() if url.path == path)


class TestRecordedBodies:
    def test_cosy_day_split_into_half_hours(self) -> None:
        """The recorded Cosy day (7 blocks) becomes 48 half-hours with the blocks' prices."""
        body = load_other("standard_unit_rates_E-1R-COSY-22-12-08-A_2025-03-03")
        start = utc(2025, 3, 3)

        slots = plugin().parse_unit_rates(body["results"], start, start + timedelta(days=1))

        prices = [s.price_pence for s in slots]
        assert half_hours(start, start + timedelta(days=1)) == [s.valid_from for s in slots]
        assert [26.98143] * 8 + [13.23168] * 6 + [26.98143] * 12 == prices[:26]
        assert [13.23168] * 6 + [40.47225] * 6 + [26.98143] * 6 + [13.23168] * 4 == prices[26:]
        assert 38.545 == slots[33].price_pence_exc_vat

    @pytest.mark.parametrize(("region", "code"), [("A", "E-1R-COSY-22-12-08-A"), ("B", None)])
    def test_cosy_detail_tariff_codes(self, region: str, code: str | None) -> None:
        """The recorded Cosy detail names region A's and B's tariff codes."""
        detail = load_other("product_detail_COSY-22-12-08_regions_A-B")

        found = plugin().tariff_code_for_region(detail, region)

        assert (code or f"E-1R-{COSY}-{region}") == found

    def test_cosy_detail_has_no_gas(self) -> None:
        """Cosy's empty ``single_register_gas_tariffs``: no gas tariff for the region."""
        detail = load_other("product_detail_COSY-22-12-08_regions_A-B")

        with pytest.raises(ProviderNotFoundError, match="no gas tariff for region A"):
            plugin().tariff_code_for_region(detail, "A", fuel="gas")

    def test_gas_open_ended_row(self) -> None:
        """The recorded gas rows: the older closed row, then the open-ended one to the window's
        end (no ``payment_method`` key at all)."""
        body = load_other("gas_standard_unit_rates_variable_2021-09_from-issue")
        start, end = utc(2021, 9, 30, 22), utc(2021, 10, 1, 2)

        slots = plugin().parse_unit_rates(body["results"], start, end)

        assert half_hours(start, end) == [s.valid_from for s in slots]
        assert [3.3075] * 2 + [4.0005] * 6 == [s.price_pence for s in slots]


class TestClockChangeDays:
    @pytest.mark.parametrize(("day", "count"), [(SPRING, 46), (AUTUMN, 50), (date(2026, 6, 1), 48)])
    async def test_tracker_day_is_one_price(
        self, provider: Any, http_mock: aioresponses, day: date, count: int
    ) -> None:
        """Tracker's one row for the UK day gives 46 / 48 / 50 half-hours, all its price."""
        http_mock.get(f"{API}/v1/products/{TRACKER}/", payload=product_detail(TRACKER, gas=True))
        http_mock.get(
            any_query(rates_url(API, TRACKER, f"E-1R-{TRACKER}-C")),
            payload=rows_page(TRACKER, "C", day),
        )
        start, end = uk_day_bounds(day)
        config = {**FAST, "region": "C", "family": "tracker", "product_code": TRACKER}

        slots = await provider.fetch_prices("C", start, end, config)

        assert count == len(slots)
        assert (start, end) == (slots[0].valid_from, slots[-1].valid_to)
        assert {tracker_price("C", day)} == {s.price_pence for s in slots}

    @pytest.mark.parametrize(
        ("day", "cheap", "count"),
        [
            (SPRING, (utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 3, 30)), 46),
            (AUTUMN, (utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 4, 30)), 50),
        ],
    )
    async def test_go_cheap_block_on_uk_wall_clock(
        self,
        provider: Any,
        http_mock: aioresponses,
        day: date,
        cheap: tuple[Any, Any],
        count: int,
    ) -> None:
        """Go's 00:30-04:30 UK block is 3 hours on the spring day and 5 on the autumn one."""
        http_mock.get(f"{API}/v1/products/{GO}/", payload=product_detail(GO))
        http_mock.get(
            any_query(rates_url(API, GO, f"E-1R-{GO}-C")), payload=rows_page(GO, "C", day)
        )
        start, end = uk_day_bounds(day)
        config = {**FAST, "region": "C", "family": "go", "product_code": GO}

        slots = await provider.fetch_prices("C", start, end, config)

        low = [s for s in slots if s.price_pence == 8.5 + 0.5]  # region C: +2 x 0.25
        assert count == len(slots)
        assert half_hours(*cheap) == [s.valid_from for s in low]

    @pytest.mark.parametrize(("day", "count"), [(SPRING, 46), (AUTUMN, 50)])
    async def test_cosy_blocks(
        self, provider: Any, http_mock: aioresponses, day: date, count: int
    ) -> None:
        """Cosy's blocks follow UK time: the 16:00-19:00 peak is 6 half-hours at 15:00 UTC in
        summer time (after the spring change) and 16:00 UTC after the autumn one."""
        http_mock.get(f"{API}/v1/products/{COSY}/", payload=product_detail(COSY))
        http_mock.get(
            any_query(rates_url(API, COSY, f"E-1R-{COSY}-A")), payload=rows_page(COSY, "A", day)
        )
        start, end = uk_day_bounds(day)
        config = {**FAST, "region": "A", "family": "cosy"}
        http_mock.get(f"{API}/v1/products/", payload=page(family_products()))

        slots = await provider.fetch_prices("A", start, end, config)

        peak = [s.valid_from for s in slots if s.price_pence == 40.47225]
        hour = 15 if day == SPRING else 16
        assert count == len(slots)
        first = utc(day.year, day.month, day.day, hour)
        assert half_hours(first, first + timedelta(hours=3)) == peak


class TestPaymentMethod:
    async def test_direct_debit_by_default_and_non_direct_debit_on_request(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Go's DD / NDD duplicates: direct debit's price by default, the other when asked."""
        day = date(2026, 6, 1)
        http_mock.get(f"{API}/v1/products/{GO}/", payload=product_detail(GO), repeat=True)
        http_mock.get(
            any_query(rates_url(API, GO, f"E-1R-{GO}-C")),
            payload=rows_page(GO, "C", day),
            repeat=True,
        )
        moment = utc(2026, 6, 1, 12)
        config = {**FAST, "region": "C", "product_code": GO}

        dd = await provider.fetch_prices("C", moment, moment + SLOT, config)
        ndd = await provider.fetch_prices(
            "C", moment, moment + SLOT, {**config, "payment_method": "non_direct_debit"}
        )

        assert ([26.96], [28.1945]) == ([s.price_pence for s in dd], [s.price_pence for s in ndd])

    def test_payment_key_of_the_detail(self) -> None:
        """non_direct_debit prefers the detail's non-direct-debit payment key."""
        detail = product_detail(GO, ["C"])
        detail["single_register_electricity_tariffs"]["_C"]["porb"] = {"code": f"E-1R-{GO}X-C"}

        codes = [
            plugin().tariff_code_for_region(detail, "C", payment_method=method)
            for method in ("direct_debit", "non_direct_debit")
        ]

        assert [f"E-1R-{GO}-C", f"E-1R-{GO}X-C"] == codes

    def test_conflicting_rows_of_one_method_refused(self) -> None:
        """Two direct-debit rows with different prices for one half-hour: a data error."""
        start = utc(2026, 6, 1)
        rows = rates_rows(FAMILY_RATES[GO], "C", start, start + SLOT)
        rows[1]["payment_method"] = "DIRECT_DEBIT"

        with pytest.raises(ProviderDataError, match="conflicting prices"):
            plugin().parse_unit_rates(rows, start, start + SLOT)


class TestDiscovery:
    @pytest.mark.parametrize(
        ("family", "expected"),
        [
            ("agile", "AGILE-24-04-03"),
            ("agile_outgoing", "AGILE-OUTGOING-19-05-13"),
            ("go", "GO-VAR-22-10-14"),
            ("intelligent_go", "INTELLI-VAR-22-10-14"),
            ("cosy", "COSY-22-12-08"),
            ("flux", "FLUX-IMPORT-23-02-14"),
            ("flux_export", "FLUX-EXPORT-23-02-14"),
            ("tracker", None),
        ],
    )
    def test_recorded_products_list(self, family: str, expected: str | None) -> None:
        """The recorded May-2024 list: each family's current Octopus product (no Bulb, no
        Intelligent Flux for Intelligent Go, no Tracker listed without is_tracker)."""
        results = load_fixture("products_list_2024-05")["results"]

        assert expected == plugin().select_product(results, family)

    def test_tracker_not_one_off_sale(self) -> None:
        """A Tracker whose available_to has passed is skipped for the one on sale."""
        assert TRACKER == plugin().select_product(family_products(), "tracker")

    def test_not_yet_on_sale_skipped(self) -> None:
        """A product available only from tomorrow is not the current one."""
        results = [
            product_summary("GO-VAR-22-10-14", available_from="2022-10-14T00:00:00Z"),
            product_summary("GO-VAR-99-01-01", available_from="2099-01-01T00:00:00Z"),
        ]

        assert GO == plugin().select_product(results, "go")

    async def test_one_list_serves_every_family_for_a_day(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Go, then Cosy an hour later: one GET /v1/products/ (kept by the plugin's pacer),
        each product's detail once; a day later the list is asked again, the details (a week)
        are not."""
        clock = [1000.0]
        provider.pacer.clock = lambda: clock[0]
        day = date(2026, 6, 1)
        http_mock.get(f"{API}/v1/products/", payload=page(family_products()), repeat=True)
        for code in (GO, COSY):
            http_mock.get(f"{API}/v1/products/{code}/", payload=product_detail(code), repeat=True)
            http_mock.get(
                any_query(rates_url(API, code, f"E-1R-{code}-C")),
                payload=rows_page(code, "C", day),
                repeat=True,
            )
        start, end = uk_day_bounds(day)

        def asked(url: str) -> int:
            return sum(len(calls) for key, calls in http_mock.requests.items() if key[1] == url)

        for family in ("go", "cosy", "go"):
            await provider.fetch_prices("C", start, end, {**FAST, "region": "C", "family": family})
            clock[0] += 3600
        assert 1 == asked(URL(f"{API}/v1/products/"))
        clock[0] += 24 * 3600
        await provider.fetch_prices("C", start, end, {**FAST, "region": "C", "family": "cosy"})
        assert 2 == asked(URL(f"{API}/v1/products/"))
        assert [1, 1] == [asked(URL(f"{API}/v1/products/{code}/")) for code in (GO, COSY)]

    async def test_gas_tracker_discovered(self, provider: Any, http_mock: aioresponses) -> None:
        """family tracker + fuel gas: ``?is_tracker=true``, the gas tariff, the gas path."""
        day = date(2026, 6, 1)
        http_mock.get(f"{API}/v1/products/?is_tracker=true", payload=page(family_products()))
        http_mock.get(f"{API}/v1/products/{TRACKER}/", payload=product_detail(TRACKER, gas=True))
        http_mock.get(
            any_query(gas_rates_url(API, TRACKER, f"G-1R-{TRACKER}-C")),
            payload=rows_page(TRACKER, "C", day, fuel="gas"),
        )
        start, end = uk_day_bounds(day)
        config = {**FAST, "region": "C", "family": "tracker", "fuel": "gas"}

        slots = await provider.fetch_prices("C", start, end, config)

        assert 48 == len(slots)
        assert {tracker_price("C", day, "gas")} == {s.price_pence for s in slots}


class TestConfig:
    @pytest.mark.parametrize(
        ("config", "field"),
        [
            ({"family": "go", "direction": "export"}, "direction"),
            ({"family": "cosy", "fuel": "gas"}, "fuel"),
            ({"fuel": "gas"}, "fuel"),
            ({"fuel": "gas", "tariff_code": "E-1R-SILVER-25-09-02-C"}, "fuel"),
            ({"family": "go", "product_code": "COSY-22-12-08"}, "product_code"),
            ({"family": "flux"}, None),
            ({"family": "Intelligent-Go"}, None),
            ({"family": "flux_export", "direction": "export"}, None),
            ({"fuel": "gas", "family": "tracker"}, None),
            ({"tariff_code": "g-1r-silver-25-09-02-c"}, None),
            ({"api_key": "sk_live_x"}, "account_number"),
            ({"account_number": "a-1234abcd"}, "api_key"),
            ({"family": "gold"}, "family"),
        ],
    )
    def test_contradictions_refused(self, config: dict[str, Any], field: str | None) -> None:
        """family, direction, fuel and the codes must agree; the key to fix is named."""
        errors = plugin().OctopusAgileProvider().validate_config({"region": "C", **config})

        assert ([] if field is None else [field]) == list(errors)

    def test_direction_export_is_agile_outgoing(self) -> None:
        """direction = export and family = agile_outgoing are one source (stored prices stay)."""
        provider = plugin().OctopusAgileProvider()

        old = provider.source_identity("C", {"region": "C", "direction": "export"})
        new = provider.source_identity("C", {"region": "C", "family": "agile_outgoing"})

        assert old == new == "E-1R-AGILE-*-C export @ https://api.octopus.energy"

    @pytest.mark.parametrize(
        ("config", "identity"),
        [
            ({}, "E-1R-AGILE-*-C import"),
            ({"family": "go"}, "E-1R-GO-*-C go"),
            ({"family": "tracker", "fuel": "gas"}, "G-1R-SILVER-*-C tracker"),
            ({"product_code": COSY}, f"E-1R-{COSY}-C cosy"),
            (
                {"family": "flux", "payment_method": "non_direct_debit"},
                "E-1R-FLUX-IMPORT-*-C flux non_direct_debit",
            ),
        ],
    )
    def test_identities(self, config: dict[str, Any], identity: str) -> None:
        """Every family, fuel and payment method is its own source."""
        found = plugin().OctopusAgileProvider().source_identity("C", {"region": "C", **config})

        assert f"{identity} @ https://api.octopus.energy" == found

    def test_the_api_key_is_not_in_the_identity(self) -> None:
        """The account is named, its key never."""
        config = {"region": "C", "api_key": "sk_live_secret", "account_number": "A-1234ABCD"}

        found = plugin().OctopusAgileProvider().source_identity("C", config)

        assert "sk_live_secret" not in found
        assert "A-1234ABCD" in found

    @pytest.mark.parametrize(
        ("family", "rhythm"),
        [
            ("agile", ("16:00", "23:00")),
            ("agile_outgoing", ("16:00", "23:00")),
            ("tracker", ("11:00", "00:00")),
            ("go", (None, "00:00")),
            ("intelligent_go", (None, "00:00")),
            ("cosy", (None, "00:00")),
            ("flux", (None, "00:00")),
            ("flux_export", (None, "00:00")),
        ],
    )
    def test_metadata_for(self, family: str, rhythm: tuple[str | None, str]) -> None:
        """Agile publishes at 16:00 for 23:00 days, Tracker at 11:00 for UK days, the fixed
        blocks have no publication rhythm; slots stay 30 minutes in Europe/London."""
        meta = plugin().OctopusAgileProvider().metadata_for("C", {"region": "C", "family": family})

        assert (*rhythm, 30, "Europe/London", "octopus_agile") == (
            meta.publish_time_local,
            meta.day_start_local,
            meta.slot_minutes,
            meta.market_timezone,
            meta.provider_id,
        )

    def test_metadata_for_a_given_code(self) -> None:
        """Without a family, a given code's family decides (a Go tariff code: no rhythm)."""
        config = {"region": "C", "tariff_code": f"E-1R-{GO}-C"}

        meta = plugin().OctopusAgileProvider().metadata_for("C", config)

        assert None is meta.publish_time_local


def rollover_products(old: str, new: str) -> list[dict[str, Any]]:
    return [
        product_summary(old, available_from="2022-10-14T00:00:00Z"),
        product_summary(new, available_from="2026-11-01T00:00:00Z"),
    ]


class TestRollover:
    async def test_a_discovered_code_gone_is_replaced_at_once(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """The discovered product answers 404: the list is asked again, the new product is
        fetched in the same call, a warning is logged once and health's notes say so."""
        old, new = GO, "GO-VAR-26-11-01"
        moment = utc(2026, 12, 1, 12)
        http_mock.get(f"{API}/v1/products/", payload=page([product_summary(old)]))
        http_mock.get(f"{API}/v1/products/", payload=page(rollover_products(old, new)))
        http_mock.get(f"{API}/v1/products/{old}/", payload=product_detail(old))
        http_mock.get(f"{API}/v1/products/{new}/", payload=product_detail(new))
        http_mock.get(any_query(rates_url(API, old, f"E-1R-{old}-C")), status=404)
        rows = rates_rows(FAMILY_RATES[GO], "C", moment, moment + SLOT)
        http_mock.get(any_query(rates_url(API, new, f"E-1R-{new}-C")), payload=page(rows))
        config = {**FAST, "region": "C", "family": "go"}

        with structlog.testing.capture_logs() as logs:
            slots = await provider.fetch_prices("C", moment, moment + SLOT, config)

        (warning,) = [e for e in logs if e["event"] == "octopus_agile.rollover"]
        assert [26.96] == [s.price_pence for s in slots]
        assert ("warning", old, new) == (warning["log_level"], warning["old"], warning["new"])
        notes = provider.source_notes("C", config)
        assert new in notes["rollover"]
        assert old in notes["rollover"]

    async def test_a_given_code_gone_quiet_names_the_new_one(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A given product with no price for now, a newer one of its family on sale: the
        error names both codes and what to set."""
        old, new = GO, "GO-VAR-26-11-01"
        http_mock.get(f"{API}/v1/products/", payload=page(rollover_products(old, new)))
        http_mock.get(f"{API}/v1/products/{old}/", payload=product_detail(old))
        http_mock.get(any_query(rates_url(API, old, f"E-1R-{old}-C")), payload=page([]))
        config = {**FAST, "region": "C", "product_code": old}
        now = datetime.now(UTC)

        with pytest.raises(ProviderEmptyError) as caught:
            await provider.fetch_prices("C", now - SLOT, now + SLOT, config)

        message = str(caught.value)
        assert old in message
        assert f'product_code = "{new}"' in message
        assert new in provider.source_notes("C", config)["rollover"]

    async def test_a_given_tariff_404_names_the_new_one(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A given tariff code answering 404: not found, with the code to set instead."""
        old, new = "COSY-22-12-08", "COSY-26-11-01"
        http_mock.get(f"{API}/v1/products/", payload=page(rollover_products(old, new)))
        http_mock.get(any_query(rates_url(API, old, f"E-1R-{old}-C")), status=404)
        moment = utc(2026, 12, 1, 12)
        config = {**FAST, "region": "C", "tariff_code": f"E-1R-{old}-C"}

        with pytest.raises(ProviderNotFoundError, match=f'tariff_code = "E-1R-{new}-C"'):
            await provider.fetch_prices("C", moment, moment + SLOT, config)

    async def test_no_successor_keeps_the_error(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A product of no known family (Flexible) answering 404: plain not found, and the
        products list is not asked."""
        http_mock.get(any_query(rates_url(API, "VAR-22-11-01", "E-1R-VAR-22-11-01-C")), status=404)
        moment = utc(2026, 12, 1, 12)
        config = {**FAST, "region": "C", "tariff_code": "E-1R-VAR-22-11-01-C"}

        with pytest.raises(ProviderNotFoundError, match="HTTP 404"):
            await provider.fetch_prices("C", moment, moment + SLOT, config)

        assert 0 == calls_to(http_mock, "/v1/products/")


ACCOUNT = "A-1234ABCD"
KEY = "sk_live_s3cretkey"


def account_body(tariff: str, *, export: bool = False) -> dict[str, Any]:
    """``/v1/accounts/{n}/`` in the documented shape: an ended and a current agreement."""
    return {
        "number": ACCOUNT,
        "properties": [
            {
                "electricity_meter_points": [
                    {
                        "mpan": "1000000000000",
                        "is_export": export,
                        "agreements": [
                            {
                                "tariff_code": "E-1R-AGILE-FLEX-22-11-25-C",
                                "valid_from": "2023-01-01T00:00:00Z",
                                "valid_to": "2025-01-01T00:00:00Z",
                            },
                            {
                                "tariff_code": tariff,
                                "valid_from": "2025-01-01T00:00:00Z",
                                "valid_to": None,
                            },
                        ],
                    }
                ],
                "gas_meter_points": [],
            }
        ],
    }


class TestAccount:
    async def test_the_live_tariff_is_read(self, provider: Any, http_mock: aioresponses) -> None:
        """api_key + account_number: the agreement valid now gives the tariff; the key goes
        as the Basic-auth user name and appears in no log."""
        tariff = f"E-1R-{GO}-C"
        http_mock.get(f"{API}/v1/accounts/{ACCOUNT}/", payload=account_body(tariff))
        moment = utc(2026, 12, 1, 12)
        http_mock.get(
            any_query(rates_url(API, GO, tariff)),
            payload=page(rates_rows(FAMILY_RATES[GO], "C", moment, moment + SLOT)),
        )
        config = {**FAST, "region": "C", "api_key": KEY, "account_number": ACCOUNT}

        with structlog.testing.capture_logs() as logs:
            slots = await provider.fetch_prices("C", moment, moment + SLOT, config)

        ((_, kwargs),) = [
            (u, r[0].kwargs) for (_, u), r in http_mock.requests.items() if "accounts" in u.path
        ]
        assert [26.96] == [s.price_pence for s in slots]
        assert kwargs["headers"]["Authorization"].startswith("Basic ")
        assert KEY not in repr(logs)

    async def test_a_refused_key_is_an_auth_error_without_the_key(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """HTTP 401: an auth error naming the account, never the key; not retried."""
        http_mock.get(f"{API}/v1/accounts/{ACCOUNT}/", status=401, repeat=True)
        config = {**FAST, "region": "C", "api_key": KEY, "account_number": ACCOUNT}
        moment = utc(2026, 12, 1, 12)

        with pytest.raises(ProviderAuthError) as caught:
            await provider.fetch_prices("C", moment, moment + SLOT, config)

        assert ACCOUNT in str(caught.value)
        assert KEY not in str(caught.value)
        assert 1 == calls_to(http_mock, f"/v1/accounts/{ACCOUNT}/")

    async def test_another_region_is_explained(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """The account's tariff is region J's but region is C: say what to set."""
        http_mock.get(f"{API}/v1/accounts/{ACCOUNT}/", payload=account_body(f"E-1R-{GO}-J"))
        config = {**FAST, "region": "C", "api_key": KEY, "account_number": ACCOUNT}
        moment = utc(2026, 12, 1, 12)

        with pytest.raises(ProviderNotFoundError, match="set region = 'J'"):
            await provider.fetch_prices("C", moment, moment + SLOT, config)


def cosy() -> Conformance:
    """Cosy region A on 3 March 2025 (the recorded day), found by product code."""
    rates = any_query(rates_url(API, COSY, f"E-1R-{COSY}-A"))
    return Conformance(
        provider=plugin().OctopusAgileProvider,
        region="A",
        config={"region": "A", "product_code": COSY},
        window=(utc(2025, 3, 3), utc(2025, 3, 4)),
        recorded=[
            Recorded.file(
                f"{API}/v1/products/{COSY}/",
                FIXTURES_OTHER / f"product_detail_{COSY}_regions_A-B.json",
            ),
            Recorded.file(
                rates, FIXTURES_OTHER / f"standard_unit_rates_E-1R-{COSY}-A_2025-03-03.json"
            ),
        ],
        endpoint=rates,
        bad_configs=[{"region": "A", "family": "cosy", "fuel": "gas"}],
        error_config={"region": "A", "tariff_code": f"E-1R-{COSY}-A", "retry_attempts": 1},
        expect={"401": ProviderServerError, "403": ProviderServerError},
    )


class TestCosyConformance:
    def test_metadata(self) -> None:
        """Metadata of the family plugin passes the kit's checks."""
        cosy().check_metadata()

    def test_config(self) -> None:
        """The Cosy config is valid, a gas Cosy is refused."""
        cosy().check_config()

    async def test_fetch(self) -> None:
        """The recorded Cosy day gives 48 aware, ascending half-hours."""
        slots = await cosy().check_fetch()

        assert 48 == len(slots)

    @pytest.mark.parametrize("error", list(ERROR_CASES))
    async def test_error(self, error: str) -> None:
        """Each failing answer maps onto energyd's error tree."""
        await cosy().check_error(error)
