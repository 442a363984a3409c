"""Energy-Charts (Fraunhofer ISE): day-ahead spot prices of European bidding zones.

A keyless public API; one request per fetch covers every market day the window touches::

    GET {base_url}/price?bzn=DE-LU&start=2024-12-10T00:00+01:00&end=2024-12-11T23:59+01:00

The answer holds parallel arrays: ``unix_seconds`` (slot starts) and ``price`` in EUR/MWh,
excluding VAT, in every zone (DKK, SEK, PLN ... zones too). Each slot lasts the step the data
shows around it (15 minutes for SDAC zones since 2025-10-01, an hour for CH and older days;
the last point as long as the one before); prices are stored in EUR cents per kWh (EUR/MWh /
10). Days are CET/CEST days (SDAC, results around
13:00). HTTP 404 means nothing is published for the window yet (``ProviderNotPublishedError``:
the daemon waits, no fault). ``license_info`` differs by zone (CC BY 4.0 for SMARD-fed zones,
"private and internal use only" for EPEX-fed ones): it is logged once per zone, kept in
:attr:`EnergyChartsProvider.license_info` and shown beside the provider's health
(``source_notes``). The API is strict about bursts (users quote "max 2 requests/s" and got
HTTP 429 on backfills): requests are spaced 0.5 s apart and an answer is shared for 30 s by
the feeds of one zone.

Loaded standalone by the daemon: imports only the standard library and providers.energy.base.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from providers.energy.base import (
    RETRY_FIELDS,
    Choice,
    ConfigFields,
    EnergyPriceSlot,
    EnergyProviderMetadata,
    KitProvider,
    ProviderDataError,
    Settings,
    Url,
    format_local,
    from_epoch,
    local_day_window,
    local_days,
    per_mwh_to_minor_per_kwh,
    slots_from_starts,
)

__version__ = "1.1.0"
REQUIRES_KIT = 3

PROVIDER_ID = "energy_charts"
DEFAULT_BASE_URL = "https://api.energy-charts.info"
TIMEZONE = "Europe/Berlin"
SLOT_MINUTES = 15

#: Bidding zones, as the API spells them (``bzn``).
ZONES: dict[str, str] = {
    "AT": "Austria",
    "BE": "Belgium",
    "BG": "Bulgaria",
    "CH": "Switzerland",
    "CZ": "Czechia",
    "DE-LU": "Germany, Luxembourg",
    "DE-AT-LU": "Germany, Austria, Luxembourg (until 2018-09-30)",
    "DK1": "Denmark West",
    "DK2": "Denmark East",
    "EE": "Estonia",
    "ES": "Spain",
    "FI": "Finland",
    "FR": "France",
    "GR": "Greece",
    "HR": "Croatia",
    "HU": "Hungary",
    "IT-Calabria": "Italy Calabria",
    "IT-Centre-North": "Italy Centre-North",
    "IT-Centre-South": "Italy Centre-South",
    "IT-North": "Italy North",
    "IT-SACOAC": "Italy SACOAC (Corsica AC link)",
    "IT-SACODC": "Italy SACODC (Corsica DC link)",
    "IT-Sardinia": "Italy Sardinia",
    "IT-Sicily": "Italy Sicily",
    "IT-South": "Italy South",
    "LT": "Lithuania",
    "LV": "Latvia",
    "ME": "Montenegro",
    "NL": "Netherlands",
    "NO1": "Norway South-East (Oslo)",
    "NO2": "Norway South-West (Kristiansand)",
    "NO2NSL": "Norway NO2 North Sea Link",
    "NO3": "Norway Central (Trondheim)",
    "NO4": "Norway North (Tromsø)",
    "NO5": "Norway West (Bergen)",
    "PL": "Poland",
    "PT": "Portugal",
    "RO": "Romania",
    "RS": "Serbia",
    "SE1": "Sweden Luleå",
    "SE2": "Sweden Sundsvall",
    "SE3": "Sweden Stockholm",
    "SE4": "Sweden Malmö",
    "SI": "Slovenia",
    "SK": "Slovakia",
}
_BY_KEY = {code.upper(): code for code in ZONES}


def canonical_zone(value: str) -> str:
    """``"de_lu"``, ``"it-north"`` -> ``"DE-LU"``, ``"IT-North"``; unknown values unchanged."""
    return _BY_KEY.get(value.upper().replace("_", "-"), value)


FIELDS = ConfigFields(
    {
        "region": Choice(
            tuple(ZONES), required=True, normalise=canonical_zone, description="bidding zone"
        ),
        "base_url": Url(default=DEFAULT_BASE_URL, description="API root (mirror, test stand-in)"),
        **RETRY_FIELDS,
    }
)


def parse_prices(body: Any) -> list[EnergyPriceSlot]:
    """A ``/price`` answer -> slots in EUR cents/kWh, ascending; a ``null`` price is a gap."""
    if not isinstance(body, dict):
        raise ProviderDataError(f"/price: expected a JSON object, got {type(body).__name__}")
    seconds, prices = body.get("unix_seconds"), body.get("price")
    if not isinstance(seconds, list) or not isinstance(prices, list):
        raise ProviderDataError("/price: no 'unix_seconds' and 'price' arrays")
    unit = body.get("unit", "EUR/MWh")
    if not isinstance(unit, str) or "".join(unit.split()) != "EUR/MWh":
        raise ProviderDataError(f"/price: unit {unit!r} is not EUR/MWh")
    starts = [from_epoch(value, what=f"unix_seconds[{i}]") for i, value in enumerate(seconds)]
    return slots_from_starts(
        starts,
        prices,
        currency="EUR",
        step=None if len(starts) > 1 else timedelta(minutes=SLOT_MINUTES),
        convert=per_mwh_to_minor_per_kwh,
    )


class EnergyChartsProvider(KitProvider):
    """Day-ahead prices of one bidding zone from api.energy-charts.info."""

    metadata = EnergyProviderMetadata(
        provider_id=PROVIDER_ID,
        display_name="Energy-Charts day-ahead",
        version=__version__,
        description=(
            "Day-ahead spot prices (SDAC) of European bidding zones from the keyless "
            "Energy-Charts API (Fraunhofer ISE), in EUR cents per kWh excluding VAT."
        ),
        author="energyd",
        supported_regions=tuple(ZONES),
        region_names=dict(ZONES),
        currency="EUR",
        slot_minutes=SLOT_MINUTES,
        market_timezone=TIMEZONE,
        publish_time_local="13:00",
        day_start_local="00:00",
        requires_api_key=False,
    )
    config_fields = FIELDS
    # markets.md §1: "strict; users quote 'max 2 req/s per docs' and got HTTP 429 during
    # backfill" -- at most two requests a second, and one answer for the feeds of one zone
    # (for 30 s: gone before the daemon's first retry).
    request_spacing_seconds = 0.5
    cache_seconds = 30.0

    def __init__(self) -> None:
        super().__init__()
        #: zone -> the ``license_info`` the API last gave for it (shown to users as is).
        self.license_info: dict[str, str] = {}
        self._deprecated_warned: set[str] = set()

    async def fetch_window(
        self, region: str, start: datetime, end: datetime, settings: Settings
    ) -> list[EnergyPriceSlot]:
        zone = settings.text("region")
        days = local_days(start, end, TIMEZONE)
        first = local_day_window(days[0], TIMEZONE)[0]
        last = local_day_window(days[-1], TIMEZONE)[1] - timedelta(minutes=1)
        params = {
            "bzn": zone,
            "start": format_local(first, TIMEZONE),
            "end": format_local(last, TIMEZONE),
        }
        body = await self.api(settings).get_json(
            "/price", params=params, empty_statuses=(404,), expect=dict
        )
        self._note(zone, body)
        return parse_prices(body)

    def source_notes(self, region: str, config: Mapping[str, Any]) -> dict[str, str]:
        """The zone's licence as the API last gave it (nothing before the first answer)."""
        licence = self.license_info.get(canonical_zone(region))
        return {} if licence is None else {"license": licence}

    def _note(self, zone: str, body: dict[str, Any]) -> None:
        """Log the zone's licence once (and whenever it changes), warn once if deprecated."""
        licence = body.get("license_info")
        if isinstance(licence, str) and self.license_info.get(zone) != licence:
            self.license_info[zone] = licence
            self.log.info("energy_charts.license", zone=zone, license_info=licence)
        if body.get("deprecated") is True and zone not in self._deprecated_warned:
            self._deprecated_warned.add(zone)
            self.log.warning("energy_charts.deprecated", zone=zone, detail="the API says so")
