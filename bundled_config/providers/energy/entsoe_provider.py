"""ENTSO-E Transparency Platform: A44 day-ahead prices of European bidding zones.

One request covers every CET/CEST market day the window touches (times in UTC)::

    GET {base_url}?securityToken=...&documentType=A44&in_Domain=<EIC>&out_Domain=<EIC>
        &periodStart=202602012300&periodEnd=202602032300&contract_MarketAgreement.type=A01

The kit shows ``securityToken`` as ``***`` in logs and messages. The answer, a
``Publication_MarketDocument`` (any namespace version: local names are matched), holds
TimeSeries of Periods in EUR/MWh excluding VAT, stored as EUR cents per kWh. Quirks:

- Each Period has its own resolution (PT15M / PT30M / PT60M, mixed in one document); slots
  keep it (an hourly SDAC period before 2025-10 gives hourly slots).
- curveType A03 leaves out a position whose price equals the previous one: filled forward
  to the Period's end, ``count = (end - start) / resolution``. A01 lists every position; a
  missing one stays a gap, never a made-up price.
- DE-LU and AT carry two auctions, ``classificationSequence...position`` 1 = SDAC and
  2 = EXAA (earlier). Per interval sequence 1 wins; sequence 2 only fills what no sequence-1
  price covers (EXAA stands in for tomorrow until SDAC is out; the next fetch's SDAC slots,
  same starts, replace it in the store). :meth:`EntsoeProvider.source_notes` says which.
- Series of a contract type other than A01 (Spain's A07) are skipped; a currency other than
  EUR or a unit other than MWH is refused; the header interval is not checked (can be wrong).
- "Not yet": an ``Acknowledgement_MarketDocument`` with Reason code 999 (HTTP 200 or 400)
  -> ProviderNotPublishedError. Another code, or a 999 calling the request "not valid" (an
  unknown area, entsoe-py#311) -> ProviderFetchError. HTTP 401 -> ProviderAuthError.

Loaded standalone by the daemon: imports only the standard library and providers.energy.base.
"""

from __future__ import annotations

import bisect
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from providers.energy.base import (
    RETRY_FIELDS,
    Choice,
    ConfigFields,
    EnergyPriceSlot,
    EnergyProviderMetadata,
    HttpResponse,
    KitProvider,
    ProviderAuthError,
    ProviderDataError,
    ProviderFetchError,
    ProviderNotPublishedError,
    Settings,
    Text,
    Url,
    format_utc,
    local_day_window,
    local_days,
    parse_utc,
    parse_xml,
    per_mwh_to_minor_per_kwh,
)

__version__ = "1.0.0"
REQUIRES_KIT = 3

PROVIDER_ID = "entsoe"
DEFAULT_BASE_URL = "https://web-api.tp.entsoe.eu/api"
TIMEZONE = "Europe/Berlin"
SLOT_MINUTES = 15
UTC_FORMAT = "%Y%m%d%H%M"

#: Bidding zone -> (EIC, name). EICs: markets.md §3 and evcc ``tariff/entsoe/areas.go``
#: (``BZN|...`` entries), cross-checked with hass-entso-e ``api_client.py`` ``Area``.
ZONES: dict[str, tuple[str, str]] = {
    "AT": ("10YAT-APG------L", "Austria"),
    "BE": ("10YBE----------2", "Belgium"),
    "BG": ("10YCA-BULGARIA-R", "Bulgaria"),
    "CH": ("10YCH-SWISSGRIDZ", "Switzerland"),
    "CZ": ("10YCZ-CEPS-----N", "Czechia"),
    "DE-LU": ("10Y1001A1001A82H", "Germany, Luxembourg"),
    "DK1": ("10YDK-1--------W", "Denmark West"),
    "DK2": ("10YDK-2--------M", "Denmark East"),
    "EE": ("10Y1001A1001A39I", "Estonia"),
    "ES": ("10YES-REE------0", "Spain"),
    "FI": ("10YFI-1--------U", "Finland"),
    "FR": ("10YFR-RTE------C", "France"),
    "GR": ("10YGR-HTSO-----Y", "Greece"),
    "HR": ("10YHR-HEP------M", "Croatia"),
    "HU": ("10YHU-MAVIR----U", "Hungary"),
    "IT-Calabria": ("10Y1001C--00096J", "Italy Calabria"),
    "IT-Centre-North": ("10Y1001A1001A70O", "Italy Centre-North"),
    "IT-Centre-South": ("10Y1001A1001A71M", "Italy Centre-South"),
    "IT-North": ("10Y1001A1001A73I", "Italy North"),
    "IT-Sardinia": ("10Y1001A1001A74G", "Italy Sardinia"),
    "IT-Sicily": ("10Y1001A1001A75E", "Italy Sicily"),
    "IT-South": ("10Y1001A1001A788", "Italy South"),
    "LT": ("10YLT-1001A0008Q", "Lithuania"),
    "LV": ("10YLV-1001A00074", "Latvia"),
    "ME": ("10YCS-CG-TSO---S", "Montenegro"),
    "NL": ("10YNL----------L", "Netherlands"),
    "NO1": ("10YNO-1--------2", "Norway South-East (Oslo)"),
    "NO2": ("10YNO-2--------T", "Norway South-West (Kristiansand)"),
    "NO3": ("10YNO-3--------J", "Norway Central (Trondheim)"),
    "NO4": ("10YNO-4--------9", "Norway North (Tromsø)"),
    "NO5": ("10Y1001A1001A48H", "Norway West (Bergen)"),
    "PL": ("10YPL-AREA-----S", "Poland"),
    "PT": ("10YPT-REN------W", "Portugal"),
    "RO": ("10YRO-TEL------P", "Romania"),
    "RS": ("10YCS-SERBIATSOV", "Serbia"),
    "SE1": ("10Y1001A1001A44P", "Sweden Luleå"),
    "SE2": ("10Y1001A1001A45N", "Sweden Sundsvall"),
    "SE3": ("10Y1001A1001A46L", "Sweden Stockholm"),
    "SE4": ("10Y1001A1001A47J", "Sweden Malmö"),
    "SI": ("10YSI-ELES-----O", "Slovenia"),
    "SK": ("10YSK-SEPS-----K", "Slovakia"),
}
#: Zones whose documents carry two auctions (hass-entso-e#272, entsoe-py#422).
TWO_AUCTIONS = frozenset({"DE-LU", "AT"})
_BY_KEY = {
    **{code.upper(): code for code in ZONES},
    **{eic.upper(): code for code, (eic, _) in ZONES.items()},
}
_RESOLUTION = re.compile(r"PT(\d+)([MH])")
#: A 999 acknowledgement that refuses the request instead of saying "no data yet".
_REFUSAL = re.compile(r"not valid|invalid|exceed", re.IGNORECASE)


def canonical_zone(value: str) -> str:
    """``"de_lu"``, ``"BZN|DE-LU"``, ``"10Y1001A1001A82H"`` -> ``"DE-LU"``; else unchanged."""
    key = value.strip().upper().replace("_", "-").removeprefix("BZN|")
    return _BY_KEY.get(key, value)


FIELDS = ConfigFields(
    {
        "region": Choice(
            tuple(ZONES),
            names={code: name for code, (_, name) in ZONES.items()},
            required=True,
            normalise=canonical_zone,
            description="bidding zone (its EIC code is accepted too)",
        ),
        "security_token": Text(
            r"\S+",
            max_length=200,
            example="a token without spaces",
            required=True,
            secret=True,
            identity=False,
            description="ENTSO-E Web API security token",
            hint=(
                "register at transparency.entsoe.eu, ask for Restful API access by e-mail, then "
                "copy the token from My Account Settings -> Web API Security Token"
            ),
        ),
        "base_url": Url(
            default=DEFAULT_BASE_URL,
            description="API endpoint (https://external-api.tp.entsoe.eu/api, a test stand-in)",
        ),
        **RETRY_FIELDS,
    }
)


@dataclass(frozen=True, slots=True)
class Priced:
    """One price of one sequence (auction) for ``[start, end)``, in EUR/MWh."""

    start: datetime
    end: datetime
    price: float
    sequence: int


def _local(tag: object) -> str:
    return str(tag).rpartition("}")[2]


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


def _optional(element: ET.Element, name: str) -> str | None:
    found = _children(element, name)
    return (found[0].text or "").strip() if found else None


def _required(element: ET.Element, name: str, where: str) -> str:
    value = _optional(element, name)
    if not value:
        raise ProviderDataError(f"{where}: no <{name}>")
    return value


def _number(text: str, where: str, whole: bool = False) -> float:
    try:
        value = float(text) if text.isdigit() or not whole else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ProviderDataError(f"{where}: {text[:40]!r} is not a {'whole ' * whole}number")
    return value


def _resolution(text: str, where: str) -> timedelta:
    match = _RESOLUTION.fullmatch(text)
    if match is None or int(match.group(1)) == 0:
        raise ProviderDataError(f"{where}: resolution {text[:40]!r} is not PT<n>M / PT<n>H")
    amount = int(match.group(1))
    return timedelta(minutes=amount) if match.group(2) == "M" else timedelta(hours=amount)


def acknowledgement_error(root: ET.Element, status: int | None = None) -> ProviderFetchError:
    """What an ``Acknowledgement_MarketDocument`` means: code 999 "no matching data" is
    "not published yet"; another code (or a 999 that calls the request invalid) a refusal."""
    reasons = [
        (_optional(reason, "code") or "?", _optional(reason, "text") or "(no text)")
        for reason in _children(root, "Reason")
    ]
    if not reasons:
        return ProviderDataError("ENTSO-E acknowledgement without a Reason")
    code, text = reasons[0]
    if code == "999" and not _REFUSAL.search(text):
        return ProviderNotPublishedError(f"ENTSO-E: {text} (reason 999: not yet)", status=status)
    detail = "; ".join(f"reason {c}: {t}" for c, t in reasons)
    return ProviderFetchError(f"ENTSO-E refused the request: {detail}", status=status)


def read_document(root: ET.Element, eic: str | None = None) -> list[Priced]:
    """Every price of every TimeSeries/Period of an A44 answer (all sequences, unfiltered)."""
    kind = _local(root.tag)
    if kind == "Acknowledgement_MarketDocument":
        raise acknowledgement_error(root)
    if kind != "Publication_MarketDocument":
        raise ProviderDataError(f"A44: unexpected document <{kind[:60]}>")
    doc_type = _optional(root, "type")
    if doc_type not in (None, "A44"):
        raise ProviderDataError(f"A44: document type {doc_type!r}")
    prices: list[Priced] = []
    for index, series in enumerate(_children(root, "TimeSeries"), 1):
        prices += _read_series(series, f"TimeSeries {index}", eic)
    return prices


def _read_series(series: ET.Element, where: str, eic: str | None) -> list[Priced]:
    contract = _optional(series, "contract_MarketAgreement.type")
    if contract not in (None, "A01"):  # not day-ahead (Spain's A07, entsoe-py#446)
        return []
    currency = _optional(series, "currency_Unit.name")
    if currency != "EUR":
        raise ProviderDataError(f"{where}: currency {currency!r}, expected EUR")
    unit = _optional(series, "price_Measure_Unit.name")
    if (unit or "").upper() != "MWH":
        raise ProviderDataError(f"{where}: price unit {unit!r}, expected MWH")
    domain = _optional(series, "in_Domain.mRID")
    if eic is not None and domain is not None and domain != eic:
        raise ProviderDataError(f"{where}: prices of {domain!r}, asked for {eic!r}")
    raw = _optional(series, "classificationSequence_AttributeInstanceComponent.position")
    sequence = int(_number(raw, f"{where}: sequence", whole=True)) if raw else 1
    curve = _optional(series, "curveType") or "A01"
    if curve not in ("A01", "A03"):
        raise ProviderDataError(f"{where}: curveType {curve!r} is not A01 or A03")
    prices: list[Priced] = []
    for index, period in enumerate(_children(series, "Period"), 1):
        prices += _read_period(period, curve, sequence, f"{where} Period {index}")
    return prices


def _read_period(period: ET.Element, curve: str, sequence: int, where: str) -> list[Priced]:
    interval = _children(period, "timeInterval")
    if not interval:
        raise ProviderDataError(f"{where}: no <timeInterval>")
    start = parse_utc(_required(interval[0], "start", where), f"{where} start")
    end = parse_utc(_required(interval[0], "end", where), f"{where} end")
    step = _resolution(_required(period, "resolution", where), where)
    if end <= start or (end - start) % step:
        raise ProviderDataError(f"{where}: {end - start} is not a whole number of {step}")
    count = (end - start) // step
    given: dict[int, float] = {}
    for point in _children(period, "Point"):
        position = int(_number(_required(point, "position", where), f"{where} position", True))
        if not 1 <= position <= count or position in given:
            raise ProviderDataError(f"{where}: position {position} twice or not in 1..{count}")
        given[position] = _number(_required(point, "price.amount", where), f"{where} price")
    if curve == "A03" and 1 not in given:
        raise ProviderDataError(f"{where}: A03 period without position 1")
    prices: list[Priced] = []
    last = math.nan
    for position in range(1, count + 1):
        if position in given:
            last = given[position]
        elif curve != "A03":
            continue  # A01: a missing position is a gap
        begin = start + step * (position - 1)
        prices.append(Priced(begin, begin + step, last, sequence))
    return prices


def prefer_sequences(prices: list[Priced]) -> list[Priced]:
    """Per interval the lowest sequence (SDAC before EXAA); within one sequence the finer
    resolution. A price overlapping one already kept is dropped. Sorted by start."""
    ranked = sorted(prices, key=lambda p: (p.sequence, p.end - p.start, p.start))
    starts: list[datetime] = []
    kept: list[Priced] = []
    for price in ranked:
        at = bisect.bisect_right(starts, price.start)
        clash_before = at > 0 and kept[at - 1].end > price.start
        if clash_before or (at < len(kept) and kept[at].start < price.end):
            continue
        starts.insert(at, price.start)
        kept.insert(at, price)
    return kept


def to_slots(prices: list[Priced]) -> list[EnergyPriceSlot]:
    """EUR/MWh -> EUR cents per kWh slots; a price of another sequence than the first (EXAA
    standing in for SDAC) is provisional: SDAC's replaces it when it is out."""
    return [
        EnergyPriceSlot(
            p.start,
            p.end,
            per_mwh_to_minor_per_kwh(p.price),
            "EUR",
            provisional=p.sequence != 1,
        )
        for p in prices
    ]


def parse_prices(body: bytes, eic: str | None = None) -> list[EnergyPriceSlot]:
    """An A44 answer -> the slots energyd stores (sequence preference applied)."""
    return to_slots(prefer_sequences(read_document(parse_xml(body, "A44"), eic)))


def auction_name(zone: str, sequence: int) -> str:
    if zone in TWO_AUCTIONS and sequence in (1, 2):
        return ("SDAC", "EXAA")[sequence - 1] + f" (sequence {sequence})"
    return "day-ahead" if sequence == 1 else f"sequence {sequence}"


def refusal(body: bytes) -> ProviderFetchError | None:
    """What an HTTP 400 acknowledgement means; ``None`` if the body is none."""
    try:
        root = parse_xml(body, "HTTP 400 body")
    except ProviderDataError:
        return None
    if _local(root.tag) != "Acknowledgement_MarketDocument":
        return None
    return acknowledgement_error(root, status=400)


def _prices_document(resp: HttpResponse) -> bool:
    """Whether an answer may be reused: a price document (never an acknowledgement such as
    "not published yet", nor a body that does not parse)."""
    if resp.status != 200:
        return False
    try:
        return _local(parse_xml(resp.body, resp.where).tag) == "Publication_MarketDocument"
    except ProviderDataError:
        return False


class EntsoeProvider(KitProvider):
    """Day-ahead prices of one bidding zone from the ENTSO-E Transparency Platform."""

    metadata = EnergyProviderMetadata(
        provider_id=PROVIDER_ID,
        display_name="ENTSO-E day-ahead",
        version=__version__,
        description=(
            "Day-ahead prices (A44) of European bidding zones from the ENTSO-E Transparency "
            "Platform, in EUR cents per kWh excluding VAT; needs a free Web API token."
        ),
        author="energyd",
        supported_regions=tuple(ZONES),
        region_names={code: name for code, (_, name) in ZONES.items()},
        currency="EUR",
        slot_minutes=SLOT_MINUTES,
        market_timezone=TIMEZONE,
        publish_time_local="13:00",
        day_start_local="00:00",
        requires_api_key=True,
    )
    config_fields = FIELDS
    # markets.md §3: "400 requests/min per IP and per token; exceeding -> HTTP 429 and 10-min
    # ban". 0.2 s between starts is at most 300/min for all feeds of this instance, and feeds
    # of one zone asking within 30 s share one answer.
    request_spacing_seconds = 0.2
    cache_seconds = 30.0

    def __init__(self) -> None:
        super().__init__()
        #: zone -> runs (sequence, start, end) of the auctions the last fetch used.
        self.auctions: dict[str, list[tuple[int, datetime, datetime]]] = {}

    async def fetch_window(
        self, region: str, start: datetime, end: datetime, settings: Settings
    ) -> list[EnergyPriceSlot]:
        zone = settings.text("region")
        eic = ZONES[zone][0]
        days = local_days(start, end, TIMEZONE)
        first = local_day_window(days[0], TIMEZONE)[0]
        last = local_day_window(days[-1], TIMEZONE)[1]
        params = {
            "securityToken": settings.text("security_token"),
            "documentType": "A44",
            "in_Domain": eic,
            "out_Domain": eic,
            "periodStart": first.strftime(UTC_FORMAT),
            "periodEnd": last.strftime(UTC_FORMAT),
            "contract_MarketAgreement.type": "A01",
        }
        try:  # ENTSO-E explains a 400 in an acknowledgement: keep its body
            resp = await self.api(settings).get(
                params=params, accept_statuses=(400,), cache_if=_prices_document
            )
        except ProviderAuthError as exc:
            raise ProviderAuthError(
                f"ENTSO-E refused the security_token (HTTP {exc.status}): check it under My "
                "Account Settings -> Web API Security Token on transparency.entsoe.eu",
                status=exc.status,
            ) from exc
        if resp.status == 400:
            raise refusal(resp.body) or ProviderFetchError(
                f"{resp.where}: HTTP 400 (request refused)", status=400
            )
        root = resp.xml()
        prices = prefer_sequences(read_document(root, eic))
        self._note(zone, prices)
        return to_slots(prices)

    def _note(self, zone: str, prices: list[Priced]) -> None:
        """Remember (and log, when it changes) which auction each stretch came from."""
        runs: list[tuple[int, datetime, datetime]] = []
        for price in prices:
            if runs and runs[-1][0] == price.sequence and runs[-1][2] == price.start:
                runs[-1] = (price.sequence, runs[-1][1], price.end)
            else:
                runs.append((price.sequence, price.start, price.end))
        if runs and runs != self.auctions.get(zone):
            fallback = [run for run in runs if run[0] != 1]
            if fallback:
                self.log.info(
                    "entsoe.fallback_auction",
                    zone=zone,
                    auction=auction_name(zone, fallback[0][0]),
                    start=format_utc(fallback[0][1]),
                    end=format_utc(fallback[-1][2]),
                )
        self.auctions[zone] = runs

    def source_notes(self, region: str, config: Mapping[str, Any]) -> dict[str, str]:
        """``{"auction": "SDAC (sequence 1) ...; EXAA (sequence 2) ..."}`` of the last fetch."""
        zone = canonical_zone(region or str(config.get("region", "")))
        runs = self.auctions.get(zone)
        if not runs:
            return {}
        shown = (
            f"{auction_name(zone, seq)} {format_utc(a)}..{format_utc(b)}" for seq, a, b in runs
        )
        return {"auction": "; ".join(shown)}
