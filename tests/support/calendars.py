"""Market calendars the tests share (built from metadata, as the daemon builds them)."""

from __future__ import annotations

from energyd.domain.calendar import MarketCalendar
from energyd.providers.base import EnergyProviderMetadata

__all__ = ["AGILE", "MIDNIGHT_MARKET"]


def _calendar(meta: EnergyProviderMetadata) -> MarketCalendar:
    return MarketCalendar.of(meta.market_timezone, meta.day_start_local, meta.publish_time_local)


#: Agile: UK local days, prices for 23:00 -> 23:00 published around 16:00 UK time.
AGILE = _calendar(
    EnergyProviderMetadata(
        provider_id="octopus_agile",
        display_name="Agile",
        version="1",
        market_timezone="Europe/London",
        publish_time_local="16:00",
        day_start_local="23:00",
    )
)

#: A midnight-based day-ahead market (EU style), publishing tomorrow at 13:00 local time.
MIDNIGHT_MARKET = _calendar(
    EnergyProviderMetadata(
        provider_id="eu",
        display_name="EU",
        version="1",
        market_timezone="Europe/Berlin",
        publish_time_local="13:00",
    )
)
