"""The aWATTar plugin: parsing recorded answers, its requests, and a loopback stand-in."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from energyd.exceptions import (
    ProviderConnectionError,
    ProviderDataError,
    ProviderNotPublishedError,
    ProviderRateLimitError,
)
from energyd.providers.base import EnergyPriceSlot, Pacer, local_day_window
from energyd.providers.validation import validate_slots
from tests.support.fake_awattar import (
    FIXTURES,
    GARBAGE,
    RunningFake,
    default_price,
    epoch_ms,
    hour_starts,
    load_fixture,
    marketdata_body,
    serve,
)
from tests.support.plugins import BUNDLED_PLUGINS, load_bundled_plugin

DE_API = "https://api.awattar.de/v1/marketdata"
AT_API = "https://api.awattar.at/v1/marketdata"
DE_DATA = re.compile(re.escape(DE_API) + r"(\?.*)?$")
AT_DATA = re.compile(re.escape(AT_API) + r"(\?.*)?$")
HOUR = timedelta(hours=1)
FAST = {"retry_base_seconds": 0.001, "retry_budget_seconds": 5}
AT_FIXTURE = "marketdata_AT_default-window_2021-09-23T13Z_24h"
DE_FIXTURE = "marketdata_DE_before-publication_2023-10-26T09Z-22Z"

#: The recorded AT prices of 23/24 Sep 2021 in EUR cents/kWh (EUR/MWh / 10).
AT_CENTS = [
    15.895, 16.098, 17.115, 17.496, 16.153, 15.2, 12.001, 11.103, 10.504, 10.5, 7.423, 7.328,
    6.797, 7.253, 8.966, 15.01, 17.354, 17.84, 15.891, 14.001, 14.999, 15.743, 13.09, 12.014,
]  # fmt: skip
#: The recorded DE prices of 26 Oct 2023, 09:00Z to 22:00Z, in EUR cents/kWh.
DE_CENTS = [
    14.0, 13.111, 12.009, 11.96, 12.001, 13.114, 14.291, 15.095, 15.099, 13.072, 11.906, 11.706,
    10.485,
]  # fmt: skip


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def berlin_days(first: date, last: date) -> tuple[datetime, datetime]:
    return local_day_window(first, "Europe/Berlin")[0], local_day_window(last, "Europe/Berlin")[1]


def fixture_bytes(name: str) -> bytes:
    """A recorded body exactly as stored."""
    return (FIXTURES / f"{name}.json").read_bytes()


def cents(country: str, start: datetime) -> float:
    """The stand-in's price of the hour at ``start`` in EUR cents/kWh (EUR/MWh / 10)."""
    return round(default_price(country, start) / 10, 6)


def hourly_body(start: datetime, end: datetime, country: str = "DE") -> dict[str, Any]:
    """The stand-in's answer for ``[start, end)``, built without a server."""
    rows = [(t, t + HOUR, default_price(country, t)) for t in hour_starts(start, end)]
    return marketdata_body(rows, country)


@dataclass
class FakeTime:
    """A pacer clock that only moves when the pacer sleeps (no real waiting in tests)."""

    now: float = 1000.0
    waits: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(round(seconds, 3))
        self.now += seconds


def fake_time(provider: Any) -> FakeTime:
    """Give ``provider``'s pacer (its spacing and cache) a fake clock."""
    pacer: Pacer = provider.pacer
    fake = FakeTime()
    pacer.clock = fake.clock
    pacer.sleep = fake.sleep
    return fake


@pytest.fixture(scope="module")
def plugin() -> Any:
    """The bundled plugin module, loaded standalone like the daemon does."""
    return load_bundled_plugin("awattar_provider.py")


@pytest.fixture
async def provider(plugin: Any, http_mock: aioresponses) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession() as session:
        instance = plugin.AwattarProvider()
        instance.attach(session, timeout=5.0)
        instance.fake_time = fake_time(instance)
        yield instance


def requested(http_mock: aioresponses) -> list[URL]:
    """The distinct URLs asked for."""
    return [url for (_, url) in http_mock.requests]


def calls(http_mock: aioresponses) -> int:
    """How many requests were made."""
    return sum(len(made) for made in http_mock.requests.values())


class TestParsingRecordedAnswers:
    def test_the_austrian_default_window_is_24_hourly_slots(self, plugin: Any) -> None:
        """AT, "now -> +24 h" of 23 Sep 2021 13:00Z: 24 slots, exact c/kWh, EUR, no VAT split."""
        slots = plugin.parse_marketdata(load_fixture(AT_FIXTURE), "AT")
        assert 24 == len(slots)
        assert AT_CENTS == [slot.price_pence for slot in slots]
        assert (
            EnergyPriceSlot(utc(2021, 9, 23, 13), utc(2021, 9, 23, 14), 15.895, "EUR") == (slots[0])
        )
        assert (utc(2021, 9, 24, 12), utc(2021, 9, 24, 13)) == (
            slots[-1].valid_from,
            slots[-1].valid_to,
        )
        assert {HOUR} == {slot.duration for slot in slots}
        assert {None} == {slot.price_pence_exc_vat for slot in slots}
        assert all(a.valid_to == b.valid_from for a, b in itertools.pairwise(slots))

    def test_the_german_answer_before_publication_ends_with_the_local_day(
        self, plugin: Any
    ) -> None:
        """DE, asked on 26 Oct 2023 before the auction: 13 rows, 09:00Z to local midnight."""
        slots = plugin.parse_marketdata(load_fixture(DE_FIXTURE), "DE")
        assert 13 == len(slots)
        assert DE_CENTS == [slot.price_pence for slot in slots]
        assert (utc(2023, 10, 26, 9), utc(2023, 10, 26, 22)) == (
            slots[0].valid_from,
            slots[-1].valid_to,
        )
        assert local_day_window(date(2023, 10, 26), "Europe/Berlin")[1] == slots[-1].valid_to
        assert {"EUR"} == {slot.currency for slot in slots}

    @pytest.mark.parametrize("name", [AT_FIXTURE, DE_FIXTURE])
    def test_the_slots_pass_the_daemons_validation(self, plugin: Any, name: str) -> None:
        """What the parser returns is what the store accepts."""
        slots = plugin.parse_marketdata(load_fixture(name))
        start, end = slots[0].valid_from, slots[-1].valid_to
        assert slots == validate_slots(slots, start, end, currency="EUR")

    def test_an_answer_for_the_other_country_is_refused(self, plugin: Any) -> None:
        """The answer's url names its country: an AT answer for a DE feed is bad data."""
        with pytest.raises(ProviderDataError, match="for AT"):
            plugin.parse_marketdata(load_fixture(AT_FIXTURE), "DE")
        with pytest.raises(ProviderDataError, match="for DE"):
            plugin.parse_marketdata(load_fixture(DE_FIXTURE), "AT")

    def test_an_answer_without_url_is_accepted(self, plugin: Any) -> None:
        """A mirror may drop the url field: nothing to compare then."""
        body = load_fixture(DE_FIXTURE)
        del body["url"]
        assert 13 == len(plugin.parse_marketdata(body, "AT"))


class TestQuirks:
    @pytest.mark.parametrize("unit", ["Eur/MWh", "EUR/MWh", "eur / mwh", " EUR / MWh "])
    def test_the_unit_is_compared_without_case_or_spaces(self, plugin: Any, unit: str) -> None:
        """aWATTar writes "Eur/MWh"; any case and spacing of EUR/MWh is the same unit."""
        body = hourly_body(utc(2026, 1, 5, 10), utc(2026, 1, 5, 12))
        for row in body["data"]:
            row["unit"] = unit
        assert 2 == len(plugin.parse_marketdata(body, "DE"))

    def test_each_slot_ends_at_its_rows_end_timestamp(self, plugin: Any) -> None:
        """Nothing is assumed about the length: a quarter hour, then two hours, then an hour."""
        t = utc(2026, 1, 5, 10)
        body = marketdata_body(
            [
                (t, t + timedelta(minutes=15), 10.0),
                (t + HOUR, t + 3 * HOUR, 20.0),
                (t + 3 * HOUR, t + 4 * HOUR, -5.5),
            ]
        )
        slots = plugin.parse_marketdata(body, "DE")
        assert [timedelta(minutes=15), 2 * HOUR, HOUR] == [slot.duration for slot in slots]
        assert [1.0, 2.0, -0.55] == [slot.price_pence for slot in slots]

    def test_rows_out_of_order_are_sorted(self, plugin: Any) -> None:
        """Slots come back ascending whatever the row order."""
        body = hourly_body(utc(2026, 1, 5, 10), utc(2026, 1, 5, 13))
        body["data"].reverse()
        slots = plugin.parse_marketdata(body, "DE")
        assert [utc(2026, 1, 5, h) for h in (10, 11, 12)] == [s.valid_from for s in slots]

    def test_no_rows_is_no_slots_not_an_error(self, plugin: Any) -> None:
        """The API's "not yet" is fewer rows, down to none: the parser just returns none."""
        assert [] == plugin.parse_marketdata(marketdata_body([]), "DE")

    @pytest.mark.parametrize(
        ("day", "hours"),
        [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25), (date(2026, 11, 3), 24)],
    )
    def test_clock_change_days_have_23_or_25_hours(
        self, plugin: Any, day: date, hours: int
    ) -> None:
        """Rows are UTC hours: a CET/CEST day has 23, 24 or 25 of them."""
        start, end = berlin_days(day, day)
        slots = plugin.parse_marketdata(hourly_body(start, end), "DE")
        assert hours == len(slots)
        assert (start, end) == (slots[0].valid_from, slots[-1].valid_to)


def _row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "start_timestamp": 1774738800000,
        "end_timestamp": 1774742400000,
        "marketprice": 92.5,
        "unit": "Eur/MWh",
    }
    row.update(changes)
    return {k: v for k, v in row.items() if v is not ...}


def _body(*rows: Any, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"object": "list", "data": list(rows), "url": "/de/v1/marketdata"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


GARBAGE_BODIES = {
    "not-object": [_row()],
    "object-missing": _body(_row(), object=...),
    "object-error": _body(_row(), object="error"),
    "data-missing": _body(data=...),
    "data-object": _body(data={"0": _row()}),
    "row-not-object": _body([1774738800000, 92.5]),
    "start-missing": _body(_row(start_timestamp=...)),
    "start-string": _body(_row(start_timestamp="1774738800000")),
    "start-bool": _body(_row(start_timestamp=True)),
    "end-missing": _body(_row(end_timestamp=...)),
    "end-before-start": _body(_row(end_timestamp=1774735200000)),
    "off-minute": _body(_row(start_timestamp=1774738800500)),
    "price-missing": _body(_row(marketprice=...)),
    "price-string": _body(_row(marketprice="92.5")),
    "price-null": _body(_row(marketprice=None)),
    "price-bool": _body(_row(marketprice=False)),
    "price-nan": _body(_row(marketprice=float("nan"))),
    "unit-kwh": _body(_row(unit="Eur/kWh")),
    "unit-ct": _body(_row(unit="ct/kWh")),
    "unit-missing": _body(_row(unit=...)),
    "unit-number": _body(_row(unit=1)),
    "duplicate": _body(_row(), _row()),
    "overlap": _body(_row(), _row(start_timestamp=1774740600000, end_timestamp=1774744200000)),
    "one-bad-row-of-two": _body(_row(), _row(start_timestamp=1774742400000, unit="USD/MWh")),
}


class TestMalformedAnswers:
    @pytest.mark.parametrize("name", list(GARBAGE_BODIES))
    def test_garbage_fails_the_whole_answer(self, plugin: Any, name: str) -> None:
        """Anything malformed is a ProviderDataError; nothing half-parsed is returned."""
        with pytest.raises(ProviderDataError):
            plugin.parse_marketdata(GARBAGE_BODIES[name], "DE")

    async def test_html_instead_of_json(self, provider: Any, http_mock: aioresponses) -> None:
        """A maintenance page is bad data, not a price."""
        http_mock.get(DE_DATA, body="<html>maintenance</html>", content_type="text/html")
        start, end = berlin_days(date(2026, 1, 5), date(2026, 1, 5))
        with pytest.raises(ProviderDataError):
            await provider.fetch_prices("DE", start, end, {"region": "DE"})


class TestRequests:
    async def test_one_request_in_epoch_ms_covers_the_market_days(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A window inside 29 Mar 2026 asks api.awattar.de once for the whole 23-hour day."""
        start, end = berlin_days(date(2026, 3, 29), date(2026, 3, 29))
        http_mock.get(DE_DATA, payload=hourly_body(start, end))
        slots = await provider.fetch_prices(
            "DE", utc(2026, 3, 29, 5), utc(2026, 3, 29, 7), {"region": "DE"}
        )
        (url,) = requested(http_mock)
        assert DE_API == str(url.with_query(None))
        assert {"start": "1774738800000", "end": "1774821600000"} == dict(url.query)
        assert [utc(2026, 3, 29, 5), utc(2026, 3, 29, 6)] == [s.valid_from for s in slots]

    async def test_a_window_over_two_days_is_still_one_request(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """10 Dec 05:00Z to 11 Dec 07:00Z: from local midnight of the 10th to that of the 12th."""
        first, last = berlin_days(date(2024, 12, 10), date(2024, 12, 11))
        http_mock.get(DE_DATA, payload=hourly_body(first, last))
        slots = await provider.fetch_prices(
            "DE", utc(2024, 12, 10, 5), utc(2024, 12, 11, 7), {"region": "DE"}
        )
        (url,) = requested(http_mock)
        assert {"start": "1733785200000", "end": "1733958000000"} == dict(url.query)
        assert (utc(2024, 12, 10, 5), utc(2024, 12, 11, 7), 26) == (
            slots[0].valid_from,
            slots[-1].valid_to,
            len(slots),
        )

    @pytest.mark.parametrize("region", ["AT", "at", "Austria", " austria "])
    async def test_austria_asks_the_austrian_host(
        self, provider: Any, http_mock: aioresponses, region: str
    ) -> None:
        """Any spelling of AT goes to api.awattar.at and gets the Austrian prices."""
        start, end = berlin_days(date(2026, 1, 5), date(2026, 1, 5))
        http_mock.get(AT_DATA, payload=hourly_body(start, end, "AT"))
        slots = await provider.fetch_prices(region, start, end, {"region": region})
        (url,) = requested(http_mock)
        assert AT_API == str(url.with_query(None))
        assert cents("AT", start) == slots[0].price_pence

    async def test_base_url_replaces_the_country_host(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A mirror gets the same /v1/marketdata path and parameters; no call to aWATTar."""
        start, end = berlin_days(date(2026, 1, 5), date(2026, 1, 5))
        http_mock.get(
            re.compile(r"^http://mirror\.example:8080/awattar-at/v1/marketdata\?"),
            payload=hourly_body(start, end, "AT"),
        )
        config = {"region": "AT", "base_url": "http://mirror.example:8080/awattar-at/"}
        assert 24 == len(await provider.fetch_prices("AT", start, end, config))
        (url,) = requested(http_mock)
        assert "http://mirror.example:8080/awattar-at/v1/marketdata" == str(url.with_query(None))

    async def test_before_publication_today_is_returned_and_tomorrow_missing(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """The recorded DE answer stops at 22:00Z: today's rest, tomorrow simply absent."""
        http_mock.get(DE_DATA, body=fixture_bytes(DE_FIXTURE))
        start, end = utc(2023, 10, 26, 9), berlin_days(date(2023, 10, 27), date(2023, 10, 27))[1]
        slots = await provider.fetch_prices("DE", start, end, {"region": "DE"})
        assert (13, utc(2023, 10, 26, 22)) == (len(slots), slots[-1].valid_to)
        assert DE_CENTS == [slot.price_pence for slot in slots]

    async def test_tomorrow_alone_before_publication_is_not_yet(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """No row in the window is "not published yet", never an error or a price of 0."""
        http_mock.get(DE_DATA, body=fixture_bytes(DE_FIXTURE))
        start, end = berlin_days(date(2023, 10, 27), date(2023, 10, 27))
        with pytest.raises(ProviderNotPublishedError, match="no prices") as caught:
            await provider.fetch_prices("DE", start, end, {"region": "DE"})
        assert caught.value.retry_at is None  # its publication time is long past

    async def test_a_future_day_not_yet_says_when_to_ask(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """No rows at all for a day ahead: retry_at is 13:00 Berlin the day before."""
        http_mock.get(DE_DATA, payload=marketdata_body([]))
        start, end = berlin_days(date(2030, 7, 2), date(2030, 7, 2))
        with pytest.raises(ProviderNotPublishedError) as caught:
            await provider.fetch_prices("DE", start, end, {"region": "DE"})
        assert utc(2030, 7, 1, 11) == caught.value.retry_at

    async def test_an_answer_of_the_other_country_fails(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A base_url pointing at the AT feed of a mirror, for a DE feed, is caught."""
        http_mock.get(
            re.compile(r"^http://mirror\.example/v1/marketdata\?"),
            body=fixture_bytes(AT_FIXTURE),
        )
        start, end = berlin_days(date(2021, 9, 24), date(2021, 9, 24))
        config = {"region": "DE", "base_url": "http://mirror.example"}
        with pytest.raises(ProviderDataError, match="the feed is DE"):
            await provider.fetch_prices("DE", start, end, config)

    async def test_answers_are_reused_for_half_a_minute(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Fair use: the same request within cache_seconds is served from the last answer."""
        start, end = berlin_days(date(2026, 1, 5), date(2026, 1, 5))
        http_mock.get(DE_DATA, payload=hourly_body(start, end), repeat=True)
        for _ in range(3):
            await provider.fetch_prices("DE", start, end, {"region": "DE"})
        provider.fake_time.now += 29
        await provider.fetch_prices("DE", utc(2026, 1, 5, 10), end, {"region": "DE"})
        assert 1 == calls(http_mock)
        provider.fake_time.now += 2
        await provider.fetch_prices("DE", start, end, {"region": "DE"})
        assert 2 == calls(http_mock)

    async def test_requests_are_spaced_and_concurrent_feeds_wait(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """DE and AT fetched together: the second starts 5 s after the first, without failing."""
        start, end = berlin_days(date(2026, 1, 5), date(2026, 1, 5))
        http_mock.get(DE_DATA, payload=hourly_body(start, end, "DE"))
        http_mock.get(AT_DATA, payload=hourly_body(start, end, "AT"))
        de, at = await asyncio.gather(
            provider.fetch_prices("DE", start, end, {"region": "DE"}),
            provider.fetch_prices("AT", start, end, {"region": "AT"}),
        )
        assert [24, 24] == [len(de), len(at)]
        assert [5.0] == provider.fake_time.waits
        assert round(at[0].price_pence - de[0].price_pence, 6) == 0.75

    async def test_a_429_beyond_the_budget_is_raised_with_its_retry_after(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """The planner gets Retry-After to wait instead of hammering the API."""
        http_mock.get(DE_DATA, status=429, headers={"Retry-After": "600"})
        start, end = berlin_days(date(2026, 1, 5), date(2026, 1, 5))
        with pytest.raises(ProviderRateLimitError) as caught:
            await provider.fetch_prices("DE", start, end, {"region": "DE", **FAST})
        assert 600 == caught.value.retry_after


class TestConfigAndMetadata:
    def test_the_countries_are_the_regions(self, plugin: Any) -> None:
        """DE and AT, named Germany and Austria."""
        meta = plugin.AwattarProvider().get_metadata()
        assert ("DE", "AT") == meta.supported_regions
        assert {"DE": "Germany", "AT": "Austria"} == dict(meta.region_names)

    def test_the_market_rhythm(self, plugin: Any) -> None:
        """EUR, Berlin days from midnight, results around 13:00, hourly slots, no key."""
        meta = plugin.AwattarProvider().get_metadata()
        assert ("awattar", "EUR", "Europe/Berlin", "00:00", "13:00", 60, False) == (
            meta.provider_id,
            meta.currency,
            meta.market_timezone,
            meta.day_start_local,
            meta.publish_time_local,
            meta.slot_minutes,
            meta.requires_api_key,
        )
        assert plugin.__version__ == meta.version

    def test_the_schema_is_published(self, plugin: Any) -> None:
        """region required with its names; base_url an optional URI without default."""
        schema = plugin.AwattarProvider().get_metadata().config_schema
        assert ["region"] == schema["required"]
        assert {"DE": "Germany", "AT": "Austria"} == schema["properties"]["region"]["x-names"]
        assert {"type": "string", "format": "uri"} == {
            k: v for k, v in schema["properties"]["base_url"].items() if k != "description"
        }

    @pytest.mark.parametrize(
        ("config", "errors"),
        [
            ({"region": "DE"}, set()),
            ({"region": "at"}, set()),
            ({"region": "Germany"}, set()),
            ({"region": "de_lu"}, set()),
            ({"region": "DE", "base_url": "http://127.0.0.1:8082/de/"}, set()),
            ({"region": "AT", "retry_attempts": 2, "retry_base_seconds": 0.5}, set()),
            ({}, {"region"}),
            ({"region": "FR"}, {"region"}),
            ({"region": "DE", "base_url": "ftp://x"}, {"base_url"}),
            ({"region": "DE", "country": "AT"}, {"country"}),
            ({"region": "DE", "retry_attempts": 0}, {"retry_attempts"}),
        ],
    )
    def test_validate_config(self, plugin: Any, config: dict[str, Any], errors: set[str]) -> None:
        """Good configs validate clean; each bad key is named."""
        assert errors == set(plugin.AwattarProvider().validate_config(config))

    @pytest.mark.parametrize(
        ("given", "canonical"),
        [("de", "DE"), ("AT", "AT"), ("austria", "AT"), ("GERMANY", "DE"), ("DE-LU", "DE")],
    )
    def test_the_region_is_normalised(self, plugin: Any, given: str, canonical: str) -> None:
        """The daemon keeps and publishes the canonical code."""
        assert {"region": canonical} == plugin.AwattarProvider().normalise_config({"region": given})

    def test_the_country_and_base_url_decide_the_source(self, plugin: Any) -> None:
        """Stored DE prices are not served for AT, nor for another API root; retries don't
        matter."""
        provider = plugin.AwattarProvider()
        ids = {
            provider.source_identity("DE", {"region": "de"}),
            provider.source_identity("DE", {"region": "DE", "retry_attempts": 2}),
        }
        assert 1 == len(ids)
        assert provider.source_identity("AT", {"region": "AT"}) not in ids
        assert provider.source_identity("DE", {"region": "DE", "base_url": "http://m"}) not in ids

    def test_the_source_notes_name_the_api_and_its_fair_use(self, plugin: Any) -> None:
        """Shown beside health: which API is asked, and the 100-a-day fair use."""
        provider = plugin.AwattarProvider()
        notes = provider.source_notes("AT", {"region": "AT"})
        assert AT_API == notes["api"]
        assert "100 requests a day" in notes["fair_use"]
        mirror = provider.source_notes("DE", {"region": "DE", "base_url": "http://m/de"})
        assert "http://m/de/v1/marketdata" == mirror["api"]
        assert {} == provider.source_notes("FR", {"region": "FR"})

    def test_the_fair_use_settings(self, plugin: Any) -> None:
        """5 minutes of cache, 5 s between requests: no longer than the kit waits for a turn,
        so requests queue rather than fail."""
        cls = plugin.AwattarProvider
        assert (30.0, 5.0) == (cls.cache_seconds, cls.request_spacing_seconds)
        assert cls.request_spacing_seconds <= Pacer().max_wait

    def test_the_plugin_stays_small_and_standalone(self, plugin: Any) -> None:
        """Under 450 lines, kit 3, importing only the standard library and the base."""
        source = (BUNDLED_PLUGINS / "awattar_provider.py").read_text(encoding="utf-8")
        imports = {
            m.group(1).split(".")[0]
            for m in re.finditer(r"^(?:from|import) ([\w.]+)", source, re.MULTILINE)
        }
        assert len(source.splitlines()) < 450
        assert {"__future__", "collections", "datetime", "itertools", "typing", "zoneinfo"} | {
            "providers"
        } == imports
        assert 3 == plugin.REQUIRES_KIT


# -- against the loopback stand-in -------------------------------------------------------------


@pytest.fixture
async def stand_in() -> AsyncIterator[RunningFake]:
    async with serve() as running:
        yield running


@pytest.fixture
async def loaded(plugin: Any) -> AsyncIterator[Any]:
    """A provider from the plugin file loaded as the daemon loads it, over real HTTP."""
    async with aiohttp.ClientSession() as session:
        instance = plugin.AwattarProvider()
        instance.attach(session, timeout=5.0)
        instance.fake_time = fake_time(instance)
        yield instance


def config_for(fake: RunningFake, country: str = "DE", **extra: Any) -> dict[str, Any]:
    return {"region": country, "base_url": fake.base_url(country), **FAST, **extra}


class TestAgainstTheStandIn:
    @pytest.mark.parametrize(("day", "hours"), [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25)])
    async def test_clock_change_days(
        self, loaded: Any, stand_in: RunningFake, day: date, hours: int
    ) -> None:
        """29 Mar 2026 has 23 hourly slots, 25 Oct 2026 has 25, each at its stand-in price."""
        start, end = berlin_days(day, day)
        slots = await loaded.fetch_prices("DE", start, end, config_for(stand_in))
        assert hours == len(slots)
        assert slots == validate_slots(slots, start, end, currency="EUR")
        assert (start, end) == (slots[0].valid_from, slots[-1].valid_to)
        assert {HOUR} == {slot.duration for slot in slots}
        assert [cents("DE", s.valid_from) for s in slots] == [s.price_pence for s in slots]
        query = f"start={epoch_ms(start)}&end={epoch_ms(end)}"
        assert [f"/de/v1/marketdata?{query}"] == stand_in.state.requests

    async def test_one_stand_in_serves_both_countries(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        """The path prefix picks the country: AT prices are 0.75 c/kWh above DE here."""
        start, end = berlin_days(date(2026, 11, 3), date(2026, 11, 3))
        de = await loaded.fetch_prices("DE", start, end, config_for(stand_in, "DE"))
        at = await loaded.fetch_prices("AT", start, end, config_for(stand_in, "AT"))
        assert {0.75} == {
            round(a.price_pence - d.price_pence, 6) for a, d in zip(at, de, strict=True)
        }
        assert ["/de/v1/marketdata", "/at/v1/marketdata"] == [
            r.split("?")[0] for r in stand_in.state.requests
        ]

    async def test_the_wrong_countrys_prefix_is_refused(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        """A DE feed pointed at the AT path: the answer's url gives it away."""
        start, end = berlin_days(date(2026, 11, 3), date(2026, 11, 3))
        config = {**config_for(stand_in, "DE"), "base_url": stand_in.base_url("AT")}
        with pytest.raises(ProviderDataError, match="for AT"):
            await loaded.fetch_prices("DE", start, end, config)

    async def test_an_unpublished_tomorrow_leaves_today(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        """Before the auction result, today is returned and tomorrow is simply missing."""
        start, end = berlin_days(date(2026, 11, 3), date(2026, 11, 4))
        stand_in.state.published_until = local_day_window(date(2026, 11, 4), "Europe/Berlin")[0]
        slots = await loaded.fetch_prices("DE", start, end, config_for(stand_in))
        assert (24, stand_in.state.published_until) == (len(slots), slots[-1].valid_to)

    async def test_a_day_not_published_is_waiting(self, loaded: Any, stand_in: RunningFake) -> None:
        """Only the unpublished day asked for: no rows, so ProviderNotPublishedError."""
        start, end = berlin_days(date(2026, 11, 4), date(2026, 11, 4))
        stand_in.state.published_until = start
        with pytest.raises(ProviderNotPublishedError):
            await loaded.fetch_prices("DE", start, end, config_for(stand_in))
        assert 1 == len(stand_in.state.requests)

    async def test_server_errors_are_retried_and_spaced(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        """A 500 and a 503, then the answer: three requests, each 5 s after the one before."""
        stand_in.state.faults.extend([500, 503])
        start, end = berlin_days(date(2026, 11, 3), date(2026, 11, 3))
        slots = await loaded.fetch_prices("DE", start, end, config_for(stand_in))
        assert (24, 3) == (len(slots), len(stand_in.state.requests))
        assert [5.0, 5.0] == [round(w) for w in loaded.fake_time.waits]

    async def test_throttling_reaches_the_caller(self, loaded: Any, stand_in: RunningFake) -> None:
        """A 429 asking for more than the budget is raised with its Retry-After."""
        stand_in.state.faults.append(429)
        stand_in.state.retry_after = "120"
        start, end = berlin_days(date(2026, 11, 3), date(2026, 11, 3))
        with pytest.raises(ProviderRateLimitError) as caught:
            await loaded.fetch_prices("DE", start, end, config_for(stand_in))
        assert (120, 1) == (caught.value.retry_after, len(stand_in.state.requests))

    async def test_a_hang_is_a_connection_error_within_the_timeout(
        self, plugin: Any, stand_in: RunningFake
    ) -> None:
        """No answer: the request gives up after the daemon's HTTP timeout."""
        stand_in.state.faults.append("hang")
        start, end = berlin_days(date(2026, 11, 3), date(2026, 11, 3))
        async with aiohttp.ClientSession() as session:
            provider = plugin.AwattarProvider()
            provider.attach(session, timeout=0.3)
            began = time.monotonic()
            with pytest.raises(ProviderConnectionError, match=r"no answer within 0\.3 s"):
                await provider.fetch_prices(
                    "DE", start, end, config_for(stand_in, retry_attempts=1)
                )
            assert time.monotonic() - began < 2.0

    async def test_garbage_is_bad_data(self, loaded: Any, stand_in: RunningFake) -> None:
        """A truncated body is a ProviderDataError, not retried, not half-used."""
        stand_in.state.faults.append("garbage")
        start, end = berlin_days(date(2026, 11, 3), date(2026, 11, 3))
        with pytest.raises(ProviderDataError, match="not JSON"):
            await loaded.fetch_prices("DE", start, end, config_for(stand_in))
        assert 1 == len(stand_in.state.requests)

    async def test_the_health_check_makes_one_attempt(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        """health_check does not retry: a 500 is an error at once."""
        stand_in.state.faults.extend([500, 500, 500])
        health = await loaded.health_check("DE", config_for(stand_in))
        assert ("error", 1) == (health.state.value, len(stand_in.state.requests))

    async def test_the_health_check_finds_the_current_price(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        """Reachable and published: ok."""
        health = await loaded.health_check("AT", config_for(stand_in, "AT"))
        assert "ok" == health.state.value


class TestTheStandInItself:
    async def test_without_parameters_it_answers_now_to_24_hours(
        self, stand_in: RunningFake
    ) -> None:
        """As the real API (the recorded AT answer): 24 rows from the current hour."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{stand_in.url}/at/v1/marketdata") as resp,
        ):
            body = await resp.json()
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        rows = body["data"]
        assert ("list", "/at/v1/marketdata", 24) == (body["object"], body["url"], len(rows))
        assert epoch_ms(hour) in (rows[0]["start_timestamp"], rows[0]["start_timestamp"] + 3600000)
        assert {3600000} == {r["end_timestamp"] - r["start_timestamp"] for r in rows}
        assert {"Eur/MWh"} == {r["unit"] for r in rows}

    async def test_the_bare_path_serves_the_state_country(self, stand_in: RunningFake) -> None:
        """/v1/marketdata answers for state.country, rows only up to published_until."""
        stand_in.state.country = "AT"
        start = utc(2026, 11, 3, 0)
        stand_in.state.published_until = start + 3 * HOUR
        query = f"start={epoch_ms(start)}&end={epoch_ms(start + 10 * HOUR)}"
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{stand_in.url}/v1/marketdata?{query}") as resp,
        ):
            body = await resp.json()
        assert hourly_body(start, start + 3 * HOUR, "AT") == body

    async def test_garbage_is_the_truncated_body(self, stand_in: RunningFake) -> None:
        """The "garbage" fault answers 200 with JSON cut off mid-row."""
        stand_in.state.faults.append("garbage")
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{stand_in.url}/de/v1/marketdata") as resp,
        ):
            assert (200, GARBAGE) == (resp.status, await resp.read())

    async def test_the_not_yet_answer_is_an_empty_list_not_an_error(
        self, stand_in: RunningFake
    ) -> None:
        """Before publication the real API sends fewer rows, down to none, with HTTP 200."""
        stand_in.state.published_until = utc(2026, 11, 3, 23)
        query = f"start={epoch_ms(utc(2026, 11, 3, 23))}&end={epoch_ms(utc(2026, 11, 4, 23))}"
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{stand_in.url}/de/v1/marketdata?{query}") as resp,
        ):
            assert (200, []) == (resp.status, (await resp.json())["data"])
