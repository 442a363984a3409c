"""The Energi Data Service plugin: recorded answers, built 15-minute days, its requests, the
one-request-a-minute limit, and a loopback stand-in."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from energyd.exceptions import (
    ProviderConnectionError,
    ProviderDataError,
    ProviderNotPublishedError,
    ProviderRateLimitError,
    ProviderServerError,
)
from energyd.providers.base import EnergyPriceSlot, local_day_window
from energyd.providers.loader import bundled_plugin_dir
from energyd.providers.validation import validate_slots
from tests.support.fake_energidataservice import (
    DKK_PER_EUR,
    RunningFake,
    day_ahead_body,
    day_starts,
    default_price,
    dkk,
    load_fixture,
    record,
    serve,
)
from tests.support.plugins import load_bundled_plugin

API = "https://api.energidataservice.dk"
DATASET = re.compile(re.escape(API + "/dataset/DayAheadPrices") + r"(\?.*)?$")
TZ = "Europe/Copenhagen"
HOUR = timedelta(hours=1)
QUARTER = timedelta(minutes=15)
BOTH = '{"PriceArea":["DK1","DK2"]}'
FAST = {"retry_base_seconds": 0.001, "retry_budget_seconds": 5}
ELSPOT = "Elspotprices_DK1-DK2_limit3_newest-first_2025-09-30"
DAY_AHEAD = "DayAheadPrices_DK2_single-record_2025-09-27"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def danish_days(first: date, last: date) -> tuple[datetime, datetime]:
    return local_day_window(first, TZ)[0], local_day_window(last, TZ)[1]


def ore(area: str, start: datetime) -> float:
    """What the plugin must make of the stand-in's DKK price: øre/kWh (DKK/MWh / 10)."""
    return round(dkk(default_price(area, start)) / 10, 6)


@dataclass
class FakeClock:
    """A monotonic clock for the Pacer (and the stand-in): ``tick`` is added after each read."""

    now: float = 1000.0
    tick: float = 0.0

    def __call__(self) -> float:
        value = self.now
        self.now += self.tick
        return value

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def plugin() -> Any:
    """The bundled plugin module, loaded standalone like the daemon does."""
    return load_bundled_plugin("energidataservice_provider.py")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def provider(plugin: Any, clock: FakeClock) -> AsyncIterator[Any]:
    """One plugin instance (all feeds share it), its Pacer on a fake clock."""
    async with aiohttp.ClientSession() as session:
        instance = plugin.EnergiDataServiceProvider()
        instance.attach(session, timeout=5.0)
        instance.pacer.clock = clock
        instance.pacer.sleep = clock.sleep
        yield instance


def requested(http_mock: aioresponses) -> list[URL]:
    return [url for (_, url) in http_mock.requests]


def calls(http_mock: aioresponses) -> int:
    return sum(len(made) for made in http_mock.requests.values())


def mock_days(http_mock: aioresponses, *days: date, **options: Any) -> None:
    http_mock.get(DATASET, payload=day_ahead_body(days), **options)


class TestRecordedAnswers:
    def test_elspotprices_newest_first_become_ascending_hourly_slots(self, plugin: Any) -> None:
        """3 records newest first: DK1 has 20:00 and 21:00 UTC, DK2 only 21:00 (an hour long:
        Elspotprices is hourly); SpotPriceDKK/EUR per MWh / 10 = øre or cents per kWh."""
        body = load_fixture(ELSPOT)
        dk1 = plugin.parse_elspot(body, "DK1")
        assert [
            EnergyPriceSlot(utc(2025, 9, 30, 20), utc(2025, 9, 30, 21), 75.854597, "DKK"),
            EnergyPriceSlot(utc(2025, 9, 30, 21), utc(2025, 9, 30, 22), 69.070006, "DKK"),
        ] == dk1
        assert [
            EnergyPriceSlot(utc(2025, 9, 30, 21), utc(2025, 9, 30, 22), 69.025225, "DKK")
        ] == plugin.parse_elspot(body, "DK2")
        assert [10.163, 9.254] == [s.price_pence for s in plugin.parse_elspot(body, "DK1", "EUR")]
        assert [9.248] == [s.price_pence for s in plugin.parse_elspot(body, "DK2", "EUR")]
        assert {"EUR"} == {s.currency for s in plugin.parse_elspot(body, "DK1", "EUR")}

    def test_the_single_dayaheadprices_record(self, plugin: Any) -> None:
        """DK2 2025-09-27T21:00 UTC (23:00 Danish): 740.951258 DKK/MWh = 74.095126 øre/kWh,
        99.269997 EUR/MWh = 9.927 c/kWh; a lone record before 2025-10-01 lasts an hour."""
        body = load_fixture(DAY_AHEAD)
        assert isinstance(body["filters"], str)  # a JSON string, not an object
        assert [
            EnergyPriceSlot(utc(2025, 9, 27, 21), utc(2025, 9, 27, 22), 74.095126, "DKK")
        ] == plugin.parse_day_ahead(body, "DK2")
        assert [
            EnergyPriceSlot(utc(2025, 9, 27, 21), utc(2025, 9, 27, 22), 9.927, "EUR")
        ] == plugin.parse_day_ahead(body, "DK2", "EUR")
        assert [] == plugin.parse_day_ahead(body, "DK1")

    def test_the_recorded_slots_pass_the_daemons_validation(self, plugin: Any) -> None:
        slots = plugin.parse_elspot(load_fixture(ELSPOT), "DK1")
        assert slots == validate_slots(
            slots, utc(2025, 9, 30, 20), utc(2025, 9, 30, 22), currency="DKK"
        )

    def test_the_wrong_dataset_is_refused(self, plugin: Any) -> None:
        """An Elspotprices answer is not a DayAheadPrices answer (and the other way round)."""
        with pytest.raises(ProviderDataError, match="dataset 'Elspotprices'"):
            plugin.parse_day_ahead(load_fixture(ELSPOT), "DK1")
        with pytest.raises(ProviderDataError, match="dataset 'DayAheadPrices'"):
            plugin.parse_elspot(load_fixture(DAY_AHEAD), "DK2")


class TestBuiltQuarterHourDays:
    @pytest.mark.parametrize(
        ("day", "count"),
        [(date(2025, 11, 3), 96), (date(2026, 3, 29), 92), (date(2026, 10, 25), 100)],
    )
    def test_a_whole_day_per_area(self, plugin: Any, day: date, count: int) -> None:
        """Both areas in one answer: 96 quarter hours each, 92 / 100 on the 2026 changes."""
        body = day_ahead_body([day])
        assert 2 * count == len(body["records"])
        for area in ("DK1", "DK2"):
            slots = plugin.parse_day_ahead(body, area)
            assert count == len(slots)
            assert {QUARTER} == {slot.duration for slot in slots}
            assert local_day_window(day, TZ) == (slots[0].valid_from, slots[-1].valid_to)
            assert all(a.valid_to == b.valid_from for a, b in itertools.pairwise(slots))
            assert [ore(area, s.valid_from) for s in slots] == [s.price_pence for s in slots]

    def test_the_repeated_autumn_hour_is_read_from_timeutc(self, plugin: Any) -> None:
        """2026-10-25: TimeDK shows 02:00-02:45 twice; TimeUTC tells them apart."""
        body = day_ahead_body([date(2026, 10, 25)], areas=("DK1",))
        shown = [row["TimeDK"] for row in body["records"]]
        assert 2 == shown.count("2026-10-25T02:15:00")
        slots = plugin.parse_day_ahead(body, "DK1")
        assert [utc(2026, 10, 25, 0, 15), utc(2026, 10, 25, 1, 15)] == [
            s.valid_from for s in slots if s.valid_from.minute == 15 and s.valid_from.hour < 2
        ]

    def test_the_switch_from_hours_to_quarter_hours(self, plugin: Any) -> None:
        """30 Sep and 1 Oct 2025 in one answer: 24 hourly slots, then 96 quarter hours."""
        body = day_ahead_body([date(2025, 9, 30), date(2025, 10, 1)])
        slots = plugin.parse_day_ahead(body, "DK1")
        assert [HOUR] * 24 + [QUARTER] * 96 == [slot.duration for slot in slots]

    def test_the_answer_order_does_not_matter(self, plugin: Any) -> None:
        """Newest first (the API's default) parses to the same ascending slots."""
        body = day_ahead_body([date(2025, 11, 3)])
        backwards = {**body, "records": body["records"][::-1]}
        assert plugin.parse_day_ahead(body, "DK2") == plugin.parse_day_ahead(backwards, "DK2")

    def test_a_null_price_is_a_gap_never_zero(self, plugin: Any) -> None:
        """Both prices null: no slot; its neighbours keep their 15 minutes."""
        starts = day_starts(date(2025, 11, 3))[:3]
        rows = [record("DK1", t, 50.0, dkk(50.0)) for t in starts]
        rows[1] |= {"DayAheadPriceEUR": None, "DayAheadPriceDKK": None}
        slots = plugin.parse_day_ahead({"records": rows}, "DK1")
        assert [(starts[0], QUARTER), (starts[2], QUARTER)] == [
            (s.valid_from, s.duration) for s in slots
        ]

    def test_dkk_missing_with_eur_present_is_a_dkk_gap(self, plugin: Any) -> None:
        """No exchange rate of our own: the DKK feed has a gap, the EUR feed its price."""
        starts = day_starts(date(2025, 11, 3))[:2]
        rows = [record("DK2", starts[0], 60.0, None), record("DK2", starts[1], 61.0, 455.29)]
        body = {"records": rows}
        assert [(starts[1], 45.529)] == [
            (s.valid_from, s.price_pence) for s in plugin.parse_day_ahead(body, "DK2")
        ]
        assert [6.0, 6.1] == [s.price_pence for s in plugin.parse_day_ahead(body, "DK2", "EUR")]

    def test_a_lone_quarter_hour_record(self, plugin: Any) -> None:
        """One record after the switch has no neighbour: it lasts the market's 15 minutes."""
        body = {"records": [record("DK1", utc(2026, 1, 5, 12), 80.0, 597.1)]}
        assert [QUARTER] == [s.duration for s in plugin.parse_day_ahead(body, "DK1")]

    def test_negative_prices_stay_negative(self, plugin: Any) -> None:
        body = {"records": [record("DK1", utc(2026, 5, 1, 11), -12.5, -93.2975)]}
        assert [-9.32975] == [s.price_pence for s in plugin.parse_day_ahead(body, "DK1")]


def _one(**changes: Any) -> dict[str, Any]:
    row = record("DK1", utc(2025, 11, 3, 12), 80.0, 597.104)
    row.update(changes)
    return {"records": [row, record("DK1", utc(2025, 11, 3, 12, 15), 81.0, 604.5678)]}


class TestMalformedAnswers:
    @pytest.mark.parametrize(
        "body",
        [
            [1, 2],
            {"total": 0},
            {"records": {"TimeUTC": "2025-11-03T12:00:00"}},
            {"records": ["2025-11-03T12:00:00"]},
            {"dataset": 7, "records": []},
            _one(TimeUTC=None),
            _one(TimeUTC="yesterday"),
            _one(TimeUTC=1762171200),
            _one(TimeDK="2025-11-03T12:00:00"),
            _one(PriceArea=None),
            _one(DayAheadPriceDKK="597,10"),
            _one(DayAheadPriceDKK=True),
            _one(DayAheadPriceDKK=float("nan")),
            _one(DayAheadPriceEUR="80"),
            {"records": [{"TimeUTC": "2025-11-03T12:00:00", "PriceArea": "DK1"}]},
            {"records": [record("DK1", utc(2025, 11, 3, 12), 1.0, 7.0)] * 2},
            {
                "records": [
                    {**record("DK2", utc(2025, 11, 3, 12), 1.0, 7.0), "DayAheadPriceEUR": "x"}
                ]
            },
        ],
        ids=[
            "not-object",
            "no-records",
            "records-not-list",
            "record-not-object",
            "dataset-not-string",
            "no-time",
            "time-text",
            "time-number",
            "timedk-disagrees",
            "no-area",
            "price-comma",
            "price-bool",
            "price-nan",
            "other-currency-text",
            "no-price-columns",
            "duplicate",
            "other-area-broken",
        ],
    )
    def test_garbage_fails_the_whole_answer(self, plugin: Any, body: Any) -> None:
        """Anything malformed (even in the other area's records) is a ProviderDataError."""
        with pytest.raises(ProviderDataError):
            plugin.parse_day_ahead(body, "DK1")


class TestRequests:
    async def test_one_request_for_the_danish_days_of_the_window(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Start/end are the window's Danish days (end excluded), both areas, ascending, a
        limit of 100 records per area and day."""
        mock_days(http_mock, date(2025, 11, 3), date(2025, 11, 4))
        start, end = utc(2025, 11, 3, 5), utc(2025, 11, 4, 7, 30)
        slots = await provider.fetch_prices("DK1", start, end, {"region": "DK1"})
        (url,) = requested(http_mock)
        assert "/dataset/DayAheadPrices" == url.path
        assert {
            "start": "2025-11-03",
            "end": "2025-11-05",
            "filter": BOTH,
            "sort": "TimeUTC asc",
            "limit": "400",
        } == dict(url.query)
        assert (start, end) == (slots[0].valid_from, slots[-1].valid_to)
        assert {"DKK"} == {slot.currency for slot in slots}
        assert ore("DK1", start) == slots[0].price_pence

    async def test_dk1_and_dk2_feeds_share_one_request(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """One plugin instance, two feeds, same window: one request, each its own area."""
        mock_days(http_mock, date(2025, 11, 3), repeat=True)
        start, end = danish_days(date(2025, 11, 3), date(2025, 11, 3))
        dk1 = await provider.fetch_prices("DK1", start, end, {"region": "DK1"})
        dk2 = await provider.fetch_prices("DK2", start, end, {"region": "DK2"})
        eur = await provider.fetch_prices("DK2", start, end, {"region": "dk2", "currency": "EUR"})
        assert 1 == calls(http_mock)
        assert (96, 96, 96) == (len(dk1), len(dk2), len(eur))
        assert [ore("DK1", s.valid_from) for s in dk1] == [s.price_pence for s in dk1]
        assert [ore("DK2", s.valid_from) for s in dk2] == [s.price_pence for s in dk2]
        assert [s.price_pence for s in dk1] != [s.price_pence for s in dk2]
        assert {"EUR"} == {s.currency for s in eur}

    async def test_a_window_inside_a_fresh_answer_costs_no_request(
        self, provider: Any, http_mock: aioresponses, clock: FakeClock
    ) -> None:
        """After fetching two days, the current slot (a health check) is in that answer."""
        mock_days(http_mock, date(2025, 11, 3), date(2025, 11, 4), repeat=True)
        start, end = danish_days(date(2025, 11, 3), date(2025, 11, 4))
        await provider.fetch_prices("DK1", start, end, {"region": "DK1"})
        clock.now += 30
        now = utc(2025, 11, 4, 9, 7)
        slot = await provider.get_current_price("DK2", {"region": "DK2"}, now=now)
        assert (1, ore("DK2", utc(2025, 11, 4, 9))) == (calls(http_mock), slot.price_pence)

    async def test_a_second_request_within_the_minute_fails_fast(
        self, provider: Any, http_mock: aioresponses, clock: FakeClock
    ) -> None:
        """Another window 15 s later: not sent; ProviderRateLimitError says wait 45 s, at once
        (the default retry budget of 60 s would have covered the wait: not slept on)."""
        mock_days(http_mock, date(2025, 11, 3), repeat=True)
        await provider.fetch_prices("DK1", *danish_days(date(2025, 11, 3), date(2025, 11, 3)), {})
        clock.now += 15
        began = time.monotonic()
        with pytest.raises(ProviderRateLimitError) as caught:
            await provider.fetch_prices(
                "DK1", *danish_days(date(2025, 11, 5), date(2025, 11, 5)), {}
            )
        assert 45 == caught.value.retry_after
        assert time.monotonic() - began < 1
        assert 1 == calls(http_mock)

    async def test_after_the_minute_the_next_request_goes(
        self, provider: Any, http_mock: aioresponses, clock: FakeClock
    ) -> None:
        """A minute on, the cached answer is stale and a new request is sent."""
        mock_days(http_mock, date(2025, 11, 3), repeat=True)
        window = danish_days(date(2025, 11, 3), date(2025, 11, 3))
        await provider.fetch_prices("DK1", *window, {"region": "DK1"})
        clock.now += 61
        await provider.fetch_prices("DK1", *window, {"region": "DK1"})
        assert 2 == calls(http_mock)

    async def test_a_429_goes_to_the_daemon_with_its_retry_after(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """The source's 429 (Retry-After 30, inside the retry budget) is not waited for."""
        http_mock.get(DATASET, status=429, headers={"Retry-After": "30"}, repeat=True)
        window = danish_days(date(2025, 11, 3), date(2025, 11, 3))
        with pytest.raises(ProviderRateLimitError) as caught:
            await provider.fetch_prices("DK1", *window, {"region": "DK1"})
        assert (30, 1) == (caught.value.retry_after, calls(http_mock))

    async def test_a_retry_after_a_server_error_keeps_to_the_minute(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A 500, then the retry would be a second request within the minute: it is not
        sent, and the fetch ends with the 500 that needed it (the daemon's own backoff,
        at least a minute, asks again)."""
        http_mock.get(DATASET, status=500, body="oops", repeat=True)
        window = danish_days(date(2025, 11, 3), date(2025, 11, 3))
        with pytest.raises(ProviderServerError) as caught:
            await provider.fetch_prices("DK1", *window, {"region": "DK1", **FAST})
        assert (1, 500) == (calls(http_mock), caught.value.status)

    async def test_tomorrow_not_yet_published_leaves_today(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Before ~13:00 the answer simply has no records for tomorrow: today, no error."""
        mock_days(http_mock, date(2025, 11, 3))
        start, end = danish_days(date(2025, 11, 3), date(2025, 11, 4))
        slots = await provider.fetch_prices("DK2", start, end, {"region": "DK2"})
        assert (96, local_day_window(date(2025, 11, 4), TZ)[0]) == (len(slots), slots[-1].valid_to)

    async def test_no_record_at_all_is_not_published(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        empty = {"total": 0, "filters": BOTH, "limit": 200, "dataset": "DayAheadPrices"}
        http_mock.get(DATASET, payload={**empty, "records": []})
        window = danish_days(date(2025, 11, 4), date(2025, 11, 4))
        with pytest.raises(ProviderNotPublishedError):
            await provider.fetch_prices("DK1", *window, {"region": "DK1"})

    async def test_an_answer_holding_less_than_its_total_is_refused(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """total says 192 records, the answer holds 100: refused, not used in part."""
        body = day_ahead_body([date(2025, 11, 3)])
        http_mock.get(DATASET, payload={**body, "records": body["records"][:100]})
        window = danish_days(date(2025, 11, 3), date(2025, 11, 3))
        with pytest.raises(ProviderDataError, match="100 of 192 records"):
            await provider.fetch_prices("DK1", *window, {"region": "DK1"})

    async def test_eur_feeds_get_euro_cents(self, provider: Any, http_mock: aioresponses) -> None:
        mock_days(http_mock, date(2025, 11, 3))
        window = danish_days(date(2025, 11, 3), date(2025, 11, 3))
        slots = await provider.fetch_prices("DK1", *window, {"region": "DK1", "currency": "eur"})
        first = slots[0]
        assert ("EUR", round(default_price("DK1", first.valid_from) / 10, 6)) == (
            first.currency,
            first.price_pence,
        )


class TestConfigAndMetadata:
    def test_the_areas_are_the_regions(self, plugin: Any) -> None:
        meta = plugin.EnergiDataServiceProvider().get_metadata()
        assert ("DK1", "DK2") == tuple(meta.supported_regions)
        assert {"DK1": "West Denmark", "DK2": "East Denmark"} == dict(meta.region_names)

    def test_the_market_rhythm(self, plugin: Any) -> None:
        """DKK by default, Danish days from midnight, results around 13:00, 15 minutes."""
        meta = plugin.EnergiDataServiceProvider().get_metadata()
        assert ("energidataservice", "DKK", TZ, "00:00", "13:00", 15, False) == (
            meta.provider_id,
            meta.currency,
            meta.market_timezone,
            meta.day_start_local,
            meta.publish_time_local,
            meta.slot_minutes,
            meta.requires_api_key,
        )

    def test_the_limit_is_declared(self, plugin: Any) -> None:
        """One request a minute per dataset and IP: spacing of 60 s, an answer kept for 50 s
        (gone before the daemon's first retry, a minute on)."""
        cls = plugin.EnergiDataServiceProvider
        assert (60, 50) == (cls.request_spacing_seconds, cls.cache_seconds)

    @pytest.mark.parametrize(
        ("config", "errors"),
        [
            ({"region": "DK1"}, set()),
            ({"region": "dk2", "currency": "eur"}, set()),
            ({"region": "DK-1"}, set()),
            ({"region": "dk_2"}, set()),
            ({"region": "DK1", "base_url": "http://127.0.0.1:8083/"}, set()),
            ({}, {"region"}),
            ({"region": "DK3"}, {"region"}),
            ({"region": "SE3"}, {"region"}),
            ({"region": "DK1", "currency": "SEK"}, {"currency"}),
            ({"region": "DK1", "base_url": "ftp://x"}, {"base_url"}),
            ({"region": "DK1", "area": "DK2"}, {"area"}),
        ],
    )
    def test_validate_config(self, plugin: Any, config: dict[str, Any], errors: set[str]) -> None:
        assert errors == set(plugin.EnergiDataServiceProvider().validate_config(config))

    def test_config_is_normalised(self, plugin: Any) -> None:
        provider = plugin.EnergiDataServiceProvider()
        assert {"region": "DK1", "currency": "EUR"} == provider.normalise_config(
            {"region": "dk-1", "currency": "eur"}
        )

    def test_the_currency_is_the_configured_one(self, plugin: Any) -> None:
        provider = plugin.EnergiDataServiceProvider()
        assert "DKK" == provider.currency_for("DK1", {"region": "DK1"})
        assert "EUR" == provider.currency_for("DK1", {"region": "DK1", "currency": "eur"})

    def test_the_currency_is_part_of_the_source_identity(self, plugin: Any) -> None:
        """DKK and EUR prices are not interchangeable; retry knobs change nothing."""
        provider = plugin.EnergiDataServiceProvider()

        def identity(**config: Any) -> str:
            return str(provider.source_identity("DK1", {"region": "DK1", **config}))

        assert identity() == identity(currency="dkk") == identity(retry_attempts=2)
        assert identity() != identity(currency="EUR")
        assert identity() != identity(base_url="http://127.0.0.1:8083")
        assert "currency=DKK" in identity()

    def test_the_schema(self, plugin: Any) -> None:
        schema = plugin.EnergiDataServiceProvider().get_metadata().config_schema
        assert ["region"] == schema["required"]
        assert (["DKK", "EUR"], "DKK") == (
            schema["properties"]["currency"]["enum"],
            schema["properties"]["currency"]["default"],
        )
        assert API == schema["properties"]["base_url"]["default"]

    def test_keyless_nothing_secret(self, plugin: Any) -> None:
        """No token: no field is secret, so nothing needs scrubbing from logs."""
        fields = plugin.EnergiDataServiceProvider.config_fields.fields
        assert not any(spec.secret for spec in fields.values())

    def test_source_notes(self, plugin: Any) -> None:
        notes = plugin.EnergiDataServiceProvider().source_notes("DK1", {"region": "DK1"})
        assert "1 request per dataset per minute" in notes["rate_limit"]

    def test_the_plugin_stays_small_and_standalone(self) -> None:
        source = (bundled_plugin_dir() / "energidataservice_provider.py").read_text("utf-8")
        imports = {
            m.group(1).split(".")[0]
            for m in re.finditer(r"^(?:from|import) ([\w.]+)", source, re.MULTILINE)
        }
        assert len(source.splitlines()) <= 450
        assert {"providers"} == imports - {
            "__future__",
            "asyncio",
            "collections",
            "dataclasses",
            "datetime",
            "itertools",
            "json",
            "math",
            "typing",
            "zoneinfo",
        }


# -- against the stand-in ----------------------------------------------------------------------


@pytest.fixture
async def stand_in(clock: FakeClock) -> AsyncIterator[RunningFake]:
    async with serve() as running:
        running.state.clock = clock
        yield running


@pytest.fixture
async def loaded(plugin: Any, clock: FakeClock) -> AsyncIterator[Any]:
    """A fresh instance of the plugin as the daemon loads it, its Pacer on the fake clock."""
    module = load_bundled_plugin("energidataservice_provider.py")
    async with aiohttp.ClientSession() as session:
        instance = module.EnergiDataServiceProvider()
        instance.attach(session, timeout=5.0)
        instance.pacer.clock = clock
        instance.pacer.sleep = clock.sleep
        yield instance


def config_for(fake: RunningFake, region: str = "DK1", **extra: Any) -> dict[str, Any]:
    return {"region": region, "base_url": fake.url, **FAST, **extra}


class TestAgainstTheStandIn:
    @pytest.mark.parametrize(
        ("day", "area", "count"), [(date(2026, 3, 29), "DK1", 92), (date(2026, 10, 25), "DK2", 100)]
    )
    async def test_the_2026_clock_change_days(
        self, loaded: Any, stand_in: RunningFake, day: date, area: str, count: int
    ) -> None:
        start, end = danish_days(day, day)
        slots = await loaded.fetch_prices(area, start, end, config_for(stand_in, area))
        assert count == len(slots)
        assert slots == validate_slots(slots, start, end, currency="DKK")
        assert [ore(area, s.valid_from) for s in slots] == [s.price_pence for s in slots]
        assert 1 == len(stand_in.state.requests)

    async def test_two_areas_one_request(self, loaded: Any, stand_in: RunningFake) -> None:
        """The stand-in would refuse a second request within the minute: there is none."""
        window = danish_days(date(2026, 1, 12), date(2026, 1, 13))
        dk1 = await loaded.fetch_prices("DK1", *window, config_for(stand_in, "DK1"))
        dk2 = await loaded.fetch_prices("DK2", *window, config_for(stand_in, "DK2"))
        assert (192, 192, 1) == (len(dk1), len(dk2), len(stand_in.state.requests))
        assert ore("DK2", dk2[5].valid_from) == dk2[5].price_pence

    async def test_concurrent_feeds_wait_for_one_answer(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        """DK1 and DK2 at the same moment: the second waits for the first's answer instead
        of being refused by the one-a-minute spacing."""
        window = danish_days(date(2026, 1, 12), date(2026, 1, 12))
        dk1, dk2 = await asyncio.gather(
            loaded.fetch_prices("DK1", *window, config_for(stand_in, "DK1")),
            loaded.fetch_prices("DK2", *window, config_for(stand_in, "DK2")),
        )
        assert (96, 96, 1) == (len(dk1), len(dk2), len(stand_in.state.requests))

    async def test_a_long_window_comes_whole_in_one_request(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        """Ten days are 1920 records, far over the default page of 100: the limit grows."""
        window = danish_days(date(2026, 2, 1), date(2026, 2, 10))
        slots = await loaded.fetch_prices("DK1", *window, config_for(stand_in))
        (path,) = stand_in.state.requests
        assert (960, "2000") == (len(slots), URL(path).query["limit"])

    async def test_a_server_capping_the_page_is_noticed(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        stand_in.state.max_limit = 100
        window = danish_days(date(2026, 2, 1), date(2026, 2, 1))
        with pytest.raises(ProviderDataError, match="incomplete"):
            await loaded.fetch_prices("DK1", *window, config_for(stand_in))

    async def test_an_unpublished_tomorrow_leaves_today(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        start, end = danish_days(date(2026, 1, 12), date(2026, 1, 13))
        stand_in.state.published_until = local_day_window(date(2026, 1, 13), TZ)[0]
        slots = await loaded.fetch_prices("DK1", start, end, config_for(stand_in))
        assert (96, stand_in.state.published_until) == (len(slots), slots[-1].valid_to)

    async def test_a_day_not_published_is_waiting(self, loaded: Any, stand_in: RunningFake) -> None:
        start, end = danish_days(date(2026, 1, 13), date(2026, 1, 13))
        stand_in.state.published_until = start
        with pytest.raises(ProviderNotPublishedError):
            await loaded.fetch_prices("DK1", start, end, config_for(stand_in))

    async def test_dkk_missing_is_a_dkk_gap(self, loaded: Any, stand_in: RunningFake) -> None:
        day = date(2026, 1, 12)
        gap = day_starts(day)[10]
        stand_in.state.dkk_missing = {gap}
        window = danish_days(day, day)
        dkk_slots = await loaded.fetch_prices("DK1", *window, config_for(stand_in))
        eur_slots = await loaded.fetch_prices("DK1", *window, config_for(stand_in, currency="EUR"))
        assert (95, 96, 1) == (len(dkk_slots), len(eur_slots), len(stand_in.state.requests))
        assert gap not in {s.valid_from for s in dkk_slots}

    async def test_server_errors_are_retried_once_the_minute_allows(
        self, loaded: Any, stand_in: RunningFake, clock: FakeClock
    ) -> None:
        """Two 500s, then the answer: three requests (each a minute apart on the clock)."""
        clock.tick = 61
        stand_in.state.faults.extend([500, 503])
        window = danish_days(date(2026, 1, 12), date(2026, 1, 12))
        slots = await loaded.fetch_prices("DK1", *window, config_for(stand_in))
        assert (96, 3) == (len(slots), len(stand_in.state.requests))

    async def test_the_source_throttling_reaches_the_caller(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        stand_in.state.faults.append(429)
        stand_in.state.retry_after = "120"
        window = danish_days(date(2026, 1, 12), date(2026, 1, 12))
        with pytest.raises(ProviderRateLimitError) as caught:
            await loaded.fetch_prices("DK1", *window, config_for(stand_in))
        assert 120 == caught.value.retry_after

    async def test_another_energyd_on_the_same_ip_is_told_to_wait(
        self, loaded: Any, plugin: Any, stand_in: RunningFake, clock: FakeClock
    ) -> None:
        """The stand-in's own limit: a second instance 20 s later gets 429, Retry-After 40."""
        window = danish_days(date(2026, 1, 12), date(2026, 1, 12))
        await loaded.fetch_prices("DK1", *window, config_for(stand_in))
        clock.now += 20
        async with aiohttp.ClientSession() as session:
            other = plugin.EnergiDataServiceProvider()
            other.attach(session, timeout=5.0)
            with pytest.raises(ProviderRateLimitError) as caught:
                await other.fetch_prices("DK2", *window, config_for(stand_in, "DK2"))
        assert (40, 2) == (caught.value.retry_after, len(stand_in.state.requests))

    async def test_a_hang_is_a_connection_error_within_the_timeout(
        self, plugin: Any, stand_in: RunningFake
    ) -> None:
        stand_in.state.faults.append("hang")
        window = danish_days(date(2026, 1, 12), date(2026, 1, 12))
        async with aiohttp.ClientSession() as session:
            provider = plugin.EnergiDataServiceProvider()
            provider.attach(session, timeout=0.2)
            began = time.monotonic()
            with pytest.raises(ProviderConnectionError):
                await provider.fetch_prices("DK1", *window, config_for(stand_in, retry_attempts=1))
        assert time.monotonic() - began < 2

    async def test_garbage_is_a_data_error(self, loaded: Any, stand_in: RunningFake) -> None:
        stand_in.state.faults.append("garbage")
        window = danish_days(date(2026, 1, 12), date(2026, 1, 12))
        with pytest.raises(ProviderDataError):
            await loaded.fetch_prices("DK1", *window, config_for(stand_in))

    async def test_the_health_check_after_a_fetch_costs_no_request(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        """The current slot lies inside the fetched days: ok, from the answer already here."""
        today = datetime.now(ZoneInfo(TZ)).date()
        start, end = danish_days(today - timedelta(days=1), today + timedelta(days=1))
        await loaded.fetch_prices("DK1", start, end, config_for(stand_in))
        health = await loaded.health_check("DK2", config_for(stand_in, "DK2"))
        assert ("ok", 1) == (health.state.value, len(stand_in.state.requests))


class TestTheStandIn:
    async def test_it_answers_in_the_recorded_layout(self, stand_in: RunningFake) -> None:
        """Envelope keys in the recorded order, filters a string, records like the recording."""
        params = {
            "start": "2026-01-12T00:00",
            "end": "2026-01-12T01:00",
            "filter": '{"PriceArea":["DK2"]}',
        }
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{stand_in.url}/dataset/DayAheadPrices", params=params) as r,
        ):
            body = await r.json()
        recorded = load_fixture(DAY_AHEAD)
        assert list(recorded) == list(body)
        assert list(recorded["records"][0]) == list(body["records"][0])
        assert ('{"PriceArea":["DK2"]}', 4, 100) == (body["filters"], body["total"], body["limit"])
        newest = body["records"][0]
        assert ("2026-01-11T23:45:00", "2026-01-12T00:45:00", "DK2") == (
            newest["TimeUTC"],
            newest["TimeDK"],
            newest["PriceArea"],
        )
        assert newest["DayAheadPriceDKK"] == round(newest["DayAheadPriceEUR"] * DKK_PER_EUR, 6)

    async def test_offset_and_limit_page_through(self, stand_in: RunningFake) -> None:
        stand_in.state.min_interval = 0
        base = {"start": "2026-01-12", "end": "2026-01-13", "sort": "TimeUTC asc", "limit": "50"}
        pages = []
        async with aiohttp.ClientSession() as session:
            for offset in (0, 50, 100, 150):
                params = {**base, "offset": str(offset), "filter": BOTH}
                async with session.get(
                    f"{stand_in.url}/dataset/DayAheadPrices", params=params
                ) as r:
                    pages.append(await r.json())
        assert {192} == {page["total"] for page in pages}
        assert [50, 50, 50, 42] == [len(page["records"]) for page in pages]
        joined = [row for page in pages for row in page["records"]]
        assert joined == day_ahead_body([date(2026, 1, 12)])["records"]

    async def test_its_own_limit_and_how_to_turn_it_off(
        self, stand_in: RunningFake, clock: FakeClock
    ) -> None:
        url = f"{stand_in.url}/dataset/DayAheadPrices"
        params = {"start": "2026-01-12", "end": "2026-01-13"}
        async with aiohttp.ClientSession() as session:
            async with session.get(url, params=params) as first:
                assert 200 == first.status
            clock.now += 59.5
            async with session.get(url, params=params) as second:
                assert (429, "1") == (second.status, second.headers["Retry-After"])
            stand_in.state.min_interval = 0
            async with session.get(url, params=params) as third:
                assert 200 == third.status

    @pytest.mark.parametrize(
        "params",
        [{"start": "12/01/2026"}, {"filter": "DK1"}, {"sort": "Price asc"}, {"limit": "x"}],
    )
    async def test_bad_parameters_are_400(
        self, stand_in: RunningFake, params: dict[str, str]
    ) -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{stand_in.url}/dataset/DayAheadPrices", params=params) as r,
        ):
            assert 400 == r.status
            assert "message" in json.loads(await r.text())
