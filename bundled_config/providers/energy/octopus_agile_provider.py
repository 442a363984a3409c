"""Octopus Energy Agile price provider: the reference plugin of energyd.

Fetches half-hourly unit rates of Agile Octopus (import) or Agile Outgoing (export) from the
public Octopus REST API (no API key needed)::

    GET {base_url}/v1/products/                                   discover the current product
    GET {base_url}/v1/products/{product}/                         region -> tariff code
    GET {base_url}/v1/products/{product}/electricity-tariffs/{tariff}/standard-unit-rates/
        ?period_from=...Z&period_to=...Z&page_size=...            the prices, newest first

A ``tariff_code`` in the config skips the first two requests, a ``product_code`` the first.
Discovered product and tariff codes are cached on the instance for
:attr:`OctopusAgileProvider.cache_ttl_seconds` and dropped when the product answers 404.

This file holds what is Octopus's: regions, product and tariff codes, product discovery and
the unit-rate rows. The plumbing is the plugin kit's (:class:`KitProvider`): the config fields
(``validate_config`` and ``config_schema`` from one declaration), requests on the daemon's
shared session under its timeout, the HTTP status -> error mapping, DRF pagination (``next``
links rebased onto ``base_url``), retries with backoff and full jitter (``retry_attempts`` per
request, ``retry_budget_seconds`` per fetch; a 429 whose Retry-After does not fit the budget is
raised at once with ``retry_after``), structlog events without secrets. Octopus's own twist:
every 4xx but 404 and 429 is a server error, and 403 (the CDN blocking a burst) is retried.
A fetch returns all slots or raises; it never returns a partial, half-parsed answer.

This file is loaded standalone by the daemon: it imports only the standard library and
``providers.energy.base``.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from providers.energy.base import (
    RETRY_FIELDS,
    Choice,
    ConfigFields,
    EnergyPriceSlot,
    EnergyProviderMetadata,
    HttpApi,
    Integer,
    KitProvider,
    ProviderConfigError,
    ProviderDataError,
    ProviderEmptyError,
    ProviderNotFoundError,
    RetryPolicy,
    Settings,
    Text,
    Url,
    format_utc,
    parse_utc,
    split_into_slots,
)

__version__ = "2.1.0"
REQUIRES_KIT = 2

PROVIDER_ID = "octopus_agile"
SLOT = timedelta(minutes=30)
CACHE_TTL_SECONDS = 12 * 3600.0

#: Grid supply point groups (there is no I and no O).
REGION_NAMES: dict[str, str] = {
    "A": "Eastern England",
    "B": "East Midlands",
    "C": "London",
    "D": "Merseyside and North Wales",
    "E": "West Midlands",
    "F": "North Eastern England",
    "G": "North Western England",
    "H": "Southern England",
    "J": "South Eastern England",
    "K": "South Wales",
    "L": "South Western England",
    "M": "Yorkshire",
    "N": "Southern Scotland",
    "P": "Northern Scotland",
}
REGIONS = tuple(REGION_NAMES)
DIRECTIONS = ("import", "export")
#: Payment keys under a region in a product's detail, in order of preference.
PAYMENT_KEYS = ("direct_debit_monthly", "varying")

DEFAULT_BASE_URL = "https://api.octopus.energy"
MAX_PAGE_SIZE = 1500

CODE = r"[A-Z0-9]+(?:-[A-Z0-9]+)*"
_CODE = re.compile(CODE)
_TARIFF = re.compile(rf"E-1R-(?P<product>{CODE})-(?P<region>[A-Z])")

#: Every 4xx but 404 and 429 reads as trouble on Octopus's side (as it always did here).
SERVER_STATUSES = frozenset(range(400, 500)) - {404, 429}
#: 403 is the CDN blocking a burst: retried. Backoff ceilings are not capped below the
#: largest the config allows (600 s doubled 18 times): the retry budget bounds every wait.
RETRY_POLICY = RetryPolicy(max_delay=600.0 * 2**18, retry_statuses=frozenset({403}))

_K = TypeVar("_K")


# -- configuration ---------------------------------------------------------------------------


def canonical_region(value: str) -> str:
    """``"c"``, ``"_C"`` or ``" C "`` -> ``"C"`` (anything else is refused by the field)."""
    return value.strip().upper().removeprefix("_")


def _tariff_matches_region(settings: Settings) -> dict[str, str]:
    tariff, region = settings.optional_text("tariff_code"), settings.text("region")
    if tariff is None or tariff[-1] == region:
        return {}
    return {"tariff_code": f"{tariff!r} is for region {tariff[-1]} but region is {region}"}


#: The config: ``validate_config``, ``config_schema`` and the parsed settings all come from it.
#: A key it does not declare is refused with a "did you mean" (``prodcut_code``).
FIELDS = ConfigFields(
    {
        "region": Choice(
            REGIONS,
            names=REGION_NAMES,
            required=True,
            normalise=canonical_region,
            hint='find yours by postcode: energyd region --postcode "SW1A 1AA"',
            description="grid supply point group letter (lower case and '_C' accepted)",
        ),
        "product_code": Text(
            CODE,
            normalise=str.upper,
            example="AGILE-24-10-01",
            description="Agile product code, e.g. AGILE-24-10-01; default: discovered",
        ),
        "tariff_code": Text(
            rf"E-1R-{CODE}-[{''.join(REGIONS)}]",
            normalise=str.upper,
            example="E-1R-AGILE-24-10-01-C",
            description="full tariff code, e.g. E-1R-AGILE-24-10-01-C; wins over product_code",
        ),
        "direction": Choice(
            DIRECTIONS,
            default="import",
            normalise=str.lower,
            description="import = Agile Octopus, export = Agile Outgoing",
        ),
        "base_url": Url(default=DEFAULT_BASE_URL, description="API root; a mirror or proxy"),
        "page_size": Integer(
            1, MAX_PAGE_SIZE, default=MAX_PAGE_SIZE, identity=False, description="rows per page"
        ),
        "max_pages": Integer(
            1, 1000, default=20, identity=False, description="most pages read per list"
        ),
        **RETRY_FIELDS,
    },
    checks=[_tariff_matches_region],
)


def product_from_tariff(tariff_code: str) -> str:
    """``E-1R-AGILE-24-10-01-C`` -> ``AGILE-24-10-01``."""
    match = _TARIFF.fullmatch(tariff_code.strip().upper())
    if match is None:
        raise ProviderConfigError(f"not a single-register tariff code: {tariff_code!r}")
    return match["product"]


def _code(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    return code if _CODE.fullmatch(code) else None


# -- pure parsing ----------------------------------------------------------------------------


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
    if row["valid_to"] is not None:
        valid_to = parse_utc(row["valid_to"], f"{where} valid_to")
    elif valid_from >= end:
        return [], rank
    else:  # open-ended: clip at the window's end, on the row's grid
        valid_to = valid_from + SLOT * -((valid_from - end) // SLOT)
    try:
        slots = split_into_slots(
            valid_from,
            valid_to,
            inc,
            slot=SLOT,
            currency="GBP",
            price_exc_vat=exc,
            window=(start, end),
        )
    except ProviderDataError as error:
        raise ProviderDataError(f"{where}: {error}") from error
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
            if isinstance(code, str) and _TARIFF.fullmatch(code.strip().upper()):
                return code.strip().upper()
    raise ProviderDataError(f"{product} region {region}: no usable tariff code")


def regions_of_supply_points(results: object) -> list[str]:
    """The region letters in a grid-supply-point answer (``[{"group_id": "_C"}]`` -> ``["C"]``)."""
    if not isinstance(results, list):
        raise ProviderDataError(
            f"grid supply points: expected a list, got {type(results).__name__}"
        )
    found: list[str] = []
    for item in results:
        group = item.get("group_id") if isinstance(item, Mapping) else None
        if not isinstance(group, str) or canonical_region(group) not in REGION_NAMES:
            raise ProviderDataError(f"grid supply points: not a region group: {item!r}")
        if canonical_region(group) not in found:
            found.append(canonical_region(group))
    return found


def _ceil_second(moment: datetime) -> datetime:
    """``moment`` rounded up to a whole second (``period_to`` must cover the window)."""
    return moment + timedelta(microseconds=-moment.microsecond % 1_000_000)


def _fresh(cache: Mapping[_K, tuple[str, float]], key: _K) -> str | None:
    entry = cache.get(key)
    return entry[0] if entry is not None and entry[1] > time.monotonic() else None


# -- the provider ----------------------------------------------------------------------------


class OctopusAgileProvider(KitProvider):
    """Agile Octopus / Agile Outgoing half-hourly prices from the Octopus REST API."""

    metadata = EnergyProviderMetadata(
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
    )
    config_fields = FIELDS
    retry_policy = RETRY_POLICY
    server_statuses = SERVER_STATUSES

    #: How long a discovered product code or looked-up tariff code is reused.
    cache_ttl_seconds: float = CACHE_TTL_SECONDS

    def __init__(self) -> None:
        super().__init__()
        self._products: dict[tuple[str, str], tuple[str, float]] = {}
        self._tariffs: dict[tuple[str, str, str], tuple[str, float]] = {}

    async def fetch_window(
        self, region: str, start: datetime, end: datetime, settings: Settings
    ) -> list[EnergyPriceSlot]:
        api = self.api(settings)
        product, tariff = await self._resolve_tariff(api, settings)
        params = {
            "period_from": format_utc(start),
            "period_to": format_utc(_ceil_second(end)),
            "page_size": str(settings.integer("page_size")),
        }
        path = f"/v1/products/{product}/electricity-tariffs/{tariff}/standard-unit-rates/"
        try:
            rows = await api.paginate(path, params=params, max_pages=settings.integer("max_pages"))
        except ProviderNotFoundError:
            self._forget(api.base_url, product)
            raise
        slots = parse_unit_rates(rows, start, end)
        if not slots:
            raise ProviderEmptyError(
                f"no {tariff} prices between {format_utc(start)} and {format_utc(end)} "
                "(not published yet?)"
            )
        return slots

    def source_identity(self, region: str, config: Mapping[str, Any]) -> str:
        """The tariff (``*`` for a product still to be discovered), direction and API base:
        ``E-1R-AGILE-24-10-01-C import @ https://api.octopus.energy``."""
        settings = self.settings(region, config)
        tariff = settings.optional_text("tariff_code")
        if tariff is None:
            product = settings.optional_text("product_code") or "AGILE-*"
            tariff = f"E-1R-{product}-{settings.text('region')}"
        return f"{tariff} {settings.text('direction')} @ {settings.text('base_url')}"

    async def find_regions(self, query: str, config: Mapping[str, Any]) -> list[str]:
        """The regions of a postcode, from the grid-supply-point endpoint (no API key)."""
        # Any valid region will do: the lookup needs only the API base (and retry knobs).
        wanted = ("base_url", "max_pages", *RETRY_FIELDS)
        given = {key: config[key] for key in wanted if config.get(key) is not None}
        settings = self.config_fields.parse({**given, "region": "C"})
        api = self.api(settings)
        postcode = " ".join(query.split()).upper()
        rows = await api.paginate(
            "/v1/industry/grid-supply-points/",
            params={"postcode": postcode},
            max_pages=settings.integer("max_pages"),
        )
        return regions_of_supply_points(rows)

    # -- resolution of product and tariff ----------------------------------------------------

    async def _resolve_tariff(self, api: HttpApi, settings: Settings) -> tuple[str, str]:
        tariff = settings.optional_text("tariff_code")
        if tariff is not None:
            return product_from_tariff(tariff), tariff
        product = settings.optional_text("product_code") or await self._discover(api, settings)
        return product, await self._tariff(api, product, settings.text("region"))

    async def _discover(self, api: HttpApi, settings: Settings) -> str:
        direction = settings.text("direction")
        key = (api.base_url, direction)
        cached = _fresh(self._products, key)
        if cached is not None:
            return cached
        found = await api.paginate("/v1/products/", max_pages=settings.integer("max_pages"))
        product = select_agile_product(found, direction)
        if product is None:
            kind = "Agile Outgoing" if direction == "export" else "Agile import"
            raise ProviderNotFoundError(
                f"no current {kind} product in GET /v1/products/; set product_code or tariff_code"
            )
        self.log.info("octopus_agile.discovered", direction=direction, product=product)
        self._products[key] = (product, time.monotonic() + self.cache_ttl_seconds)
        return product

    async def _tariff(self, api: HttpApi, product: str, region: str) -> str:
        key = (api.base_url, product, region)
        cached = _fresh(self._tariffs, key)
        if cached is not None:
            return cached
        try:
            detail = await api.get_json(f"/v1/products/{product}/", expect=dict)
        except ProviderNotFoundError:
            self._forget(api.base_url, product)
            raise
        tariff = tariff_code_for_region(detail, region)
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
