"""The Nord Pool plugin: recorded answers, its quirks and requests, and a loopback stand-in."""

from __future__ import annotations

import copy
import itertools
import re
import time
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
    ProviderConnectionError,
    ProviderDataError,
    ProviderNotPublishedError,
    ProviderRateLimitError,
)
from energyd.providers.base import (
    local_day_window,
    per_mwh_to_minor_per_kwh,
    scrub_url,
)
from energyd.providers.loader import bundled_plugin_dir
from energyd.providers.validation import validate_slots
from tests.support.fake_nordpool import (
    EXCHANGE_RATES,
    FIXTURES,
    RunningFake,
    default_price,
    hourly_price,
    indices_body,
    load_fixture,
    make_app,
    price_in,
    prices_body,
    serve,
)
from tests.support.plugins import load_bundled_plugin

API = "https://dataportal-api.nordpoolgroup.com/api"
PRICES = re.compile(re.escape(API + "/DayAheadPrices") + r"(\?.*)?$")
INDICES = re.compile(re.escape(API + "/DayAheadPriceIndices") + r"(\?.*)?$")
HOUR = timedelta(hours=1)
QUARTER = timedelta(minutes=15)
FAST = {"retry_base_seconds": 0.001, "retry_budget_seconds": 5}
SE3_EUR = "DayAheadPrices_SE3_EUR_2024-11-05"
SE3_SEK_15 = "DayAheadPriceIndices_SE3_SEK_15min_2025-10-01"
SE3_SEK_60 = "DayAheadPriceIndices_SE3_SEK_60min_2025-10-01"
FI_NOT_YET = "DayAheadPriceIndices_FI_EUR_60min_2025-05-10_not-yet-published"

#: The recorded SE3 prices of 5 Nov 2024 in EUR cents/kWh (EUR/MWh / 10).
NOV_5_CENTS = [
    2.154, 0.656, 0.635, 0.53, 0.555, 3.894, 8.559, 12.08, 11.568, 9.882, 8.86, 7.967, 7.947,
    8.157, 8.952, 10.815, 15.605, 21.586, 15.634, 8.692, 7.178, 6.84, 4.487, 2.484,
]  # fmt: skip


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def cet_day(day: date) -> tuple[datetime, datetime]:
    return local_day_window(day, "Europe/Berlin")


def fixture_bytes(name: str) -> bytes:
    """A recorded body exactly as stored."""
    return (FIXTURES / f"{name}.json").read_bytes()


def entry(start: datetime, end: datetime, **prices: Any) -> dict[str, Any]:
    return {
        "deliveryStart": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "deliveryEnd": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "entryPerArea": prices,
    }


@pytest.fixture(scope="module")
def plugin() -> Any:
    """The bundled plugin module, loaded standalone like the daemon does."""
    return load_bundled_plugin("nordpool_provider.py")


class PacerSleeps:
    """Stands in for the pacer's sleep: records each wait instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make_provider(plugin: Any, session: aiohttp.ClientSession, timeout: float = 5.0) -> Any:
    """A provider on ``session`` whose 1 s request spacing is recorded, not slept."""
    instance = plugin.NordPoolProvider()
    instance.attach(session, timeout=timeout)
    instance.pacer.sleep = PacerSleeps()
    return instance


def parse(plugin: Any, body: Any, **options: Any) -> Any:
    """parse_answer with the SE3 / EUR / 5 Nov 2024 request as default."""
    asked = {"area": "SE3", "currency": "EUR", "day": date(2024, 11, 5), **options}
    return plugin.parse_answer(body, **asked)


class TestParsingRecordedAnswers:
    def test_day_ahead_prices_se3_eur_hourly(self, plugin: Any) -> None:
        """5 Nov 2024: 24 hourly slots over the CET day, EUR/MWh -> c/kWh, Final."""
        answer = parse(plugin, load_fixture(SE3_EUR))
        slots = answer.slots
        assert 24 == len(slots)
        assert NOV_5_CENTS == [slot.price_pence for slot in slots]
        assert (utc(2024, 11, 4, 23), utc(2024, 11, 5, 23)) == (
            slots[0].valid_from,
            slots[-1].valid_to,
        )
        assert cet_day(date(2024, 11, 5)) == (slots[0].valid_from, slots[-1].valid_to)
        assert {HOUR} == {slot.duration for slot in slots}
        assert {"EUR"} == {slot.currency for slot in slots}
        assert {None} == {slot.price_pence_exc_vat for slot in slots}
        assert "Final" == answer.state

    def test_the_15_minute_index_in_sek(self, plugin: Any) -> None:
        """1 Oct 2025 (first 15-min day): 96 quarter-hours in öre/kWh (SEK/MWh / 10)."""
        answer = parse(
            plugin, load_fixture(SE3_SEK_15), currency="SEK", day=date(2025, 10, 1), resolution=15
        )
        slots = answer.slots
        assert 96 == len(slots)
        assert {QUARTER} == {slot.duration for slot in slots}
        assert {"SEK"} == {slot.currency for slot in slots}
        assert (utc(2025, 9, 30, 22), utc(2025, 10, 1, 22)) == (
            slots[0].valid_from,
            slots[-1].valid_to,
        )
        assert [55.668, 51.988, 50.828, 50.993] == [slot.price_pence for slot in slots[:4]]
        assert [84.016, 82.005, 78.568] == [slot.price_pence for slot in slots[-3:]]
        peak = max(slots, key=lambda slot: slot.price_pence)
        assert (utc(2025, 10, 1, 17), 382.803) == (peak.valid_from, peak.price_pence)
        cheapest = min(slots, key=lambda slot: slot.price_pence)
        assert (utc(2025, 10, 1, 1, 15), 44.196) == (cheapest.valid_from, cheapest.price_pence)
        assert "Final" == answer.state

    def test_the_60_minute_index_is_taken_as_published(self, plugin: Any) -> None:
        """24 hourly slots; the first is the index 523.75, not the quarters' mean 523.69."""
        slots = parse(
            plugin, load_fixture(SE3_SEK_60), currency="SEK", day=date(2025, 10, 1), resolution=60
        ).slots
        assert 24 == len(slots)
        assert {HOUR} == {slot.duration for slot in slots}
        assert [52.375, 48.595, 50.485, 44.207] == [slot.price_pence for slot in slots[:4]]
        assert [105.689, 90.769, 82.657] == [slot.price_pence for slot in slots[-3:]]
        assert (utc(2025, 10, 1, 17), 312.513) == (slots[19].valid_from, slots[19].price_pence)
        quarters = load_fixture(SE3_SEK_15)["multiIndexEntries"][:4]
        mean = sum(q["entryPerArea"]["SE3"] for q in quarters) / 4
        assert round(mean, 2) != 523.75

    def test_the_recorded_not_yet_answer(self, plugin: Any) -> None:
        """FI, asked three days early: HTTP 200 with empty multiIndexEntries is "not yet"."""
        with pytest.raises(ProviderNotPublishedError, match="empty multiIndexEntries"):
            parse(plugin, load_fixture(FI_NOT_YET), area="FI", day=date(2025, 5, 10), resolution=60)

    @pytest.mark.parametrize(
        ("name", "currency", "day", "resolution"),
        [
            (SE3_EUR, "EUR", date(2024, 11, 5), None),
            (SE3_SEK_15, "SEK", date(2025, 10, 1), 15),
            (SE3_SEK_60, "SEK", date(2025, 10, 1), 60),
        ],
    )
    def test_the_slots_pass_the_daemons_validation(
        self, plugin: Any, name: str, currency: str, day: date, resolution: int | None
    ) -> None:
        """What the parser returns is what the store accepts."""
        slots = parse(
            plugin, load_fixture(name), currency=currency, day=day, resolution=resolution
        ).slots
        start, end = cet_day(day)
        assert slots == validate_slots(slots, start, end, currency=currency)


class TestQuirks:
    def test_a_null_or_missing_area_price_is_a_gap_never_zero(self, plugin: Any) -> None:
        """null for SE3 in one entry and SE3 absent in another: those slots are left out."""
        body = load_fixture(SE3_EUR)
        body["multiAreaEntries"][1]["entryPerArea"]["SE3"] = None
        del body["multiAreaEntries"][2]["entryPerArea"]["SE3"]
        body["multiAreaEntries"][2]["entryPerArea"]["SE4"] = 7.0
        slots = parse(plugin, body).slots
        assert 22 == len(slots)
        starts = {slot.valid_from for slot in slots}
        assert utc(2024, 11, 5, 0) not in starts
        assert utc(2024, 11, 5, 1) not in starts
        assert 0.0 not in {slot.price_pence for slot in slots}

    def test_an_answer_without_the_area_is_refused(self, plugin: Any) -> None:
        """No entry names SE3 at all: the answer is another area's, not a day of gaps."""
        body = load_fixture(SE3_EUR)
        for item in body["multiAreaEntries"]:
            item["entryPerArea"] = {"SE4": item["entryPerArea"]["SE3"]}
        with pytest.raises(ProviderDataError, match="no entry has a price for SE3"):
            parse(plugin, body)

    @pytest.mark.parametrize("junk", ["inf", "-", "21.54", True, float("inf"), float("nan"), [1]])
    def test_a_junk_price_refuses_the_whole_answer(self, plugin: Any, junk: Any) -> None:
        """A string, boolean or non-finite value is never a price, nor a silent gap."""
        body = load_fixture(SE3_EUR)
        body["multiAreaEntries"][5]["entryPerArea"]["SE3"] = junk
        with pytest.raises(ProviderDataError, match=r"multiAreaEntries\[5\]"):
            parse(plugin, body)

    def test_the_answer_must_be_in_the_currency_asked(self, plugin: Any) -> None:
        """EUR asked, SEK answered (or no currency said): refused."""
        body = load_fixture(SE3_EUR)
        with pytest.raises(ProviderDataError, match="asked for SEK"):
            parse(plugin, body, currency="SEK")
        del body["currency"]
        with pytest.raises(ProviderDataError, match="asked for EUR"):
            parse(plugin, body)

    def test_another_day_or_resolution_is_refused(self, plugin: Any) -> None:
        """deliveryDateCET and resolutionInMinutes must be what was asked."""
        with pytest.raises(ProviderDataError, match="asked for 2024-11-06"):
            parse(plugin, load_fixture(SE3_EUR), day=date(2024, 11, 6))
        with pytest.raises(ProviderDataError, match="resolution 15, asked for 60"):
            parse(
                plugin,
                load_fixture(SE3_SEK_15),
                currency="SEK",
                day=date(2025, 10, 1),
                resolution=60,
            )

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            (lambda b: b.update(multiAreaEntries=None), "no 'multiAreaEntries' list"),
            (lambda b: b["multiAreaEntries"].__setitem__(0, []), "not an entry"),
            (lambda b: b["multiAreaEntries"][0].pop("entryPerArea"), "not an entry"),
            (lambda b: b["multiAreaEntries"][0].update(deliveryStart="2024-11-04T23:00:00"), "UTC"),
            (lambda b: b["multiAreaEntries"][0].update(deliveryEnd=1730768400), "ISO 8601"),
            (
                lambda b: b["multiAreaEntries"][0].update(deliveryEnd="2024-11-04T23:00:00Z"),
                "not a span",
            ),
            (
                lambda b: b["multiAreaEntries"][0].update(deliveryStart="2024-11-04T22:00:00Z"),
                "inside CET day",
            ),
            (
                lambda b: b["multiAreaEntries"][0].update(deliveryEnd="2024-11-05T00:00:30Z"),
                "whole minutes",
            ),
            (
                lambda b: b["multiAreaEntries"][1].update(deliveryStart="2024-11-04T23:30:00Z"),
                "overlap",
            ),
        ],
        ids=["no-list", "entry-list", "no-prices", "naive", "epoch", "empty", "outside", "seconds",
             "overlap"],
    )  # fmt: skip
    def test_malformed_entries_refuse_the_whole_answer(
        self, plugin: Any, change: Any, message: str
    ) -> None:
        """Anything malformed is a ProviderDataError; nothing half-parsed is returned."""
        body = load_fixture(SE3_EUR)
        change(body)
        with pytest.raises(ProviderDataError, match=message):
            parse(plugin, body)

    def test_not_an_object(self, plugin: Any) -> None:
        with pytest.raises(ProviderDataError, match="expected a JSON object"):
            parse(plugin, [load_fixture(SE3_EUR)])

    def test_an_empty_day_ahead_prices_answer_is_not_yet(self, plugin: Any) -> None:
        """200 with empty multiAreaEntries is "not yet", like 204."""
        body = {**load_fixture(SE3_EUR), "multiAreaEntries": [], "areaStates": []}
        with pytest.raises(ProviderNotPublishedError):
            parse(plugin, body)

    def test_mixed_quarter_hours_and_hours_keep_their_own_spans(self, plugin: Any) -> None:
        """Each slot is its entry's span: 15-minute and hourly entries side by side."""
        low, _ = cet_day(date(2025, 10, 1))
        entries = [
            entry(low, low + QUARTER, SE3=10.0),
            entry(low + QUARTER, low + HOUR, SE3=20.0),
            entry(low + HOUR, low + 2 * HOUR, SE3=30.0),
        ]
        body = {"deliveryDateCET": "2025-10-01", "currency": "EUR", "multiAreaEntries": entries}
        slots = parse(plugin, body, day=date(2025, 10, 1)).slots
        assert [QUARTER, 3 * QUARTER, HOUR] == [slot.duration for slot in slots]
        assert [1.0, 2.0, 3.0] == [slot.price_pence for slot in slots]

    def test_entries_out_of_order_are_sorted(self, plugin: Any) -> None:
        body = load_fixture(SE3_EUR)
        body["multiAreaEntries"].reverse()
        assert NOV_5_CENTS == [slot.price_pence for slot in parse(plugin, body).slots]

    def test_other_currencies_use_their_minor_units(self, plugin: Any) -> None:
        """NOK/MWh -> øre/kWh, PLN -> grosz, ...: all these currencies have 100 minor units."""
        for currency in ("BGN", "DKK", "NOK", "PLN", "RON", "SEK"):
            body = {**load_fixture(SE3_EUR), "currency": currency}
            slots = parse(plugin, body, currency=currency).slots
            assert (2.154, currency) == (slots[0].price_pence, slots[0].currency)

    def test_the_area_state_is_read_per_area(self, plugin: Any) -> None:
        """areaStates groups areas by state; a state for other areas only is unknown."""
        body = load_fixture(SE3_EUR)
        body["areaStates"] = [
            {"state": "Final", "areas": ["SE4"]},
            {"state": "Preliminary", "areas": ["SE3"]},
        ]
        assert "Preliminary" == parse(plugin, body).state
        body["areaStates"] = [{"state": "Final", "areas": ["SE4"]}]
        assert parse(plugin, body).state is None
        body["areaStates"] = "garbage"
        assert 24 == len(parse(plugin, body).slots)


class TestRequests:
    @pytest.fixture
    async def provider(self, plugin: Any, http_mock: aioresponses) -> AsyncIterator[Any]:
        async with aiohttp.ClientSession() as session:
            yield make_provider(plugin, session)

    @staticmethod
    def sent(http_mock: aioresponses) -> list[tuple[URL, dict[str, Any]]]:
        return [(url, calls[0].kwargs) for (_, url), calls in http_mock.requests.items()]

    async def test_one_cet_day_is_asked_as_the_api_wants_it(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """date, market, deliveryArea, currency; a User-Agent naming energyd."""
        http_mock.get(PRICES, body=fixture_bytes(SE3_EUR))
        start, end = cet_day(date(2024, 11, 5))
        slots = await provider.fetch_prices("SE3", start, end, {"region": "SE3"})
        ((url, kwargs),) = self.sent(http_mock)
        assert API + "/DayAheadPrices" == str(url.with_query(None))
        assert {
            "date": "2024-11-05",
            "market": "DayAhead",
            "deliveryArea": "SE3",
            "currency": "EUR",
        } == dict(url.query)
        assert kwargs["headers"]["User-Agent"].startswith("energyd-nordpool/")
        assert NOV_5_CENTS == [slot.price_pence for slot in slots]

    async def test_the_hourly_index_is_asked_with_resolution_60(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """resolution = 60 asks DayAheadPriceIndices for the hourly index, in SEK."""
        http_mock.get(INDICES, body=fixture_bytes(SE3_SEK_60))
        start, end = cet_day(date(2025, 10, 1))
        config = {"region": "se3", "currency": "sek", "resolution": 60}
        slots = await provider.fetch_prices("se3", start, end, config)
        ((url, _),) = self.sent(http_mock)
        assert {
            "date": "2025-10-01",
            "market": "DayAhead",
            "indexNames": "SE3",
            "currency": "SEK",
            "resolutionInMinutes": "60",
        } == dict(url.query)
        assert (24, "SEK", 52.375) == (len(slots), slots[0].currency, slots[0].price_pence)

    async def test_a_window_over_two_cet_days_asks_each_day_spaced(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A window across midnight CET: two requests, the second after the 1 s spacing."""
        http_mock.get(PRICES, status=204, repeat=True)
        with pytest.raises(ProviderNotPublishedError):
            await provider.fetch_prices(
                "SE3", utc(2024, 11, 5, 20), utc(2024, 11, 6, 2), {"region": "SE3"}
            )
        dates = [url.query["date"] for url, _ in self.sent(http_mock)]
        assert ["2024-11-05", "2024-11-06"] == dates
        (wait,) = provider.pacer.sleep.waits
        assert 0.9 < wait <= 1.0

    @pytest.mark.parametrize(
        ("written", "asked"),
        [("de", "GER"), ("DE-LU", "GER"), ("de_lu", "GER"), ("ro", "TEL"), ("no-1", "NO1")],
    )
    async def test_friendly_area_names_are_asked_as_nord_pools_codes(
        self, provider: Any, http_mock: aioresponses, written: str, asked: str
    ) -> None:
        http_mock.get(PRICES, status=204)
        start, end = cet_day(date(2026, 11, 26))
        with pytest.raises(ProviderNotPublishedError):
            await provider.fetch_prices(written, start, end, {"region": written})
        assert asked == self.sent(http_mock)[0][0].query["deliveryArea"]

    async def test_204_is_not_published_yet_with_the_usual_time(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """HTTP 204 No Content: "not yet", expected at 13:00 CET the day before."""
        http_mock.get(PRICES, status=204)
        day = datetime.now(UTC).date() + timedelta(days=3)
        settings = provider.settings("SE3", {"region": "SE3"})
        with pytest.raises(ProviderNotPublishedError, match="no SE3 prices") as caught:
            await provider.fetch_day("SE3", day, settings)
        assert 204 == caught.value.status
        assert cet_day(day - timedelta(days=1))[0] + timedelta(hours=13) == caught.value.retry_at

    async def test_a_late_day_has_no_retry_time(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Past 13:00 the day before, the plugin cannot say when: retry_at is None."""
        http_mock.get(PRICES, status=204)
        settings = provider.settings("SE3", {"region": "SE3"})
        with pytest.raises(ProviderNotPublishedError) as caught:
            await provider.fetch_day("SE3", date(2024, 11, 5), settings)
        assert caught.value.retry_at is None

    async def test_the_recorded_empty_index_answer_is_not_yet(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """The FI answer (HTTP 200, empty multiIndexEntries) through the whole fetch."""
        http_mock.get(
            INDICES,
            body=fixture_bytes(FI_NOT_YET),
            content_type="application/json; charset=utf-8",
        )
        start, end = cet_day(date(2025, 5, 10))
        with pytest.raises(ProviderNotPublishedError):
            await provider.fetch_prices("FI", start, end, {"region": "FI", "resolution": 60})

    async def test_an_answer_in_another_currency_is_refused(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """SEK asked, the EUR body answered: ProviderDataError, nothing stored."""
        http_mock.get(PRICES, body=fixture_bytes(SE3_EUR))
        start, end = cet_day(date(2024, 11, 5))
        with pytest.raises(ProviderDataError, match="'EUR', asked for SEK"):
            await provider.fetch_prices("SE3", start, end, {"region": "SE3", "currency": "SEK"})

    @pytest.mark.parametrize("status", [401, 403])
    async def test_blocked_is_an_auth_error_saying_so(
        self, provider: Any, http_mock: aioresponses, status: int
    ) -> None:
        http_mock.get(PRICES, status=status, body="<html>Forbidden</html>")
        start, end = cet_day(date(2024, 11, 5))
        with pytest.raises(ProviderAuthError, match="refused access") as caught:
            await provider.fetch_prices("SE3", start, end, {"region": "SE3", **FAST})
        assert status == caught.value.status
        assert "blocks" in str(caught.value)
        assert 1 == len(self.sent(http_mock))

    async def test_feeds_of_one_area_share_one_answer(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Within cache_seconds the same day, area and currency is asked once."""
        http_mock.get(PRICES, body=fixture_bytes(SE3_EUR), repeat=True)
        start, end = cet_day(date(2024, 11, 5))
        for _ in range(3):
            slots = await provider.fetch_prices("SE3", start, end, {"region": "SE3"})
            assert (24, False) == (len(slots), any(slot.provisional for slot in slots))
        assert 1 == sum(len(calls) for calls in http_mock.requests.values())

    @pytest.mark.parametrize(
        "change",
        [
            {"areaStates": [{"state": "Preliminary", "areas": ["SE3"]}]},
            {"areaStates": []},
        ],
    )
    async def test_prices_not_final_are_asked_again(
        self, provider: Any, http_mock: aioresponses, change: dict[str, Any]
    ) -> None:
        """Only a final day is kept: preliminary prices are asked for again next time."""
        http_mock.get(PRICES, payload={**load_fixture(SE3_EUR), **change}, repeat=True)
        start, end = cet_day(date(2024, 11, 5))
        for _ in range(2):
            await provider.fetch_prices("SE3", start, end, {"region": "SE3"})
        assert 2 == sum(len(calls) for calls in http_mock.requests.values())

    async def test_an_empty_not_yet_answer_is_not_kept(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """The indices' "not yet" is a 200 with no entries: never reused, so tomorrow shows
        up at the next try."""
        body = fixture_bytes("DayAheadPriceIndices_FI_EUR_60min_2025-05-10_not-yet-published")
        http_mock.get(INDICES, body=body)
        http_mock.get(INDICES, body=fixture_bytes(SE3_SEK_60), repeat=True)
        start, end = cet_day(date(2025, 10, 1))
        config = {"region": "SE3", "currency": "SEK", "resolution": 60}
        with pytest.raises(ProviderNotPublishedError):
            await provider.fetch_prices("SE3", start, end, config)
        assert 24 == len(await provider.fetch_prices("SE3", start, end, config))

    async def test_a_429_beyond_the_budget_is_raised_with_its_retry_after(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        http_mock.get(PRICES, status=429, headers={"Retry-After": "600"})
        start, end = cet_day(date(2024, 11, 5))
        with pytest.raises(ProviderRateLimitError) as caught:
            await provider.fetch_prices("SE3", start, end, {"region": "SE3", **FAST})
        assert 600 == caught.value.retry_after

    async def test_not_final_prices_are_used_logged_once_and_noted(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Preliminary prices are stored as they are; the state is logged once and shown."""
        body = load_fixture(SE3_EUR)
        body["areaStates"] = [{"state": "Preliminary", "areas": ["SE3"]}]
        http_mock.get(PRICES, payload=body, repeat=True)
        start, end = cet_day(date(2024, 11, 5))
        with structlog.testing.capture_logs() as logs:
            for _ in range(2):
                provider.pacer.cache_seconds = 0  # ask again each time
                slots = await provider.fetch_prices("SE3", start, end, {"region": "SE3"})
                assert NOV_5_CENTS == [slot.price_pence for slot in slots]
                assert all(slot.provisional for slot in slots)  # asked for again till final
        notes = [e for e in logs if e["event"] == "nordpool.not_final"]
        assert [("info", "SE3", "2024-11-05", "Preliminary")] == [
            (e["log_level"], e["area"], e["day"], e["state"]) for e in notes
        ]
        shown = provider.source_notes("SE3", {"region": "SE3"})
        assert "2024-11-05 Preliminary" == shown["prices_state"]
        assert "unofficial" in shown["terms"]

    async def test_final_prices_are_not_logged_but_noted(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        http_mock.get(PRICES, body=fixture_bytes(SE3_EUR))
        start, end = cet_day(date(2024, 11, 5))
        assert "prices_state" not in provider.source_notes("SE3", {"region": "SE3"})
        with structlog.testing.capture_logs() as logs:
            await provider.fetch_prices("SE3", start, end, {"region": "SE3"})
        assert [] == [e for e in logs if e["event"] == "nordpool.not_final"]
        assert "2024-11-05 Final" == provider.source_notes("SE3", {"region": "SE3"})["prices_state"]
        assert {"terms"} == set(provider.source_notes("SE3", {"region": "SE3", "currency": "SEK"}))


class TestConfigAndMetadata:
    def test_the_delivery_areas_are_the_regions(self, plugin: Any) -> None:
        """Nord Pool's own codes (GER, TEL), each with a human name."""
        meta = plugin.NordPoolProvider().get_metadata()
        codes = (
            "EE LT LV AT BE FR GER NL PL DK1 DK2 FI NO1 NO2 NO3 NO4 NO5 SE1 SE2 SE3 SE4 BG TEL SYS"
        )
        expected = codes.split(" ")
        assert expected == list(meta.supported_regions)
        assert set(expected) == set(meta.region_names)
        assert "Romania" in meta.region_names["TEL"]
        assert "Germany" in meta.region_names["GER"]

    def test_the_market_rhythm(self, plugin: Any) -> None:
        """EUR by default, CET days from midnight, results at 13:00, 15-minute grid, no key."""
        meta = plugin.NordPoolProvider().get_metadata()
        assert ("nordpool", "EUR", "Europe/Berlin", "00:00", "13:00", 15, False) == (
            meta.provider_id,
            meta.currency,
            meta.market_timezone,
            meta.day_start_local,
            meta.publish_time_local,
            meta.slot_minutes,
            meta.requires_api_key,
        )
        assert (3, "1.1.0") == (plugin.REQUIRES_KIT, meta.version)

    def test_polling_is_gentle(self, plugin: Any) -> None:
        """At most one request a second; a final day's answer kept for three days (while
        the day is in a fetch window)."""
        cls = plugin.NordPoolProvider
        assert (1.0, 3 * 24 * 3600.0) == (cls.request_spacing_seconds, cls.cache_seconds)

    @pytest.mark.parametrize(
        ("config", "errors"),
        [
            ({"region": "SE3"}, set()),
            ({"region": "ger", "currency": "eur"}, set()),
            ({"region": "SE3", "currency": "SEK", "resolution": 60}, set()),
            ({"region": "SE3", "resolution": "60"}, set()),
            ({"region": "SE3", "base_url": "http://127.0.0.1:8082/"}, set()),
            ({}, {"region"}),
            ({"region": "SE5"}, {"region"}),
            ({"region": "CH"}, {"region"}),
            ({"region": "SE3", "currency": "GBP"}, {"currency"}),
            ({"region": "SE3", "resolution": 30}, {"resolution"}),
            ({"region": "SE3", "resolution": 120}, {"resolution"}),
            ({"region": "SE3", "base_url": "ftp://x"}, {"base_url"}),
            ({"region": "SE3", "deliveryArea": "SE4"}, {"deliveryArea"}),
        ],
    )
    def test_validate_config(self, plugin: Any, config: dict[str, Any], errors: set[str]) -> None:
        assert errors == set(plugin.NordPoolProvider().validate_config(config))

    @pytest.mark.parametrize(
        ("written", "canonical"),
        [
            ("DE", "GER"),
            ("de-lu", "GER"),
            ("DE_LU", "GER"),
            ("RO", "TEL"),
            ("se3", "SE3"),
            ("No_2", "NO2"),
            ("dk-1", "DK1"),
            ("sys", "SYS"),
            (" fi ", "FI"),
        ],
    )
    def test_aliases_are_normalised(self, plugin: Any, written: str, canonical: str) -> None:
        config = {"region": written, "currency": "sek"}
        assert {"region": canonical, "currency": "SEK"} == (
            plugin.NordPoolProvider().normalise_config(config)
        )

    def test_currency_for_is_the_configured_currency(self, plugin: Any) -> None:
        provider = plugin.NordPoolProvider()
        assert "EUR" == provider.currency_for("SE3", {"region": "SE3"})
        assert "NOK" == provider.currency_for("NO1", {"region": "NO1", "currency": "nok"})

    def test_the_currency_and_resolution_are_part_of_the_source(self, plugin: Any) -> None:
        """Prices in SEK are not the EUR ones, the hourly index not the 15-min prices;
        retry knobs do not change the source."""
        provider = plugin.NordPoolProvider()

        def identity(**config: Any) -> str:
            return str(provider.source_identity("SE3", {"region": "SE3", **config}))

        assert identity() == identity(currency="eur") == identity(retry_attempts=1)
        assert identity() != identity(currency="SEK")
        assert identity() != identity(resolution=60)
        assert identity() != identity(base_url="http://127.0.0.1:8082")
        assert provider.source_identity("de", {"region": "de"}) == provider.source_identity(
            "GER", {"region": "GER"}
        )

    def test_the_schema_is_published(self, plugin: Any) -> None:
        schema = plugin.NordPoolProvider().get_metadata().config_schema
        assert ["region"] == schema["required"]
        props = schema["properties"]
        assert ("EUR", 15, API) == (
            props["currency"]["default"],
            props["resolution"]["default"],
            props["base_url"]["default"],
        )
        assert ["BGN", "DKK", "EUR", "NOK", "PLN", "RON", "SEK"] == props["currency"]["enum"]
        assert not any(prop.get("writeOnly") for prop in props.values())

    def test_nothing_asked_is_scrubbed_from_logs(self) -> None:
        """The source has no secret: every parameter stays readable in logs."""
        url = f"{API}/DayAheadPriceIndices?date=2025-10-01&market=DayAhead&indexNames=SE3"
        url += "&currency=SEK&resolutionInMinutes=60"
        assert "***" not in scrub_url(url)

    def test_the_plugin_stays_small_and_standalone(self) -> None:
        """At most 450 lines, importing only the standard library and the base."""
        source = (bundled_plugin_dir() / "nordpool_provider.py").read_text(encoding="utf-8")
        imports = {
            m.group(1).split(".")[0]
            for m in re.finditer(r"^(?:from|import) ([\w.]+)", source, re.MULTILINE)
        }
        assert len(source.splitlines()) <= 450
        assert {
            "__future__",
            "collections",
            "dataclasses",
            "datetime",
            "itertools",
            "math",
            "typing",
            "zoneinfo",
            "providers",
        } == imports


@pytest.fixture
async def stand_in() -> AsyncIterator[RunningFake]:
    async with serve() as running:
        yield running


@pytest.fixture
async def loaded(plugin: Any) -> AsyncIterator[Any]:
    """The plugin module as the daemon loads it (standalone), on a real session."""
    async with aiohttp.ClientSession() as session:
        yield make_provider(plugin, session)


def config_for(fake: RunningFake, **extra: Any) -> dict[str, Any]:
    return {"region": "SE3", "base_url": fake.url, **FAST, **extra}


def expected_quarters(area: str, day: date, currency: str) -> list[float]:
    """What the stand-in serves for ``day`` in 15-minute slots, in minor units per kWh."""
    low, high = cet_day(day)
    count = (high - low) // QUARTER
    prices = [price_in(default_price(area, low + QUARTER * n), currency) for n in range(count)]
    return [per_mwh_to_minor_per_kwh(p) for p in prices if p is not None]


class TestAgainstTheStandIn:
    @pytest.mark.parametrize(("day", "count"), [(date(2026, 3, 29), 92), (date(2026, 10, 25), 100)])
    async def test_clock_change_days_in_quarter_hours(
        self, loaded: Any, stand_in: RunningFake, day: date, count: int
    ) -> None:
        """23 / 25-hour CET days: 92 / 100 quarter-hours, contiguous, exact prices."""
        start, end = cet_day(day)
        slots = await loaded.fetch_prices("SE3", start, end, config_for(stand_in))
        assert count == len(slots)
        assert (start, end) == (slots[0].valid_from, slots[-1].valid_to)
        assert {QUARTER} == {slot.duration for slot in slots}
        assert all(a.valid_to == b.valid_from for a, b in itertools.pairwise(slots))
        assert expected_quarters("SE3", day, "EUR") == [slot.price_pence for slot in slots]
        assert slots == validate_slots(slots, start, end, currency="EUR")
        assert [f"/DayAheadPrices?date={day}&market=DayAhead&deliveryArea=SE3&currency=EUR"] == (
            stand_in.state.requests
        )

    @pytest.mark.parametrize(("day", "count"), [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25)])
    async def test_clock_change_days_of_the_hourly_index(
        self, loaded: Any, stand_in: RunningFake, day: date, count: int
    ) -> None:
        """resolution = 60 on the clock-change days: 23 / 25 hours, in NOK øre."""
        start, end = cet_day(day)
        config = config_for(stand_in, resolution=60, currency="NOK", region="no1")
        slots = await loaded.fetch_prices("no1", start, end, config)
        assert count == len(slots)
        assert {HOUR} == {slot.duration for slot in slots}
        assert {"NOK"} == {slot.currency for slot in slots}
        quarters = [price_in(default_price("NO1", start + QUARTER * n), "NOK") for n in range(4)]
        assert per_mwh_to_minor_per_kwh(hourly_price(quarters) or 0) == slots[0].price_pence
        assert "indexNames=NO1&currency=NOK&resolutionInMinutes=60" in stand_in.state.requests[0]

    async def test_the_currency_asked_is_converted_by_the_stand_in(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        """SEK: EUR price times the stand-in's fixed rate, in öre/kWh."""
        day = date(2026, 11, 26)
        start, end = cet_day(day)
        slots = await loaded.fetch_prices("SE3", start, end, config_for(stand_in, currency="SEK"))
        assert expected_quarters("SE3", day, "SEK") == [slot.price_pence for slot in slots]
        eur = default_price("SE3", start)
        assert round(eur * EXCHANGE_RATES["SEK"] / 10, 3) == pytest.approx(slots[0].price_pence)

    async def test_hourly_days_before_the_switch(self, loaded: Any, stand_in: RunningFake) -> None:
        """30 Sep and 1 Oct 2025: 24 hourly slots, then 96 quarter-hours (two requests)."""
        start, end = cet_day(date(2025, 9, 30))[0], cet_day(date(2025, 10, 1))[1]
        slots = await loaded.fetch_prices("SE3", start, end, config_for(stand_in))
        assert [HOUR] * 24 + [QUARTER] * 96 == [slot.duration for slot in slots]
        assert 2 == len(stand_in.state.requests)

    async def test_an_unpublished_tomorrow_leaves_today(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        """Before the results, today's 96 slots come back; tomorrow's 204 is skipped."""
        start, end = cet_day(date(2026, 11, 26))[0], cet_day(date(2026, 11, 27))[1]
        stand_in.state.published_until = cet_day(date(2026, 11, 27))[0]
        slots = await loaded.fetch_prices("SE3", start, end, config_for(stand_in))
        assert (96, stand_in.state.published_until) == (len(slots), slots[-1].valid_to)

    @pytest.mark.parametrize("resolution", [15, 60])
    async def test_a_day_not_published_is_not_yet(
        self, loaded: Any, stand_in: RunningFake, resolution: int
    ) -> None:
        """204 (DayAheadPrices) or the empty 200 (indices): "not yet", never a price."""
        start, end = cet_day(date(2026, 11, 27))
        stand_in.state.published_until = start
        with pytest.raises(ProviderNotPublishedError):
            await loaded.fetch_prices(
                "SE3", start, end, config_for(stand_in, resolution=resolution)
            )
        assert 1 == len(stand_in.state.requests)

    async def test_the_stand_in_hears_energyds_user_agent(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        start, end = cet_day(date(2026, 11, 26))
        await loaded.fetch_prices("SE3", start, end, config_for(stand_in))
        (agent,) = stand_in.state.user_agents
        assert agent.startswith("energyd-nordpool/1.1.0")

    async def test_a_preliminary_day_is_used(self, loaded: Any, stand_in: RunningFake) -> None:
        stand_in.state.area_state = "Preliminary"
        start, end = cet_day(date(2026, 11, 26))
        assert 96 == len(await loaded.fetch_prices("SE3", start, end, config_for(stand_in)))
        notes = loaded.source_notes("SE3", config_for(stand_in))
        assert "2026-11-26 Preliminary" == notes["prices_state"]

    async def test_server_errors_are_retried(self, loaded: Any, stand_in: RunningFake) -> None:
        """Two 5xx, then the answer: three requests, one success, spaced by the pacer."""
        stand_in.state.faults.extend([500, 503])
        start, end = cet_day(date(2026, 11, 26))
        slots = await loaded.fetch_prices("SE3", start, end, config_for(stand_in))
        assert (96, 3) == (len(slots), len(stand_in.state.requests))
        assert 2 == len(loaded.pacer.sleep.waits)

    async def test_throttling_reaches_the_caller(self, loaded: Any, stand_in: RunningFake) -> None:
        """A 429 asking for more than the budget is raised with its Retry-After."""
        stand_in.state.faults.append(429)
        stand_in.state.retry_after = "120"
        start, end = cet_day(date(2026, 11, 26))
        with pytest.raises(ProviderRateLimitError) as caught:
            await loaded.fetch_prices("SE3", start, end, config_for(stand_in))
        assert 120 == caught.value.retry_after

    async def test_a_hang_is_a_connection_error_within_the_timeout(
        self, plugin: Any, stand_in: RunningFake
    ) -> None:
        stand_in.state.faults.append("hang")
        start, end = cet_day(date(2026, 11, 26))
        async with aiohttp.ClientSession() as session:
            provider = make_provider(plugin, session, timeout=0.3)
            began = time.monotonic()
            with pytest.raises(ProviderConnectionError, match="no answer within"):
                await provider.fetch_prices(
                    "SE3", start, end, config_for(stand_in, retry_attempts=1)
                )
        assert time.monotonic() - began < 2.0

    async def test_garbage_is_a_data_error(self, loaded: Any, stand_in: RunningFake) -> None:
        stand_in.state.faults.append("garbage")
        start, end = cet_day(date(2026, 11, 26))
        with pytest.raises(ProviderDataError, match="not JSON"):
            await loaded.fetch_prices("SE3", start, end, config_for(stand_in))

    async def test_blocked_by_the_portal(self, loaded: Any, stand_in: RunningFake) -> None:
        """403 is not retried: the portal blocks us, asking again makes it worse."""
        stand_in.state.faults.extend([403, 403])
        start, end = cet_day(date(2026, 11, 26))
        with pytest.raises(ProviderAuthError, match="refused access"):
            await loaded.fetch_prices("SE3", start, end, config_for(stand_in))
        assert 1 == len(stand_in.state.requests)

    async def test_two_feeds_of_one_area_share_one_request(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        """Two windows of the same day (a feed's today, another's now): one request."""
        day = date(2026, 11, 26)
        start, end = cet_day(day)
        first = await loaded.fetch_prices("SE3", start, end, config_for(stand_in))
        second = await loaded.fetch_prices(
            "SE3", start + 5 * HOUR, start + 6 * HOUR, config_for(stand_in)
        )
        assert first[20:24] == second
        assert 1 == len(stand_in.state.requests)
        other = await loaded.fetch_prices("SE3", start, end, config_for(stand_in, currency="DKK"))
        assert ({"DKK"}, 2) == ({s.currency for s in other}, len(stand_in.state.requests))

    async def test_the_health_check_makes_one_attempt(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        stand_in.state.faults.extend([500, 500, 500])
        health = await loaded.health_check("SE3", config_for(stand_in))
        assert ("error", 1) == (health.state.value, len(stand_in.state.requests))

    async def test_a_gap_from_the_stand_in_stays_a_gap(self, plugin: Any) -> None:
        """A null price of the area in the answer: that slot is missing, the rest kept."""
        day = date(2026, 11, 26)
        start, end = cet_day(day)
        hole = start + 10 * QUARTER

        def prices(area: str, moment: datetime) -> float | None:
            return None if moment == hole else default_price(area, moment)

        async with serve(make_app(prices)) as fake, aiohttp.ClientSession() as session:
            provider = make_provider(plugin, session)
            slots = await provider.fetch_prices("SE3", start, end, config_for(fake))
        assert 95 == len(slots)
        assert hole not in {slot.valid_from for slot in slots}


def test_the_stand_in_serves_the_recorded_layouts() -> None:
    """Same keys in the same order as the recorded DayAheadPrices and indices bodies."""
    recorded = load_fixture(SE3_EUR)
    built = prices_body(
        date(2024, 11, 5), ["SE3"], "EUR", copy.deepcopy(recorded["multiAreaEntries"])
    )
    assert list(recorded) == list(built)
    assert recorded["blockPriceAggregates"] == built["blockPriceAggregates"]
    assert recorded["areaAverages"] == built["areaAverages"]
    index = load_fixture(SE3_SEK_15)
    assert list(index) == list(indices_body(date(2025, 10, 1), ["SE3"], "SEK", 15, [{}]))
    not_yet = load_fixture(FI_NOT_YET)
    empty = indices_body(date(2025, 5, 10), ["FI"], "EUR", 60, [])
    assert {k: v for k, v in not_yet.items() if k != "updatedAt"} == {
        k: v for k, v in empty.items() if k != "updatedAt"
    }
