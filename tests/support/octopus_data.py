"""Builders of Octopus-shaped JSON (same keys and conventions as the recorded responses).

Pure functions: a UK day of Agile rows, page chains, product lists and product details, and
the UK calendar arithmetic (clock changes included) the tests need. ``load_fixture`` is the one
reader of recorded files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

__all__ = [
    "API",
    "FIXTURES",
    "LONDON",
    "REGIONS",
    "SLOT",
    "agile_day_bounds",
    "agile_rows",
    "default_price",
    "default_products",
    "half_hours",
    "load_fixture",
    "page",
    "page_chain",
    "product_detail",
    "product_summary",
    "products_page",
    "rates_url",
    "tariff_code",
    "uk_day_bounds",
    "uk_publish_horizon",
    "unit_rate_row",
    "utc",
    "with_query",
    "z",
]

API = "https://api.octopus.energy"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "octopus"
LONDON = ZoneInfo("Europe/London")
SLOT = timedelta(minutes=30)
REGIONS = ("A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P")


def load_fixture(name: str) -> dict[str, Any]:
    """A recorded response from tests/fixtures/octopus/ (``name`` without ``.json``)."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
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
        "is_tracker": False,
        "is_prepay": False,
        "is_business": False,
        "is_restricted": False,
        "term": 12,
        "available_from": available_from,
        "available_to": None,
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
) -> dict[str, Any]:
    """``/v1/products/{code}/`` with a single-register tariff for each of ``regions``."""
    tariffs: dict[str, Any] = {}
    for region in regions:
        tariff = tariff_code(code, region)
        tariff_base = f"{base}/v1/products/{code}/electricity-tariffs/{tariff}"
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
    return {
        "code": code,
        "full_name": f"{code} (test)",
        "display_name": "Agile Octopus",
        "is_variable": True,
        "available_from": "2024-10-01T00:00:00+01:00",
        "available_to": None,
        "single_register_electricity_tariffs": tariffs,
        "dual_register_electricity_tariffs": {},
        "single_register_gas_tariffs": {},
        "brand": "OCTOPUS_ENERGY",
    }
