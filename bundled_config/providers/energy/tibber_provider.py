"""Tibber: the retail prices of a Tibber customer's home (DE, NL, NO, SE), over GraphQL.

One POST per fetch (two when the quarter-hourly answer is empty) with the personal token::

    POST {base_url}/v1-beta/gql   Authorization: Bearer <token>
    {"query": "{ viewer { homes { id appNickname currentSubscription { priceInfo(
      resolution: QUARTER_HOURLY) { today { total energy tax startsAt currency level }
      tomorrow { ... } } } } } }"}

The answer holds every home of the token; the one of ``home_id`` is used (with a single home
it may be left out). Prices are currency/kWh: ``total`` includes tax and VAT (published as it
is, in minor units: cents, øre, öre), ``energy`` is the energy alone (``energy_pence``, where
the daemon's price formula starts, so VAT is never counted twice). Quirks handled here:

- Slots end at the next ``startsAt`` (the last one, and one before a missing entry, lasts the
  resolution's 15 / 60 minutes); ``startsAt`` carries a local offset, so clock-change days have
  92 / 100 quarter hours (23 / 25 hours) without counting anything.
- ``resolution = "quarter_hourly"`` answered ``today: []`` for days in 2026 while the hourly
  query worked: then the plugin asks again with ``HOURLY`` and uses those (hourly slots, never
  cut into quarter hours), logs ``tibber.hourly_fallback`` once and says so in its notes.
- ``tomorrow: []`` before about 13:00 is "not yet": today's slots are returned; a window with
  no slot at all is :class:`ProviderNotPublishedError` (``retry_at`` the publication, if ahead).
- GraphQL ``errors``: a refused token is :class:`ProviderAuthError`, Tibber's internal error a
  server error, anything else bad data; an error about another home of the token is ignored.
  The token never appears in a log, message, identity or URL.
- A ``currency`` other than the region's (EUR for DE / NL, NOK, SEK) refuses the whole answer.
- The rate limit is not published: answers are reused for 60 s (feeds of several homes of one
  token share one request) and requests start at least 1 s apart; a 429 keeps its Retry-After.

Loaded standalone by the daemon: imports only the standard library and providers.energy.base.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from providers.energy.base import (
    RETRY_FIELDS,
    Choice,
    ConfigFields,
    EnergyPriceSlot,
    EnergyProviderMetadata,
    HttpResponse,
    KitProvider,
    ProviderAuthError,
    ProviderConfigError,
    ProviderDataError,
    ProviderEmptyError,
    ProviderFetchError,
    ProviderNotPublishedError,
    ProviderServerError,
    Settings,
    Text,
    Url,
    format_utc,
    local_days,
    parse_utc,
    per_kwh_major_to_minor,
)

__version__ = "1.0.0"
REQUIRES_KIT = 4

PROVIDER_ID = "tibber"
DEFAULT_BASE_URL = "https://api.tibber.com"
GQL = "/v1-beta/gql"
PUBLISH_TIME = "13:00"
PRICE_FIELDS = "total energy tax startsAt currency level"

#: Countries (the region codes), their currency and the zone of their market day.
COUNTRIES: dict[str, str] = {"DE": "Germany", "NL": "Netherlands", "NO": "Norway", "SE": "Sweden"}
CURRENCIES: dict[str, str] = {"DE": "EUR", "NL": "EUR", "NO": "NOK", "SE": "SEK"}
ZONES: dict[str, str] = {
    "DE": "Europe/Berlin",
    "NL": "Europe/Amsterdam",
    "NO": "Europe/Oslo",
    "SE": "Europe/Stockholm",
}
#: ``resolution`` setting -> (the GraphQL enum, slot minutes).
RESOLUTIONS: dict[str, tuple[str, int]] = {
    "quarter_hourly": ("QUARTER_HOURLY", 15),
    "hourly": ("HOURLY", 60),
}
_ALIASES = {"GERMANY": "DE", "NETHERLANDS": "NL", "NORWAY": "NO", "SWEDEN": "SE"}
#: GraphQL error codes and messages that mean the token is refused (pyTibber, HA core#153368).
_AUTH_CODES = frozenset({"UNAUTHENTICATED", "UNAUTHORIZED", "FORBIDDEN"})
_AUTH_TEXT = re.compile(r"token|jws|jwt|unauthori[sz]ed|unauthenticated|\"exp\" claim", re.I)


def canonical_region(value: str) -> str:
    """``"se"``, ``"Sweden"`` -> ``"SE"``; others unchanged."""
    key = value.strip().upper()
    return _ALIASES.get(key, key if key in COUNTRIES else value)


def canonical_resolution(value: str) -> str:
    """``"Quarter-Hourly"``, ``"QUARTER_HOURLY"`` -> ``"quarter_hourly"``."""
    return value.strip().lower().replace("-", "_").replace(" ", "_")


FIELDS = ConfigFields(
    {
        "region": Choice(
            tuple(COUNTRIES),
            names=COUNTRIES,
            required=True,
            normalise=canonical_region,
            description="the home's country: DE, NL (EUR), NO (NOK) or SE (SEK)",
        ),
        "token": Text(
            r"\S+",
            max_length=500,
            example="a token without spaces",
            required=True,
            secret=True,
            identity=False,
            description="Tibber personal access token",
            hint="create one at developer.tibber.com (Settings -> Access token)",
        ),
        "home_id": Text(
            r"\S+",
            max_length=100,
            example="96a14971-525a-4420-aae9-e5aedaa129ff",
            description="the home's id; may be left out when the token has one home",
        ),
        "resolution": Choice(
            tuple(RESOLUTIONS),
            default="quarter_hourly",
            normalise=canonical_resolution,
            description="quarter_hourly (15-minute prices, hourly when Tibber has none) or hourly",
        ),
        "base_url": Url(default=DEFAULT_BASE_URL, description="API root (test stand-in)"),
        **RETRY_FIELDS,
    }
)


def price_query(resolution: str) -> str:
    """The GraphQL query of every home's prices of today and tomorrow at ``resolution``."""
    rows = f"{{ {PRICE_FIELDS} }}"
    return (
        "{ viewer { homes { id appNickname currentSubscription { "
        f"priceInfo(resolution: {resolution}) {{ today {rows} tomorrow {rows} }} }} }} }} }}"
    )


def fingerprint(token: str) -> str:
    """A short digest standing for ``token`` in cache keys (the token itself is kept nowhere)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


# -- the answer -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Home:
    """One home of the answer: its id, app nickname and ``priceInfo`` (``None``: no active
    subscription)."""

    id: str
    nickname: str | None
    price_info: Mapping[str, Any] | None
    index: int

    @property
    def shown(self) -> str:
        return f"{self.id} ({self.nickname})" if self.nickname else self.id


def _scrubbed(text: object, secret: str) -> str:
    shown = str(text)[:200]
    return shown.replace(secret, "***") if secret else shown


def error_for(errors: Sequence[Any], where: str, token: str, status: int) -> ProviderFetchError:
    """The error a list of GraphQL ``errors`` means (the first one's code and message)."""
    first = errors[0] if errors and isinstance(errors[0], Mapping) else {}
    extensions = first.get("extensions")
    code = str(extensions.get("code") or "") if isinstance(extensions, Mapping) else ""
    message = _scrubbed(first.get("message", "no message"), token)
    said = f"{where}: GraphQL error {code or '(no code)'}: {message}"
    if code.upper() in _AUTH_CODES or _AUTH_TEXT.search(message):
        return ProviderAuthError(f"{said}: check the token at developer.tibber.com", status)
    if status == 400:
        return ProviderFetchError(f"{said} (HTTP 400, request refused)", status=400)
    if code.upper() == "INTERNAL_SERVER_ERROR":
        return ProviderServerError(said, status)
    return ProviderDataError(said)


def _home_of_error(error: object) -> int | None:
    """The index into ``viewer.homes`` an error's ``path`` points at, if it does."""
    path = error.get("path") if isinstance(error, Mapping) else None
    if isinstance(path, list) and len(path) >= 3 and path[:2] == ["viewer", "homes"]:
        index = path[2]
        if isinstance(index, int) and not isinstance(index, bool):
            return index
    return None


def read_answer(resp: HttpResponse, token: str) -> tuple[list[Home], dict[int, list[Any]]]:
    """An answer -> its homes and the GraphQL errors about single homes (by index). Errors
    about no home in particular, an answer without data or with homes of the wrong shape
    fail at once."""
    where = resp.where
    try:
        body = resp.json(dict)
    except ProviderDataError:
        if resp.status == 400:
            raise ProviderFetchError(f"{where}: HTTP 400 (request refused)", status=400) from None
        raise
    errors = body.get("errors")
    if errors is not None and not isinstance(errors, list):
        raise ProviderDataError(f"{where}: 'errors' is not a list")
    per_home: dict[int, list[Any]] = {}
    general = []
    for error in errors or ():
        index = _home_of_error(error)
        if index is None:
            general.append(error)
        else:
            per_home.setdefault(index, []).append(error)
    if general or resp.status == 400:
        raise error_for(general or errors or [], where, token, resp.status)
    data = body.get("data")
    viewer = data.get("viewer") if isinstance(data, Mapping) else None
    rows = viewer.get("homes") if isinstance(viewer, Mapping) else None
    if not isinstance(rows, list):
        raise ProviderDataError(f"{where}: no data.viewer.homes list in the answer")
    homes = []
    for index, row in enumerate(rows):
        if row is None and index in per_home:
            continue  # a home GraphQL could not answer for: only fatal when it is the one
        if not isinstance(row, Mapping) or not isinstance(row.get("id"), str) or not row["id"]:
            raise ProviderDataError(f"{where}: homes[{index}] has no id")
        nickname = row.get("appNickname")
        subscription = row.get("currentSubscription")
        info = subscription.get("priceInfo") if isinstance(subscription, Mapping) else None
        if subscription is not None and not isinstance(subscription, Mapping):
            raise ProviderDataError(f"{where}: homes[{index}].currentSubscription is no object")
        if info is not None and not isinstance(info, Mapping):
            raise ProviderDataError(f"{where}: homes[{index}] priceInfo is no object")
        shown = nickname if isinstance(nickname, str) and nickname else None
        homes.append(Home(row["id"], shown, info, index))
    return homes, per_home


def choose_home(homes: Sequence[Home], home_id: str | None) -> Home:
    """The home of ``home_id``, or the only one; else ProviderConfigError naming them all."""
    listed = ", ".join(home.shown for home in homes) or "none"
    if home_id is None:
        if len(homes) == 1:
            return homes[0]
        if not homes:
            raise ProviderConfigError("the Tibber account of this token has no homes")
        raise ProviderConfigError(
            f"the token has {len(homes)} homes: set home_id to one of {listed}",
            {"home_id": f"required with several homes: one of {listed}"},
        )
    for home in homes:
        if home.id.casefold() == home_id.casefold():
            return home
    raise ProviderConfigError(
        f"home_id {home_id!r} is not a home of this token: {listed}",
        {"home_id": f"unknown home: one of {listed}"},
    )


def _price(row: Mapping[str, Any], key: str, where: str) -> float:
    """``row[key]`` (currency/kWh) in minor units per kWh."""
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProviderDataError(f"{where}: {key} is not a number: {value!r}")
    return per_kwh_major_to_minor(float(value))


def _rows(info: Mapping[str, Any], key: str) -> list[Any]:
    rows = info.get(key)
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise ProviderDataError(f"priceInfo.{key} is not a list")
    return rows


def parse_price_info(
    info: Mapping[str, Any], currency: str, minutes: int
) -> tuple[list[EnergyPriceSlot], int]:
    """``priceInfo`` -> (slots of today and tomorrow ascending, how many today has). Each slot
    ends at the next ``startsAt``, or ``minutes`` after its start when the next is further
    (the last one, one before a missing entry)."""
    entries: list[tuple[datetime, float, float | None]] = []
    today = _rows(info, "today")
    for key, rows in (("today", today), ("tomorrow", _rows(info, "tomorrow"))):
        for index, row in enumerate(rows):
            where = f"priceInfo.{key}[{index}]"
            if not isinstance(row, Mapping):
                raise ProviderDataError(f"{where}: expected an object, got {type(row).__name__}")
            start = parse_utc(row.get("startsAt"), f"{where}.startsAt")
            if start.second or start.microsecond:
                raise ProviderDataError(f"{where}: startsAt {start.isoformat()} is not a minute")
            quoted = row.get("currency")
            if quoted is not None and quoted != currency:
                raise ProviderDataError(
                    f"{where}: prices in {quoted!r}, the region's currency is {currency} "
                    "(is region the home's country?)"
                )
            energy = None if row.get("energy") is None else _price(row, "energy", where)
            entries.append((start, _price(row, "total", where), energy))
    entries.sort(key=lambda entry: entry[0])
    for before, after in itertools.pairwise(entries):
        if before[0] == after[0]:
            raise ProviderDataError(f"priceInfo: two prices start at {format_utc(after[0])}")
    step = timedelta(minutes=minutes)
    following: list[datetime | None] = [entry[0] for entry in entries[1:]]
    slots = []
    for (start, total, energy), after in zip(
        entries, [*following, None][: len(entries)], strict=True
    ):
        end = after if after is not None and after - start <= step else start + step
        slots.append(EnergyPriceSlot(start, end, total, currency, energy_pence=energy))
    return slots, len(today)


def publication_of(day: date, zone: str) -> datetime:
    """When ``day``'s prices are expected: 13:00 local the day before."""
    at = time.fromisoformat(PUBLISH_TIME)
    return datetime.combine(day - timedelta(days=1), at, ZoneInfo(zone)).astimezone(UTC)


class TibberProvider(KitProvider):
    """A Tibber home's prices of today and tomorrow, quarter-hourly (hourly as a fallback)."""

    metadata = EnergyProviderMetadata(
        provider_id=PROVIDER_ID,
        display_name="Tibber",
        version=__version__,
        description=(
            "The retail prices of a Tibber home (Germany, the Netherlands, Norway, Sweden) from "
            "Tibber's GraphQL API with a personal token, VAT and taxes included, in minor "
            "units per kWh; quarter-hourly, or hourly when Tibber has no quarter hours."
        ),
        author="energyd",
        supported_regions=tuple(COUNTRIES),
        region_names=dict(COUNTRIES),
        currency="EUR",
        slot_minutes=15,
        market_timezone=ZONES["DE"],
        publish_time_local=PUBLISH_TIME,
        day_start_local="00:00",
        requires_api_key=True,
    )
    config_fields = FIELDS
    # markets.md §6: no published limit, "Too Many Requests" seen, 429 with Retry-After: one
    # answer serves every feed of a token for a minute, and requests start 1 s apart.
    cache_seconds: ClassVar[float] = 60.0
    request_spacing_seconds: ClassVar[float] = 1.0

    def __init__(self) -> None:
        super().__init__()
        #: feed (base URL, region, home_id) -> the home last used, and whether it fell back.
        self._homes: dict[tuple[str, str, str], str] = {}
        self._fallback: set[tuple[str, str, str]] = set()

    # -- per config ------------------------------------------------------------------------

    def metadata_for(self, region: str, config: Mapping[str, Any]) -> EnergyProviderMetadata:
        """Slot length of the configured resolution, the country's zone."""
        settings = self.settings(region, config)
        country = settings.text("region")
        return dataclasses.replace(
            self.get_metadata(),
            currency=CURRENCIES[country],
            slot_minutes=RESOLUTIONS[settings.text("resolution")][1],
            market_timezone=ZONES[country],
        )

    def currency_for(self, region: str, config: Mapping[str, Any]) -> str:
        return CURRENCIES[self.settings(region, config).text("region")]

    def source_notes(self, region: str, config: Mapping[str, Any]) -> dict[str, str]:
        """The API, the home used and the resolution being served."""
        try:
            settings = self.settings(region, config)
        except ProviderConfigError:
            return {}
        feed = self._feed(settings)
        configured = settings.text("resolution")
        if configured == "hourly":
            resolution = "hourly (configured)"
        elif feed in self._fallback:
            resolution = "hourly (quarter-hourly answered nothing)"
        else:
            resolution = "quarter-hourly"
        notes = {"api": settings.text("base_url") + GQL, "resolution": resolution}
        if feed in self._homes:
            notes["home"] = self._homes[feed]
        return notes

    # -- fetching --------------------------------------------------------------------------

    async def fetch_window(
        self, region: str, start: datetime, end: datetime, settings: Settings
    ) -> list[EnergyPriceSlot]:
        country = settings.text("region")
        currency = CURRENCIES[country]
        configured = settings.text("resolution")
        feed = self._feed(settings)
        enum, minutes = RESOLUTIONS[configured]
        slots, today = await self._prices(settings, enum, currency, minutes)
        if configured == "quarter_hourly":
            if today == 0:
                hourly, hourly_today = await self._prices(settings, "HOURLY", currency, 60)
                if hourly_today:
                    if feed not in self._fallback:
                        self._fallback.add(feed)
                        self.log.warning(
                            "tibber.hourly_fallback",
                            region=country,
                            detail="QUARTER_HOURLY answered no prices for today; using HOURLY",
                        )
                    slots = hourly
            elif feed in self._fallback:
                self._fallback.discard(feed)
                self.log.info("tibber.quarter_hourly_back", region=country)
        if not any(slot.valid_to > start and slot.valid_from < end for slot in slots):
            expected = publication_of(local_days(start, end, ZONES[country])[0], ZONES[country])
            raise ProviderNotPublishedError(
                f"Tibber {country}: no prices between {format_utc(start)} and "
                f"{format_utc(end)} yet ({len(slots)} in the answer)",
                retry_at=expected if expected > datetime.now(UTC) else None,
            )
        return slots

    async def _prices(
        self, settings: Settings, enum: str, currency: str, minutes: int
    ) -> tuple[list[EnergyPriceSlot], int]:
        """One query at ``enum`` -> the configured home's (slots, entries of today)."""
        token = settings.text("token")
        resp = await self._ask(settings, enum)
        homes, errors = read_answer(resp, token)
        home = choose_home(homes, settings.optional_text("home_id"))
        if home.index in errors:
            raise error_for(errors[home.index], resp.where, token, resp.status)
        self._homes[self._feed(settings)] = home.id
        if home.price_info is None:
            raise ProviderEmptyError(
                f"Tibber home {home.shown} has no active subscription (prices appear once "
                "the contract has started)"
            )
        return parse_price_info(home.price_info, currency, minutes)

    async def _ask(self, settings: Settings, enum: str) -> HttpResponse:
        """POST the query (an answer is shared by feeds of the same token for a minute)."""
        token = settings.text("token")
        api = self.api(settings, headers={"Authorization": f"Bearer {token}"})
        key = (PROVIDER_ID, settings.text("base_url"), enum, fingerprint(token))

        async def send() -> HttpResponse:
            return await api.request(
                "POST",
                GQL,
                json={"query": price_query(enum)},
                headers={"Accept": "application/json"},
                accept_statuses=(400,),
            )

        return await self.pacer.shared(key, send, _reusable)

    def _feed(self, settings: Settings) -> tuple[str, str, str]:
        home = settings.optional_text("home_id") or ""
        return (settings.text("base_url"), settings.text("region"), home)


def _reusable(resp: HttpResponse) -> bool:
    """Only a 200 answer that decodes, without GraphQL errors, is reused."""
    if resp.status != 200:
        return False
    try:
        body = resp.json(dict)
    except ProviderDataError:
        return False
    return not body.get("errors")
