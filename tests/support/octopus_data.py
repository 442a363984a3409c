"""Builders of Octopus-shaped JSON (same keys and conventions as the recorded responses).

Pure functions: a UK day of Agile rows, page chains, product lists and product details, and
the UK calendar arithmetic (clock changes included) the tests need. ``load_fixture`` is the one
reader of recorded files (``load_other`` for tests/fixtures/octopus_other/).

The other families (:class:`ProductRates`, :func:`rates_rows`): Go, Intelligent Go, Cosy and
Flux as blocks on the UK wall clock (one row per block per UK day, so a clock-change day's
blocks are an hour shorter or longer in UTC), Tracker as one row per UK day (electricity and
gas), Flexible-like open-ended rows; each with DIRECT_DEBIT and NON_DIRECT_DEBIT duplicates
(the non-direct-debit price dearer), as markets.md §8 describes the real API. The Cosy block
layout and region A's prices are the recorded ones
(``octopus_other/standard_unit_rates_E-1R-COSY-22-12-08-A_2025-03-03.json``).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

__all__ = [
    "API",
    "FAMILY_RATES",
    "FIXTURES",
    "FIXTURES_OTHER",
    "LONDON",
    "REGIONS",
    "SCHEDULES",
    "SLOT",
    "ProductRates",
    "agile_day_bounds",
    "agile_rows",
    "current_price",
    "default_price",
    "default_products",
    "family_products",
    "gas_rates_url",
    "half_hours",
    "load_fixture",
    "load_other",
    "page",
    "page_chain",
    "product_detail",
    "product_summary",
    "products_page",
    "rates_rows",
    "rates_url",
    "tariff_code",
    "tracker_price",
    "uk_day_bounds",
    "uk_publish_horizon",
    "unit_rate_row",
    "utc",
    "with_query",
    "z",
]

API = "https://api.octopus.energy"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "octopus"
FIXTURES_OTHER = Path(__file__).resolve().parents[1] / "fixtures" / "octopus_other"
LONDON = ZoneInfo("Europe/London")
SLOT = timedelta(minutes=30)
REGIONS = ("A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P")


def load_fixture(name: str) -> dict[str, Any]:
    """A recorded response from tests/fixtures/octopus/ (``name`` without ``.json``)."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def load_other(name: str) -> dict[str, Any]:
    """A recorded response from tests/fixtures/octopus_other/ (``name`` without ``.json``)."""
    data: dict[str, Any] = json.loads((FIXTURES_OTHER / f"{name}.json").read_text("utf-8"))
    return data


# -- time --------------------------------------------------------------------------------------


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def z(moment: datetime) -> str:
    """Octopus's timestamp format: ``2024-05-07T21:30:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def uk_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UK calendar day 00:00-24:00 local time, in UTC (23, 24 or 25 hours long)."""
    start = datetime.combine(day, time(0, 0), tzinfo=LONDON)
    end = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=LONDON)
    return start.astimezone(UTC), end.astimezone(UTC)


def agile_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The Agile day published on ``day - 1``: 23:00 the evening before ``day`` to 23:00."""
    start = datetime.combine(day - timedelta(days=1), time(23, 0), tzinfo=LONDON)
    end = datetime.combine(day, time(23, 0), tzinfo=LONDON)
    return start.astimezone(UTC), end.astimezone(UTC)


def uk_publish_horizon(now: datetime) -> datetime:
    """Where published Agile prices end at ``now``: 23:00 UK tomorrow after 16:00, else today."""
    local = now.astimezone(LONDON)
    day = local.date() + timedelta(days=1 if local.time() >= time(16, 0) else 0)
    return datetime.combine(day, time(23, 0), tzinfo=LONDON).astimezone(UTC)


def half_hours(start: datetime, end: datetime) -> list[datetime]:
    """Starts of the half-hours in ``[start, end)``, ascending; ``start`` is floored to :00/:30."""
    first = start.astimezone(UTC)
    first = first.replace(minute=first.minute - first.minute % 30, second=0, microsecond=0)
    count = max(0, math.ceil((end - first) / SLOT))
    return [first + SLOT * n for n in range(count)]


# -- prices ------------------------------------------------------------------------------------


def default_price(region: str, valid_from: datetime) -> float:
    """A deterministic Agile-like price (p/kWh inc VAT) with an evening peak and negatives.

    Negative from 12:00 to 14:00 UTC on even days of the month (a sunny, windy afternoon).
    """
    moment = valid_from.astimezone(UTC)
    offset = REGIONS.index(region) if region in REGIONS else 0
    slot = moment.hour * 2 + moment.minute // 30
    if moment.day % 2 == 0 and 24 <= slot < 28:
        return round(-1.5 - offset * 0.25 - (slot - 24) * 0.5, 4)
    peak = 14.0 if 32 <= slot < 38 else 0.0  # 16:00-19:00 UTC
    wave = 6.0 * math.sin(2 * math.pi * (slot - 12) / 48)
    return round(18.0 + wave + peak + offset * 0.35 + (moment.day % 7) * 0.4, 4)


def unit_rate_row(
    valid_from: datetime,
    valid_to: datetime | None,
    inc_vat: float,
    exc_vat: float | None = None,
    payment_method: str | None = None,
) -> dict[str, Any]:
    """One unit-rate row; ``exc_vat`` defaults to ``inc_vat / 1.05`` (5 % VAT)."""
    return {
        "value_exc_vat": round(inc_vat / 1.05, 4) if exc_vat is None else exc_vat,
        "value_inc_vat": inc_vat,
        "valid_from": z(valid_from),
        "valid_to": None if valid_to is None else z(valid_to),
        "payment_method": payment_method,
    }


def agile_rows(
    start: datetime,
    end: datetime,
    price: Callable[[datetime], float] | None = None,
) -> list[dict[str, Any]]:
    """Half-hourly Agile rows covering ``[start, end)``, newest first as Octopus sends them."""
    price_of = price or (lambda moment: default_price("C", moment))
    rows = [unit_rate_row(slot, slot + SLOT, price_of(slot)) for slot in half_hours(start, end)]
    rows.reverse()
    return rows


# -- list pages --------------------------------------------------------------------------------


def with_query(url: str, **params: str | int) -> str:
    """``url`` with ``params`` set (replacing existing values) in its query."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update({key: str(value) for key, value in params.items()})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def page(
    results: Sequence[Mapping[str, Any]],
    next_url: str | None = None,
    previous_url: str | None = None,
    count: int | None = None,
) -> dict[str, Any]:
    """A list response: ``{"count", "next", "previous", "results"}``."""
    return {
        "count": len(results) if count is None else count,
        "next": next_url,
        "previous": previous_url,
        "results": [dict(row) for row in results],
    }


def page_chain(
    first_url: str, rows: Sequence[Mapping[str, Any]], page_size: int
) -> list[tuple[str, dict[str, Any]]]:
    """``rows`` split into pages: ``[(url, body), ...]``; pages 2.. use ``?page=N``."""
    chunks = [rows[i : i + page_size] for i in range(0, len(rows), page_size)] or [[]]
    urls = [first_url] + [with_query(first_url, page=n) for n in range(2, len(chunks) + 1)]
    return [
        (
            urls[n],
            page(
                chunks[n],
                next_url=urls[n + 1] if n + 1 < len(chunks) else None,
                previous_url=urls[n - 1] if n else None,
                count=len(rows),
            ),
        )
        for n in range(len(chunks))
    ]


def rates_url(base: str, product: str, tariff: str) -> str:
    """The standard-unit-rates URL of a tariff (without query)."""
    return f"{base}/v1/products/{product}/electricity-tariffs/{tariff}/standard-unit-rates/"


# -- products ----------------------------------------------------------------------------------


def tariff_code(product: str, region: str) -> str:
    """``AGILE-24-10-01``, ``C`` -> ``E-1R-AGILE-24-10-01-C``."""
    return f"E-1R-{product}-{region}"


def product_summary(
    code: str,
    *,
    direction: str = "IMPORT",
    brand: str = "OCTOPUS_ENERGY",
    available_from: str = "2024-10-01T00:00:00+01:00",
    base: str = API,
    is_tracker: bool = False,
    available_to: str | None = None,
) -> dict[str, Any]:
    """One entry of ``/v1/products/``."""
    return {
        "code": code,
        "direction": direction,
        "full_name": f"{code} (test)",
        "display_name": "Agile Octopus" if code.startswith("AGILE-") else code,
        "description": "built by tests/support/octopus_data.py",
        "is_variable": True,
        "is_green": True,
        "is_tracker": is_tracker,
        "is_prepay": False,
        "is_business": False,
        "is_restricted": False,
        "term": 12,
        "available_from": available_from,
        "available_to": available_to,
        "links": [{"href": f"{base}/v1/products/{code}/", "method": "GET", "rel": "self"}],
        "brand": brand,
    }


def default_products(base: str = API) -> list[dict[str, Any]]:
    """A small products list: two Agile imports (latest AGILE-24-10-01), Bulb, Outgoing, other."""
    return [
        product_summary("AGILE-24-10-01", available_from="2024-10-01T00:00:00+01:00", base=base),
        product_summary("AGILE-24-04-03", available_from="2024-04-03T00:00:00+01:00", base=base),
        product_summary(
            "AGILE-BB-24-10-01",
            brand="BULB",
            available_from="2024-10-02T00:00:00+01:00",
            base=base,
        ),
        product_summary(
            "AGILE-OUTGOING-19-05-13",
            direction="EXPORT",
            available_from="2018-01-01T00:00:00Z",
            base=base,
        ),
        product_summary("VAR-22-11-01", available_from="2023-03-28T10:35:00+01:00", base=base),
    ]


def products_page(products: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``/v1/products/`` as one page."""
    return page(list(products))


def product_detail(
    code: str,
    regions: Iterable[str] = REGIONS,
    *,
    payment_key: str = "direct_debit_monthly",
    base: str = API,
    gas: bool = False,
) -> dict[str, Any]:
    """``/v1/products/{code}/`` with a single-register tariff for each of ``regions`` (and a
    gas tariff for each with ``gas``)."""
    electricity = _region_tariffs(code, regions, payment_key, base, "E")
    return {
        "code": code,
        "full_name": f"{code} (test)",
        "display_name": "Agile Octopus",
        "is_variable": True,
        "available_from": "2024-10-01T00:00:00+01:00",
        "available_to": None,
        "single_register_electricity_tariffs": electricity,
        "dual_register_electricity_tariffs": {},
        "single_register_gas_tariffs": (
            _region_tariffs(code, regions, payment_key, base, "G") if gas else {}
        ),
        "brand": "OCTOPUS_ENERGY",
    }


def _region_tariffs(
    code: str, regions: Iterable[str], payment_key: str, base: str, fuel: str
) -> dict[str, Any]:
    kind = "gas-tariffs" if fuel == "G" else "electricity-tariffs"
    tariffs: dict[str, Any] = {}
    for region in regions:
        tariff = f"{fuel}-1R-{code}-{region}"
        tariff_base = f"{base}/v1/products/{code}/{kind}/{tariff}"
        tariffs[f"_{region}"] = {
            payment_key: {
                "code": tariff,
                "standing_charge_exc_vat": 45.0,
                "standing_charge_inc_vat": 47.25,
                "links": [
                    {
                        "href": f"{tariff_base}/standing-charges/",
                        "method": "GET",
                        "rel": "standing_charges",
                    },
                    {
                        "href": f"{tariff_base}/standard-unit-rates/",
                        "method": "GET",
                        "rel": "standard_unit_rates",
                    },
                ],
            }
        }
    return tariffs


# -- the other families --------------------------------------------------------------------

#: Block schedules on the UK wall clock: ``(local start, p/kWh inc VAT)`` change points from
#: 00:00, each block lasting to the next one (the last to midnight). Region A's prices;
#: other regions add 0.25 p per region letter (``REGIONS`` order).
SCHEDULES: dict[str, tuple[tuple[str, float], ...]] = {
    # Octopus Go: 00:30-04:30 cheap (markets.md §8, BottlecapDave#890)
    "go": (("00:00", 26.46), ("00:30", 8.5), ("04:30", 26.46)),
    # Intelligent Octopus Go: 23:30-05:30 cheap
    "intelligent_go": (("00:00", 7.5), ("05:30", 27.88), ("23:30", 7.5)),
    # Cosy: the recorded layout and region A's recorded prices
    "cosy": (
        ("00:00", 26.98143),
        ("04:00", 13.23168),
        ("07:00", 26.98143),
        ("13:00", 13.23168),
        ("16:00", 40.47225),
        ("19:00", 26.98143),
        ("22:00", 13.23168),
    ),
    # Flux: 02:00-05:00 cheap, 16:00-19:00 peak
    "flux": (
        ("00:00", 27.01),
        ("02:00", 16.21),
        ("05:00", 27.01),
        ("16:00", 37.81),
        ("19:00", 27.01),
    ),
    "flux_export": (
        ("00:00", 9.62),
        ("02:00", 4.03),
        ("05:00", 9.62),
        ("16:00", 29.16),
        ("19:00", 9.62),
    ),
}


@dataclass(frozen=True)
class ProductRates:
    """How the stand-in prices one product's tariffs.

    ``kind``: ``agile`` (half-hours from the stand-in's price function), ``blocks`` (the
    ``schedule`` on the UK wall clock), ``daily`` (Tracker: one row per UK day), ``open``
    (open-ended rows since ``since``). ``pairs``: DIRECT_DEBIT and NON_DIRECT_DEBIT rows
    (else ``payment_method: null``). ``gas``: the product has gas tariffs too.
    ``quiet_from``: no rows from then on (a product rolled over); ``gone``: every request
    about the product answers 404.
    """

    kind: str = "agile"
    schedule: tuple[tuple[str, float], ...] = ()
    pairs: bool = True
    gas: bool = False
    since: datetime = datetime(2024, 4, 1, tzinfo=UTC)
    quiet_from: datetime | None = None
    gone: bool = False


#: The rates of the family products in :func:`family_products`.
FAMILY_RATES: dict[str, ProductRates] = {
    "GO-VAR-22-10-14": ProductRates("blocks", SCHEDULES["go"]),
    "GO-GREEN-VAR-22-10-14": ProductRates("blocks", SCHEDULES["go"]),
    "INTELLI-VAR-22-10-14": ProductRates("blocks", SCHEDULES["intelligent_go"]),
    "INTELLI-FLUX-IMPORT-23-07-14": ProductRates("blocks", SCHEDULES["flux"]),
    "COSY-22-12-08": ProductRates("blocks", SCHEDULES["cosy"], pairs=False),
    "FLUX-IMPORT-23-02-14": ProductRates("blocks", SCHEDULES["flux"]),
    "FLUX-EXPORT-23-02-14": ProductRates("blocks", SCHEDULES["flux_export"]),
    "SILVER-25-09-02": ProductRates("daily", gas=True),
    "SILVER-FLEX-22-11-25": ProductRates("daily", gas=True),
    "VAR-22-11-01": ProductRates("open", gas=True),
}


def family_products(base: str = API) -> list[dict[str, Any]]:
    """:func:`default_products` plus one current product of every family, with the
    distractors discovery must pass over (Bulb, Go Green, Intelligent Flux, an old Tracker
    no longer on sale)."""
    return [
        *default_products(base),
        product_summary("GO-VAR-22-10-14", available_from="2022-10-14T00:00:00+01:00", base=base),
        product_summary(
            "GO-GREEN-VAR-22-10-14", available_from="2022-10-13T00:00:00+01:00", base=base
        ),
        product_summary("GO-VAR-BB-23-02-07", brand="BULB", available_from="2023-02-07T00:00Z"),
        product_summary(
            "INTELLI-VAR-22-10-14", available_from="2022-10-14T00:00:00+01:00", base=base
        ),
        product_summary(
            "INTELLI-FLUX-IMPORT-23-07-14", available_from="2023-07-13T00:00:00+01:00", base=base
        ),
        product_summary("COSY-22-12-08", available_from="2022-12-13T00:00:00Z", base=base),
        product_summary("COSY-BB-23-02-07", brand="BULB", available_from="2023-02-07T00:00Z"),
        product_summary("FLUX-IMPORT-23-02-14", available_from="2023-02-14T00:00:00Z", base=base),
        product_summary(
            "FLUX-EXPORT-23-02-14",
            direction="EXPORT",
            available_from="2023-02-14T00:00:00Z",
            base=base,
        ),
        product_summary(
            "SILVER-25-09-02",
            available_from="2025-09-02T00:00:00+01:00",
            is_tracker=True,
            base=base,
        ),
        product_summary(
            "SILVER-FLEX-22-11-25",
            available_from="2022-11-25T00:00:00Z",
            available_to="2025-09-01T23:59:59+01:00",
            is_tracker=True,
            base=base,
        ),
    ]


def _region_offset(region: str) -> float:
    return REGIONS.index(region) * 0.25 if region in REGIONS else 0.0


def tracker_price(region: str, day: date, fuel: str = "electricity") -> float:
    """Tracker's price of UK day ``day`` (p/kWh inc VAT): moves day by day."""
    if fuel == "gas":
        return round(5.52 + (day.toordinal() % 5) * 0.31 + _region_offset(region) / 5, 4)
    return round(19.87 + (day.toordinal() % 9) * 0.73 + _region_offset(region), 4)


def _local(day: date, clock: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=LONDON).astimezone(UTC)


def _uk_dates(start: datetime, end: datetime) -> list[date]:
    first = start.astimezone(LONDON).date() - timedelta(days=1)
    last = end.astimezone(LONDON).date() + timedelta(days=1)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _ndd(price: float) -> float:
    """The non-direct-debit price beside a direct-debit one (a little dearer)."""
    return round(price + 1.2345, 5)


def rates_rows(
    spec: ProductRates,
    region: str,
    start: datetime,
    end: datetime,
    *,
    fuel: str = "electricity",
    agile_price: Callable[[str, datetime], float] = default_price,
) -> list[dict[str, Any]]:
    """The unit-rate rows of a product overlapping ``[start, end)``, newest first, whole (not
    clipped to the window, as Octopus sends them)."""
    offset = _region_offset(region)
    periods: list[tuple[datetime, datetime | None, float]] = []
    if spec.kind == "agile":
        periods = [(m, m + SLOT, agile_price(region, m)) for m in half_hours(start, end)]
    elif spec.kind == "blocks":
        for day in _uk_dates(start, end):
            points = [*spec.schedule, ("24:00", 0.0)]
            for (opens, price), (until, _) in itertools.pairwise(points):
                stop = _local(day + timedelta(days=1), "00:00") if until == "24:00" else None
                periods.append(
                    (_local(day, opens), stop or _local(day, until), round(price + offset, 5))
                )
    elif spec.kind == "daily":
        for day in _uk_dates(start, end):
            first, last = uk_day_bounds(day)
            periods.append((first, last, tracker_price(region, day, fuel)))
    elif spec.kind == "open":
        periods = [(spec.since, None, round(24.5 + offset, 4))]
    else:
        raise ValueError(f"unknown kind {spec.kind!r}")
    rows: list[dict[str, Any]] = []
    for begin, stop, price in periods:
        if (stop is not None and stop <= start) or begin >= end:
            continue
        if spec.quiet_from is not None and begin >= spec.quiet_from:
            continue
        if spec.pairs:
            rows.append(unit_rate_row(begin, stop, price, payment_method="DIRECT_DEBIT"))
            rows.append(unit_rate_row(begin, stop, _ndd(price), payment_method="NON_DIRECT_DEBIT"))
        else:
            rows.append(unit_rate_row(begin, stop, price))
    rows.sort(key=lambda row: row["valid_from"], reverse=True)
    return rows


def current_price(
    spec: ProductRates,
    region: str,
    moment: datetime,
    *,
    fuel: str = "electricity",
    payment_method: str = "DIRECT_DEBIT",
) -> float:
    """The ``value_inc_vat`` the stand-in gives the half-hour holding ``moment``."""
    for row in rates_rows(spec, region, moment, moment + timedelta(seconds=1), fuel=fuel):
        begin = datetime.fromisoformat(row["valid_from"])
        stop = None if row["valid_to"] is None else datetime.fromisoformat(row["valid_to"])
        inside = begin <= moment and (stop is None or moment < stop)
        if inside and row["payment_method"] in (None, payment_method):
            price: float = row["value_inc_vat"]
            return price
    raise LookupError(f"no row holds {moment.isoformat()}")


def gas_rates_url(base: str, product: str, tariff: str) -> str:
    """The gas standard-unit-rates URL of a tariff (without query)."""
    return f"{base}/v1/products/{product}/gas-tariffs/{tariff}/standard-unit-rates/"
