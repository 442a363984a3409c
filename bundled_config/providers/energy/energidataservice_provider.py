"""Energi Data Service (Energinet, Denmark): day-ahead spot prices of DK1 and DK2.

A keyless public API. One request per fetch covers every Danish day the window touches::

    GET {base_url}/dataset/DayAheadPrices?start=2026-03-29&end=2026-03-30
        &filter={"PriceArea":["DK1","DK2"]}&sort=TimeUTC asc&limit=200

``start`` (included) and ``end`` (excluded) are dates in Danish time (the API guide), so the
answer holds whole local days. The filter always names **both** areas, whichever the feed
wants: a DK1 feed and a DK2 feed ask the very same question and share one answer (below).
``limit`` is sized to the window (100 records per area and day is the most a 25-hour day
has); an answer whose ``total`` says it holds less than everything is refused rather than
used in part. The envelope is ``{"total", "filters" (a JSON *string*), "limit", "dataset",
"records"}``; records carry ``TimeUTC`` (naive, UTC), ``TimeDK`` (naive, Danish time;
cross-checked against ``TimeUTC``), ``PriceArea``, ``DayAheadPriceEUR`` and
``DayAheadPriceDKK``, both per MWh and without VAT or tariffs.

- Prices are stored in the configured ``currency``: DKK (øre/kWh, the default) or EUR
  (euro cents/kWh), i.e. the per-MWh value / 10. A ``null`` price is a missing slot, never 0.
  A record with EUR but no DKK (``Elspotprices`` had weekend gaps like that) is a missing
  DKK slot too: energyd does not convert with an exchange rate of its own.
- Slot length comes from the data: the step between consecutive ``TimeUTC`` of the area
  (15 minutes from delivery day 2025-10-01, hourly before). A lone record of an area has no
  neighbour: it gets the market's grid for its time (hourly before 2025-10-01, else 15 min).
- "Not yet" is simply fewer records: tomorrow missing before ~13:00 is no error; a window
  with no record at all is ``ProviderNotPublishedError`` (a waiting state).
- ``Elspotprices`` (hourly, ``HourUTC`` / ``SpotPriceDKK`` / ``SpotPriceEUR``) stopped on
  2025-09-30; :func:`parse_elspot` reads its rows for history, fetching uses DayAheadPrices.
- Rate limit: "1 request per dataset per minute per unique IP" (HTTP 429 beyond it,
  MTrab/energidataservice#784). The kit's Pacer spaces requests 60 s and keeps an answer
  60 s; this plugin also reuses a fresh answer for any window inside the days it covers,
  serialises its requests (concurrent feeds wait for one answer instead of both asking) and
  never waits out a 429 inside a fetch: the rest of the minute goes back to the daemon as
  ``ProviderRateLimitError.retry_after``. So a retry after a 5xx or a timeout, which would
  be a second request within the minute, is not sent: the fetch ends that way too (the
  failure itself is logged as ``provider.retry``).

Loaded standalone by the daemon: imports only the standard library and providers.energy.base.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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
    local_days,
    per_mwh_to_minor_per_kwh,
    slots_from_starts,
)

__version__ = "1.0.0"
REQUIRES_KIT = 3

PROVIDER_ID = "energidataservice"
DEFAULT_BASE_URL = "https://api.energidataservice.dk"
DATASET = "DayAheadPrices"
TIMEZONE = "Europe/Copenhagen"
DANISH = ZoneInfo(TIMEZONE)
SLOT_MINUTES = 15
AREAS: dict[str, str] = {"DK1": "West Denmark", "DK2": "East Denmark"}
CURRENCIES = ("DKK", "EUR")
#: The filter of every request: both areas, so all feeds of this plugin share one answer.
AREA_FILTER = json.dumps({"PriceArea": list(AREAS)}, separators=(",", ":"))
#: The most records one area has in one Danish day (a 25-hour day of quarter hours).
MOST_PER_AREA_DAY = 100
#: First 15-minute delivery moment of SDAC (2025-10-01 00:00 Danish time).
QUARTER_HOURS_FROM = datetime(2025, 9, 30, 22, tzinfo=UTC)


def canonical_area(value: str) -> str:
    """``"dk1"``, ``"DK-1"``, ``"dk_2"`` -> ``"DK1"``, ``"DK2"``; others only upper-cased."""
    return "".join(ch for ch in value.upper() if ch not in "-_ ")


FIELDS = ConfigFields(
    {
        "region": Choice(
            tuple(AREAS),
            names=AREAS,
            required=True,
            normalise=canonical_area,
            description="price area",
        ),
        "currency": Choice(
            CURRENCIES,
            default="DKK",
            normalise=str.upper,
            description="DKK (prices in øre/kWh) or EUR (euro cents/kWh)",
        ),
        "base_url": Url(default=DEFAULT_BASE_URL, description="API root (mirror, test stand-in)"),
        **RETRY_FIELDS,
    }
)


# -- parsing --------------------------------------------------------------------------------


def _records(body: Any, dataset: str) -> list[dict[str, Any]]:
    """The ``records`` of an answer of ``dataset``; anything else is a ProviderDataError."""
    if not isinstance(body, dict):
        raise ProviderDataError(f"{dataset}: expected a JSON object, got {type(body).__name__}")
    named = body.get("dataset")
    if named is not None and (not isinstance(named, str) or named.lower() != dataset.lower()):
        raise ProviderDataError(f"{dataset}: the answer is of dataset {named!r}")
    records = body.get("records")
    if not isinstance(records, list):
        raise ProviderDataError(f"{dataset}: no 'records' list")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise ProviderDataError(f"{dataset}: record {index} is not an object")
    return records


def _iso(value: Any, what: str) -> datetime:
    """An ISO 8601 time as sent (naive, or with an offset); else a ProviderDataError."""
    if not isinstance(value, str):
        raise ProviderDataError(f"{what}: expected an ISO time string, got {value!r}")
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ProviderDataError(f"{what}: not an ISO time: {value!r}") from exc


def _danish(moment: datetime) -> datetime:
    """``moment`` as naive Danish wall time (what ``TimeDK`` shows; ambiguous in autumn)."""
    return moment.astimezone(DANISH).replace(tzinfo=None)


def _price(value: Any, what: str) -> float | None:
    """A per-MWh price, or None for a missing one; anything else is a ProviderDataError."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProviderDataError(f"{what}: price is not a number: {value!r}")
    return float(value)


def _slots(
    rows: list[tuple[datetime, float | None]], currency: str, lone: timedelta
) -> list[EnergyPriceSlot]:
    """(start, per-MWh price) rows of one area -> slots in minor units per kWh, ascending."""
    rows.sort(key=lambda row: row[0])
    starts = [start for start, _ in rows]
    for before, after in itertools.pairwise(starts):
        if before == after:
            raise ProviderDataError(f"two records for {before.isoformat()}")
    return slots_from_starts(
        starts,
        [price for _, price in rows],
        currency=currency,
        step=lone if len(rows) == 1 else None,
        convert=per_mwh_to_minor_per_kwh,
    )


def _when_and_where(
    record: dict[str, Any], what: str, utc: str, local: str
) -> tuple[datetime, str]:
    """A record's start (``utc`` column; the ``local`` one must agree) and its PriceArea."""
    start = _iso(record.get(utc), f"{what} {utc}")
    start = (start if start.tzinfo else start.replace(tzinfo=UTC)).astimezone(UTC)
    shown = record.get(local)
    if shown is not None:
        wall = _iso(shown, f"{what} {local}")
        if (_danish(wall) if wall.tzinfo else wall) != _danish(start):
            raise ProviderDataError(f"{what}: {local} {shown!r} is not {utc} {start:%H:%M}Z")
    area = record.get("PriceArea")
    if not isinstance(area, str):
        raise ProviderDataError(f"{what}: PriceArea is not a string: {area!r}")
    return start, area


def _rows(
    body: Any, dataset: str, keys: tuple[str, str, str], area: str, currency: str
) -> list[tuple[datetime, float | None]]:
    """(start, per-MWh price in ``currency``) of ``area``; every record is checked."""
    utc, local, prefix = keys
    rows: list[tuple[datetime, float | None]] = []
    for index, record in enumerate(_records(body, dataset)):
        what = f"{dataset} record {index}"
        start, name = _when_and_where(record, what, utc, local)
        if not any(f"{prefix}{c}" in record for c in CURRENCIES):
            raise ProviderDataError(f"{what}: neither {prefix}DKK nor {prefix}EUR")
        prices = {c: _price(record.get(f"{prefix}{c}"), f"{what} {prefix}{c}") for c in CURRENCIES}
        if name == area:
            rows.append((start, prices[currency]))
    return rows


def parse_day_ahead(body: Any, area: str, currency: str = "DKK") -> list[EnergyPriceSlot]:
    """A ``DayAheadPrices`` answer -> the slots of ``area`` in ``currency`` (DKK: øre/kWh,
    EUR: cents/kWh), ascending. Records of the other area are checked, then left out; a
    missing or ``null`` price of ``currency`` is a missing slot (even when the other
    currency's is there)."""
    rows = _rows(body, DATASET, ("TimeUTC", "TimeDK", "DayAheadPrice"), area, currency)
    lone = timedelta(minutes=15 if rows and rows[0][0] >= QUARTER_HOURS_FROM else 60)
    return _slots(rows, currency, lone)


def parse_elspot(body: Any, area: str, currency: str = "DKK") -> list[EnergyPriceSlot]:
    """An ``Elspotprices`` answer (hourly, ended 2025-09-30) -> the hourly slots of ``area``
    in ``currency``, ascending (the dataset's default order is newest first)."""
    rows = _rows(body, "Elspotprices", ("HourUTC", "HourDK", "SpotPrice"), area, currency)
    return _slots(rows, currency, timedelta(hours=1))


# -- the provider ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Answer:
    """The last answer: what was asked (base URL, Danish days), when, and the body."""

    base_url: str
    first: date
    last: date
    at: float
    body: dict[str, Any]

    def covers(self, base_url: str, first: date, last: date) -> bool:
        return base_url == self.base_url and self.first <= first and last <= self.last


class EnergiDataServiceProvider(KitProvider):
    """Day-ahead prices of DK1 or DK2 from api.energidataservice.dk (DayAheadPrices)."""

    metadata = EnergyProviderMetadata(
        provider_id=PROVIDER_ID,
        display_name="Energi Data Service (Denmark)",
        version=__version__,
        description=(
            "Day-ahead spot prices (SDAC) of the Danish price areas DK1 and DK2 from "
            "Energinet's keyless Energi Data Service, in øre/kWh (DKK) or euro cents/kWh "
            "(EUR), excluding VAT and tariffs."
        ),
        author="energyd",
        supported_regions=tuple(AREAS),
        region_names=dict(AREAS),
        currency="DKK",
        slot_minutes=SLOT_MINUTES,
        market_timezone=TIMEZONE,
        publish_time_local="13:00",
        day_start_local="00:00",
        requires_api_key=False,
    )
    config_fields = FIELDS
    # markets.md §5: "since 2025-08-26 '1 request per dataset per minute per unique IP' ->
    # HTTP 429 (MTrab/energidataservice#784). Batch areas in one call with a list filter."
    # So: at most one request a minute for all feeds of this instance, and an answer is
    # reused for the same minute (the filter names both areas, so DK1 and DK2 share it).
    request_spacing_seconds = 60.0
    cache_seconds = 50.0  # expired before the daemon's first retry (60 s) comes

    def __init__(self) -> None:
        super().__init__()
        self._lock = asyncio.Lock()
        self._last: _Answer | None = None

    def currency_for(self, region: str, config: Mapping[str, Any]) -> str:
        """DKK or EUR, as configured: every slot of a fetch is in it."""
        return self.settings(region, config).text("currency")

    def source_notes(self, region: str, config: Mapping[str, Any]) -> dict[str, str]:
        return {
            "source": "Energinet, Energi Data Service (dataset DayAheadPrices)",
            "rate_limit": "1 request per dataset per minute per IP; energyd asks once a minute "
            "at most, for both areas at once",
        }

    async def fetch_window(
        self, region: str, start: datetime, end: datetime, settings: Settings
    ) -> list[EnergyPriceSlot]:
        days = local_days(start, end, TIMEZONE)
        body = await self.answer(settings, days[0], days[-1])
        return parse_day_ahead(body, settings.text("region"), settings.text("currency"))

    async def answer(self, settings: Settings, first: date, last: date) -> dict[str, Any]:
        """The DayAheadPrices answer for Danish days ``first`` .. ``last`` (both areas): a
        fresh one this plugin already has if it covers them, else one request."""
        base_url = settings.text("base_url")
        async with self._lock:  # a concurrent feed waits here, then finds the answer fresh
            kept = self._last
            fresh = kept is not None and self.pacer.clock() - kept.at <= self.cache_seconds
            if kept is not None and fresh and kept.covers(base_url, first, last):
                return kept.body
            limit = MOST_PER_AREA_DAY * len(AREAS) * ((last - first).days + 1)
            params = {
                "start": first.isoformat(),
                "end": (last + timedelta(days=1)).isoformat(),
                "filter": AREA_FILTER,
                "sort": "TimeUTC asc",
                "limit": str(limit),
            }
            body: dict[str, Any] = await self.api(settings).get_json(
                f"/dataset/{DATASET}", params=params, expect=dict
            )
            records = _records(body, DATASET)
            total = body.get("total")
            if isinstance(total, int) and not isinstance(total, bool) and total > len(records):
                raise ProviderDataError(
                    f"{DATASET}: the answer holds {len(records)} of {total} records "
                    f"(limit {limit}): refused as incomplete"
                )
            self._last = _Answer(base_url, first, last, self.pacer.clock(), body)
            return body
