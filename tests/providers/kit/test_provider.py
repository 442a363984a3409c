"""KitProvider: metadata, config and the fetch template from class attributes and one method."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar

import aiohttp
import pytest
from aioresponses import aioresponses

from energyd.exceptions import (
    ProviderAuthError,
    ProviderConfigError,
    ProviderEmptyError,
    ProviderServerError,
)
from energyd.providers.base import (
    RETRY_FIELDS,
    Choice,
    ConfigFields,
    EnergyPriceSlot,
    EnergyProviderMetadata,
    HealthState,
    KitProvider,
    Settings,
    Url,
    local_day_window,
    split_into_slots,
)

API = "https://day.test"
ZONE = "Europe/Berlin"


class DayProvider(KitProvider):
    """One GET per market day: ``/day/<date>?zone=..`` -> {"price": p} for the whole day."""

    metadata = EnergyProviderMetadata(
        provider_id="day_demo",
        display_name="Day demo",
        version="1.0.0",
        supported_regions=("N", "S"),
        currency="EUR",
        slot_minutes=60,
        market_timezone=ZONE,
        publish_time_local="13:00",
    )
    config_fields = ConfigFields(
        region=Choice(("N", "S"), required=True, normalise=str.upper),
        base_url=Url(default=API),
        **RETRY_FIELDS,
    )
    days: ClassVar[list[date]] = []

    async def fetch_day(self, region: str, day: date, settings: Settings) -> list[EnergyPriceSlot]:
        type(self).days.append(day)
        body = await self.api(settings).get_json(
            f"/day/{day.isoformat()}",
            params={"zone": settings.text("region")},
            empty_statuses=(404,),
            expect=dict,
        )
        start, end = local_day_window(day, ZONE)
        return split_into_slots(
            start, end, float(body["price"]), slot=timedelta(hours=1), currency="EUR"
        )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def day_url(day: date) -> re.Pattern[str]:
    return re.compile(re.escape(f"{API}/day/{day.isoformat()}") + r"(\?.*)?$")


FAST = {"region": "n", "retry_base_seconds": 0.001}


@pytest.fixture
async def provider(http_mock: aioresponses) -> AsyncIterator[DayProvider]:
    DayProvider.days = []
    async with aiohttp.ClientSession() as session:
        instance = DayProvider()
        instance.attach(session, timeout=5.0)
        yield instance


class TestDescription:
    def test_metadata_carries_the_schema_of_the_fields(self) -> None:
        """get_metadata is the class metadata with config_schema filled from config_fields."""
        meta = DayProvider().get_metadata()
        assert DayProvider.config_fields.schema() == meta.config_schema
        assert ("day_demo", "EUR", 60) == (meta.provider_id, meta.currency, meta.slot_minutes)

    def test_validate_config_uses_the_same_fields(self) -> None:
        """validate_config reports what the fields refuse."""
        assert {} == DayProvider().validate_config({"region": "s"})
        assert {"region"} == set(DayProvider().validate_config({"region": "W"}))


class TestFetchTemplate:
    async def test_one_call_per_market_day_trimmed_to_the_window(
        self, provider: DayProvider, http_mock: aioresponses
    ) -> None:
        """A window over two Berlin days asks each day once and keeps the overlapping hours."""
        http_mock.get(day_url(date(2025, 3, 29)), payload={"price": 10})
        http_mock.get(day_url(date(2025, 3, 30)), payload={"price": 20})
        slots = await provider.fetch_prices("N", utc(2025, 3, 29, 20), utc(2025, 3, 30, 3), FAST)
        assert [date(2025, 3, 29), date(2025, 3, 30)] == DayProvider.days
        assert [10.0] * 3 + [20.0] * 4 == [slot.price_pence for slot in slots]
        assert (utc(2025, 3, 29, 20), utc(2025, 3, 30, 3)) == (
            slots[0].valid_from,
            slots[-1].valid_to,
        )

    async def test_days_not_published_yet_are_skipped(
        self, provider: DayProvider, http_mock: aioresponses
    ) -> None:
        """Tomorrow answering 404 leaves today's slots."""
        http_mock.get(day_url(date(2025, 10, 26)), payload={"price": 5})
        http_mock.get(day_url(date(2025, 10, 27)), status=404)
        start = local_day_window(date(2025, 10, 26), ZONE)[0]
        end = local_day_window(date(2025, 10, 27), ZONE)[1]
        slots = await provider.fetch_prices("N", start, end, FAST)
        assert 25 == len(slots)

    async def test_nothing_published_is_an_empty_answer(
        self, provider: DayProvider, http_mock: aioresponses
    ) -> None:
        """No day published: ProviderEmptyError, never an empty list taken for prices."""
        http_mock.get(day_url(date(2025, 10, 27)), status=404)
        start, end = local_day_window(date(2025, 10, 27), ZONE)
        with pytest.raises(ProviderEmptyError, match="not published yet"):
            await provider.fetch_prices("N", start, end, FAST)

    async def test_the_region_argument_is_merged_into_the_config(
        self, provider: DayProvider, http_mock: aioresponses
    ) -> None:
        """fetch_prices' region wins over (or stands in for) config["region"]."""
        http_mock.get(day_url(date(2025, 6, 1)), payload={"price": 1})
        start, end = local_day_window(date(2025, 6, 1), ZONE)
        await provider.fetch_prices("s", start, end, {})
        ((_, url),) = list(http_mock.requests)
        assert "S" == url.query["zone"]

    async def test_an_invalid_config_is_a_config_error(self, provider: DayProvider) -> None:
        """fetch_prices with a bad config raises ProviderConfigError naming the field."""
        with pytest.raises(ProviderConfigError) as caught:
            await provider.fetch_prices("W", utc(2025, 6, 1), utc(2025, 6, 2), {})
        assert {"region"} == set(caught.value.errors)

    async def test_naive_windows_are_refused(self, provider: DayProvider) -> None:
        """A naive window is a caller bug."""
        with pytest.raises(ValueError, match="timezone-aware"):
            await provider.fetch_prices("N", datetime(2025, 6, 1), utc(2025, 6, 2), FAST)


class TestDefaults:
    async def test_current_price_is_none_when_not_published(
        self, provider: DayProvider, http_mock: aioresponses
    ) -> None:
        """get_current_price: None instead of an error when the day is not out."""
        now = datetime.now(UTC)
        for offset in (-1, 0, 1):
            http_mock.get(day_url(now.date() + timedelta(days=offset)), status=404, repeat=True)
        assert await provider.get_current_price("N", FAST, now=now) is None

    async def test_health_check_makes_one_attempt(
        self, provider: DayProvider, http_mock: aioresponses
    ) -> None:
        """health_check: no retries, so a 503 is reported at once as an error."""
        pattern = re.compile(re.escape(f"{API}/day/") + r".*")
        http_mock.get(pattern, status=503, repeat=True)
        health = await provider.health_check("N", {"region": "N", "retry_attempts": 5})
        assert HealthState.ERROR == health.state
        assert 1 == len(next(iter(http_mock.requests.values())))

    async def test_health_is_ok_with_a_current_price(
        self, provider: DayProvider, http_mock: aioresponses
    ) -> None:
        """A price for now: ok."""
        http_mock.get(
            re.compile(re.escape(f"{API}/day/") + r".*"), payload={"price": 3}, repeat=True
        )
        health = await provider.health_check("N", {"region": "N"})
        assert (HealthState.OK, "current price available") == (health.state, health.message)


class TestWithoutAnImplementation:
    async def test_a_plugin_without_fetch_day_says_so(self, http_mock: aioresponses) -> None:
        """Neither fetch_day nor fetch_window: NotImplementedError naming the class."""

        class Empty(KitProvider):
            metadata = DayProvider.metadata

        with pytest.raises(NotImplementedError, match="Empty implements neither"):
            await Empty().fetch_prices("N", utc(2025, 6, 1), utc(2025, 6, 2), {"region": "N"})


class CdnProvider(DayProvider):
    """A market whose CDN answers 403 to a burst: trouble on the server's side."""

    server_statuses = frozenset({403})


class TestServerStatuses:
    async def test_the_class_statuses_reach_every_request(self, http_mock: aioresponses) -> None:
        """server_statuses makes a 403 a ProviderServerError carrying the status."""
        http_mock.get(day_url(date(2025, 6, 1)), status=403)
        start, end = local_day_window(date(2025, 6, 1), ZONE)
        async with aiohttp.ClientSession() as session:
            provider = CdnProvider()
            provider.attach(session, timeout=5.0)
            with pytest.raises(ProviderServerError) as caught:
                await provider.fetch_prices("N", start, end, FAST)
        assert 403 == caught.value.status

    async def test_without_them_403_is_an_auth_error(
        self, provider: DayProvider, http_mock: aioresponses
    ) -> None:
        """The default table stands for a plugin that declares none."""
        http_mock.get(day_url(date(2025, 6, 1)), status=403)
        start, end = local_day_window(date(2025, 6, 1), ZONE)
        with pytest.raises(ProviderAuthError):
            await provider.fetch_prices("N", start, end, FAST)
