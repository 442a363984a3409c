"""The v1 contract: required methods, and the working defaults of the optional ones."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from energyd.exceptions import ProviderConnectionError, ProviderServerError
from energyd.providers.base import (
    EnergyPriceProvider,
    EnergyPriceSlot,
    EnergyProviderMetadata,
    HealthState,
)

NOW = datetime(2026, 11, 25, 16, 10, tzinfo=UTC)


class Minimal(EnergyPriceProvider):
    """Only the three required methods; ``mode`` steers fetch_prices."""

    def __init__(self, mode: str = "ok") -> None:
        super().__init__()
        self.mode = mode
        self.windows: list[tuple[datetime, datetime]] = []

    def get_metadata(self) -> EnergyProviderMetadata:
        return EnergyProviderMetadata(provider_id="minimal", display_name="Minimal", version="1")

    def validate_config(self, config: Mapping[str, Any]) -> dict[str, str]:
        return {}

    async def fetch_prices(
        self, region: str, start_utc: datetime, end_utc: datetime, config: Mapping[str, Any]
    ) -> list[EnergyPriceSlot]:
        self.windows.append((start_utc, end_utc))
        if self.mode == "fail":
            raise ProviderServerError("HTTP 503", status=503)
        if self.mode == "empty":
            return []
        first = start_utc.replace(
            minute=start_utc.minute - start_utc.minute % 30, second=0, microsecond=0
        )
        return [
            EnergyPriceSlot(
                first + timedelta(minutes=30 * n), first + timedelta(minutes=30 * (n + 1)), 10.0 + n
            )
            for n in range(4)
        ]


class TestContract:
    def test_required_methods_are_abstract(self) -> None:
        """A provider that lacks a required method cannot be instantiated."""

        class Incomplete(EnergyPriceProvider):
            def get_metadata(self) -> EnergyProviderMetadata:
                return EnergyProviderMetadata("x", "x", "1")

        with pytest.raises(TypeError, match="fetch_prices"):
            Incomplete()  # type: ignore[abstract]

    def test_slot_helpers(self) -> None:
        """A slot knows its length, its price in major units and what it contains."""
        slot = EnergyPriceSlot(NOW, NOW + timedelta(minutes=30), 18.291)
        assert timedelta(minutes=30) == slot.duration
        assert pytest.approx(0.18291) == slot.price_major
        assert slot.contains(NOW)
        assert not slot.contains(NOW + timedelta(minutes=30))


class TestDefaults:
    async def test_current_price_is_the_slot_containing_now(self) -> None:
        """get_current_price fetches around now and returns the slot that contains it."""
        provider = Minimal()
        slot = await provider.get_current_price("C", {}, now=NOW)
        assert slot is not None
        assert slot.contains(NOW)

    async def test_current_price_none_when_nothing_known(self) -> None:
        """With no slots the default returns None rather than a made-up price."""
        assert await Minimal("empty").get_current_price("C", {}, now=NOW) is None

    @pytest.mark.parametrize(
        ("mode", "state"),
        [("ok", HealthState.OK), ("empty", HealthState.DEGRADED), ("fail", HealthState.ERROR)],
    )
    async def test_health_check(self, mode: str, state: HealthState) -> None:
        """The default health check: ok with a price now, degraded without, error on failure."""
        report = await Minimal(mode).health_check("C", {})
        assert state == report.state
        assert report.message

    async def test_shared_session_and_timeout(self) -> None:
        """The daemon attaches one session and a timeout; without it `http` says so."""
        provider = Minimal()
        with pytest.raises(ProviderConnectionError, match="no open HTTP session"):
            _ = provider.http
        async with aiohttp.ClientSession() as session:
            provider.attach(session, 5.0)
            assert session is provider.http
            assert 5.0 == provider.timeout
        with pytest.raises(ValueError, match="positive"):
            provider.attach(session, 0)
