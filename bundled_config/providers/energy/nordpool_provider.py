"""Nord Pool data portal: day-ahead (SDAC) prices of the Nordic, Baltic and other Nord Pool areas.

The keyless backend of Nord Pool's website (unofficial: the paid Market Data API is the
official one). One CET delivery day per request, in the currency asked for::

    GET {base_url}/DayAheadPrices?date=2024-11-05&market=DayAhead&deliveryArea=SE3&currency=EUR
    GET {base_url}/DayAheadPriceIndices?date=2025-10-01&market=DayAhead&indexNames=SE3
        &currency=SEK&resolutionInMinutes=60

``resolution = 15`` (default) asks ``DayAheadPrices``: the native MTU, 15 minutes since
2025-10-01 and hourly before. ``resolution = 60`` asks the official hourly index
(``DayAheadPriceIndices``), what contracts billed per hour use. The answer lists entries with
``deliveryStart`` / ``deliveryEnd`` in UTC (``Z``) and ``entryPerArea`` prices in
``currency``/MWh without VAT; each slot is exactly its entry's span (15-min, hourly or mixed),
its price stored in minor units per kWh (cents, öre, øre, grosz, ...). Days are CET/CEST days
(Europe/Berlin), results around 13:00 CET; a clock-change day has 92 / 100 quarter-hours.

Quirks handled:

- "Not yet": ``DayAheadPrices`` answers HTTP 204 No Content; ``DayAheadPriceIndices`` answers
  HTTP 200 with an empty ``multiIndexEntries`` (recorded for FI). Both (and an empty
  ``multiAreaEntries``) are :class:`ProviderNotPublishedError`, never an error or a price 0.
- The answer's ``currency`` (and ``deliveryDateCET``, ``resolutionInMinutes``) must be what
  was asked, else the whole answer is refused (:class:`ProviderDataError`).
- Junk: a ``null`` (or missing) price of the area in one entry is a gap (that slot is left
  out); a string (``"inf"``, ``"-"``), boolean or non-finite number refuses the whole answer.
  An answer where no entry names the area at all is refused too (it is another area's).
- ``areaStates``: prices whose state is not ``Final`` (``Preliminary``, ...) are used, marked
  ``provisional`` (the daemon keeps asking until final ones replace them); the state is
  logged at info once (``nordpool.not_final``) and shown in
  :meth:`NordPoolProvider.source_notes`.
- Gentle polling (Nord Pool's terms forbid extraction that burdens the site): a ``User-Agent``
  naming energyd, at most one request a second, and a final day's answer kept for three days
  (as long as the day is in a fetch window) for all feeds: a day is asked again only while
  it is not published or not final.
  HTTP 401 / 403 means the portal blocks us: :class:`ProviderAuthError` saying so.

Loaded standalone by the daemon: imports only the standard library and providers.energy.base.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from providers.energy.base import (
    RETRY_FIELDS,
    Choice,
    ConfigFields,
    EnergyPriceSlot,
    EnergyProviderMetadata,
    HttpResponse,
    Integer,
    KitProvider,
    ProviderAuthError,
    ProviderDataError,
    ProviderNotPublishedError,
    Settings,
    Url,
    format_utc,
    local_day_window,
    parse_utc,
    per_mwh_to_minor_per_kwh,
)

__version__ = "1.1.0"
REQUIRES_KIT = 3

PROVIDER_ID = "nordpool"
DEFAULT_BASE_URL = "https://dataportal-api.nordpoolgroup.com/api"
TIMEZONE = "Europe/Berlin"
PUBLISH_TIME = "13:00"
SLOT_MINUTES = 15
USER_AGENT = f"energyd-nordpool/{__version__} (energyd home energy daemon; polls gently)"

#: Delivery areas as Nord Pool spells them (pynordpool's list; note GER and TEL).
AREAS: dict[str, str] = {
    "EE": "Estonia",
    "LT": "Lithuania",
    "LV": "Latvia",
    "AT": "Austria",
    "BE": "Belgium",
    "FR": "France",
    "GER": "Germany, Luxembourg (DE-LU)",
    "NL": "Netherlands",
    "PL": "Poland",
    "DK1": "Denmark West",
    "DK2": "Denmark East",
    "FI": "Finland",
    "NO1": "Norway South-East (Oslo)",
    "NO2": "Norway South-West (Kristiansand)",
    "NO3": "Norway Central (Trondheim)",
    "NO4": "Norway North (Tromsø)",
    "NO5": "Norway West (Bergen)",
    "SE1": "Sweden North (Luleå)",
    "SE2": "Sweden North-Central (Sundsvall)",
    "SE3": "Sweden South-Central (Stockholm)",
    "SE4": "Sweden South (Malmö)",
    "BG": "Bulgaria",
    "TEL": "Romania (Transelectrica)",
    "SYS": "Nordic system price",
}
#: Friendly names people use for an area -> Nord Pool's code.
ALIASES: dict[str, str] = {"DE": "GER", "DE-LU": "GER", "DELU": "GER", "RO": "TEL"}
#: Currencies the portal quotes in -> minor units per major unit (all have 1/100 units).
CURRENCIES: dict[str, int] = dict.fromkeys(("BGN", "DKK", "EUR", "NOK", "PLN", "RON", "SEK"), 100)
RESOLUTIONS = (15, 60)
FINAL = "Final"


def canonical_area(value: str) -> str:
    """``"se3"``, ``"DE_LU"``, ``"ro"``, ``"no-1"`` -> ``SE3``, ``GER``, ``TEL``, ``NO1``;
    unknown values unchanged (so the "did you mean" sees what was written)."""
    key = value.strip().upper().replace("_", "-")
    for candidate in (key, key.replace("-", "").replace(" ", "")):
        if candidate in AREAS:
            return candidate
        if candidate in ALIASES:
            return ALIASES[candidate]
    return value


def _check_resolution(settings: Settings) -> dict[str, str]:
    if settings["resolution"] in RESOLUTIONS:
        return {}
    return {"resolution": f"must be 15 or 60 (minutes), got {settings['resolution']}"}


FIELDS = ConfigFields(
    {
        "region": Choice(
            tuple(AREAS),
            names=AREAS,
            required=True,
            normalise=canonical_area,
            description="Nord Pool delivery area (DE / DE-LU mean GER, RO means TEL)",
        ),
        "currency": Choice(
            tuple(CURRENCIES),
            default="EUR",
            normalise=str.upper,
            description="currency Nord Pool converts the prices to",
        ),
        "resolution": Integer(
            15,
            60,
            default=15,
            description="15: DayAheadPrices (native MTU); 60: the official hourly index",
        ),
        "base_url": Url(default=DEFAULT_BASE_URL, description="API root (mirror, test stand-in)"),
        **RETRY_FIELDS,
    },
    checks=[_check_resolution],
)


class Answer(NamedTuple):
    """One parsed day: its slots (ascending) and the area's ``areaStates`` state, if given."""

    slots: list[EnergyPriceSlot]
    state: str | None


def _price(value: object, where: str) -> float | None:
    """An entry's price: a finite number; ``None`` (a gap) when null; junk is refused."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProviderDataError(f"{where}: price is not a number: {value!r}")
    if not math.isfinite(value):
        raise ProviderDataError(f"{where}: price is not finite: {value!r}")
    return float(value)


def area_state(body: dict[str, Any], area: str) -> str | None:
    """The ``areaStates`` state (``Final``, ``Preliminary``, ...) naming ``area``, if any."""
    states = body.get("areaStates")
    for item in states if isinstance(states, list) else ():
        if isinstance(item, dict) and isinstance(item.get("areas"), list) and area in item["areas"]:
            state = item.get("state")
            return state if isinstance(state, str) else None
    return None


def parse_answer(
    body: Any, *, area: str, currency: str, day: date, resolution: int | None = None
) -> Answer:
    """A ``DayAheadPrices`` answer (``resolution`` None) or a ``DayAheadPriceIndices`` one
    -> the slots of ``area`` on CET day ``day`` in minor ``currency`` units per kWh."""
    what = "DayAheadPrices" if resolution is None else "DayAheadPriceIndices"
    key = "multiAreaEntries" if resolution is None else "multiIndexEntries"
    if not isinstance(body, dict):
        raise ProviderDataError(f"{what}: expected a JSON object, got {type(body).__name__}")
    entries = body.get(key)
    if not isinstance(entries, list):
        raise ProviderDataError(f"{what}: no {key!r} list")
    if not entries:
        raise ProviderNotPublishedError(
            f"{what}: no {area} prices for {day.isoformat()} yet (empty {key})"
        )
    if body.get("currency") != currency:
        raise ProviderDataError(f"{what}: prices in {body.get('currency')!r}, asked for {currency}")
    if body.get("deliveryDateCET", day.isoformat()) != day.isoformat():
        raise ProviderDataError(
            f"{what}: answer for {body.get('deliveryDateCET')!r}, asked for {day.isoformat()}"
        )
    if resolution is not None and body.get("resolutionInMinutes", resolution) != resolution:
        raise ProviderDataError(
            f"{what}: resolution {body.get('resolutionInMinutes')!r}, asked for {resolution}"
        )
    low, high = local_day_window(day, TIMEZONE)
    minor = CURRENCIES[currency]
    slots: list[EnergyPriceSlot] = []
    named = False
    for index, entry in enumerate(entries):
        where = f"{what} {key}[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("entryPerArea"), dict):
            raise ProviderDataError(f"{where}: not an entry with 'entryPerArea'")
        start = parse_utc(entry.get("deliveryStart"), f"{where} deliveryStart")
        end = parse_utc(entry.get("deliveryEnd"), f"{where} deliveryEnd")
        if not low <= start < end <= high or (end - start) % timedelta(minutes=1):
            raise ProviderDataError(
                f"{where}: {format_utc(start)}-{format_utc(end)} is not a span of whole "
                f"minutes inside CET day {day.isoformat()}"
            )
        named = named or area in entry["entryPerArea"]
        price = _price(entry["entryPerArea"].get(area), where)
        if price is not None:
            slots.append(
                EnergyPriceSlot(start, end, per_mwh_to_minor_per_kwh(price, minor), currency)
            )
    if not named:
        raise ProviderDataError(f"{what}: no entry has a price for {area}")
    slots.sort(key=lambda slot: slot.valid_from)
    for before, after in itertools.pairwise(slots):
        if after.valid_from < before.valid_to:
            raise ProviderDataError(f"{what}: entries overlap at {format_utc(after.valid_from)}")
    return Answer(slots, area_state(body, area))


def expected_at(day: date) -> datetime:
    """When day ``day``'s results usually appear: 13:00 CET/CEST the day before (UTC)."""
    hour, minute = (int(part) for part in PUBLISH_TIME.split(":"))
    local = datetime.combine(day - timedelta(days=1), time(hour, minute), ZoneInfo(TIMEZONE))
    return local.astimezone(UTC)


def _final(resp: HttpResponse) -> bool:
    """Whether an answer may be reused: entries in it, and every area state ``Final``."""
    try:
        body = resp.json(dict)
    except ProviderDataError:
        return False
    entries = body.get("multiAreaEntries") or body.get("multiIndexEntries")
    states = body.get("areaStates")
    if not entries or not isinstance(states, list) or not states:
        return False
    return all(isinstance(st, dict) and st.get("state") == "Final" for st in states)


class NordPoolProvider(KitProvider):
    """Day-ahead prices of one Nord Pool delivery area, in the currency chosen."""

    metadata = EnergyProviderMetadata(
        provider_id=PROVIDER_ID,
        display_name="Nord Pool day-ahead",
        version=__version__,
        description=(
            "Day-ahead (SDAC) prices of the Nordic, Baltic and other Nord Pool delivery areas "
            "from Nord Pool's keyless data portal (unofficial), in the currency chosen, "
            "excluding VAT; 15-minute prices or the official hourly index."
        ),
        author="energyd",
        supported_regions=tuple(AREAS),
        region_names=dict(AREAS),
        currency="EUR",
        slot_minutes=SLOT_MINUTES,
        market_timezone=TIMEZONE,
        publish_time_local=PUBLISH_TIME,
        day_start_local="00:00",
        requires_api_key=False,
    )
    config_fields = FIELDS
    # markets.md §4: "Rate limit: none published; CDN may block non-browser clients" and the
    # terms forbid "extraction that degrades the site": "Poll gently, identify with a UA".
    # One request a second at most; feeds of one area and currency share an answer for 60 s.
    request_spacing_seconds = 1.0
    # One request per CET day: a day whose prices are final does not change, so its answer
    # is kept for three days (a day is in the daemon's window yesterday .. tomorrow from its
    # publication the day before until the day after: 59 hours) and every fetch, refresh
    # included, costs only the day still missing. A "not yet" answer and prices not final are
    # never kept (``_final``).
    cache_seconds = 3 * 24 * 3600.0

    def __init__(self) -> None:
        super().__init__()
        #: (area, currency) -> {CET day: the area's areaStates state} as last seen.
        self.states: dict[tuple[str, str], dict[date, str]] = {}

    def currency_for(self, region: str, config: Mapping[str, Any]) -> str:
        """The configured ``currency`` (EUR by default): every slot is in it."""
        return self.settings(region, config).text("currency")

    def source_notes(self, region: str, config: Mapping[str, Any]) -> dict[str, str]:
        """The terms of use, and whether the last days fetched are final."""
        settings = self.settings(region, config)
        notes = {"terms": "unofficial Nord Pool data portal; polled gently, at most 1 request/s"}
        seen = self.states.get((settings.text("region"), settings.text("currency")), {})
        if seen:
            days = sorted(seen)[-2:]
            notes["prices_state"] = ", ".join(f"{d.isoformat()} {seen[d]}" for d in days)
        return notes

    async def fetch_day(self, region: str, day: date, settings: Settings) -> list[EnergyPriceSlot]:
        area, currency = settings.text("region"), settings.text("currency")
        index = settings.integer("resolution") == 60
        path = "/DayAheadPriceIndices" if index else "/DayAheadPrices"
        params = {"date": day.isoformat(), "market": "DayAhead"}
        params["indexNames" if index else "deliveryArea"] = area
        params["currency"] = currency
        if index:
            params["resolutionInMinutes"] = "60"
        api = self.api(settings, headers={"User-Agent": USER_AGENT})
        try:
            body = await api.get_json(
                path, params=params, empty_statuses=(204,), expect=dict, cache_if=_final
            )
            answer = parse_answer(
                body, area=area, currency=currency, day=day, resolution=60 if index else None
            )
        except ProviderNotPublishedError as exc:
            due = expected_at(day)
            raise ProviderNotPublishedError(
                f"Nord Pool has no {area} prices for {day.isoformat()} yet ({exc})",
                status=exc.status,
                retry_at=due if due > datetime.now(UTC) else None,
            ) from exc
        except ProviderAuthError as exc:
            raise ProviderAuthError(
                f"Nord Pool's data portal refused access (HTTP {exc.status}): it blocks "
                "clients it sees as scraping. Wait before asking again, keep the refresh "
                "interval long, and check base_url",
                exc.status,
            ) from exc
        self._note(area, currency, day, answer.state)
        if answer.state not in (None, FINAL):  # Nord Pool may still change them
            return [dataclasses.replace(slot, provisional=True) for slot in answer.slots]
        return answer.slots

    def _note(self, area: str, currency: str, day: date, state: str | None) -> None:
        """Remember the day's state; log once when the prices are not (yet) final."""
        shown = state or "unknown"
        seen = self.states.setdefault((area, currency), {})
        if seen.get(day) == shown:
            return
        seen[day] = shown
        for old in sorted(seen)[:-7]:  # keep a week
            del seen[old]
        if shown != FINAL:
            self.log.info(
                "nordpool.not_final",
                area=area,
                day=day.isoformat(),
                state=shown,
                detail="prices used as they are; a later refresh replaces them",
            )
