"""The generic HTTP / JSON plugin: real answers of several shapes read by config alone, its
requests (placeholders, secrets from the environment, POST), two steps (an index, then one
request per value: smard.de), not-yet and garbage, pacing, identity and the metadata of one
config (HTTP mocked at the transport with aioresponses)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import structlog
from aioresponses import aioresponses

from energyd.exceptions import (
    ProviderAuthError,
    ProviderConfigError,
    ProviderDataError,
    ProviderNotFoundError,
    ProviderNotPublishedError,
)
from energyd.providers.base import local_day_window
from energyd.providers.validation import validate_slots
from tests.support.plugins import load_bundled_plugin

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "http_json"
HOUR = timedelta(hours=1)
HALF_HOUR = timedelta(minutes=30)
API = "https://prices.example.test/v1/prices"
PRICES = re.compile(re.escape(API) + r"(\?.*)?$")
FAST = {"retry_attempts": 1, "retry_base_seconds": 0.001, "retry_budget_seconds": 1}
SECRET = "s3cr3t-t0ken-value"

#: EnergyZero as a user configures it (the README's example; here against API).
ENERGYZERO: dict[str, Any] = {
    "region": "NL",
    "url": API,
    "query": {
        "fromDate": "{start}",
        "tillDate": "{end}",
        "interval": "4",
        "usageType": "1",
        "inclBtw": "true",
    },
    "items": "Prices",
    "start": "readingDate",
    "value": "price",
    "unit": "per_kwh",
    "timezone": "Europe/Amsterdam",
    "cache_seconds": 0,
    "request_spacing_seconds": 0,
    **FAST,
}
#: The recorded EnergyZero prices of 7 Dec 2022 (Amsterdam), EUR/kWh incl. VAT.
ENERGYZERO_EUR = [
    0.35, 0.32, 0.28, 0.26, 0.27, 0.28, 0.28, 0.38, 0.41, 0.46, 0.44, 0.39,
    0.33, 0.37, 0.44, 0.48, 0.49, 0.55, 0.37, 0.4, 0.4, 0.32, 0.33, 0.31,
]  # fmt: skip


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture(scope="module")
def plugin() -> Any:
    """The bundled plugin module, loaded standalone like the daemon does."""
    return load_bundled_plugin("http_json_provider.py")


def parse(plugin: Any, body: Any, **config: Any) -> list[Any]:
    """``body`` read with ``config`` (the plugin's own settings parser)."""
    settings = plugin.FIELDS.parse({"region": "X", "url": API, **config})
    slots: list[Any] = plugin.parse_answer(body, settings)
    return slots


@dataclass
class FakeTime:
    """A pacer clock that only moves when told or slept on (no real waiting)."""

    now: float = 1000.0
    waits: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(round(seconds, 3))
        self.now += seconds


@pytest.fixture
async def provider(plugin: Any, http_mock: aioresponses) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession() as session:
        instance = plugin.HttpJsonProvider()
        instance.attach(session, timeout=5.0)
        fake = FakeTime()
        instance.pacer.clock = fake.clock
        instance.pacer.sleep = fake.sleep
        instance.fake_time = fake
        yield instance


def made(http_mock: aioresponses) -> list[tuple[str, Any, dict[str, Any]]]:
    """Every request: (method, URL, its keyword arguments), in no particular order."""
    return [
        (method, url, call.kwargs)
        for (method, url), calls in http_mock.requests.items()
        for call in calls
    ]


def query_of(url: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(str(url)).query).items()}


class TestRecordedAnswers:
    def test_energyzero_is_24_hours_in_cents(self, plugin: Any) -> None:
        """EnergyZero's Prices[]: hourly from the data's step, EUR/kWh x 100 = c/kWh."""
        slots = parse(
            plugin,
            fixture("energyzero_today_energy.json"),
            items="Prices",
            start="readingDate",
            value="price",
            unit="per_kwh",
        )
        assert [round(p * 100, 6) for p in ENERGYZERO_EUR] == [s.price_pence for s in slots]
        assert (utc(2022, 12, 6, 23), utc(2022, 12, 7, 23)) == (
            slots[0].valid_from,
            slots[-1].valid_to,
        )
        assert {HOUR} == {s.duration for s in slots}
        assert {"EUR"} == {s.currency for s in slots}
        validate_slots(slots, utc(2022, 12, 6, 23), utc(2022, 12, 7, 23), currency="EUR")

    @pytest.mark.parametrize(
        ("value", "first"), [("TariffUsage", 18.1379), ("TariffReturn", 14.99)]
    )
    def test_easyenergy_is_a_bare_list(self, plugin: Any, value: str, first: float) -> None:
        """easyEnergy answers a list (items "@"); usage or return tariff by the value path."""
        slots = parse(
            plugin,
            fixture("easyenergy_today_energy.json"),
            start="Timestamp",
            value=value,
            unit="per_kwh",
        )
        assert 24 == len(slots)
        assert (utc(2023, 1, 19, 23), first) == (slots[0].valid_from, slots[0].price_pence)

    def test_energy_charts_parallel_arrays_through_zip(self, plugin: Any) -> None:
        """zip(unix_seconds, price) reads Energy-Charts exactly as its own plugin does."""
        body = fixture("price_DE-LU_2024-12-10_11_hourly.json")
        slots = parse(
            plugin,
            body,
            items="zip(unix_seconds, price)",
            start="[0]",
            value="[1]",
            time_format="epoch_s",
            unit="per_mwh",
        )
        own = load_bundled_plugin("energy_charts_provider.py").parse_prices(body)
        assert 48 == len(slots)
        assert own == slots

    def test_smard_series_skips_null_hours(self, plugin: Any) -> None:
        """smard's [[ms, EUR/MWh|null]]: the null hours are gaps, never 0."""
        slots = parse(
            plugin,
            fixture("smard_style_4169_DE-LU_hour_built.json"),
            items="series",
            start="[0]",
            value="[1]",
            time_format="epoch_ms",
            unit="per_mwh",
        )
        energy_charts = parse(
            plugin,
            fixture("price_DE-LU_2024-12-10_11_hourly.json"),
            items="zip(unix_seconds, price)",
            start="[0]",
            value="[1]",
            time_format="epoch_s",
            unit="per_mwh",
        )
        assert energy_charts == slots
        assert all(s.price_pence != 0 for s in slots)

    @pytest.mark.parametrize("start", ["datetime_utc", "datetime"])
    def test_esios_filtered_on_the_peninsula(self, plugin: Any, start: str) -> None:
        """A filter on geo_name keeps the Peninsula: 23 hours on Madrid's spring-forward day."""
        body = fixture("esios_style_1001_2026-03-29_built.json")
        slots = parse(
            plugin,
            body,
            items="indicator.values[?geo_name=='Península']",
            start=start,
            value="value",
            unit="per_mwh",
            timezone="Europe/Madrid",
        )
        peninsula = [v["value"] for v in body["indicator"]["values"] if v["geo_id"] == 8741]
        madrid_day = local_day_window(date(2026, 3, 29), "Europe/Madrid")
        assert 23 == len(slots)
        assert [round(v / 10, 6) for v in peninsula] == [s.price_pence for s in slots]
        assert madrid_day == (slots[0].valid_from, slots[-1].valid_to)


def london_half_hours(day: date) -> list[datetime]:
    start, end = local_day_window(day, "Europe/London")
    return [start + HALF_HOUR * n for n in range((end - start) // HALF_HOUR)]


def naive_london(moments: list[datetime]) -> list[dict[str, Any]]:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/London")
    return [
        {"t": m.astimezone(zone).replace(tzinfo=None).isoformat(), "p": 10 + n}
        for n, m in enumerate(moments)
    ]


class TestTimes:
    @pytest.mark.parametrize(("day", "count"), [(date(2026, 3, 29), 46), (date(2026, 10, 25), 50)])
    def test_naive_wall_clock_times_on_clock_change_days(
        self, plugin: Any, day: date, count: int
    ) -> None:
        """Naive London times: the repeated hour is told apart by order, each slot 30 min."""
        moments = london_half_hours(day)
        body = {"rows": naive_london(moments)}
        slots = parse(
            plugin,
            body,
            items="rows",
            start="t",
            value="p",
            unit="minor_per_kwh",
            timezone="Europe/London",
            slot_minutes=30,
        )
        assert count == len(slots)
        assert moments == [s.valid_from for s in slots]
        assert [10.0 + n for n in range(count)] == [s.price_pence for s in slots]

    def test_a_time_the_clock_skips_is_refused(self, plugin: Any) -> None:
        """01:30 does not exist in London on 29 Mar 2026."""
        body = [{"t": "2026-03-29T01:30:00", "p": 1}]
        with pytest.raises(ProviderDataError, match="does not exist in Europe/London"):
            parse(plugin, body, start="t", value="p", unit="minor_per_kwh",
                  timezone="Europe/London", slot_minutes=30)  # fmt: skip

    def test_ends_and_times_a_second_off_the_minute(self, plugin: Any) -> None:
        """Amber-like startTime ...:01Z and an end ...:59.999Z are put on the whole minute."""
        body = [
            {"s": "2025-04-09T17:20:01Z", "e": "2025-04-09T17:24:59.999Z", "v": 30.5},
            {"s": "2025-04-09T17:25:01Z", "e": "2025-04-09T17:30:00Z", "v": 31},
        ]
        slots = parse(plugin, body, start="s", end="e", value="v", unit="minor_per_kwh")
        assert [(utc(2025, 4, 9, 17, 20), utc(2025, 4, 9, 17, 25), 30.5),
                (utc(2025, 4, 9, 17, 25), utc(2025, 4, 9, 17, 30), 31.0)] == [
            (s.valid_from, s.valid_to, s.price_pence) for s in slots
        ]  # fmt: skip

    def test_epoch_strings_are_accepted(self, plugin: Any) -> None:
        """Epoch seconds given as strings are read as numbers."""
        body = [{"t": "1767225600", "v": 1}, {"t": "1767229200", "v": 2}]
        slots = parse(plugin, body, start="t", value="v", unit="minor_per_kwh",
                      time_format="epoch_s")  # fmt: skip
        assert (utc(2026, 1, 1), HOUR) == (slots[0].valid_from, slots[0].duration)

    def test_entries_out_of_order_are_sorted(self, plugin: Any) -> None:
        """A newest-first answer gives ascending slots."""
        body = [{"t": "2026-01-01T01:00:00Z", "v": 2}, {"t": "2026-01-01T00:00:00Z", "v": 1}]
        slots = parse(plugin, body, start="t", value="v", unit="minor_per_kwh")
        assert [1.0, 2.0] == [s.price_pence for s in slots]


class TestValues:
    def entries(self, *values: Any) -> list[dict[str, Any]]:
        return [
            {"t": (utc(2026, 1, 1) + HOUR * n).isoformat(), "v": value}
            for n, value in enumerate(values)
        ]

    def test_null_is_a_missing_slot_never_zero(self, plugin: Any) -> None:
        """A null price leaves its hour out; the step still comes from all entries."""
        slots = parse(plugin, self.entries(1.5, None, 2.5), start="t", value="v",
                      unit="minor_per_kwh")  # fmt: skip
        assert [(utc(2026, 1, 1), 1.5), (utc(2026, 1, 1, 2), 2.5)] == [
            (s.valid_from, s.price_pence) for s in slots
        ]
        assert {HOUR} == {s.duration for s in slots}

    @pytest.mark.parametrize(
        ("unit", "scale", "currency", "raw", "minor"),
        [
            ("per_mwh", 1, "EUR", 92.85, 9.285),
            ("per_kwh", 1, "EUR", 0.2451, 24.51),
            ("minor_per_kwh", 1, "GBP", 18.291, 18.291),
            ("per_kwh", 0.001, "SEK", 1234.5, 123.45),  # öre/MWh-ish source scaled to SEK/kWh
            ("per_mwh", -1, "EUR", 50, -5.0),  # a feed-in tariff with the sign turned
            ("per_kwh", 1, "JPY", 30.5, 30.5),  # a currency without minor units
        ],
    )
    def test_units_scale_and_currency(
        self, plugin: Any, unit: str, scale: float, currency: str, raw: float, minor: float
    ) -> None:
        """value x scale in unit -> minor units per kWh of the currency."""
        (slot,) = parse(plugin, self.entries(raw), start="t", value="v", unit=unit,
                        scale=scale, currency=currency, slot_minutes=60)  # fmt: skip
        assert (minor, currency) == (slot.price_pence, slot.currency)

    def test_numeric_strings_and_decimal_commas(self, plugin: Any) -> None:
        """ "12.5" is read; "116,33" and "1.116,33" only with decimal_comma = true."""
        body = self.entries("12.5", "116,33", "1.116,33")
        slots = parse(plugin, body, start="t", value="v", unit="minor_per_kwh",
                      decimal_comma=True)  # fmt: skip
        assert [12.5, 116.33, 1116.33] == [s.price_pence for s in slots]
        with pytest.raises(ProviderDataError, match="decimal_comma"):
            parse(plugin, body, start="t", value="v", unit="minor_per_kwh")

    @pytest.mark.parametrize(
        ("body", "match"),
        [
            ({"Prices": {"price": 1}}, "not a list"),
            ({"prices": []}, "matched nothing"),
            ({"Prices": [{"readingDate": "yesterday", "price": 1}]}, "not an ISO 8601"),
            ({"Prices": [{"readingDate": 1670367600, "price": 1}]}, "ISO 8601 string"),
            ({"Prices": [{"readingDate": "2022-12-06T23:00:30Z", "price": 1}]}, "whole minute"),
            ({"Prices": [{"readingDate": "2022-12-06T23:00:00Z", "price": True}]}, "price"),
            ({"Prices": [{"readingDate": "2022-12-06T23:00:00Z", "price": "n/a"}]}, "number"),
            ({"Prices": [{"readingDate": "2022-12-06T23:00:00Z", "price": {}}]}, "price"),
            ({"Prices": [{"readingDate": "2022-12-06T23:00:00Z", "price": 1}]}, "one point"),
            (
                {"Prices": [{"readingDate": "2022-12-06T23:00:00Z", "price": 1}] * 2},
                "do not ascend",
            ),
        ],
    )
    def test_garbage_refuses_the_whole_answer(self, plugin: Any, body: Any, match: str) -> None:
        """An answer the expressions cannot read is a data error, never half a result."""
        with pytest.raises(ProviderDataError, match=match):
            parse(plugin, body, items="Prices", start="readingDate", value="price",
                  unit="per_kwh")  # fmt: skip

    def test_overlapping_or_backwards_entries_with_ends(self, plugin: Any) -> None:
        """With an end field, overlapping entries or an end before its start are refused."""
        overlap = [
            {"s": "2026-01-01T00:00:00Z", "e": "2026-01-01T01:00:00Z", "v": 1},
            {"s": "2026-01-01T00:30:00Z", "e": "2026-01-01T01:30:00Z", "v": 2},
        ]
        backwards = [{"s": "2026-01-01T01:00:00Z", "e": "2026-01-01T00:00:00Z", "v": 1}]
        with pytest.raises(ProviderDataError, match="overlap"):
            parse(plugin, overlap, start="s", end="e", value="v", unit="minor_per_kwh")
        with pytest.raises(ProviderDataError, match="not after"):
            parse(plugin, backwards, start="s", end="e", value="v", unit="minor_per_kwh")


class TestConfig:
    @pytest.mark.parametrize(
        ("changes", "key"),
        [
            ({"url": "ftp://x.example/prices"}, "url"),
            ({"url": "https://user:pw@x.example/prices"}, "url"),
            ({"url": API + "?from={strat}"}, "url"),
            ({"url": API + "?k=${TOKEN}"}, "url"),
            ({"query": {"from": "{start_s:%Y}"}}, "query.from"),
            ({"query": {"k": "${TOKEN}"}}, "query.k"),
            ({"query": {"list": [1, 2]}}, "query.list"),
            ({"headers": {"Authorization": "Bearer literal"}}, "headers.Authorization"),
            ({"headers": {"X-Api-Key": "literal"}}, "headers.X-Api-Key"),
            ({"headers": {"Bad Name": "x"}}, "headers.Bad Name"),
            ({"headers": {"X-A": "${1BAD}"}}, "headers.X-A"),
            ({"headers": "Authorization: x"}, "headers"),
            ({"body": {"q": "x"}}, "body"),
            ({"not_published_statuses": [200]}, "not_published_statuses"),
            ({"not_published_statuses": 404}, "not_published_statuses"),
            ({"end": "e", "slot_minutes": 15}, "slot_minutes"),
            ({"items": "Prices["}, "items"),
            ({"value": "frobnicate(price)"}, "value"),
            ({"timezone": "Europe/Atlantis"}, "timezone"),
            ({"unit": "eur_per_mwh"}, "unit"),
            ({"time_format": "rfc2822"}, "time_format"),
            ({"currency": "euro"}, "currency"),
            ({"scale": 0}, "scale"),
            ({"publish_time": "1pm"}, "publish_time"),
            ({"region": "a/b"}, "region"),
            ({"valeu": "price"}, "valeu"),
        ],
    )
    def test_a_bad_config_names_the_key(
        self, plugin: Any, changes: dict[str, Any], key: str
    ) -> None:
        """validate_config reports {key: reason} for each mistake."""
        errors = plugin.HttpJsonProvider().validate_config({**ENERGYZERO, **changes})
        assert key in errors, errors

    def test_the_energyzero_config_is_valid(self, plugin: Any) -> None:
        """The README's EnergyZero example validates clean."""
        assert {} == plugin.HttpJsonProvider().validate_config(ENERGYZERO)

    def test_a_literal_secret_is_never_repeated_in_the_reason(self, plugin: Any) -> None:
        """A header written out in the config is refused without echoing its value."""
        config = {**ENERGYZERO, "headers": {"Authorization": f"Bearer {SECRET}"}}
        errors = plugin.HttpJsonProvider().validate_config(config)
        assert SECRET not in json.dumps(errors)

    def test_identity_leaves_headers_out(self, plugin: Any) -> None:
        """Which prices: URL, query, paths, unit ... -- never headers (nor pacing)."""
        provider = plugin.HttpJsonProvider()
        base = provider.source_identity("NL", ENERGYZERO)
        other_header = {**ENERGYZERO, "headers": {"X-Api-Key": "${OTHER}"}}
        other_cache = {**ENERGYZERO, "cache_seconds": 60}
        assert base == provider.source_identity("NL", other_header)
        assert base == provider.source_identity("NL", other_cache)
        for changed in ({"value": "priceExVat"}, {"unit": "per_mwh"}, {"url": API + "/v2"}):
            assert base != provider.source_identity("NL", {**ENERGYZERO, **changed})
        assert "X-Api-Key" not in provider.source_identity("NL", other_header)

    def test_metadata_of_one_config(self, plugin: Any) -> None:
        """Slot length, zone, publication time and currency come from the config."""
        provider = plugin.HttpJsonProvider()
        meta = provider.metadata_for(
            "NL", {**ENERGYZERO, "slot_minutes": 60, "publish_time": "15:00", "currency": "sek"}
        )
        assert (60, "Europe/Amsterdam", "15:00", "SEK") == (
            meta.slot_minutes,
            meta.market_timezone,
            meta.publish_time_local,
            meta.currency,
        )
        plain = provider.metadata_for("NL", ENERGYZERO)
        assert (15, None, "EUR") == (plain.slot_minutes, plain.publish_time_local, plain.currency)
        assert "SEK" == provider.currency_for("NL", {**ENERGYZERO, "currency": "SEK"})

    def test_source_notes_name_the_api_without_query(self, plugin: Any) -> None:
        """The API is shown as scheme, host and path; the VAT as the user said."""
        provider = plugin.HttpJsonProvider()
        notes = provider.source_notes("NL", {**ENERGYZERO, "vat_included": True})
        assert {"api": API, "vat": "included"} == notes


class TestRequests:
    async def test_window_placeholders_in_the_query(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """{start} / {end}: the whole Amsterdam day in UTC; the fixed query values as given."""
        http_mock.get(PRICES, body=fixture_bytes("energyzero_today_energy.json"))
        day = local_day_window(date(2022, 12, 7), "Europe/Amsterdam")
        slots = await provider.fetch_prices("NL", utc(2022, 12, 7, 10), day[1], ENERGYZERO)
        assert (utc(2022, 12, 7, 10), 13) == (slots[0].valid_from, len(slots))
        ((method, url, _),) = made(http_mock)
        assert "GET" == method
        assert {
            "fromDate": "2022-12-06T23:00:00Z",
            "tillDate": "2022-12-07T23:00:00Z",
            "interval": "4",
            "usageType": "1",
            "inclBtw": "true",
        } == query_of(url)

    async def test_placeholders_in_the_url_are_quoted_and_formatted(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """{start_local} (with its offset, URL-quoted), {end_ms}, a strftime {start:...}."""
        http_mock.get(re.compile(r"https://x\.example\.test/.*"), payload=[
            {"t": "2026-01-05T00:00:00+01:00", "v": 1}, {"t": "2026-01-05T01:00:00+01:00", "v": 2}
        ])  # fmt: skip
        config = {
            **ENERGYZERO,
            "url": "https://x.example.test/p/{start:%Y%m%d%H%M}?from={start_local}&to={end_ms}",
            "query": None,
            "items": "@",
            "start": "t",
            "value": "v",
            "timezone": "Europe/Berlin",
        }
        await provider.fetch_prices("DE", utc(2026, 1, 4, 23), utc(2026, 1, 5, 1), config)
        ((_, url, _),) = made(http_mock)
        assert "/p/202601042300" == url.path
        assert {"from": "2026-01-05T00:00:00+01:00", "to": "1767654000000"} == query_of(url)

    async def test_a_date_placeholder_asks_once_per_day(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """{date}: one request per market day; a day not out yet is skipped, not an error."""
        body = fixture("energyzero_today_energy.json")
        http_mock.get(re.compile(re.escape(API) + r"\?day=2022-12-07$"), payload=body)
        http_mock.get(re.compile(re.escape(API) + r"\?day=2022-12-08$"), payload={"Prices": []})
        config = {**ENERGYZERO, "query": {"day": "{date}"}}
        start = local_day_window(date(2022, 12, 7), "Europe/Amsterdam")[0]
        with structlog.testing.capture_logs() as logs:
            slots = await provider.fetch_prices("NL", start, start + 2 * 24 * HOUR, config)
        assert 24 == len(slots)
        assert ["2022-12-07", "2022-12-08"] == sorted(
            query_of(u)["day"] for _, u, _ in made(http_mock)
        )
        assert ["2022-12-08"] == [
            e["day"] for e in logs if e["event"] == "provider.day_not_published"
        ]

    async def test_an_empty_list_is_not_published_yet(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """No entries: ProviderNotPublishedError, with publish_time the day before when ahead."""
        http_mock.get(PRICES, payload={"Prices": []})
        config = {**ENERGYZERO, "publish_time": "15:00"}
        day = datetime.now(UTC).date() + timedelta(days=5)
        start, end = local_day_window(day, "Europe/Amsterdam")
        with pytest.raises(ProviderNotPublishedError) as caught:
            await provider.fetch_prices("NL", start, end, config)
        expected = local_day_window(day - timedelta(days=1), "Europe/Amsterdam")[0] + 15 * HOUR
        assert expected == caught.value.retry_at

    async def test_a_status_listed_as_not_published(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """not_published_statuses = [404] (Energy-Charts' "not yet")."""
        http_mock.get(PRICES, status=404, body=b'{"detail":"no data"}')
        config = {**ENERGYZERO, "not_published_statuses": [404]}
        with pytest.raises(ProviderNotPublishedError):
            await provider.fetch_prices("NL", utc(2026, 1, 1), utc(2026, 1, 2), config)

    async def test_header_secrets_come_from_the_environment(
        self, provider: Any, http_mock: aioresponses, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """ "Bearer ${NAME}" is sent with the variable's value, read at fetch time."""
        monkeypatch.setenv("PRICES_TOKEN", SECRET)
        http_mock.get(PRICES, body=fixture_bytes("energyzero_today_energy.json"))
        config = {**ENERGYZERO, "headers": {"Authorization": "Bearer ${PRICES_TOKEN}"}}
        await provider.fetch_prices("NL", utc(2022, 12, 7), utc(2022, 12, 8), config)
        ((_, _, sent),) = made(http_mock)
        assert f"Bearer {SECRET}" == sent["headers"]["Authorization"]

    async def test_a_missing_variable_is_a_config_error_naming_it(
        self, provider: Any, http_mock: aioresponses, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An unset variable fails the fetch before any request, naming the variable."""
        monkeypatch.delenv("PRICES_TOKEN", raising=False)
        config = {**ENERGYZERO, "headers": {"X-Api-Key": "${PRICES_TOKEN}"}}
        with pytest.raises(ProviderConfigError, match="PRICES_TOKEN is not set"):
            await provider.fetch_prices("NL", utc(2022, 12, 7), utc(2022, 12, 8), config)
        assert [] == made(http_mock)

    async def test_a_refused_secret_is_not_in_the_error_or_logs(
        self, provider: Any, http_mock: aioresponses, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """401: ProviderAuthError; neither it nor any log event carries the secret."""
        monkeypatch.setenv("PRICES_TOKEN", SECRET)
        http_mock.get(PRICES, status=401, body=b"unauthorised")
        config = {
            **ENERGYZERO,
            "headers": {"X-Api-Key": "${PRICES_TOKEN}"},
            "query": {**ENERGYZERO["query"], "api_key": "${PRICES_TOKEN}"},
        }
        with structlog.testing.capture_logs() as logs, pytest.raises(ProviderAuthError) as caught:
            await provider.fetch_prices("NL", utc(2022, 12, 7), utc(2022, 12, 8), config)
        assert SECRET not in str(caught.value)
        assert SECRET not in repr(logs)

    async def test_post_with_a_json_body(
        self, provider: Any, http_mock: aioresponses, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """POST: placeholders and ${NAME} filled in the body's strings, GraphQL braces kept."""
        monkeypatch.setenv("HOME_ID", "home-42")
        http_mock.post(PRICES, payload={"data": {"prices": [
            {"startsAt": "2026-01-05T00:00:00+01:00", "total": 0.2},
            {"startsAt": "2026-01-05T01:00:00+01:00", "total": 0.3},
        ]}})  # fmt: skip
        query = '{ viewer { home(id: "${HOME_ID}") { prices(from: "{start}") { total } } } }'
        config = {
            **ENERGYZERO,
            "method": "post",
            "query": None,
            "body": {"query": query, "variables": {"day": "{date}"}},
            "items": "data.prices",
            "start": "startsAt",
            "value": "total",
            "timezone": "Europe/Berlin",
        }
        slots = await provider.fetch_prices("SE", utc(2026, 1, 4, 23), utc(2026, 1, 5, 1), config)
        assert [20.0, 30.0] == [s.price_pence for s in slots]
        ((method, _, sent),) = made(http_mock)
        assert "POST" == method
        assert {
            "query": '{ viewer { home(id: "home-42") { prices(from: "2026-01-04T23:00:00Z") '
            "{ total } } } }",
            "variables": {"day": "2026-01-05"},
        } == sent["json"]


class TestPacing:
    async def test_answers_are_reused_for_cache_seconds(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """The same request within cache_seconds is answered from the last answer."""
        http_mock.get(PRICES, body=fixture_bytes("energyzero_today_energy.json"), repeat=True)
        config = {**ENERGYZERO, "cache_seconds": 300}
        for _ in range(3):
            await provider.fetch_prices("NL", utc(2022, 12, 7), utc(2022, 12, 7, 12), config)
        assert 1 == len(made(http_mock))
        provider.fake_time.now += 301
        await provider.fetch_prices("NL", utc(2022, 12, 7), utc(2022, 12, 7, 12), config)
        assert 2 == len(made(http_mock))

    async def test_an_answer_without_entries_is_not_kept(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Not published yet: the next fetch asks again at once."""
        http_mock.get(PRICES, payload={"Prices": []})
        http_mock.get(PRICES, body=fixture_bytes("energyzero_today_energy.json"))
        config = {**ENERGYZERO, "cache_seconds": 300}
        with pytest.raises(ProviderNotPublishedError):
            await provider.fetch_prices("NL", utc(2022, 12, 7), utc(2022, 12, 8), config)
        slots = await provider.fetch_prices("NL", utc(2022, 12, 7), utc(2022, 12, 8), config)
        assert 23 == len(slots)

    async def test_requests_to_one_host_are_spaced(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Two days asked one by one ({date}) start request_spacing_seconds apart."""
        body = fixture("energyzero_today_energy.json")
        http_mock.get(PRICES, payload=body, repeat=True)
        config = {**ENERGYZERO, "query": {"day": "{date}"}, "request_spacing_seconds": 2}
        start = local_day_window(date(2022, 12, 7), "Europe/Amsterdam")[0]
        await provider.fetch_prices("NL", start, start + 48 * HOUR, config)
        assert [2.0] == provider.fake_time.waits


# -- two steps: an index, then one request per value (smard.de) ------------------------------

SMARD = "https://www.smard.de/app/chart_data/4169/DE-LU"
SMARD_INDEX = f"{SMARD}/index_hour.json"
#: smard.de's DE-LU hourly prices as a user configures them (README).
SMARD_CONFIG: dict[str, Any] = {
    "region": "DE-LU",
    "index_url": SMARD_INDEX,
    "index_items": "timestamps[-2:]",
    "url": f"{SMARD}/4169_DE-LU_hour_{{index}}.json",
    "items": "series",
    "start": "[0]",
    "value": "[1]",
    "time_format": "epoch_ms",
    "unit": "per_mwh",
    "timezone": "Europe/Berlin",
    "cache_seconds": 0,
    "request_spacing_seconds": 0,
    **FAST,
}
#: The Berlin days 10 and 11 Dec 2024, which the built smard-style file holds.
SMARD_WINDOW = (utc(2024, 12, 9, 23), utc(2024, 12, 11, 23))
WEEK_MS = 7 * 24 * 3600 * 1000


def smard_files() -> tuple[list[int], dict[int, dict[str, Any]]]:
    """The built smard-style series cut in two "files" (10 Dec; 11 Dec and 24 null hours),
    each named by its first time, and an index listing an older file before them."""
    series = fixture("smard_style_4169_DE-LU_hour_built.json")["series"]
    first, second = series[:24], series[24:]
    files = {first[0][0]: {"series": first}, second[0][0]: {"series": second}}
    return [first[0][0] - WEEK_MS, first[0][0], second[0][0]], files


def smard_file_url(stamp: int | str) -> str:
    return f"{SMARD}/4169_DE-LU_hour_{stamp}.json"


def exactly(url: str) -> re.Pattern[str]:
    return re.compile(re.escape(url) + r"$")


def mock_smard(
    http_mock: aioresponses, index: Any, files: dict[int, dict[str, Any]], **options: Any
) -> None:
    http_mock.get(exactly(SMARD_INDEX), payload=index, **options)
    for stamp, body in files.items():
        http_mock.get(exactly(smard_file_url(stamp)), payload=body, **options)


def paths(http_mock: aioresponses) -> list[str]:
    return sorted(str(url.path).rsplit("/", 1)[-1] for _, url, _ in made(http_mock))


class TestTwoSteps:
    async def test_smard_index_then_the_last_two_files(
        self, provider: Any, http_mock: aioresponses, plugin: Any
    ) -> None:
        """timestamps[-2:]: the index, then the two newest files; read as the whole series."""
        stamps, files = smard_files()
        mock_smard(http_mock, {"timestamps": stamps}, files)
        slots = await provider.fetch_prices("DE-LU", *SMARD_WINDOW, SMARD_CONFIG)
        whole = parse(
            plugin,
            fixture("smard_style_4169_DE-LU_hour_built.json"),
            items="series",
            start="[0]",
            value="[1]",
            time_format="epoch_ms",
            unit="per_mwh",
        )
        assert whole == slots
        assert 48 == len(slots)
        expected = sorted(f"4169_DE-LU_hour_{s}.json" for s in stamps[1:])
        assert sorted(["index_hour.json", *expected]) == paths(http_mock)

    async def test_null_hours_are_missing_slots_never_zero(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """The second file's 24 null hours (12 Dec) give no slots, and no price is 0."""
        stamps, files = smard_files()
        mock_smard(http_mock, {"timestamps": stamps}, files)
        start, end = SMARD_WINDOW[0], SMARD_WINDOW[1] + 24 * HOUR
        slots = await provider.fetch_prices("DE-LU", start, end, SMARD_CONFIG)
        assert (48, SMARD_WINDOW[1]) == (len(slots), slots[-1].valid_to)
        assert all(slot.price_pence != 0 for slot in slots)

    def test_a_repeated_entry_is_taken_once(self, plugin: Any) -> None:
        """Files overlapping by an hour of the same price (or null in one) read as one."""
        hours = [[1733785200000 + n * 3600000, 90.0 + n] for n in range(4)]
        settings = plugin.FIELDS.parse(SMARD_CONFIG)
        same = plugin.parse_answers([{"series": hours[:3]}, {"series": hours[2:]}], settings)
        assert [9.0, 9.1, 9.2, 9.3] == [s.price_pence for s in same]
        null_first = plugin.parse_answers(
            [{"series": [*hours[:2], [hours[2][0], None]]}, {"series": hours[2:]}], settings
        )
        assert same == null_first

    def test_the_autumn_clock_change_across_two_files(self, plugin: Any) -> None:
        """Sunday 25 Oct 2026 (100 quarter-hours) in one weekly file, Monday in the next."""
        sunday, monday = local_day_window(date(2026, 10, 25), "Europe/Berlin")
        end = local_day_window(date(2026, 10, 26), "Europe/Berlin")[1]
        quarter = timedelta(minutes=15)

        def series(first: datetime, last: datetime) -> dict[str, Any]:
            count = (last - first) // quarter
            return {"series": [[int((first + quarter * n).timestamp() * 1000), 50 + n % 4]
                               for n in range(count)]}  # fmt: skip

        settings = plugin.FIELDS.parse({**SMARD_CONFIG, "slot_minutes": 15})
        slots = plugin.parse_answers([series(sunday, monday), series(monday, end)], settings)
        assert (196, sunday, end) == (len(slots), slots[0].valid_from, slots[-1].valid_to)
        assert 100 == sum(s.valid_from < monday for s in slots)
        assert {quarter} == {s.duration for s in slots}

    def test_two_prices_for_one_start_refuse_all(self, plugin: Any) -> None:
        """The same hour with another price in the next file: a data error, no slots."""
        hours = [[1733785200000 + n * 3600000, 90.0 + n] for n in range(4)]
        settings = plugin.FIELDS.parse(SMARD_CONFIG)
        other = [[hours[2][0], 50.0], *hours[3:]]
        with pytest.raises(ProviderDataError, match="differently"):
            plugin.parse_answers([{"series": hours[:3]}, {"series": other}], settings)

    @pytest.mark.parametrize(
        ("index", "items", "match"),
        [
            ({"timestamps": {"a": 1}}, "timestamps", "not a list"),
            ({"stamps": [1]}, "timestamps", "matched nothing"),
            ({"timestamps": [1733785200000, None]}, "timestamps", "not a string or a whole"),
            ({"timestamps": [True]}, "timestamps", "not a string or a whole"),
            ({"timestamps": [{"t": 1}]}, "timestamps", "not a string or a whole"),
            ({"timestamps": [1.5]}, "timestamps", "not a string or a whole"),
            ({"timestamps": list(range(5))}, "timestamps", "5 values, at most 4"),
            ({"timestamps": "x"}, "sum(timestamps)", "failed on the answer"),
        ],
    )
    async def test_a_bad_index_refuses_the_fetch(
        self, provider: Any, http_mock: aioresponses, index: Any, items: str, match: str
    ) -> None:
        """An index the expression cannot read: a data error, and no file is asked."""
        http_mock.get(exactly(SMARD_INDEX), payload=index)
        config = {**SMARD_CONFIG, "index_items": items}
        with pytest.raises(ProviderDataError, match=match):
            await provider.fetch_prices("DE-LU", *SMARD_WINDOW, config)
        assert ["index_hour.json"] == paths(http_mock)

    async def test_an_index_not_json_is_a_data_error(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A maintenance page instead of the index: refused whole."""
        http_mock.get(exactly(SMARD_INDEX), body=b"<html>Wartung", content_type="text/html")
        with pytest.raises(ProviderDataError, match="not JSON"):
            await provider.fetch_prices("DE-LU", *SMARD_WINDOW, SMARD_CONFIG)

    async def test_an_empty_index_is_not_published_yet(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """An index listing nothing: ProviderNotPublishedError, never price 0."""
        http_mock.get(exactly(SMARD_INDEX), payload={"timestamps": []})
        with pytest.raises(ProviderNotPublishedError, match="lists nothing"):
            await provider.fetch_prices("DE-LU", *SMARD_WINDOW, SMARD_CONFIG)

    async def test_a_missing_file_fails_the_whole_fetch(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A file the index lists answers 404: the fetch fails, no half result."""
        stamps, files = smard_files()
        newest = stamps[-1]
        mock_smard(http_mock, {"timestamps": stamps}, {stamps[1]: files[stamps[1]]})
        http_mock.get(exactly(smard_file_url(newest)), status=404, body=b"Not Found")
        with pytest.raises(ProviderNotFoundError):
            await provider.fetch_prices("DE-LU", *SMARD_WINDOW, SMARD_CONFIG)

    async def test_a_file_not_published_yet_is_skipped(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """With not_published_statuses = [404] (or an empty series) a file not out yet is
        skipped and logged; the other file's prices are used."""
        stamps, files = smard_files()
        mock_smard(http_mock, {"timestamps": stamps}, {stamps[1]: files[stamps[1]]})
        http_mock.get(exactly(smard_file_url(stamps[-1])), status=404, body=b"Not Found")
        config = {**SMARD_CONFIG, "not_published_statuses": [404]}
        with structlog.testing.capture_logs() as logs:
            slots = await provider.fetch_prices("DE-LU", *SMARD_WINDOW, config)
        assert (24, SMARD_WINDOW[0] + 24 * HOUR) == (len(slots), slots[-1].valid_to)
        assert [str(stamps[-1])] == [
            e["index"] for e in logs if e["event"] == "provider.index_not_published"
        ]

    async def test_no_file_with_entries_is_not_published(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Every listed file empty: ProviderNotPublishedError."""
        stamps, _ = smard_files()
        empty = {stamp: {"series": []} for stamp in stamps[1:]}
        mock_smard(http_mock, {"timestamps": stamps}, empty)
        with pytest.raises(ProviderNotPublishedError):
            await provider.fetch_prices("DE-LU", *SMARD_WINDOW, SMARD_CONFIG)

    async def test_an_in_house_api_with_index_in_the_query(
        self, provider: Any, http_mock: aioresponses, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """{index} in a query value; string values; the index default @ (a bare list); the
        key header goes with the index request too."""
        monkeypatch.setenv("PRICES_TOKEN", SECRET)
        http_mock.get(exactly("https://prices.example.test/weeks"), payload=["2026-W01", "W/2"])
        for week, hour in (("2026-W01", 0), ("W/2", 1)):
            http_mock.get(
                exactly(f"{API}?week={week}"),
                payload=[{"t": f"2026-01-01T0{hour}:00:00Z", "v": 10 + hour}],
            )
        config = {
            **ENERGYZERO,
            "index_url": "https://prices.example.test/weeks",
            "query": {"week": "{index}"},
            "items": "@",
            "start": "t",
            "value": "v",
            "unit": "minor_per_kwh",
            "slot_minutes": 60,
            "headers": {"X-Api-Key": "${PRICES_TOKEN}"},
        }
        slots = await provider.fetch_prices("X", utc(2026, 1, 1), utc(2026, 1, 1, 2), config)
        assert [10.0, 11.0] == [s.price_pence for s in slots]
        sent = made(http_mock)
        assert 3 == len(sent)
        assert all(kwargs["headers"]["X-Api-Key"] == SECRET for _, _, kwargs in sent)
        assert {"2026-W01", "W/2"} == {query_of(u)["week"] for _, u, _ in sent if u.query}

    async def test_index_and_files_are_cached_and_spaced(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """cache_seconds keeps the index and the files; requests are spaced as one host's."""
        stamps, files = smard_files()
        mock_smard(http_mock, {"timestamps": stamps}, files, repeat=True)
        config = {**SMARD_CONFIG, "cache_seconds": 300, "request_spacing_seconds": 2}
        for _ in range(2):
            await provider.fetch_prices("DE-LU", *SMARD_WINDOW, config)
        assert 3 == len(made(http_mock))
        assert [2.0, 2.0] == provider.fake_time.waits


class TestTwoStepConfig:
    @pytest.mark.parametrize(
        ("changes", "key"),
        [
            ({"index_url": None}, "url"),
            ({"index_url": None, "url": API, "query": {"w": "{index}"}}, "query.w"),
            ({"url": f"{SMARD}/latest.json"}, "index_url"),
            ({"index_url": f"{SMARD}/index_{{index}}.json"}, "index_url"),
            ({"index_url": "ftp://smard.example/index.json"}, "index_url"),
            ({"index_url": f"{SMARD}/index.json?k=${{KEY}}"}, "index_url"),
            ({"index_url": f"{SMARD}/index_{{strat}}.json"}, "index_url"),
            ({"url": f"{SMARD}/4169_DE-LU_hour_{{index:%Y}}.json"}, "url"),
            ({"index_items": "timestamps[-2:"}, "index_items"),
        ],
    )
    def test_a_bad_two_step_config_names_the_key(
        self, plugin: Any, changes: dict[str, Any], key: str
    ) -> None:
        """{index} and index_url come together; index_url is a URL like url."""
        config = {k: v for k, v in {**SMARD_CONFIG, **changes}.items() if v is not None}
        errors = plugin.HttpJsonProvider().validate_config(config)
        assert key in errors, errors

    def test_index_items_alone_is_refused(self, plugin: Any) -> None:
        """index_items without index_url says so."""
        errors = plugin.HttpJsonProvider().validate_config(
            {**ENERGYZERO, "index_items": "timestamps[-2:]"}
        )
        assert {"index_items": "only with index_url"} == errors

    def test_the_smard_config_is_valid(self, plugin: Any) -> None:
        """The README's smard example validates clean."""
        assert {} == plugin.HttpJsonProvider().validate_config(SMARD_CONFIG)

    def test_identity_and_notes_name_the_index(self, plugin: Any) -> None:
        """index_url and index_items decide which prices (identity); notes show the index;
        a config without them keeps its identity."""
        provider = plugin.HttpJsonProvider()
        base = provider.source_identity("DE-LU", SMARD_CONFIG)
        for changed in ({"index_items": "timestamps[-1:]"}, {"index_url": SMARD + "/i.json"}):
            assert base != provider.source_identity("DE-LU", {**SMARD_CONFIG, **changed})
        assert "index" not in provider.source_identity("NL", ENERGYZERO)
        notes = provider.source_notes("DE-LU", SMARD_CONFIG)
        assert {"api": f"{SMARD}/4169_DE-LU_hour_{{index}}.json", "index": SMARD_INDEX} == notes
