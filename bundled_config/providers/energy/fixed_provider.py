"""Fixed and time-of-use tariffs: a default price plus zones by local time of day, weekday and
month (Economy 7, a flat tariff with a cheap night, a regulated TOU tariff). No API: the
prices are the configuration, and every fetch generates the slots of its window.

::

    [energy.providers.fixed]
    region = "home"                 # a free label for the topics
    price = 24.5                    # minor units per kWh (p, ct, öre), VAT included
    currency = "GBP"
    timezone = "Europe/London"      # where the zone times are read

    [[energy.providers.fixed.zones]]
    name = "night"
    price = 9.0
    from = "00:30"
    to = "07:30"                    # before from: wraps past midnight; 24:00 = midnight
    days = "mon-sun"                # mon-fri, sat,sun, fri-mon (Mo-Fr too)
    months = "jan-dec"              # oct-mar, 11-2

Quirks handled here:

- Zone edges are wall-clock times in ``timezone``, built per local day (never midnight plus a
  duration): a 00:30-04:30 zone is 00:30-04:30 on the 23- and 25-hour days too, and both
  passes of the repeated autumn hour are in it. Slots follow real instants: Europe/London has
  46 half-hours on 2026-03-29 and 50 on 2026-10-25 (the kit's ``wall_clock_slots``).
- Later zones win where zones overlap (as evcc's ``fixed``); a zone that wraps past midnight
  belongs to the weekday and month it started on (Friday 22:00-06:00 covers Saturday 05:00).
- Every zone edge must lie on the ``slot_minutes`` grid (15, 30 or 60): a slot has one
  price, so an edge inside a slot is refused, naming the zone and the edge.
- Nothing is ever "not published": the tariff is known for any window; there is no
  publication time (``publish_time_local`` None) and nothing is fetched over the network.

Loaded standalone by the daemon: imports only the standard library and providers.energy.base.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from providers.energy.base import (
    ConfigFields,
    EnergyPriceSlot,
    EnergyProviderMetadata,
    Integer,
    KitProvider,
    Number,
    ProviderConfigError,
    Settings,
    Text,
    Timezone,
    WallClockZones,
    Zones,
    wall_clock_zones,
)

__version__ = "1.0.0"
REQUIRES_KIT = 4

PROVIDER_ID = "fixed"
#: Slot lengths offered (each divides an hour, so every wall-clock hour is whole slots).
SLOT_LENGTHS = (15, 30, 60)
#: A price's bound in minor units per kWh (the daemon refuses larger ones as garbage).
MAX_PRICE = 100_000.0


def _slot_length(settings: Settings) -> dict[str, str]:
    minutes = settings.integer("slot_minutes")
    if minutes not in SLOT_LENGTHS:
        return {"slot_minutes": f"must be 15, 30 or 60, got {minutes}"}
    return {}


def tariff_of(settings: Settings) -> WallClockZones:
    """The configured tariff: the default price and zones on ``timezone``'s wall clock."""
    return wall_clock_zones(
        settings.get("zones"),
        default=settings.number("price"),
        timezone=settings.text("timezone"),
    )


def _zones_on_grid(settings: Settings) -> dict[str, str]:
    minutes = settings.integer("slot_minutes")
    if not settings.get("zones") or minutes not in SLOT_LENGTHS:
        return {}  # no zones, or the slot length itself is refused
    problems = tariff_of(settings).off_grid(minutes)
    return {"zones": "; ".join(problems)} if problems else {}


FIELDS = ConfigFields(
    {
        "region": Text(
            r"[A-Za-z0-9_-]{1,64}",
            required=True,
            example="home",
            description="a free label for this tariff in the topics (prices/<key>/<region>/...)",
            hint='any label of letters, digits, - and _, e.g. region = "home"',
        ),
        "price": Number(
            -MAX_PRICE,
            MAX_PRICE,
            required=True,
            description=(
                "the default price in minor units per kWh (p, ct, öre), VAT included: "
                "what applies outside every zone"
            ),
            hint="e.g. price = 24.5 (24.5 p/kWh with currency GBP)",
        ),
        "currency": Text(
            r"[A-Z]{3}",
            default="EUR",
            example="GBP",
            normalise=str.upper,
            description="ISO 4217 code of the prices",
        ),
        "timezone": Timezone(
            required=True,
            description="IANA time zone the zone times are read in (Europe/London)",
            hint='where the tariff\'s clock is, e.g. timezone = "Europe/London"',
        ),
        "slot_minutes": Integer(
            15, 60, default=30, description="slot length: 15, 30 or 60 minutes"
        ),
        "zones": Zones(
            description=(
                "prices by local time: [[zones]] tables of price, from, to (HH:MM, 24:00 = "
                "midnight), days (mon-fri), months (oct-mar), name; later zones win"
            ),
        ),
    },
    checks=(_slot_length, _zones_on_grid),
)


class FixedProvider(KitProvider):
    """A fixed or time-of-use tariff from the configuration (no API)."""

    metadata = EnergyProviderMetadata(
        provider_id=PROVIDER_ID,
        display_name="Fixed / time-of-use tariff",
        version=__version__,
        description=(
            "A default price plus zones by local time of day, weekday and month (Economy 7, "
            "a cheap night, a regulated TOU tariff), in minor units per kWh incl. VAT; "
            "zone edges on the wall clock, exact on clock-change days. No API."
        ),
        author="energyd",
        currency="EUR",
        slot_minutes=30,
        market_timezone="UTC",
        publish_time_local=None,
        day_start_local="00:00",
        requires_api_key=False,
    )
    config_fields = FIELDS

    async def fetch_window(
        self, region: str, start: datetime, end: datetime, settings: Settings
    ) -> list[EnergyPriceSlot]:
        return tariff_of(settings).slots(
            start, end, settings.integer("slot_minutes"), currency=settings.text("currency")
        )

    def metadata_for(self, region: str, config: Mapping[str, Any]) -> EnergyProviderMetadata:
        """The config's zone and slot length; no publication rhythm (nothing is published)."""
        settings = self.settings(region, config)
        return dataclasses.replace(
            self.get_metadata(),
            currency=settings.text("currency"),
            slot_minutes=settings.integer("slot_minutes"),
            market_timezone=settings.text("timezone"),
            day_start_local="00:00",
            publish_time_local=None,
        )

    def currency_for(self, region: str, config: Mapping[str, Any]) -> str:
        return self.settings(region, config).text("currency")

    def source_notes(self, region: str, config: Mapping[str, Any]) -> dict[str, str]:
        """Where the prices come from: the configuration, with its number of zones."""
        try:
            settings = self.settings(region, config)
        except ProviderConfigError:
            return {}
        zones = len(settings.get("zones") or ())
        return {
            "source": "the configured tariff (no API)",
            "zones": f"{zones} zone{'' if zones == 1 else 's'} in {settings.text('timezone')}",
        }
