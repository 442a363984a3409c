"""Octopus Energy Agile price provider: the reference plugin of energyd.

Fetches half-hourly unit rates of Agile Octopus (import) or Agile Outgoing (export) from the
public Octopus REST API (no API key needed)::

    GET {base_url}/v1/products/                                   discover the current product
    GET {base_url}/v1/products/{product}/                         region -> tariff code
    GET {base_url}/v1/products/{product}/electricity-tariffs/{tariff}/standard-unit-rates/
        ?period_from=...Z&period_to=...Z&page_size=...            the prices, newest first

A ``tariff_code`` in the config skips the first two requests, a ``product_code`` the first.
Discovered product and tariff codes are cached on the instance for :attr:`CACHE_TTL_SECONDS`
and dropped when the product answers 404.

Every request runs under ``asyncio.timeout`` on the daemon's shared session. Transient
failures (connection, HTTP 5xx / 403 / 429) are retried with exponential backoff and full
jitter, bounded by ``retry_attempts`` per request and ``retry_budget_seconds`` per fetch.
A fetch returns all slots or raises; it never returns a partial, half-parsed answer.

This file is loaded standalone by the daemon: it imports only the standard library, aiohttp
and ``providers.energy.base``.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import itertools
import json
import logging
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit

import aiohttp
from providers.energy.base import (
    EnergyPriceProvider,
    EnergyPriceSlot,
    EnergyProviderMetadata,
    HealthState,
    ProviderConfigError,
    ProviderConnectionError,
    ProviderDataError,
    ProviderEmptyError,
    ProviderError,
    ProviderHealth,
    ProviderNotFoundError,
    ProviderRateLimitError,
    ProviderServerError,
)

__version__ = "1.0.0"

_log = logging.getLogger("energyd.providers.octopus_agile")
_T = TypeVar("_T")

PROVIDER_ID = "octopus_agile"
SLOT = timedelta(minutes=30)
CACHE_TTL_SECONDS = 12 * 3600.0

#: Grid supply point groups (there is no I and no O).
REGION_NAMES: dict[str, str] = {
    "A": "Eastern England",
    "B": "East Midlands",
    "C": "London",
    "D": "Merseyside & North Wales",
    "E": "West Midlands",
    "F": "North East",
    "G": "North West",
    "H": "Southern",
    "J": "South Eastern",
    "K": "South Wales",
    "L": "South Western",
    "M": "Yorkshire",
    "N": "South Scotland",
    "P": "North Scotland",
}
REGIONS = tuple(REGION_NAMES)
DIRECTIONS = ("import", "export")
#: Payment keys under a region in a product's detail, in order of preference.
PAYMENT_KEYS = ("direct_debit_monthly", "varying")

DEFAULT_BASE_URL = "https://api.octopus.energy"
MAX_PAGE_SIZE = 1500

_CODE = re.compile(r"^[A-Z0-9]+(?:-[A-Z0-9]+)*$")
_TARIFF = re.compile(r"^E-1R-(?P<product>[A-Z0-9]+(?:-[A-Z0-9]+)*)-(?P<region>[A-Z])$")

#: name -> (default, lowest, highest) for the numeric settings.
_INTS: dict[str, tuple[int, int, int]] = {
    "page_size": (MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE),
    "max_pages": (20, 1, 1000),
    "retry_attempts": (4, 1, 20),
}
_FLOATS: dict[str, tuple[float, float, float]] = {
    "retry_base_seconds": (2.0, 0.0, 600.0),
    "retry_budget_seconds": (60.0, 0.0, 3600.0),
}

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["region"],
    "properties": {
        "region": {
            "type": "string",
            "enum": list(REGIONS),
            "description": "grid supply point group letter (lower case and '_C' accepted)",
        },
        "product_code": {
            "type": "string",
            "description": "Agile product code, e.g. AGILE-24-10-01; default: discovered",
        },
        "tariff_code": {
            "type": "string",
            "description": "full tariff code, e.g. E-1R-AGILE-24-10-01-C; wins over product_code",
        },
        "direction": {
            "type": "string",
            "enum": list(DIRECTIONS),
            "default": "import",
            "description": "import = Agile Octopus, export = Agile Outgoing",
        },
        "base_url": {
            "type": "string",
            "format": "uri",
            "default": DEFAULT_BASE_URL,
            "description": "API root; point it at a mirror or proxy",
        },
        **{
            name: {"type": "integer", "default": default, "minimum": low, "maximum": high}
            for name, (default, low, high) in _INTS.items()
        },
        **{
            name: {"type": "number", "default": default, "minimum": low, "maximum": high}
            for name, (default, low, high) in _FLOATS.items()
        },
    },
}


# -- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OctopusSettings:
    """A validated, normalised provider configuration."""

    region: str
    product_code: str | None = None
    tariff_code: str | None = None
    direction: str = "import"
    base_url: str = DEFAULT_BASE_URL
    page_size: int = MAX_PAGE_SIZE
    max_pages: int = 20
    retry_attempts: int = 4
    retry_base_seconds: float = 2.0
    retry_budget_seconds: float = 60.0


def normalise_region(value: object) -> str | None:
    """``"c"``, ``"_C"`` or ``" C "`` -> ``"C"``; anything else -> ``None``."""
    if not isinstance(value, str):
        return None
    letter = value.strip().upper().removeprefix("_")
    return letter if letter in REGION_NAMES else None


def normalise_base_url(value: object) -> str | None:
    """An http(s) URL without query, fragment or trailing slash, or ``None`` if invalid."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parts = urlsplit(value.strip())
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or not port_ok:
        return None
    if parts.query or parts.fragment:
        return None
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _code(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    return code if _CODE.match(code) else None


def parse_config(config: Mapping[str, Any]) -> tuple[OctopusSettings | None, dict[str, str]]:
    """Validate and normalise ``config``: ``(settings, {})`` or ``(None, {field: reason})``.

    Keys this plugin does not know are ignored (the daemon shares its config sections).
    """
    errors: dict[str, str] = {}
    letters = " ".join(REGIONS)

    raw_region = config.get("region")
    region = normalise_region(raw_region)
    if raw_region is None or (isinstance(raw_region, str) and not raw_region.strip()):
        errors["region"] = f"required: one of {letters}"
    elif region is None:
        errors["region"] = f"unknown region {raw_region!r}; expected one of {letters}"

    product_code: str | None = None
    raw_product = config.get("product_code")
    if raw_product is not None and raw_product != "":
        product_code = _code(raw_product)
        if product_code is None:
            errors["product_code"] = f"{raw_product!r} is not a product code like AGILE-24-10-01"

    tariff_code: str | None = None
    raw_tariff = config.get("tariff_code")
    if raw_tariff is not None and raw_tariff != "":
        match = _TARIFF.match(raw_tariff.strip().upper()) if isinstance(raw_tariff, str) else None
        if match is None:
            errors["tariff_code"] = (
                f"{raw_tariff!r} is not a single-register tariff code like E-1R-AGILE-24-10-01-C"
            )
        elif match["region"] not in REGION_NAMES:
            errors["tariff_code"] = f"{raw_tariff!r} ends in {match['region']!r}, not a region"
        elif region is not None and match["region"] != region:
            errors["tariff_code"] = (
                f"{raw_tariff!r} is for region {match['region']} but region is {region}"
            )
        else:
            tariff_code = match.group(0)

    direction = "import"
    raw_direction = config.get("direction")
    if raw_direction is not None:
        candidate = raw_direction.strip().lower() if isinstance(raw_direction, str) else None
        if candidate not in DIRECTIONS:
            errors["direction"] = f"{raw_direction!r}: expected 'import' or 'export'"
        else:
            direction = candidate

    base_url = DEFAULT_BASE_URL
    raw_base = config.get("base_url")
    if raw_base is not None:
        normalised = normalise_base_url(raw_base)
        if normalised is None:
            errors["base_url"] = "must be an http:// or https:// URL without query, e.g. " + (
                DEFAULT_BASE_URL
            )
        else:
            base_url = normalised

    ints: dict[str, int] = {}
    for name, (int_default, int_low, int_high) in _INTS.items():
        raw = config.get(name)
        number = int_default if raw is None else _number(raw)
        if number is None or not float(number).is_integer() or not int_low <= number <= int_high:
            errors[name] = f"must be a whole number from {int_low} to {int_high}, got {raw!r}"
        else:
            ints[name] = int(number)

    floats: dict[str, float] = {}
    for name, (default, low, high) in _FLOATS.items():
        raw = config.get(name)
        value = default if raw is None else _number(raw)
        if value is None or not low <= value <= high:
            errors[name] = f"must be a number of seconds from {low:g} to {high:g}, got {raw!r}"
        else:
            floats[name] = float(value)

    if errors or region is None:
        return None, errors
    return (
        OctopusSettings(
            region=region,
            product_code=product_code,
            tariff_code=tariff_code,
            direction=direction,
            base_url=base_url,
            page_size=ints["page_size"],
            max_pages=ints["max_pages"],
            retry_attempts=ints["retry_attempts"],
            retry_base_seconds=floats["retry_base_seconds"],
            retry_budget_seconds=floats["retry_budget_seconds"],
        ),
        {},
    )


def product_from_tariff(tariff_code: str) -> str:
    """``E-1R-AGILE-24-10-01-C`` -> ``AGILE-24-10-01``."""
    match = _TARIFF.match(tariff_code.strip().upper())
    if match is None:
        raise ProviderConfigError(f"not a single-register tariff code: {tariff_code!r}")
    return match["product"]


# -- pure parsing ----------------------------------------------------------------------------


def format_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with ``Z``, whole seconds (``2024-05-07T21:30:00Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(value: object, what: str = "datetime") -> datetime:
    """An ISO 8601 string with an offset (or ``Z``) -> aware UTC; else ProviderDataError."""
    if not isinstance(value, str):
        raise ProviderDataError(f"{what}: expected an ISO 8601 string, got {value!r}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ProviderDataError(f"{what}: not an ISO 8601 datetime: {value!r}") from exc
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ProviderDataError(f"{what}: {value!r} has no UTC offset")
    return moment.astimezone(UTC)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP-date), ``None`` if absent/invalid."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC without a claim about local time
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _price(row: Mapping[str, Any], key: str, where: str) -> float:
    if key not in row:
        raise ProviderDataError(f"{where}: missing {key!r}")
    value = row[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProviderDataError(f"{where}: {key} is not a finite number: {value!r}")
    return float(value)


#: Lower ranks win when two rows price the same half-hour (DIRECT_DEBIT over the other).
_PAYMENT_RANK = {None: 0, "DIRECT_DEBIT": 0, "NON_DIRECT_DEBIT": 1}


def _slots_of_row(
    row: Mapping[str, Any], index: int, start: datetime, end: datetime
) -> tuple[list[EnergyPriceSlot], int]:
    """The 30-minute slots of one unit-rate row that overlap ``[start, end)``, and its rank."""
    where = f"unit rate row {index}"
    if not isinstance(row, Mapping):
        raise ProviderDataError(f"{where}: expected an object, got {type(row).__name__}")
    inc = _price(row, "value_inc_vat", where)
    exc = _price(row, "value_exc_vat", where)
    for key in ("valid_from", "valid_to"):
        if key not in row:
            raise ProviderDataError(f"{where}: missing {key!r}")
    valid_from = parse_utc(row["valid_from"], f"{where} valid_from")
    payment = row.get("payment_method")
    if payment is not None and not isinstance(payment, str):
        raise ProviderDataError(f"{where}: payment_method is not a string: {payment!r}")
    rank = _PAYMENT_RANK.get(payment, 1)
    if row["valid_to"] is None:  # open-ended: clip at the window's end, on the row's grid
        if valid_from >= end:
            return [], rank
        valid_to = valid_from + SLOT * -((valid_from - end) // SLOT)
    else:
        valid_to = parse_utc(row["valid_to"], f"{where} valid_to")
    length = valid_to - valid_from
    if length <= timedelta(0):
        raise ProviderDataError(f"{where}: valid_to is not after valid_from")
    if length % SLOT:
        raise ProviderDataError(f"{where}: {length} is not a whole number of half-hours")
    first = max(0, (start - valid_from) // SLOT)
    last = min(length // SLOT, -((valid_from - end) // SLOT))
    slots = [
        EnergyPriceSlot(
            valid_from=valid_from + SLOT * n,
            valid_to=valid_from + SLOT * (n + 1),
            price_pence=inc,
            currency="GBP",
            price_pence_exc_vat=exc,
        )
        for n in range(first, last)
    ]
    return slots, rank


def parse_unit_rates(results: object, start: datetime, end: datetime) -> list[EnergyPriceSlot]:
    """Octopus unit-rate rows -> 30-minute slots overlapping ``[start, end)``, ascending.

    Long rows are split, open-ended rows clipped; DIRECT_DEBIT wins over NON_DIRECT_DEBIT for
    the same half-hour; identical duplicates collapse. Anything malformed or contradictory
    raises :class:`ProviderDataError` for the whole answer.
    """
    if not isinstance(results, list):
        raise ProviderDataError(f"'results' is not a list but {type(results).__name__}")
    chosen: dict[datetime, tuple[int, EnergyPriceSlot]] = {}
    for index, row in enumerate(results):
        slots, rank = _slots_of_row(row, index, start, end)
        for slot in slots:
            held = chosen.get(slot.valid_from)
            if held is None or rank < held[0]:
                chosen[slot.valid_from] = (rank, slot)
            elif rank == held[0] and held[1] != slot:
                raise ProviderDataError(
                    f"conflicting prices for {format_utc(slot.valid_from)}: "
                    f"{held[1].price_pence} and {slot.price_pence}"
                )
    ordered = [slot for _, slot in sorted(chosen.values(), key=lambda item: item[1].valid_from)]
    for before, after in itertools.pairwise(ordered):
        if after.valid_from < before.valid_to:
            raise ProviderDataError(
                f"overlapping unit rates at {format_utc(after.valid_from)} (misaligned rows)"
            )
    return ordered


def select_agile_product(results: object, direction: str) -> str | None:
    """The Agile product code with the latest ``available_from`` for ``direction``, or None.

    Import: code ``AGILE-...``, direction IMPORT, not ``OUTGOING``. Export: direction EXPORT
    and ``OUTGOING`` in the code. Both: brand OCTOPUS_ENERGY and not Bulb (``-BB-``).
    """
    if not isinstance(results, list):
        raise ProviderDataError(f"products 'results' is not a list but {type(results).__name__}")
    best: tuple[datetime, str] | None = None
    for item in results:
        if not isinstance(item, Mapping):
            raise ProviderDataError(f"product entry is not an object: {item!r}")
        code = _code(item.get("code"))
        if code is None or not code.startswith("AGILE-") or "-BB-" in code:
            continue
        if item.get("brand") != "OCTOPUS_ENERGY":
            continue
        outgoing = "OUTGOING" in code
        item_direction = str(item.get("direction", "")).upper()
        if direction == "import" and (item_direction != "IMPORT" or outgoing):
            continue
        if direction == "export" and (item_direction != "EXPORT" or not outgoing):
            continue
        try:
            available = parse_utc(item.get("available_from"), f"product {code} available_from")
        except ProviderDataError:
            continue
        if best is None or (available, code) > best:
            best = (available, code)
    return None if best is None else best[1]


def tariff_code_for_region(detail: Mapping[str, Any], region: str) -> str:
    """The single-register electricity tariff code of ``region`` in a product's detail."""
    product = detail.get("code", "the product")
    tariffs = detail.get("single_register_electricity_tariffs")
    if not isinstance(tariffs, Mapping):
        raise ProviderDataError(f"{product}: no single_register_electricity_tariffs object")
    by_payment = tariffs.get("_" + region)
    if by_payment is None:
        raise ProviderNotFoundError(f"{product} has no single-register tariff for region {region}")
    if not isinstance(by_payment, Mapping):
        raise ProviderDataError(f"{product} region {region}: tariffs are not an object")
    for key in (*PAYMENT_KEYS, *by_payment):
        entry = by_payment.get(key)
        if isinstance(entry, Mapping):
            code = entry.get("code")
            if isinstance(code, str) and _TARIFF.match(code.strip().upper()):
                return code.strip().upper()
    raise ProviderDataError(f"{product} region {region}: no usable tariff code")


def rebase_url(link: str, current_url: str, base_url: str) -> str:
    """Resolve a ``next`` link; if its scheme/host differ from ``base_url``, move it there.

    Mirrors and proxies pass Octopus's absolute links through unchanged; the path and query
    are kept, the origin (and a path prefix of ``base_url``) are those of ``base_url``.
    """
    target = urlsplit(urljoin(current_url, link))
    base = urlsplit(base_url)
    if target.scheme not in ("http", "https"):
        raise ProviderDataError(f"'next' is not an http(s) link: {link!r}")
    if (target.scheme, target.netloc.lower()) == (base.scheme, base.netloc.lower()):
        return urlunsplit(target)
    path = target.path
    prefix = base.path.rstrip("/")
    if prefix and path != prefix and not path.startswith(prefix + "/"):
        path = prefix + path
    return urlunsplit((base.scheme, base.netloc, path, target.query, ""))


def _path(url: str) -> str:
    """The part of a URL safe and useful in messages (never user info)."""
    return urlsplit(url).path or "/"


def _scrub(text: str, url: str) -> str:
    """Remove the URL's user name and password from a foreign error message."""
    parts = urlsplit(url)
    for secret in (parts.password, parts.username):
        if secret:
            text = text.replace(secret, "***")
    return text


# -- retries ---------------------------------------------------------------------------------


def _is_transient(exc: ProviderError) -> bool:
    if isinstance(exc, ProviderConnectionError | ProviderRateLimitError):
        return True
    if isinstance(exc, ProviderServerError):
        return exc.status is None or exc.status >= 500 or exc.status == 403
    return False


class _Retrier:
    """Exponential backoff with full jitter, per request, under one budget per fetch."""

    def __init__(self, settings: OctopusSettings, rng: random.Random) -> None:
        self._attempts = settings.retry_attempts
        self._base = settings.retry_base_seconds
        self._deadline = time.monotonic() + settings.retry_budget_seconds
        self._rng = rng

    async def run(self, operation: Callable[[], Awaitable[_T]]) -> _T:
        attempt = 1
        while True:
            try:
                return await operation()
            except ProviderError as exc:
                if not _is_transient(exc) or attempt >= self._attempts:
                    raise
                delay = self._rng.uniform(0.0, self._base * 2 ** (attempt - 1))
                if isinstance(exc, ProviderRateLimitError) and exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)
                if delay > self._deadline - time.monotonic():
                    raise  # waiting would overrun the retry budget
                _log.warning(
                    "octopus_agile.retry attempt=%d delay=%.3fs error=%s: %s",
                    attempt,
                    delay,
                    type(exc).__name__,
                    exc,
                )
                await asyncio.sleep(delay)
                attempt += 1


# -- the provider ----------------------------------------------------------------------------


class OctopusAgileProvider(EnergyPriceProvider):
    """Agile Octopus / Agile Outgoing half-hourly prices from the Octopus REST API."""

    #: How long a discovered product code or looked-up tariff code is reused.
    cache_ttl_seconds: float = CACHE_TTL_SECONDS

    def __init__(self) -> None:
        super().__init__()
        self._products: dict[tuple[str, str], tuple[str, float]] = {}
        self._tariffs: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._rng = random.Random()

    # -- contract ----------------------------------------------------------------------------

    def get_metadata(self) -> EnergyProviderMetadata:
        return EnergyProviderMetadata(
            provider_id=PROVIDER_ID,
            display_name="Octopus Energy Agile",
            version=__version__,
            description=(
                "Half-hourly Agile Octopus import (or Agile Outgoing export) prices from the "
                "public Octopus Energy API, in pence per kWh including VAT."
            ),
            author="energyd",
            supported_regions=REGIONS,
            region_names=dict(REGION_NAMES),
            currency="GBP",
            slot_minutes=30,
            market_timezone="Europe/London",
            publish_time_local="16:00",
            day_start_local="23:00",
            requires_api_key=False,
            config_schema=CONFIG_SCHEMA,
        )

    def validate_config(self, config: Mapping[str, Any]) -> dict[str, str]:
        return parse_config(config)[1]

    async def fetch_prices(
        self,
        region: str,
        start_utc: datetime,
        end_utc: datetime,
        config: Mapping[str, Any],
    ) -> list[EnergyPriceSlot]:
        start, end = _window(start_utc, end_utc)
        settings = self._settings(region, config)
        session = self.http
        retrier = _Retrier(settings, self._rng)
        product, tariff = await self._resolve_tariff(session, settings, retrier)
        url = (
            f"{settings.base_url}/v1/products/{product}/electricity-tariffs/{tariff}"
            "/standard-unit-rates/"
        )
        params = {
            "period_from": format_utc(start),
            "period_to": format_utc(_ceil_second(end)),
            "page_size": str(settings.page_size),
        }
        try:
            rows = await self._get_pages(session, url, params, settings, retrier)
        except ProviderNotFoundError:
            self._forget(settings.base_url, product)
            raise
        slots = parse_unit_rates(rows, start, end)
        if not slots:
            raise ProviderEmptyError(
                f"no {tariff} prices between {format_utc(start)} and {format_utc(end)} "
                "(not published yet?)"
            )
        return slots

    async def get_current_price(
        self,
        region: str,
        config: Mapping[str, Any],
        now: datetime | None = None,
    ) -> EnergyPriceSlot | None:
        """The slot containing ``now``; ``None`` when Octopus has no price for it."""
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        start = _floor_slot(moment)
        try:
            slots = await self.fetch_prices(region, start, start + SLOT, config)
        except ProviderEmptyError:
            return None
        return next((slot for slot in slots if slot.contains(moment)), None)

    async def health_check(self, region: str, config: Mapping[str, Any]) -> ProviderHealth:
        """Fetch the current hour once (no retries): ok, degraded (no current price) or error."""
        now = datetime.now(UTC)
        start = _floor_slot(now)
        began = time.monotonic()
        try:
            slots = await self.fetch_prices(
                region, start, start + 2 * SLOT, {**config, "retry_attempts": 1}
            )
        except ProviderEmptyError:
            return ProviderHealth(
                HealthState.DEGRADED,
                "API reachable but no price for the current hour",
                latency_ms=(time.monotonic() - began) * 1000,
            )
        except ProviderError as exc:
            return ProviderHealth(HealthState.ERROR, f"{type(exc).__name__}: {exc}")
        latency = (time.monotonic() - began) * 1000
        if not any(slot.contains(now) for slot in slots):
            return ProviderHealth(
                HealthState.DEGRADED, "no price for the current half-hour", latency_ms=latency
            )
        return ProviderHealth(
            HealthState.OK, f"{len(slots)} prices for the current hour", latency_ms=latency
        )

    # -- resolution of product and tariff ----------------------------------------------------

    def _settings(self, region: str, config: Mapping[str, Any]) -> OctopusSettings:
        merged = dict(config)
        if region:
            merged["region"] = region
        settings, errors = parse_config(merged)
        if settings is None:
            detail = "; ".join(f"{key}: {reason}" for key, reason in errors.items())
            raise ProviderConfigError(f"invalid {PROVIDER_ID} config: {detail}", errors)
        return settings

    async def _resolve_tariff(
        self, session: aiohttp.ClientSession, settings: OctopusSettings, retrier: _Retrier
    ) -> tuple[str, str]:
        if settings.tariff_code is not None:
            return product_from_tariff(settings.tariff_code), settings.tariff_code
        product = settings.product_code or await self._discover(session, settings, retrier)
        return product, await self._tariff(session, settings, product, retrier)

    async def _discover(
        self, session: aiohttp.ClientSession, settings: OctopusSettings, retrier: _Retrier
    ) -> str:
        key = (settings.base_url, settings.direction)
        cached = self._products.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        url = f"{settings.base_url}/v1/products/"
        products = await self._get_pages(session, url, None, settings, retrier)
        product = select_agile_product(products, settings.direction)
        if product is None:
            kind = "Agile Outgoing" if settings.direction == "export" else "Agile import"
            raise ProviderNotFoundError(
                f"no current {kind} product in GET {_path(url)}; set product_code or tariff_code"
            )
        _log.info("octopus_agile.discovered direction=%s product=%s", settings.direction, product)
        self._products[key] = (product, time.monotonic() + self.cache_ttl_seconds)
        return product

    async def _tariff(
        self,
        session: aiohttp.ClientSession,
        settings: OctopusSettings,
        product: str,
        retrier: _Retrier,
    ) -> str:
        key = (settings.base_url, product, settings.region)
        cached = self._tariffs.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        url = f"{settings.base_url}/v1/products/{product}/"
        try:
            detail = await retrier.run(lambda: self._request(session, url, None))
        except ProviderNotFoundError:
            self._forget(settings.base_url, product)
            raise
        tariff = tariff_code_for_region(detail, settings.region)
        self._tariffs[key] = (tariff, time.monotonic() + self.cache_ttl_seconds)
        return tariff

    def _forget(self, base_url: str, product: str) -> None:
        """Drop cached codes of a product that answered 404 (withdrawn or renamed)."""
        self._products = {
            key: entry
            for key, entry in self._products.items()
            if not (key[0] == base_url and entry[0] == product)
        }
        self._tariffs = {
            key: entry
            for key, entry in self._tariffs.items()
            if not (key[0] == base_url and key[1] == product)
        }

    # -- HTTP --------------------------------------------------------------------------------

    async def _get_pages(
        self,
        session: aiohttp.ClientSession,
        url: str,
        params: Mapping[str, str] | None,
        settings: OctopusSettings,
        retrier: _Retrier,
    ) -> list[Any]:
        """``results`` of a list endpoint and every ``next`` page after it, concatenated."""
        results: list[Any] = []
        seen: set[str] = set()
        current: str = url
        query = params
        for _ in range(settings.max_pages):
            seen.add(current)
            body = await retrier.run(functools.partial(self._request, session, current, query))
            page = body.get("results")
            if not isinstance(page, list):
                raise ProviderDataError(f"GET {_path(current)}: 'results' is not a list")
            results.extend(page)
            link = body.get("next")
            if link is None:
                return results
            if not isinstance(link, str) or not link:
                raise ProviderDataError(f"GET {_path(current)}: 'next' is not a URL: {link!r}")
            current = rebase_url(link, current, settings.base_url)
            query = None  # a next link carries the query already
            if current in seen:
                raise ProviderDataError(f"GET {_path(current)}: 'next' links loop")
        raise ProviderDataError(
            f"GET {_path(url)}: more than max_pages={settings.max_pages} pages; "
            "narrow the window or raise max_pages"
        )

    async def _request(
        self, session: aiohttp.ClientSession, url: str, params: Mapping[str, str] | None
    ) -> dict[str, Any]:
        """One GET -> a JSON object, with every failure mapped onto the error tree."""
        where = f"GET {_path(url)}"
        try:
            async with (
                asyncio.timeout(self.timeout),
                session.get(url, params=params, headers={"Accept": "application/json"}) as resp,
            ):
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
                body = await resp.read() if 200 <= status < 300 else b""
        except TimeoutError as exc:
            raise ProviderConnectionError(f"{where}: no answer within {self.timeout:g} s") from exc
        except aiohttp.ClientError as exc:
            detail = _scrub(str(exc), url) or type(exc).__name__
            raise ProviderConnectionError(f"{where}: {detail}") from exc
        if status == 429:
            wait = parse_retry_after(retry_after)
            hint = "" if wait is None else f", retry after {wait:g} s"
            raise ProviderRateLimitError(f"{where}: HTTP 429 too many requests{hint}", wait)
        if status == 404:
            raise ProviderNotFoundError(f"{where}: HTTP 404 (unknown product or tariff)")
        if status == 403:
            raise ProviderServerError(f"{where}: HTTP 403 (blocked, e.g. by the CDN)", status)
        if not 200 <= status < 300:
            raise ProviderServerError(f"{where}: HTTP {status}", status)
        try:
            data = json.loads(body)
        except ValueError as exc:  # also UnicodeDecodeError
            raise ProviderDataError(f"{where}: body is not JSON ({len(body)} bytes)") from exc
        if not isinstance(data, dict):
            raise ProviderDataError(f"{where}: expected a JSON object, got {type(data).__name__}")
        return data


def _window(start_utc: datetime, end_utc: datetime) -> tuple[datetime, datetime]:
    for name, value in (("start_utc", start_utc), ("end_utc", end_utc)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    start, end = start_utc.astimezone(UTC), end_utc.astimezone(UTC)
    if end <= start:
        raise ValueError(f"empty window: end_utc {end.isoformat()} <= start_utc")
    return start, end


def _ceil_second(moment: datetime) -> datetime:
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def _floor_slot(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 30, second=0, microsecond=0)
