"""The Energy-Charts plugin: parsing recorded answers, its requests, and a loopback stand-in."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from aioresponses import aioresponses
from yarl import URL

from energyd.exceptions import (
    ProviderDataError,
    ProviderEmptyError,
    ProviderRateLimitError,
)
from energyd.providers.base import EnergyPriceSlot, local_day_window
from energyd.providers.loader import EnergyProviderLoader, bundled_plugin_dir
from energyd.providers.validation import validate_slots
from tests.support.fake_energy_charts import (
    FIXTURES,
    FakeEnergyChartsState,
    RunningFake,
    day_starts,
    load_fixture,
    price_body,
    serve,
)
from tests.support.plugins import load_bundled_plugin

API = "https://api.energy-charts.info"
PRICE = re.compile(re.escape(API + "/price") + r"(\?.*)?$")
HOUR = timedelta(hours=1)
QUARTER = timedelta(minutes=15)
FAST = {"region": "DE-LU", "retry_base_seconds": 0.001, "retry_budget_seconds": 5}

#: The recorded DE-LU prices of 10 and 11 Dec 2024 in EUR cents/kWh (EUR/MWh / 10).
DEC_10_11_CENTS = [
    9.285, 8.933, 8.65, 8.37, 8.721, 8.907, 11.206, 13.518, 16.976, 18.214, 18.475, 18.65,
    18.062, 19.078, 18.941, 19.764, 20.018, 20.238, 18.1, 18.017, 16.66, 15.115, 13.794, 12.137,
    11.594, 10.822, 10.731, 10.617, 10.869, 12.531, 16.342, 29.55, 36.897, 37.712, 34.864,
    37.999, 38.587, 40.491, 37.196, 38.094, 43.787, 44.508, 35.992, 34.125, 20.682, 17.12, 15.0,
    13.596,
]  # fmt: skip


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def berlin_days(first: date, last: date) -> tuple[datetime, datetime]:
    return local_day_window(first, "Europe/Berlin")[0], local_day_window(last, "Europe/Berlin")[1]


@pytest.fixture(scope="module")
def plugin() -> Any:
    """The bundled plugin module, loaded standalone like the daemon does."""
    return load_bundled_plugin("energy_charts_provider.py")


@pytest.fixture
async def provider(plugin: Any, http_mock: aioresponses) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession() as session:
        instance = plugin.EnergyChartsProvider()
        instance.attach(session, timeout=5.0)
        yield instance


def requested(http_mock: aioresponses) -> list[URL]:
    return [url for (_, url) in http_mock.requests]


class TestParsingRecordedAnswers:
    def test_two_hourly_days_become_48_slots_with_exact_prices(self, plugin: Any) -> None:
        """10-11 Dec 2024 DE-LU: 48 hourly slots, local midnight to midnight, c/kWh."""
        slots = plugin.parse_prices(load_fixture("price_DE-LU_2024-12-10_11_hourly"))
        assert 48 == len(slots)
        assert DEC_10_11_CENTS == [slot.price_pence for slot in slots]
        assert berlin_days(date(2024, 12, 10), date(2024, 12, 11)) == (
            slots[0].valid_from,
            slots[-1].valid_to,
        )
        assert {HOUR} == {slot.duration for slot in slots}
        assert {"EUR"} == {slot.currency for slot in slots}

    def test_an_old_answer_without_licence_and_with_negative_prices(self, plugin: Any) -> None:
        """1 Jan 2023 (unit "EUR/MWh", no license_info): 24 slots, negatives kept as they are."""
        slots = plugin.parse_prices(load_fixture("price_DE-LU_2023-01-01_hourly_openWB"))
        assert 24 == len(slots)
        assert (
            EnergyPriceSlot(utc(2022, 12, 31, 23), utc(2023, 1, 1, 0), -0.517, "EUR") == (slots[0])
        )
        assert [-0.517, -0.107, -0.147] == [slot.price_pence for slot in slots[:3]]
        assert 3.5 == slots[-1].price_pence

    def test_the_slots_pass_the_daemons_validation(self, plugin: Any) -> None:
        """What the parser returns is what the store accepts."""
        slots = plugin.parse_prices(load_fixture("price_DE-LU_2024-12-10_11_hourly"))
        start, end = berlin_days(date(2024, 12, 10), date(2024, 12, 11))
        assert slots == validate_slots(slots, start, end, currency="EUR")


class TestQuarterHours:
    @pytest.mark.parametrize(
        ("day", "points"),
        [(date(2025, 3, 30), 92), (date(2025, 10, 26), 100), (date(2025, 11, 3), 96)],
    )
    def test_quarter_hour_days_have_92_96_or_100_slots(
        self, plugin: Any, day: date, points: int
    ) -> None:
        """900 s steps: 92 slots on the spring change, 100 on the autumn one, 96 otherwise."""
        starts = day_starts(day, QUARTER)
        body = price_body(starts, [50.0 + n for n in range(len(starts))])
        slots = plugin.parse_prices(body)
        assert points == len(slots) == len(starts)
        assert {QUARTER} == {slot.duration for slot in slots}
        assert local_day_window(day, "Europe/Berlin") == (slots[0].valid_from, slots[-1].valid_to)
        assert all(a.valid_to == b.valid_from for a, b in itertools.pairwise(slots))

    def test_the_last_point_lasts_one_step(self, plugin: Any) -> None:
        """The step comes from the data; the last slot has the same length."""
        slots = plugin.parse_prices(
            price_body([utc(2025, 10, 1, 22), utc(2025, 10, 1, 22, 15)], [1, 2])
        )
        assert utc(2025, 10, 1, 22, 30) == slots[-1].valid_to

    def test_a_null_price_is_a_gap_never_zero(self, plugin: Any) -> None:
        """A missing price leaves its slot out."""
        starts = [utc(2025, 10, 1, 22) + QUARTER * n for n in range(3)]
        slots = plugin.parse_prices(price_body(starts, [10.0, None, 30.0]))
        assert [starts[0], starts[2]] == [slot.valid_from for slot in slots]


class TestMalformedAnswers:
    @pytest.mark.parametrize(
        "body",
        [
            [1, 2],
            {"price": [1.0]},
            {"unix_seconds": [1733785200], "price": "92.85"},
            {"unix_seconds": [1733785200, 1733788800], "price": [1.0]},
            {"unix_seconds": [1733788800, 1733785200], "price": [1.0, 2.0]},
            {"unix_seconds": ["1733785200"], "price": [1.0]},
            {"unix_seconds": [1733785200], "price": [True]},
            {"unix_seconds": [1733785200], "price": [1.0], "unit": "EUR / kWh"},
        ],
        ids=[
            "not-object",
            "no-times",
            "prices-not-list",
            "lengths",
            "descending",
            "time-string",
            "price-bool",
            "unit",
        ],
    )
    def test_garbage_fails_the_whole_answer(self, plugin: Any, body: Any) -> None:
        """Anything malformed is a ProviderDataError; nothing half-parsed is returned."""
        with pytest.raises(ProviderDataError):
            plugin.parse_prices(body)


class TestRequests:
    async def test_one_request_covers_the_local_days_of_the_window(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A window inside 10-11 Dec asks once, from local midnight to the end of the 11th."""
        http_mock.get(PRICE, body=(load_fixture_bytes("price_DE-LU_2024-12-10_11_hourly")))
        slots = await provider.fetch_prices(
            "DE-LU", utc(2024, 12, 10, 5), utc(2024, 12, 11, 7), {"region": "DE-LU"}
        )
        (url,) = requested(http_mock)
        expected = {
            "bzn": "DE-LU",
            "start": "2024-12-10T00:00+01:00",
            "end": "2024-12-11T23:59+01:00",
        }
        assert expected == dict(url.query)
        assert (utc(2024, 12, 10, 5), utc(2024, 12, 11, 7)) == (
            slots[0].valid_from,
            slots[-1].valid_to,
        )

    async def test_the_zone_is_normalised(self, provider: Any, http_mock: aioresponses) -> None:
        """ "de_lu" is asked for as DE-LU."""
        http_mock.get(PRICE, body=load_fixture_bytes("price_DE-LU_2024-12-10_11_hourly"))
        start, end = berlin_days(date(2024, 12, 10), date(2024, 12, 10))
        await provider.fetch_prices("de_lu", start, end, {"region": "de_lu"})
        assert "DE-LU" == requested(http_mock)[0].query["bzn"]

    async def test_404_means_not_published_yet(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """HTTP 404 is "not yet", never an error storm and never a zero price."""
        http_mock.get(PRICE, status=404, body="no content", content_type="text/plain")
        start, end = berlin_days(date(2026, 11, 26), date(2026, 11, 26))
        with pytest.raises(ProviderEmptyError, match="not published yet"):
            await provider.fetch_prices("DE-LU", start, end, {"region": "DE-LU"})

    async def test_the_licence_is_kept_and_logged_once(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """license_info is surfaced per zone (beside health: ``source_notes``) and logged
        only when new; the second fetch within a minute is the first one's answer."""
        http_mock.get(
            PRICE, body=load_fixture_bytes("price_DE-LU_2024-12-10_11_hourly"), repeat=True
        )
        start, end = berlin_days(date(2024, 12, 10), date(2024, 12, 11))
        assert {} == provider.source_notes("DE-LU", {"region": "DE-LU"})
        with structlog.testing.capture_logs() as logs:
            for _ in range(2):
                await provider.fetch_prices("DE-LU", start, end, {"region": "DE-LU"})
        licence = load_fixture("price_DE-LU_2024-12-10_11_hourly")["license_info"]
        assert {"DE-LU": licence} == provider.license_info
        assert {"license": licence} == provider.source_notes("de_lu", {"region": "DE-LU"})
        assert 1 == sum(len(calls) for calls in http_mock.requests.values())
        notes = [e for e in logs if e["event"] == "energy_charts.license"]
        assert [("DE-LU", licence, "energy_charts")] == [
            (e["zone"], e["license_info"], e["provider"]) for e in notes
        ]

    async def test_a_deprecated_answer_is_warned_about_once(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """deprecated: true is a warning (once per zone), and the prices are still used."""
        body = {**load_fixture("price_DE-LU_2024-12-10_11_hourly"), "deprecated": True}
        http_mock.get(PRICE, payload=body, repeat=True)
        start, end = berlin_days(date(2024, 12, 10), date(2024, 12, 11))
        with structlog.testing.capture_logs() as logs:
            for _ in range(2):
                assert 48 == len(await provider.fetch_prices("DE-LU", start, end, FAST))
        warnings = [e for e in logs if e["event"] == "energy_charts.deprecated"]
        assert [("warning", "DE-LU")] == [(e["log_level"], e["zone"]) for e in warnings]

    async def test_a_429_beyond_the_budget_is_raised_with_its_retry_after(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Energy-Charts throttles hard: the planner gets Retry-After to wait."""
        http_mock.get(PRICE, status=429, headers={"Retry-After": "600"})
        start, end = berlin_days(date(2024, 12, 10), date(2024, 12, 10))
        with pytest.raises(ProviderRateLimitError) as caught:
            await provider.fetch_prices("DE-LU", start, end, FAST)
        assert 600 == caught.value.retry_after


class TestConfigAndMetadata:
    def test_the_bidding_zones_are_the_regions(self, plugin: Any) -> None:
        """Canonical zone codes, each with a name."""
        meta = plugin.EnergyChartsProvider().get_metadata()
        assert {"DE-LU", "AT", "FR", "NL", "BE", "CH", "DK1", "SE3", "IT-North"} <= set(
            meta.supported_regions
        )
        assert set(meta.supported_regions) == set(meta.region_names)
        assert 45 == len(meta.supported_regions)

    def test_the_market_rhythm(self, plugin: Any) -> None:
        """EUR, Berlin days from midnight, results around 13:00, 15-minute slots."""
        meta = plugin.EnergyChartsProvider().get_metadata()
        assert ("energy_charts", "EUR", "Europe/Berlin", "00:00", "13:00", 15, False) == (
            meta.provider_id,
            meta.currency,
            meta.market_timezone,
            meta.day_start_local,
            meta.publish_time_local,
            meta.slot_minutes,
            meta.requires_api_key,
        )

    def test_the_schema_is_published(self, plugin: Any) -> None:
        """config_schema comes from the kit's fields: region required, base_url a URI."""
        schema = plugin.EnergyChartsProvider().get_metadata().config_schema
        assert ["region"] == schema["required"]
        assert {"type": "string", "format": "uri", "default": API} == {
            k: v for k, v in schema["properties"]["base_url"].items() if k != "description"
        }

    @pytest.mark.parametrize(
        ("config", "errors"),
        [
            ({"region": "DE-LU"}, set()),
            ({"region": "it-north"}, set()),
            ({"region": "DE-LU", "base_url": "http://127.0.0.1:8081/"}, set()),
            ({}, {"region"}),
            ({"region": "DE"}, {"region"}),
            ({"region": "DE-LU", "base_url": "ftp://x"}, {"base_url"}),
            ({"region": "DE-LU", "bzn": "AT"}, {"bzn"}),
        ],
    )
    def test_validate_config(self, plugin: Any, config: dict[str, Any], errors: set[str]) -> None:
        """Good configs validate clean; each bad key is named."""
        assert errors == set(plugin.EnergyChartsProvider().validate_config(config))

    def test_the_plugin_stays_small_and_standalone(self) -> None:
        """At most 220 lines, importing only the standard library and the base."""
        source = (bundled_plugin_dir() / "energy_charts_provider.py").read_text(encoding="utf-8")
        imports = {
            m.group(1).split(".")[0]
            for m in re.finditer(r"^(?:from|import) ([\w.]+)", source, re.MULTILINE)
        }
        assert len(source.splitlines()) <= 220
        assert {"__future__", "collections", "datetime", "typing", "providers"} == imports


def load_fixture_bytes(name: str) -> bytes:
    """A recorded body exactly as stored."""
    return (FIXTURES / f"{name}.json").read_bytes()


@pytest.fixture
async def stand_in() -> AsyncIterator[RunningFake]:
    async with serve() as running:
        yield running


@pytest.fixture
async def loaded(tmp_path: Path) -> AsyncIterator[Any]:
    """The plugin as the daemon loads it: deployed from the bundle by the real loader."""
    loader = EnergyProviderLoader(tmp_path / "config", bundled_plugin_dir())
    loader.deploy_bundled_if_empty()
    loader.load_all()
    async with aiohttp.ClientSession() as session:
        provider = loader.get("energy_charts")
        provider.attach(session, timeout=5.0)
        yield provider


def config_for(fake: RunningFake, **extra: Any) -> dict[str, Any]:
    return {"region": "DE-LU", "base_url": fake.url, "retry_base_seconds": 0.001, **extra}


class TestAgainstTheStandIn:
    async def test_the_loaded_plugin_fetches_a_quarter_hour_clock_change_day(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        """26 Oct 2025: 100 quarter-hours, fetched through the real loader and HTTP."""
        start, end = berlin_days(date(2025, 10, 26), date(2025, 10, 26))
        slots = await loaded.fetch_prices("DE-LU", start, end, config_for(stand_in))
        assert 100 == len(slots)
        assert slots == validate_slots(slots, start, end, currency="EUR")
        assert 1 == len(stand_in.state.requests)

    async def test_hourly_days_before_the_switch(self, loaded: Any, stand_in: RunningFake) -> None:
        """30 Sep and 1 Oct 2025 in one call: 24 hourly slots, then 96 quarter-hours."""
        start, end = berlin_days(date(2025, 9, 30), date(2025, 10, 1))
        slots = await loaded.fetch_prices("DE-LU", start, end, config_for(stand_in))
        assert [HOUR] * 24 + [QUARTER] * 96 == [slot.duration for slot in slots]

    async def test_an_unpublished_tomorrow_leaves_today(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        """Before the auction result, today is returned and tomorrow is simply missing."""
        start, end = berlin_days(date(2025, 11, 3), date(2025, 11, 4))
        stand_in.state.published_until = local_day_window(date(2025, 11, 4), "Europe/Berlin")[0]
        slots = await loaded.fetch_prices("DE-LU", start, end, config_for(stand_in))
        assert (96, stand_in.state.published_until) == (len(slots), slots[-1].valid_to)

    async def test_a_day_not_published_is_empty(self, loaded: Any, stand_in: RunningFake) -> None:
        """Only the unpublished day asked for: the stand-in says 404, the plugin "not yet"."""
        start, end = berlin_days(date(2025, 11, 4), date(2025, 11, 4))
        stand_in.state.published_until = start
        with pytest.raises(ProviderEmptyError, match="not published yet"):
            await loaded.fetch_prices("DE-LU", start, end, config_for(stand_in))

    async def test_server_errors_are_retried(self, loaded: Any, stand_in: RunningFake) -> None:
        """Two 500s, then the answer: three requests, one success."""
        stand_in.state.faults.extend([500, 503])
        start, end = berlin_days(date(2025, 11, 3), date(2025, 11, 3))
        slots = await loaded.fetch_prices("DE-LU", start, end, config_for(stand_in))
        assert (96, 3) == (len(slots), len(stand_in.state.requests))

    async def test_throttling_reaches_the_caller(self, loaded: Any, stand_in: RunningFake) -> None:
        """A 429 asking for more than the budget is raised with its Retry-After."""
        state: FakeEnergyChartsState = stand_in.state
        state.faults.append(429)
        state.retry_after = "120"
        start, end = berlin_days(date(2025, 11, 3), date(2025, 11, 3))
        with pytest.raises(ProviderRateLimitError) as caught:
            await loaded.fetch_prices(
                "DE-LU", start, end, config_for(stand_in, retry_budget_seconds=10)
            )
        assert 120 == caught.value.retry_after

    async def test_the_health_check_makes_one_attempt(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        """health_check does not retry: a 500 is an error at once."""
        stand_in.state.faults.extend([500, 500, 500])
        health = await loaded.health_check("DE-LU", config_for(stand_in))
        assert ("error", 1) == (health.state.value, len(stand_in.state.requests))
