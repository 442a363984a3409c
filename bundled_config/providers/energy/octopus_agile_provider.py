"""Octopus Energy price provider: Agile, Agile Outgoing, Go, Intelligent Go, Cosy, Flux and
Tracker (electricity and gas), from the public Octopus REST API (no API key needed)::

    GET {base_url}/v1/products/                                   discover the current product
    GET {base_url}/v1/products/{product}/                         region -> tariff code
    GET {base_url}/v1/products/{product}/electricity-tariffs/{tariff}/standard-unit-rates/
    GET {base_url}/v1/products/{product}/gas-tariffs/{tariff}/standard-unit-rates/
        ?period_from=...Z&period_to=...Z&page_size=...            the prices, newest first
    GET {base_url}/v1/accounts/{account}/                         (optional) the live tariff

The provider id stays ``octopus_agile`` (configs and stored prices of older versions keep
working). A user names the ``family`` and the region and the current product is discovered
(``/v1/products/``: code prefix, direction, brand Octopus, not Bulb's ``-BB-``, not business or
prepay, still on sale, the latest ``available_from``); a ``product_code`` skips discovery, a
``tariff_code`` also the product detail; ``api_key`` + ``account_number`` read the tariff the
account is on now.

Discovery is shared: the products list is kept for :attr:`OctopusAgileProvider.cache_ttl_seconds`
(a day) by the kit's pacer, one per plugin instance, so every feed and every family of the
plugin reads the one answer (feeds starting together make one request, a family discovered
later in the day none; Tracker's ``?is_tracker=true`` list is its own request), and a
product's detail (its tariff code per region, which never changes) for
:attr:`OctopusAgileProvider.detail_ttl_seconds` (a week). A code gone quiet is checked
against a list at most :attr:`OctopusAgileProvider.rollover_recheck_seconds` old, one that
answered 404 against a list asked at once (which the other feeds then share).

Quirks handled here:

- Rows are uneven blocks (Agile half-hours, Go's 00:30-04:30 UK, Cosy's blocks, Tracker's one
  row per UK day 00:00-00:00): every row is split into the daemon's 30-minute slots, so a
  clock-change day has 46 or 50 of them. ``valid_to: null`` (open-ended) is clipped at the
  window's end on the row's half-hour grid.
- Duplicates by payment method: ``payment_method`` picks the rows that win (direct debit by
  default) and the payment key of the product detail that gives the tariff code.
- Rollover: when a code answers 404, or has no price for now while the products list names a
  newer product of its family, a discovered code is replaced at once (the new one is fetched
  in the same call); a code the user gave raises an error naming the old and the new code and
  what to set. Either way a warning is logged once and ``source_notes`` says so (health).
- Every 4xx but 404 and 429 on the public endpoints is trouble on Octopus's side, and 403 (the
  CDN blocking a burst) is retried; the account endpoint's 401 / 403 mean a refused key.

The plumbing is the plugin kit's (:class:`KitProvider`): config fields, requests on the daemon's
shared session, status -> error mapping, DRF pagination, retries with backoff and full jitter,
structlog events without secrets. A fetch returns all slots or raises, never half an answer.

This file is loaded standalone by the daemon: it imports only the standard library and
``providers.energy.base``.
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
    ProviderAuthError,
    ProviderConfigError,
    ProviderDataError,
    ProviderEmptyError,
    ProviderFetchError,
    ProviderNotFoundError,
    RetryPolicy,
    Settings,
    Text,
    Url,
    format_utc,
    parse_utc,
    split_into_slots,
)

__version__ = "3.1.0"
REQUIRES_KIT = 5

PROVIDER_ID = "octopus_agile"
SLOT = timedelta(minutes=30)
#: How long the products list is reused (by every feed): a new product is followed within a
#: day; a code that goes quiet or away is noticed at once (rollover).
CACHE_TTL_SECONDS = 24 * 3600.0
#: How long a product's detail (region -> tariff code, fixed for the product) is reused.
DETAIL_TTL_SECONDS = 7 * 24 * 3600.0
#: How old a products list may be when a code that went quiet is checked for a successor.
ROLLOVER_RECHECK_SECONDS = 300.0
#: How long the tariff an account is on is reused.
ACCOUNT_TTL_SECONDS = 3600.0

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
FUELS = ("electricity", "gas")
PAYMENT_METHODS = ("direct_debit", "non_direct_debit")
#: Payment keys under a region in a product's detail, in order of preference (then any).
PAYMENT_KEYS: dict[str, tuple[str, ...]] = {
    "direct_debit": ("direct_debit_monthly", "varying"),
    "non_direct_debit": ("porb", "varying", "prepayment"),
}
#: The rows' ``payment_method`` each choice wants (``null`` rows fit either).
PAYMENT_ROWS = {"direct_debit": "DIRECT_DEBIT", "non_direct_debit": "NON_DIRECT_DEBIT"}

DEFAULT_BASE_URL = "https://api.octopus.energy"
MAX_PAGE_SIZE = 1500

CODE = r"[A-Z0-9]+(?:-[A-Z0-9]+)*"
_CODE = re.compile(CODE)
_TARIFF = re.compile(rf"(?P<fuel>[EG])-1R-(?P<product>{CODE})-(?P<region>[A-Z])")
_ACCOUNT = r"A-[0-9A-F]{4,12}"

#: Every 4xx but 404 and 429 reads as trouble on Octopus's side (as it always did here).
SERVER_STATUSES = frozenset(range(400, 500)) - {404, 429}
#: 403 is the CDN blocking a burst: retried. Backoff ceilings are not capped below the
#: largest the config allows (600 s doubled 18 times): the retry budget bounds every wait.
RETRY_POLICY = RetryPolicy(max_delay=600.0 * 2**18, retry_statuses=frozenset({403}))

_K = TypeVar("_K")


# -- the families ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """One Octopus tariff family: how its products are named and its market rhythm."""

    name: str
    title: str
    #: Product codes start with one of these ...
    prefixes: tuple[str, ...]
    #: ... and contain none of these.
    excludes: tuple[str, ...] = ()
    direction: str = "import"
    #: When tomorrow's prices usually appear (UK time); None: fixed blocks, no rhythm.
    publish: str | None = None
    day_start: str = "00:00"
    #: What a still-to-be-discovered product is shown as in the source identity.
    placeholder: str = ""
    tracker: bool = False

    def names(self, code: str) -> bool:
        """Whether product ``code`` is one of this family's."""
        return code.startswith(self.prefixes) and not any(x in code for x in self.excludes)


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family(
            "agile",
            "Agile Octopus",
            ("AGILE-",),
            ("OUTGOING",),
            publish="16:00",
            day_start="23:00",
            placeholder="AGILE-*",
        ),
        Family(
            "agile_outgoing",
            "Agile Outgoing",
            ("AGILE-OUTGOING-",),
            direction="export",
            publish="16:00",
            day_start="23:00",
            placeholder="AGILE-*",  # as version 2 named it (stored identities stay)
        ),
        Family("go", "Octopus Go", ("GO-",), placeholder="GO-*"),
        Family(
            "intelligent_go",
            "Intelligent Octopus Go",
            ("INTELLI-", "IOG-"),
            ("FLUX",),
            placeholder="INTELLI-*",
        ),
        Family("cosy", "Cosy Octopus", ("COSY-",), placeholder="COSY-*"),
        Family("flux", "Octopus Flux", ("FLUX-IMPORT-",), placeholder="FLUX-IMPORT-*"),
        Family(
            "flux_export",
            "Octopus Flux export",
            ("FLUX-EXPORT-",),
            direction="export",
            placeholder="FLUX-EXPORT-*",
        ),
        Family(
            "tracker",
            "Octopus Tracker",
            ("SILVER-",),
            publish="11:00",
            placeholder="SILVER-*",
            tracker=True,
        ),
    )
}


def family_of_code(code: str) -> Family | None:
    """The family a product code belongs to (``GO-VAR-22-10-14`` -> go), or None."""
    return next((f for f in FAMILIES.values() if f.names(code)), None)


# -- configuration ---------------------------------------------------------------------------


def canonical_region(value: str) -> str:
    """``"c"``, ``"_C"`` or ``" C "`` -> ``"C"`` (anything else is refused by the field)."""
    return value.strip().upper().removeprefix("_")


def _given_product(settings: Settings) -> str | None:
    tariff = settings.optional_text("tariff_code")
    if tariff is not None:
        match = _TARIFF.fullmatch(tariff)
        return None if match is None else match["product"]
    return settings.optional_text("product_code")


def effective_family(settings: Settings) -> Family | None:
    """The family named, else the one a given code belongs to, else Agile / Agile Outgoing by
    ``direction``; None for a given code of no known family (Flexible, say)."""
    named = settings.optional_text("family")
    if named is not None:
        return FAMILIES[named]
    product = _given_product(settings)
    if product is not None:
        return family_of_code(product)
    return FAMILIES["agile_outgoing" if settings.text("direction") == "export" else "agile"]


def effective_fuel(settings: Settings) -> str:
    """``gas`` for a ``G-1R-`` tariff code or ``fuel = "gas"``, else electricity."""
    tariff = settings.optional_text("tariff_code")
    if tariff is not None and tariff.startswith("G-"):
        return "gas"
    return settings.text("fuel")


def effective_direction(settings: Settings) -> str:
    family = effective_family(settings)
    return settings.text("direction") if family is None else family.direction


def _tariff_matches_region(settings: Settings) -> dict[str, str]:
    tariff, region = settings.optional_text("tariff_code"), settings.text("region")
    if tariff is None or tariff[-1] == region:
        return {}
    return {"tariff_code": f"{tariff!r} is for region {tariff[-1]} but region is {region}"}


def _no_contradictions(settings: Settings) -> dict[str, str]:
    """family, direction, fuel and the codes must describe one tariff."""
    errors: dict[str, str] = {}
    named = settings.optional_text("family")
    family = None if named is None else FAMILIES[named]
    product = _given_product(settings)
    tariff = settings.optional_text("tariff_code")
    if (
        family is not None
        and settings.text("direction") == "export"
        and family.direction != "export"
    ):
        errors["direction"] = (
            f"direction = export contradicts family = {family.name} ({family.title} is an "
            "import tariff): drop direction, or set family = agile_outgoing or flux_export"
        )
    coded = None if product is None else family_of_code(product)
    if family is not None and coded is not None and coded is not family:
        key = "tariff_code" if tariff is not None else "product_code"
        errors[key] = f"{product} is a {coded.name} product but family is {family.name}"
    if settings.text("fuel") == "gas":
        if tariff is not None and tariff.startswith("E-"):
            errors["fuel"] = f"fuel = gas contradicts the electricity tariff_code {tariff}"
        elif effective_direction(settings) == "export":
            errors["fuel"] = "gas has no export tariffs: drop direction = export or fuel = gas"
        elif family is not None and not family.tracker:
            errors["fuel"] = (
                f"{family.title} has no gas tariff: set family = tracker, or give the gas "
                "product_code / tariff_code"
            )
        elif (
            family is None and product is None and settings.optional_text("account_number") is None
        ):
            errors["fuel"] = "gas: set family = tracker, or give product_code or tariff_code"
    if (settings.optional_text("api_key") is None) != (
        settings.optional_text("account_number") is None
    ):
        missing = "account_number" if settings.optional_text("api_key") else "api_key"
        errors[missing] = "api_key and account_number go together (the account's tariff)"
    return errors


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
        "family": Choice(
            tuple(FAMILIES),
            normalise=lambda value: value.lower().replace("-", "_").replace(" ", "_"),
            description=(
                "tariff family whose current product is discovered; default: agile "
                "(agile_outgoing with direction = export, or the family of a given code)"
            ),
        ),
        "product_code": Text(
            CODE,
            normalise=str.upper,
            example="AGILE-24-10-01",
            description="product code, e.g. AGILE-24-10-01 or GO-VAR-22-10-14; default: discovered",
        ),
        "tariff_code": Text(
            rf"[EG]-1R-{CODE}-[{''.join(REGIONS)}]",
            normalise=str.upper,
            example="E-1R-AGILE-24-10-01-C",
            description="full tariff code (E-1R-... or gas G-1R-...); wins over product_code",
        ),
        "direction": Choice(
            DIRECTIONS,
            default="import",
            normalise=str.lower,
            description="import = Agile Octopus, export = Agile Outgoing (without a family)",
        ),
        "fuel": Choice(
            FUELS,
            default="electricity",
            normalise=str.lower,
            description="gas: the gas unit rates (Tracker, or a given gas product)",
        ),
        "payment_method": Choice(
            PAYMENT_METHODS,
            default="direct_debit",
            normalise=lambda value: value.lower().replace("-", "_").replace(" ", "_"),
            description="whose prices win where rows differ by payment method",
        ),
        "api_key": Text(
            r"\S+",
            max_length=200,
            example="an API key without spaces",
            secret=True,
            identity=False,
            description="Octopus API key (with account_number: the account's live tariff)",
        ),
        "account_number": Text(
            _ACCOUNT,
            normalise=str.upper,
            example="A-1234ABCD",
            description="Octopus account number (with api_key: the account's live tariff)",
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
    checks=[_tariff_matches_region, _no_contradictions],
)


def product_from_tariff(tariff_code: str) -> str:
    """``E-1R-AGILE-24-10-01-C`` -> ``AGILE-24-10-01`` (also ``G-1R-...``)."""
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


def _rank(payment: str | None, prefer: str) -> int:
    """Lower ranks win a half-hour: rows of the wanted payment method (and ``null``), then
    the other method, then anything else."""
    if payment is None or payment == prefer:
        return 0
    return 1 if payment in PAYMENT_ROWS.values() else 2


def _slots_of_row(
    row: Mapping[str, Any], index: int, start: datetime, end: datetime, prefer: str
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
    rank = _rank(payment, prefer)
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


def parse_unit_rates(
    results: object, start: datetime, end: datetime, payment_method: str = "direct_debit"
) -> list[EnergyPriceSlot]:
    """Octopus unit-rate rows -> 30-minute slots overlapping ``[start, end)``, ascending.

    Long rows (Go, Cosy, Tracker's day) are split, open-ended rows clipped; where rows of both
    payment methods price a half-hour, ``payment_method``'s win (direct debit by default);
    identical duplicates collapse. Anything malformed or contradictory raises
    :class:`ProviderDataError` for the whole answer.
    """
    if not isinstance(results, list):
        raise ProviderDataError(f"'results' is not a list but {type(results).__name__}")
    prefer = PAYMENT_ROWS[payment_method]
    chosen: dict[datetime, tuple[int, EnergyPriceSlot]] = {}
    for index, row in enumerate(results):
        slots, rank = _slots_of_row(row, index, start, end, prefer)
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


def select_product(
    results: object, family: Family | str, now: datetime | None = None
) -> str | None:
    """The current product of ``family`` in a products list, or None: a code of the family,
    its direction, brand OCTOPUS_ENERGY, not Bulb (``-BB-``), not business or prepay, on sale
    at ``now`` (``available_to`` not past), the latest ``available_from``."""
    wanted = FAMILIES[family] if isinstance(family, str) else family
    moment = now or datetime.now(UTC)
    if not isinstance(results, list):
        raise ProviderDataError(f"products 'results' is not a list but {type(results).__name__}")
    best: tuple[datetime, str] | None = None
    for item in results:
        if not isinstance(item, Mapping):
            raise ProviderDataError(f"product entry is not an object: {item!r}")
        code = _code(item.get("code"))
        if code is None or not wanted.names(code) or "-BB-" in code:
            continue
        if item.get("brand") != "OCTOPUS_ENERGY" or str(item.get("direction", "")).upper() != (
            wanted.direction.upper()
        ):
            continue
        if item.get("is_business") is True or item.get("is_prepay") is True:
            continue
        try:
            available = parse_utc(item.get("available_from"), f"product {code} available_from")
            until = item.get("available_to")
            if until is not None and parse_utc(until, f"product {code} available_to") <= moment:
                continue
        except ProviderDataError:
            continue
        if available > moment:
            continue
        if best is None or (available, code) > best:
            best = (available, code)
    return None if best is None else best[1]


def select_agile_product(results: object, direction: str) -> str | None:
    """The current Agile (``import``) or Agile Outgoing (``export``) product, or None."""
    return select_product(results, "agile_outgoing" if direction == "export" else "agile")


def tariff_code_for_region(
    detail: Mapping[str, Any],
    region: str,
    *,
    fuel: str = "electricity",
    payment_method: str = "direct_debit",
) -> str:
    """The single-register tariff code of ``region`` in a product's detail (electricity, or
    ``single_register_gas_tariffs`` for gas), by ``payment_method``'s payment keys first."""
    product = detail.get("code", "the product")
    key = f"single_register_{fuel}_tariffs"
    tariffs = detail.get(key)
    if not isinstance(tariffs, Mapping):
        raise ProviderDataError(f"{product}: no {key} object")
    by_payment = tariffs.get("_" + region)
    if by_payment is None:
        kind = "gas" if fuel == "gas" else "single-register"
        raise ProviderNotFoundError(f"{product} has no {kind} tariff for region {region}")
    if not isinstance(by_payment, Mapping):
        raise ProviderDataError(f"{product} region {region}: tariffs are not an object")
    prefix = "G-" if fuel == "gas" else "E-"
    for name in (*PAYMENT_KEYS[payment_method], *by_payment):
        entry = by_payment.get(name)
        if isinstance(entry, Mapping):
            code = entry.get("code")
            if isinstance(code, str):
                match = _TARIFF.fullmatch(code.strip().upper())
                if match is not None and code.strip().upper().startswith(prefix):
                    return code.strip().upper()
    raise ProviderDataError(f"{product} region {region}: no usable tariff code")


def tariff_from_account(
    body: Mapping[str, Any], *, fuel: str, export: bool, now: datetime
) -> str | None:
    """The tariff code an account (``GET /v1/accounts/{n}/``) is on at ``now``: of its
    electricity meter points (import or export) or gas meter points, the agreement whose
    ``valid_from`` .. ``valid_to`` (null: open) holds ``now``."""
    properties = body.get("properties")
    if not isinstance(properties, list):
        raise ProviderDataError("account: 'properties' is not a list")
    found: list[tuple[datetime, str]] = []
    for place in properties:
        points = place.get(f"{fuel}_meter_points") if isinstance(place, Mapping) else None
        for point in points if isinstance(points, list) else ():
            if not isinstance(point, Mapping):
                continue
            if fuel == "electricity" and bool(point.get("is_export")) != export:
                continue
            agreements = point.get("agreements")
            for agreement in agreements if isinstance(agreements, list) else ():
                if not isinstance(agreement, Mapping):
                    continue
                code = _code(agreement.get("tariff_code"))
                begin = parse_utc(agreement.get("valid_from"), "account agreement valid_from")
                until = agreement.get("valid_to")
                end = None if until is None else parse_utc(until, "account agreement valid_to")
                if code is not None and begin <= now and (end is None or now < end):
                    found.append((begin, code))
    return max(found)[1] if found else None


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


def rates_path(product: str, tariff: str) -> str:
    """The standard-unit-rates path of a tariff (electricity or gas, by the code's prefix)."""
    kind = "gas-tariffs" if tariff.startswith("G-") else "electricity-tariffs"
    return f"/v1/products/{product}/{kind}/{tariff}/standard-unit-rates/"


def _ceil_second(moment: datetime) -> datetime:
    """``moment`` rounded up to a whole second (``period_to`` must cover the window)."""
    return moment + timedelta(microseconds=-moment.microsecond % 1_000_000)


def _fresh(cache: Mapping[_K, tuple[str, float]], key: _K, ttl: float, now: float) -> str | None:
    """A cached code younger than ``ttl`` at ``now`` (the pacer's clock)."""
    entry = cache.get(key)
    if entry is None:
        return None
    return entry[0] if now - entry[1] < ttl else None


@dataclass(frozen=True)
class Resolved:
    """Where one fetch reads: product and tariff codes and how they were found."""

    product: str
    tariff: str
    #: ``given`` (product_code / tariff_code), ``discovered`` or ``account``.
    how: str


# -- the provider ----------------------------------------------------------------------------


class OctopusAgileProvider(KitProvider):
    """Octopus Energy unit rates (Agile, Go, Cosy, Flux, Tracker ...) from the REST API."""

    metadata = EnergyProviderMetadata(
        provider_id=PROVIDER_ID,
        display_name="Octopus Energy",
        version=__version__,
        description=(
            "Octopus Energy unit rates from the public API in pence per kWh including VAT: "
            "Agile and Agile Outgoing half-hours, Go, Intelligent Go, Cosy and Flux blocks, "
            "Tracker's daily electricity or gas price, as 30-minute slots."
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

    #: How long the products list (every family's current product) is reused.
    cache_ttl_seconds: float = CACHE_TTL_SECONDS
    #: How long a product's detail (its tariff code per region) is reused.
    detail_ttl_seconds: float = DETAIL_TTL_SECONDS
    #: How old a products list may be to tell whether a quiet code has a successor.
    rollover_recheck_seconds: float = ROLLOVER_RECHECK_SECONDS
    #: How long an account's tariff code is reused.
    account_ttl_seconds: float = ACCOUNT_TTL_SECONDS

    def __init__(self) -> None:
        super().__init__()
        #: (base_url, family) -> the product last discovered (to log a change once)
        self._discovered: dict[tuple[str, str], str] = {}
        self._accounts: dict[tuple[str, str, str, bool], tuple[str, float]] = {}
        #: source identity -> (note, the product it is about)
        self._notes: dict[str, tuple[str, str]] = {}
        self._warned: set[tuple[str, str]] = set()

    # -- the contract ------------------------------------------------------------------------

    def metadata_for(self, region: str, config: Mapping[str, Any]) -> EnergyProviderMetadata:
        """Agile's 16:00 publication of 23:00-23:00 days, Tracker's 11:00 of UK days, no
        rhythm for the fixed blocks of Go, Intelligent Go, Cosy and Flux."""
        family = effective_family(self.settings(region, config))
        meta = self.get_metadata()
        if family is None:
            return meta
        return dataclasses.replace(
            meta, publish_time_local=family.publish, day_start_local=family.day_start
        )

    def source_identity(self, region: str, config: Mapping[str, Any]) -> str:
        """The tariff (``*`` for a product still to be discovered), direction or family, and
        API base: ``E-1R-AGILE-24-10-01-C import @ https://api.octopus.energy``,
        ``E-1R-GO-*-C go @ ...``, ``G-1R-SILVER-*-C tracker @ ...``."""
        settings = self.settings(region, config)
        family = effective_family(settings)
        letter = "G" if effective_fuel(settings) == "gas" else "E"
        tariff = settings.optional_text("tariff_code")
        account = settings.optional_text("account_number")
        if tariff is None and account is not None:
            tariff = f"{letter}-1R-(account {account})-{settings.text('region')}"
        elif tariff is None:
            placeholder = "AGILE-*" if family is None else family.placeholder
            product = settings.optional_text("product_code") or placeholder
            tariff = f"{letter}-1R-{product}-{settings.text('region')}"
        if family is None or family.name in ("agile", "agile_outgoing"):
            kind = effective_direction(settings)
        else:
            kind = family.name
        if settings.text("payment_method") != "direct_debit":
            kind += f" {settings.text('payment_method')}"
        return f"{tariff} {kind} @ {settings.text('base_url')}"

    def source_notes(self, region: str, config: Mapping[str, Any]) -> dict[str, str]:
        """``{"rollover": ...}`` while a product rollover was seen for this config."""
        try:
            note = self._notes.get(self.source_identity(region, config))
        except ProviderConfigError:
            return {}
        return {} if note is None else {"rollover": note[0]}

    async def fetch_window(
        self, region: str, start: datetime, end: datetime, settings: Settings
    ) -> list[EnergyPriceSlot]:
        api = self.api(settings)
        identity = self.source_identity(region, settings)
        resolved = await self._resolve(api, settings)
        resolved, slots, rolled = await self._following(api, settings, resolved, start, end)
        held = self._notes.get(identity)
        moved_on = held is not None and (resolved.how == "given" or held[1] != resolved.product)
        if not rolled and moved_on:
            self._notes.pop(identity, None)  # served again, or moved on since
        if not slots:
            raise ProviderEmptyError(
                f"no {resolved.tariff} prices between {format_utc(start)} and "
                f"{format_utc(end)} (not published yet?)"
            )
        return slots

    async def _following(
        self, api: HttpApi, settings: Settings, resolved: Resolved, start: datetime, end: datetime
    ) -> tuple[Resolved, list[EnergyPriceSlot], bool]:
        """The rates of ``resolved``, or of its successor when it has gone quiet (404, or no
        price for now while a newer product of its family is on sale); whether it rolled."""
        identity = self.source_identity(settings.text("region"), settings)
        try:
            slots = await self._rates(api, resolved, start, end, settings)
        except ProviderNotFoundError as exc:  # withdrawn or renamed: a list asked now says
            successor = await self._successor(api, settings, resolved, max_age=0.0)
            if successor is None:
                raise
            resolved = await self._rolled_over(api, settings, resolved, successor, identity, exc)
            return resolved, await self._rates(api, resolved, start, end, settings), True
        now = datetime.now(UTC)
        if not start <= now < end or any(slot.contains(now) for slot in slots):
            return resolved, slots, False
        successor = await self._successor(api, settings, resolved)
        if successor is None:
            return resolved, slots, False
        quiet = ProviderEmptyError(f"{resolved.tariff} has no price for now")
        if resolved.how == "given" and slots:  # keep what the old code still has; say so
            self._note(identity, resolved, successor, quiet)
            return resolved, slots, True
        resolved = await self._rolled_over(api, settings, resolved, successor, identity, quiet)
        return resolved, await self._rates(api, resolved, start, end, settings), True

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

    # -- the rates ---------------------------------------------------------------------------

    async def _rates(
        self, api: HttpApi, resolved: Resolved, start: datetime, end: datetime, settings: Settings
    ) -> list[EnergyPriceSlot]:
        params = {
            "period_from": format_utc(start),
            "period_to": format_utc(_ceil_second(end)),
            "page_size": str(settings.integer("page_size")),
        }
        rows = await api.paginate(
            rates_path(resolved.product, resolved.tariff),
            params=params,
            max_pages=settings.integer("max_pages"),
        )
        return parse_unit_rates(rows, start, end, settings.text("payment_method"))

    # -- resolution of product and tariff ----------------------------------------------------

    async def _resolve(self, api: HttpApi, settings: Settings) -> Resolved:
        tariff = settings.optional_text("tariff_code")
        if tariff is not None:
            return Resolved(product_from_tariff(tariff), tariff, "given")
        if settings.optional_text("account_number") is not None:
            tariff = await self._account_tariff(api, settings)
            return Resolved(product_from_tariff(tariff), tariff, "account")
        product = settings.optional_text("product_code")
        how = "given"
        if product is None:
            product, how = await self._discover(api, settings), "discovered"
        return Resolved(product, await self._tariff(api, product, settings), how)

    async def _discover(
        self, api: HttpApi, settings: Settings, max_age: float | None = None
    ) -> str:
        """The family's current product, from the products list every feed shares (kept by
        the pacer for ``cache_ttl_seconds``; no older than ``max_age`` when given)."""
        family = effective_family(settings) or FAMILIES["agile"]
        params = {"is_tracker": "true"} if family.tracker else None
        found = await api.paginate(
            "/v1/products/",
            params=params,
            max_pages=settings.integer("max_pages"),
            cache_seconds=self.cache_ttl_seconds,
            max_age=max_age,
        )
        product = select_product(found, family)
        if product is None:
            raise ProviderNotFoundError(
                f"no current {family.title} product in GET /v1/products/; set product_code "
                "or tariff_code"
            )
        key = (api.base_url, family.name)
        if self._discovered.get(key) != product:
            self._discovered[key] = product
            self.log.info(
                "octopus_agile.discovered",
                direction=family.direction,
                family=family.name,
                product=product,
            )
        return product

    async def _tariff(self, api: HttpApi, product: str, settings: Settings) -> str:
        region, fuel = settings.text("region"), effective_fuel(settings)
        payment = settings.text("payment_method")
        detail = await api.get_json(
            f"/v1/products/{product}/", expect=dict, cache_seconds=self.detail_ttl_seconds
        )
        return tariff_code_for_region(detail, region, fuel=fuel, payment_method=payment)

    async def _account_tariff(self, api: HttpApi, settings: Settings) -> str:
        """The tariff the account is on now (its key as the Basic-auth user name)."""
        account = settings.text("account_number")
        fuel = effective_fuel(settings)
        export = effective_direction(settings) == "export"
        key = (api.base_url, account, fuel, export)
        cached = _fresh(self._accounts, key, self.account_ttl_seconds, self.pacer.clock())
        if cached is not None:
            return cached
        secret = base64.b64encode(f"{settings.text('api_key')}:".encode()).decode("ascii")
        # here 401 / 403 mean a refused key: not Octopus's trouble, and not retried
        private = HttpApi.of(
            self,
            base_url=api.base_url,
            retry=dataclasses.replace(self.policy(settings), retry_statuses=frozenset()),
            name=PROVIDER_ID,
            server_statuses=SERVER_STATUSES - {401, 403},
            pacer=self.pacer,
        )
        try:
            body = await private.get_json(
                f"/v1/accounts/{account}/",
                headers={"Authorization": f"Basic {secret}"},
                expect=dict,
            )
        except ProviderAuthError as exc:
            raise ProviderAuthError(
                f"Octopus refused the api_key for account {account} (HTTP {exc.status}): "
                "check both in your Octopus dashboard (Personal details -> API access)",
                exc.status,
            ) from None
        tariff = tariff_from_account(body, fuel=fuel, export=export, now=datetime.now(UTC))
        kind = f"{'export' if export else 'import'} {fuel}"
        if tariff is None:
            raise ProviderNotFoundError(f"account {account} has no {kind} agreement valid now")
        match = _TARIFF.fullmatch(tariff)
        if match is None:
            raise ProviderNotFoundError(
                f"account {account}'s {kind} tariff {tariff} is not a single-register tariff"
            )
        if match["region"] != settings.text("region"):
            raise ProviderNotFoundError(
                f"account {account}'s tariff {tariff} is for region {match['region']} but "
                f"region is {settings.text('region')}: set region = {match['region']!r}"
            )
        self.log.info("octopus_agile.account_tariff", tariff=tariff)
        self._accounts[key] = (tariff, self.pacer.clock())
        return tariff

    # -- rollover ----------------------------------------------------------------------------

    async def _successor(
        self, api: HttpApi, settings: Settings, resolved: Resolved, max_age: float | None = None
    ) -> str | None:
        """A newer product of ``resolved``'s family on sale now, or None (no family known,
        nothing newer, or the products list failing: the original error stands). The list
        is at most ``max_age`` old (default ``rollover_recheck_seconds``; 0 after a 404: one
        asked now, which every feed then shares)."""
        if resolved.how == "account":
            self._accounts.clear()
            try:
                tariff = await self._account_tariff(api, settings)
            except ProviderFetchError:
                return None
            product = product_from_tariff(tariff)
            return None if product == resolved.product else product
        # a given code of no known family (Flexible, say) has no successor to look for
        family = family_of_code(resolved.product) or effective_family(settings)
        if family is None:
            return None
        probe = Settings({**settings, "family": family.name})
        # one attempt: the first error stands if the list fails too (no second retry storm)
        once = HttpApi.of(
            self,
            base_url=api.base_url,
            name=PROVIDER_ID,
            server_statuses=SERVER_STATUSES,
            pacer=self.pacer,
        )
        try:
            recheck = self.rollover_recheck_seconds if max_age is None else max_age
            newest = await self._discover(once, probe, max_age=recheck)
        except ProviderFetchError:  # none on sale, or the list failing: the first error stands
            return None
        return None if newest == resolved.product else newest

    async def _rolled_over(
        self,
        api: HttpApi,
        settings: Settings,
        old: Resolved,
        product: str,
        identity: str,
        why: Exception,
    ) -> Resolved:
        """Follow ``product`` (discovered or account codes), or raise what to set (given)."""
        if old.how == "given":
            region = settings.text("region")
            letter = "G" if effective_fuel(settings) == "gas" else "E"
            new_tariff = f"{letter}-1R-{product}-{region}"
            self._note(identity, old, product, why)
            message = (
                f"{old.tariff} has gone quiet ({why}); the current product is {product}: set "
                f'product_code = "{product}" (or tariff_code = "{new_tariff}"), or remove '
                "product_code / tariff_code to follow the current product"
            )
            if isinstance(why, ProviderNotFoundError):
                raise ProviderNotFoundError(message, status=404) from None
            raise ProviderEmptyError(message) from None
        if old.how == "account":
            tariff = await self._account_tariff(api, settings)
            new = Resolved(product_from_tariff(tariff), tariff, "account")
        else:
            new = Resolved(product, await self._tariff(api, product, settings), "discovered")
        self._note(identity, old, product, why)
        return new

    def _note(self, identity: str, old: Resolved, product: str, why: Exception) -> None:
        if old.how == "given":
            text = (
                f"{old.tariff} has no prices now; the current product is {product}: set "
                f'product_code = "{product}" or remove the code'
            )
        else:
            text = f"{old.product} went quiet ({why}); now following {product}"
        self._notes[identity] = (text, product)
        if (old.product, product) not in self._warned:
            self._warned.add((old.product, product))
            self.log.warning(
                "octopus_agile.rollover",
                old=old.product,
                new=product,
                tariff=old.tariff,
                how=old.how,
                detail=str(why),
            )
