"""aWATTar: EPEX day-ahead prices for Germany (DE-LU) and Austria, from aWATTar's public API.

A keyless API with one host per country; one request per fetch covers every market day the
window touches, start and end in epoch milliseconds::

    GET https://api.awattar.de/v1/marketdata?start=1774738800000&end=1774821600000
    GET https://api.awattar.at/v1/marketdata?start=...&end=...

The answer is ``{"object": "list", "data": [...], "url": "/de/v1/marketdata"}``; each row has
``start_timestamp`` / ``end_timestamp`` (ms) and ``marketprice`` in ``unit`` ``"Eur/MWh"``
(that spelling; compared without case or spaces), excluding VAT. Quirks handled here:

- Each slot ends at its row's ``end_timestamp`` (hourly so far, 23 / 25 rows on clock-change
  days because the rows are UTC hours); nothing is assumed about the length. Prices become EUR
  cents per kWh (EUR/MWh / 10).
- "Not yet" is simply fewer rows: before the day-ahead result (about 13:00 CET) the answer
  stops at the end of today. Days without rows are no error; an answer with no row in the
  window is :class:`ProviderNotPublishedError` (``retry_at`` the day's publication time when
  that is still ahead).
- A wrong ``object``, a ``data`` that is not a list, a row with another unit, a price that is
  not a number, times that are not whole minutes, rows that overlap: the whole answer is
  refused (:class:`ProviderDataError`).
- ``base_url`` (a mirror, a test stand-in) replaces the country's host; the path
  ``/v1/marketdata`` is the same for both countries, so ``region`` still names the feed and the
  answer's ``url`` (``/de/...`` or ``/at/...``, when it has one) must be that country's.
- Fair use is about 100 requests a day per IP: answers are reused for ``cache_seconds`` and
  requests spaced by ``request_spacing_seconds`` across all feeds of this plugin.

Loaded standalone by the daemon: imports only the standard library and providers.energy.base.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from providers.energy.base import (
    RETRY_FIELDS,
    Choice,
    ConfigFields,
    EnergyPriceSlot,
    EnergyProviderMetadata,
    KitProvider,
    ProviderConfigError,
    ProviderDataError,
    ProviderNotPublishedError,
    Settings,
    Url,
    format_utc,
    from_epoch,
    local_day_window,
    local_days,
    per_mwh_to_minor_per_kwh,
)

__version__ = "1.0.0"
REQUIRES_KIT = 3

PROVIDER_ID = "awattar"
TIMEZONE = "Europe/Berlin"  # SDAC market days; Austria keeps the same clock
PUBLISH_TIME = "13:00"
SLOT_MINUTES = 60
#: The endpoint, the same path on both hosts (and on a mirror).
MARKETDATA = "/v1/marketdata"

#: Countries (the region codes) and the API host of each.
COUNTRIES: dict[str, str] = {"DE": "Germany", "AT": "Austria"}
HOSTS: dict[str, str] = {"DE": "https://api.awattar.de", "AT": "https://api.awattar.at"}
_ALIASES = {
    "DE": "DE",
    "AT": "AT",
    "GERMANY": "DE",
    "AUSTRIA": "AT",
    "DE-LU": "DE",  # aWATTar DE quotes the DE-LU bidding zone
}


def canonical_region(value: str) -> str:
    """``"de"``, ``"Austria"``, ``"de_lu"`` -> ``"DE"``, ``"AT"``, ``"DE"``; others unchanged."""
    return _ALIASES.get(value.strip().upper().replace("_", "-"), value)


FIELDS = ConfigFields(
    {
        "region": Choice(
            tuple(COUNTRIES),
            names=COUNTRIES,
            required=True,
            normalise=canonical_region,
            description="country: DE (api.awattar.de) or AT (api.awattar.at)",
        ),
        "base_url": Url(
            description=(
                "API root replacing the country's host (a mirror, a test stand-in); "
                "/v1/marketdata is appended"
            )
        ),
        **RETRY_FIELDS,
    }
)


def api_root(settings: Settings) -> str:
    """``base_url`` when set, else the host of the configured country."""
    return settings.optional_text("base_url") or HOSTS[settings.text("region")]


def epoch_ms(moment: datetime) -> int:
    """An aware datetime as whole milliseconds since 1970."""
    return (moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _moment(row: dict[str, Any], key: str, where: str) -> datetime:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProviderDataError(f"{where}: {key} is not a number of milliseconds: {value!r}")
    moment = from_epoch(value, "ms", what=f"{where}: {key}")
    if moment.second or moment.microsecond:
        raise ProviderDataError(f"{where}: {key} {moment.isoformat()} is not on a whole minute")
    return moment


def _unit_ok(unit: object) -> bool:
    return isinstance(unit, str) and "".join(unit.split()).lower() == "eur/mwh"


def _row_slot(row: object, index: int) -> EnergyPriceSlot:
    where = f"/v1/marketdata: data[{index}]"
    if not isinstance(row, dict):
        raise ProviderDataError(f"{where}: expected an object, got {type(row).__name__}")
    start = _moment(row, "start_timestamp", where)
    end = _moment(row, "end_timestamp", where)
    if end <= start:
        raise ProviderDataError(f"{where}: end_timestamp is not after start_timestamp")
    unit = row.get("unit")
    if not _unit_ok(unit):
        raise ProviderDataError(f"{where}: unit {unit!r} is not Eur/MWh")
    price = row.get("marketprice")
    if isinstance(price, bool) or not isinstance(price, int | float):
        raise ProviderDataError(f"{where}: marketprice is not a number: {price!r}")
    try:
        cents = per_mwh_to_minor_per_kwh(float(price))
    except ValueError as exc:  # NaN / infinity in a hand-built body
        raise ProviderDataError(f"{where}: marketprice is not finite: {price!r}") from exc
    return EnergyPriceSlot(start, end, cents, "EUR")


def parse_marketdata(body: Any, country: str | None = None) -> list[EnergyPriceSlot]:
    """A ``/v1/marketdata`` answer -> slots in EUR cents/kWh, ascending (maybe none).

    With ``country`` (``"DE"`` / ``"AT"``) an answer whose ``url`` names the other country is
    refused: a mirror or ``base_url`` of the wrong country would otherwise go unnoticed.
    """
    if not isinstance(body, dict):
        raise ProviderDataError(
            f"/v1/marketdata: expected a JSON object, got {type(body).__name__}"
        )
    if body.get("object") != "list":
        raise ProviderDataError(f"/v1/marketdata: object is {body.get('object')!r}, not 'list'")
    rows = body.get("data")
    if not isinstance(rows, list):
        raise ProviderDataError("/v1/marketdata: 'data' is not a list")
    url = body.get("url")
    if country is not None and isinstance(url, str):
        named = url.strip("/").split("/", 1)[0].upper()
        if named in COUNTRIES and named != country:
            raise ProviderDataError(
                f"/v1/marketdata: the answer is for {named} ({url!r}), the feed is {country}"
            )
    slots = sorted((_row_slot(row, n) for n, row in enumerate(rows)), key=lambda s: s.valid_from)
    for before, after in itertools.pairwise(slots):
        if after.valid_from < before.valid_to:
            raise ProviderDataError(
                f"/v1/marketdata: rows at {format_utc(before.valid_from)} and "
                f"{format_utc(after.valid_from)} overlap"
            )
    return slots


def publication_of(day: date) -> datetime:
    """When market day ``day``'s prices are expected: 13:00 CET/CEST the day before."""
    at = time.fromisoformat(PUBLISH_TIME)
    local = datetime.combine(day - timedelta(days=1), at, ZoneInfo(TIMEZONE))
    return local.astimezone(UTC)


class AwattarProvider(KitProvider):
    """Hourly EPEX day-ahead prices for DE or AT from api.awattar.de / api.awattar.at."""

    metadata = EnergyProviderMetadata(
        provider_id=PROVIDER_ID,
        display_name="aWATTar day-ahead (DE / AT)",
        version=__version__,
        description=(
            "EPEX day-ahead prices for Germany (DE-LU) and Austria from aWATTar's keyless "
            "public API, hourly, in EUR cents per kWh excluding VAT."
        ),
        author="energyd",
        supported_regions=tuple(COUNTRIES),
        region_names=dict(COUNTRIES),
        currency="EUR",
        slot_minutes=SLOT_MINUTES,
        market_timezone=TIMEZONE,
        publish_time_local=PUBLISH_TIME,
        day_start_local="00:00",
        requires_api_key=False,
    )
    config_fields = FIELDS
    # markets.md §2: "fair use 100 requests/day/IP". With the default [refresh] settings the
    # daemon asks 5-10 times a day per feed (bench/bench_calls.py: the 6-hourly refresh, the
    # 13:00 publication and a few backed-off retries while tomorrow is late). These keep all
    # feeds of this plugin (DE and AT, health probes) gentle: one answer serves identical
    # requests for 30 s (less than the daemon's first retry, so a retry never sees an old
    # answer), and request starts are at least 5 s apart (the kit sleeps up to 5 s for a
    # turn, so queued requests wait instead of failing with a rate-limit error).
    cache_seconds: ClassVar[float] = 30.0
    request_spacing_seconds: ClassVar[float] = 5.0

    async def fetch_window(
        self, region: str, start: datetime, end: datetime, settings: Settings
    ) -> list[EnergyPriceSlot]:
        country = settings.text("region")
        days = local_days(start, end, TIMEZONE)
        first = local_day_window(days[0], TIMEZONE)[0]
        last = local_day_window(days[-1], TIMEZONE)[1]
        params = {"start": str(epoch_ms(first)), "end": str(epoch_ms(last))}
        body = await self.api(settings, base_url=api_root(settings)).get_json(
            MARKETDATA, params=params, expect=dict
        )
        slots = parse_marketdata(body, country)
        if not any(slot.valid_to > start and slot.valid_from < end for slot in slots):
            expected = publication_of(days[0])
            raise ProviderNotPublishedError(
                f"aWATTar {country}: no prices between {format_utc(start)} and "
                f"{format_utc(end)} yet ({len(slots)} rows in the answer)",
                retry_at=expected if expected > datetime.now(UTC) else None,
            )
        return slots

    def source_notes(self, region: str, config: Mapping[str, Any]) -> dict[str, str]:
        """Where the prices come from, and the source's fair-use limit."""
        try:
            root = api_root(self.settings(region, config))
        except ProviderConfigError:
            return {}
        return {
            "api": root + MARKETDATA,
            "fair_use": "about 100 requests a day per IP; answers reused for 5 minutes",
        }
