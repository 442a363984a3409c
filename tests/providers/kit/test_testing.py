"""The conformance suite itself: it passes a good plugin and catches each kind of bad one."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from energyd.exceptions import ProviderError, ProviderNotFoundError
from energyd.providers.base import (
    Choice,
    ConfigFields,
    EnergyPriceProvider,
    EnergyPriceSlot,
    EnergyProviderMetadata,
    KitProvider,
    RetryPolicy,
    Settings,
    Url,
    local_day_window,
    split_into_slots,
)
from energyd.providers.kit.testing import ERROR_CASES, Conformance, Recorded

API = "https://good.test"
ENDPOINT = re.compile(re.escape(API + "/prices") + r"(\?.*)?$")
DAY = date(2025, 6, 1)
WINDOW = local_day_window(DAY, "Europe/Berlin")
META = EnergyProviderMetadata(
    provider_id="good",
    display_name="Good",
    version="1.0.0",
    supported_regions=("X",),
    currency="EUR",
    slot_minutes=60,
    market_timezone="Europe/Berlin",
)


class Good(KitProvider):
    """A correct kit plugin: one GET for the day, one price for all of it."""

    metadata = META
    config_fields = ConfigFields(region=Choice(("X",), required=True), base_url=Url(default=API))
    retry_policy = RetryPolicy(attempts=3, base_delay=0.001)  # retried, quickly

    async def fetch_day(self, region: str, day: date, settings: Settings) -> list[EnergyPriceSlot]:
        body = await self.api(settings).get_json("/prices", params={"day": str(day)}, expect=dict)
        start, end = local_day_window(day, "Europe/Berlin")
        return split_into_slots(
            start, end, float(body["price"]), slot=timedelta(hours=1), currency="EUR"
        )


def case(provider: Any = Good, **changes: Any) -> Conformance:
    base = Conformance(
        provider=provider,
        region="X",
        config={"region": "X"},
        window=WINDOW,
        recorded=[Recorded(ENDPOINT, b'{"price": 12.5}')],
        endpoint=ENDPOINT,
        bad_configs=[{"region": "Y"}],
    )
    return dataclasses.replace(base, **changes)


class Swallower(Good):
    """Turns every failure into an empty list: the suite must notice."""

    async def fetch_prices(
        self, region: str, start_utc: datetime, end_utc: datetime, config: Mapping[str, Any]
    ) -> list[EnergyPriceSlot]:
        try:
            return await super().fetch_prices(region, start_utc, end_utc, config)
        except ProviderError:
            return []


class Naive(Good):
    """Returns naive datetimes."""

    async def fetch_prices(
        self, region: str, start_utc: datetime, end_utc: datetime, config: Mapping[str, Any]
    ) -> list[EnergyPriceSlot]:
        start = start_utc.replace(tzinfo=None)
        return [EnergyPriceSlot(start, start + timedelta(hours=1), 1.0, "EUR")]


class Outside(Good):
    """Returns a slot far outside the window."""

    async def fetch_prices(
        self, region: str, start_utc: datetime, end_utc: datetime, config: Mapping[str, Any]
    ) -> list[EnergyPriceSlot]:
        late = end_utc + timedelta(hours=3)
        return [EnergyPriceSlot(late, late + timedelta(hours=1), 1.0, "EUR")]


class Descending(Good):
    """Returns slots newest first."""

    async def fetch_prices(
        self, region: str, start_utc: datetime, end_utc: datetime, config: Mapping[str, Any]
    ) -> list[EnergyPriceSlot]:
        return list(reversed(await super().fetch_prices(region, start_utc, end_utc, config)))


class WrongCurrency(Good):
    """Says EUR, returns GBP."""

    async def fetch_prices(
        self, region: str, start_utc: datetime, end_utc: datetime, config: Mapping[str, Any]
    ) -> list[EnergyPriceSlot]:
        slots = await super().fetch_prices(region, start_utc, end_utc, config)
        return [dataclasses.replace(slot, currency="GBP") for slot in slots]


class Lenient(Good):
    """Accepts every config."""

    def validate_config(self, config: Mapping[str, Any]) -> dict[str, str]:
        return {}


class PlainV1(EnergyPriceProvider):
    """A contract-only plugin with bad metadata."""

    def get_metadata(self) -> EnergyProviderMetadata:
        return EnergyProviderMetadata(
            "Bad-Id", "Bad", "1", currency="euro", slot_minutes=0, market_timezone="Mars/Base"
        )

    def validate_config(self, config: Mapping[str, Any]) -> dict[str, str]:
        return {}

    async def fetch_prices(
        self, region: str, start_utc: datetime, end_utc: datetime, config: Mapping[str, Any]
    ) -> list[EnergyPriceSlot]:
        return []


class TestAGoodPlugin:
    def test_metadata_and_config_pass(self) -> None:
        """A correct plugin passes the metadata and config checks."""
        assert META.provider_id == case().check_metadata().provider_id
        case().check_config()

    async def test_fetch_passes_and_returns_the_slots(self) -> None:
        """check_fetch returns the slots for further assertions."""
        slots = await case().check_fetch()
        assert (24, {12.5}) == (len(slots), {slot.price_pence for slot in slots})

    @pytest.mark.parametrize("name", list(ERROR_CASES))
    async def test_every_error_case_passes(self, name: str) -> None:
        """The kit maps every failing answer onto the tree."""
        assert isinstance(await case().check_error(name), ProviderError)

    async def test_run_all(self) -> None:
        """run_all runs every check."""
        await case().run_all()


class TestBadPlugins:
    def test_bad_metadata_is_named(self) -> None:
        """Every metadata problem is listed."""
        with pytest.raises(AssertionError) as caught:
            case(PlainV1).check_metadata()
        message = str(caught.value)
        for part in ("provider_id 'Bad-Id'", "currency 'euro'", "slot_minutes 0", "calendar"):
            assert part in message

    def test_a_validator_that_accepts_everything_fails(self) -> None:
        """A bad config must produce errors."""
        with pytest.raises(AssertionError, match="found nothing wrong"):
            case(Lenient).check_config()

    @pytest.mark.parametrize(
        ("provider", "reason"),
        [
            (Naive, "naive datetime"),
            (Outside, "do not overlap the window"),
            (Descending, "not in ascending order"),
            (WrongCurrency, "currency GBP, expected EUR"),
            (PlainV1, "expected a non-empty list"),
        ],
    )
    async def test_bad_slots_fail_check_fetch(self, provider: Any, reason: str) -> None:
        """Naive, outside, unordered, wrong-currency or no slots are each caught."""
        with pytest.raises(AssertionError, match=reason):
            await case(provider).check_fetch()

    async def test_swallowed_errors_fail_check_error(self) -> None:
        """A plugin returning [] on a 500 instead of raising is caught."""
        with pytest.raises(AssertionError, match="returned 0 slots instead of failing"):
            await case(Swallower).check_error("500")

    async def test_a_wrong_error_kind_fails(self) -> None:
        """Expecting another error than the plugin raises is reported with both names."""
        bad = case(expect={"500": ProviderNotFoundError})
        with pytest.raises(
            AssertionError, match=r"raised ProviderServerError.*ProviderNotFoundError"
        ):
            await bad.check_error("500")
