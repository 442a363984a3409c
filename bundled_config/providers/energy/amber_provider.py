"""Amber Electric (Australia): the retail prices of one Amber site, 5- or 30-minute, over REST.

One request per fetch (plus ``GET /v1/sites`` once an hour when ``site_id`` is not set), with
the personal API token::

    GET {base_url}/v1/sites/{site_id}/prices/current?previous=P&next=N&resolution=5
        Authorization: Bearer <token>

The answer is a list of intervals of every channel of the site (``general``,
``controlledLoad``, ``feedIn``; the order is not stable, so rows are picked by
``channelType``). ``perKwh`` is AUD cents per kWh **including GST**. Quirks handled here:

- ``startTime`` is ``HH:MM:01Z`` and ``endTime`` ``HH:MM:00Z``: the start is moved back to the
  whole minute so intervals meet (no one-second gaps); ``endTime - start`` must be the row's
  ``duration``. With ``resolution = 30`` Amber may still answer 5-minute intervals (since
  5-minute settlement it ignores the parameter at times): slots are published as Amber sends them.
- ``ActualInterval`` is a final price; ``CurrentInterval`` is final unless ``estimate: true``;
  ``ForecastInterval`` is a forecast. Forecasts and estimated current intervals become slots
  with ``estimate=True``: the price is ``advancedPrice.predicted`` (Amber's own forecast; the
  ``perKwh`` of a forecast is the AEMO pre-dispatch one, evcc uses ``predicted`` too) and the
  band ``advancedPrice.low`` / ``high`` (``range.min`` / ``max`` when only that is given);
  without ``advancedPrice`` the price is ``perKwh`` (no band).
- **feedIn**: Amber's ``perKwh`` is negative when the user is paid for exporting. The plugin
  publishes what the user EARNS per kWh exported: ``price = -perKwh`` (positive when paid,
  negative when exporting costs money), the band negated as well and put in order (Amber's
  feedIn ``low`` is already the smaller earning: low -7.78 / high -9.30 c becomes 7.78 / 9.30).
- ``RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` / ``-Policy`` are read on every answer
  (one budget per token, 50 requests per 300 s): while ``Remaining`` is 0 no request is sent
  before ``Reset`` (a wait of up to 5 s is slept, a longer one is
  :class:`RequestSpacingError` with ``retry_after``). HTTP 429 is
  :class:`ProviderRateLimitError` with ``retry_after`` from ``Retry-After`` or
  ``RateLimit-Reset``, never retried within the fetch. Requests start at least 2 s apart and
  an answer is reused for 20 s (feeds of two channels of one site share one request).
- The request covers the window asked, clipped to 48 h back and ``forecast_hours`` (default
  24, at most 72) ahead; once a feed has its history, later fetches within the hour ask back
  only to where its final prices ended (Amber sends every channel in every answer: a 5-minute
  answer of 24 h is about 300 KB).
- ``site_id`` may be left out when the token has one site (or one active one); with several
  the error lists their ids and NMIs. A site that has no row of the configured channel is a
  :class:`ProviderConfigError`. An empty answer is :class:`ProviderNotPublishedError`.
- A row that is not an object, an unknown ``type``, a time that does not parse or sits off
  the minute, a price that is not a number, overlapping intervals: the whole answer is
  refused (:class:`ProviderDataError`). The token never appears in a log, message, identity
  or URL.

``region`` is the site's state (NEM region: NSW with the ACT, QLD, SA, TAS, VIC): it names
the topics and is shown, it does not select prices (the site does).

Loaded standalone by the daemon: imports only the standard library and providers.energy.base.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from providers.energy.base import (
    RETRY_FIELDS,
    Choice,
    ConfigFields,
    EnergyPriceSlot,
    EnergyProviderMetadata,
    HttpResponse,
    Integer,
    KitProvider,
    ProviderConfigError,
    ProviderDataError,
    ProviderNotPublishedError,
    ProviderRateLimitError,
    RequestSpacingError,
    Settings,
    Text,
    Url,
    format_utc,
    parse_utc,
    retry_after_from_headers,
    slot_floor,
)

__version__ = "1.0.0"
REQUIRES_KIT = 4

PROVIDER_ID = "amber"
DEFAULT_BASE_URL = "https://api.amber.com.au"
SITES = "/v1/sites"
CURRENCY = "AUD"
#: NEM time: UTC+10 all year (Queensland keeps no daylight saving time).
TIMEZONE = "Australia/Brisbane"
RESOLUTIONS = (5, 30)
#: How far back and ahead one request may reach.
MAX_HISTORY = timedelta(hours=48)
MAX_FORECAST_HOURS = 72
#: How long a feed's "final prices known until" is trusted before the whole window is asked.
HISTORY_MEMORY_SECONDS = 3600.0
#: How long the site list of a token is reused.
SITES_SECONDS = 3600.0

#: The NEM regions (the region codes); ACT is part of NSW1.
STATES: dict[str, str] = {
    "NSW": "New South Wales (with the ACT)",
    "QLD": "Queensland",
    "SA": "South Australia",
    "TAS": "Tasmania",
    "VIC": "Victoria",
}
_STATE_ALIASES = {"ACT": "NSW", **{f"{code}1": code for code in STATES}}
CHANNELS = ("general", "controlledLoad", "feedIn")
_CHANNEL_ALIASES = {name.lower(): name for name in CHANNELS}
_FINAL, _CURRENT, _FORECAST = "ActualInterval", "CurrentInterval", "ForecastInterval"
KINDS = (_FINAL, _CURRENT, _FORECAST)


def canonical_region(value: str) -> str:
    """``"sa"``, ``"SA1"``, ``"act"`` -> ``"SA"``, ``"SA"``, ``"NSW"``; others unchanged."""
    key = value.strip().upper()
    return _STATE_ALIASES.get(key, key if key in STATES else value)


def canonical_channel(value: str) -> str:
    """``"feedin"``, ``"FEED_IN"``, ``"controlled-load"`` -> Amber's spelling."""
    key = value.strip().lower().replace("_", "").replace("-", "").replace(" ", "")
    return _CHANNEL_ALIASES.get(key, value)


def _resolution_check(settings: Settings) -> dict[str, str]:
    if settings.integer("resolution") not in RESOLUTIONS:
        return {"resolution": f"must be 5 or 30 (minutes), got {settings['resolution']}"}
    return {}


FIELDS = ConfigFields(
    {
        "region": Choice(
            tuple(STATES),
            names=STATES,
            required=True,
            normalise=canonical_region,
            description=(
                "the site's state (NEM region), for topics and display only: NSW (with the "
                "ACT), QLD, SA, TAS or VIC"
            ),
        ),
        "token": Text(
            r"\S+",
            max_length=500,
            example="psk_0123456789abcdef",
            required=True,
            secret=True,
            identity=False,
            description="Amber API token",
            hint="create one at app.amber.com.au/developers",
        ),
        "site_id": Text(
            r"[A-Za-z0-9]{6,64}",
            max_length=64,
            example="01F5A5CRKMZ5BCX9P1S4V990AM",
            description="the site's id (GET /v1/sites); may be left out with one active site",
        ),
        "channel": Choice(
            CHANNELS,
            default="general",
            normalise=canonical_channel,
            description=(
                "general (what you pay), controlledLoad (its own meter channel) or feedIn "
                "(what you earn per kWh exported, positive when paid)"
            ),
        ),
        "resolution": Integer(
            5, 30, default=5, description="interval length asked for: 5 or 30 minutes"
        ),
        "forecast_hours": Integer(
            1,
            MAX_FORECAST_HOURS,
            default=24,
            identity=False,
            description="how many hours of Amber's forecast to fetch (1 to 72)",
        ),
        "base_url": Url(default=DEFAULT_BASE_URL, description="API root (a test stand-in)"),
        **RETRY_FIELDS,
    },
    checks=[_resolution_check],
)


def fingerprint(token: str) -> str:
    """A short digest standing for ``token`` in keys (the token itself is kept nowhere)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def prices_path(site_id: str) -> str:
    return f"{SITES}/{site_id}/prices/current"


# -- sites ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Site:
    """One site of the token: id, NMI, status and the channel types of its meter."""

    id: str
    nmi: str
    status: str
    channels: tuple[str, ...]

    @property
    def shown(self) -> str:
        return f"{self.id} (NMI {self.nmi or '?'}, {self.status or 'status unknown'})"


def parse_sites(body: Any) -> list[Site]:
    """A ``/v1/sites`` answer -> its sites; a malformed one is ProviderDataError."""
    if not isinstance(body, list):
        raise ProviderDataError(f"{SITES}: expected a JSON list, got {type(body).__name__}")
    sites = []
    for index, row in enumerate(body):
        where = f"{SITES}: [{index}]"
        if not isinstance(row, Mapping) or not isinstance(row.get("id"), str) or not row["id"]:
            raise ProviderDataError(f"{where}: a site without an id")
        channels = row.get("channels") or []
        if not isinstance(channels, list):
            raise ProviderDataError(f"{where}: channels is not a list")
        types = tuple(
            str(c.get("type")) for c in channels if isinstance(c, Mapping) and c.get("type")
        )
        sites.append(
            Site(row["id"], str(row.get("nmi") or ""), str(row.get("status") or ""), types)
        )
    return sites


def choose_site(sites: Sequence[Site], site_id: str | None = None) -> Site:
    """The site of ``site_id``; else the only site, or the only active one; else
    ProviderConfigError listing them all (ids and NMIs)."""
    listed = ", ".join(site.shown for site in sites) or "none"
    if site_id is not None:
        for site in sites:
            if site.id.casefold() == site_id.casefold():
                return site
        raise ProviderConfigError(
            f"site_id {site_id!r} is not a site of this token: {listed}",
            {"site_id": f"unknown site: one of {listed}"},
        )
    if not sites:
        raise ProviderConfigError("the Amber account of this token has no sites")
    active = [site for site in sites if site.status == "active"]
    if len(sites) == 1 or len(active) == 1:
        return sites[0] if len(sites) == 1 else active[0]
    raise ProviderConfigError(
        f"the token has {len(sites)} sites ({len(active)} active): set site_id to one of {listed}",
        {"site_id": f"required with several sites: one of {listed}"},
    )


# -- intervals --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Interval:
    """One row of a prices answer, times normalised (the start on its whole minute)."""

    kind: str
    channel: str
    start: datetime
    end: datetime
    per_kwh: float
    estimate: bool
    predicted: float | None = None
    low: float | None = None
    high: float | None = None


def _number(value: object, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProviderDataError(f"{where}: {key} is not a number: {value!r}")
    return float(value)


def _optional(row: Mapping[str, Any], key: str, where: str) -> float | None:
    value = row.get(key)
    return None if value is None else _number(value, where, key)


def _start(value: object, where: str) -> datetime:
    """``startTime`` on its whole minute: Amber's ``HH:MM:01`` becomes ``HH:MM:00``."""
    start = parse_utc(value, f"{where}: startTime")
    if start.microsecond or start.second not in (0, 1):
        raise ProviderDataError(f"{where}: startTime {value!r} is not on a minute (or :01)")
    return start.replace(second=0)


def _end(value: object, where: str) -> datetime:
    end = parse_utc(value, f"{where}: endTime")
    if end.second or end.microsecond:
        raise ProviderDataError(f"{where}: endTime {value!r} is not on a whole minute")
    return end


def parse_interval(row: object, where: str) -> Interval:
    """One row -> an :class:`Interval`; anything malformed is ProviderDataError."""
    if not isinstance(row, Mapping):
        raise ProviderDataError(f"{where}: expected an object, got {type(row).__name__}")
    kind = row.get("type")
    if kind not in KINDS:
        raise ProviderDataError(f"{where}: unknown interval type {kind!r}")
    start, end = _start(row.get("startTime"), where), _end(row.get("endTime"), where)
    if end <= start:
        raise ProviderDataError(f"{where}: endTime is not after startTime")
    duration = row.get("duration")
    if duration is not None:
        minutes = _number(duration, where, "duration")
        if end - start != timedelta(minutes=minutes):
            raise ProviderDataError(
                f"{where}: {format_utc(start)} to {format_utc(end)} is not {minutes:g} minutes"
            )
    estimate = row.get("estimate", False)
    if not isinstance(estimate, bool):
        raise ProviderDataError(f"{where}: estimate is not true or false: {estimate!r}")
    band = row.get("advancedPrice")
    spread = row.get("range")
    predicted = low = high = None
    if band is not None:
        if not isinstance(band, Mapping):
            raise ProviderDataError(f"{where}: advancedPrice is not an object")
        predicted = _optional(band, "predicted", f"{where}: advancedPrice")
        low = _optional(band, "low", f"{where}: advancedPrice")
        high = _optional(band, "high", f"{where}: advancedPrice")
    elif spread is not None:
        if not isinstance(spread, Mapping):
            raise ProviderDataError(f"{where}: range is not an object")
        low = _optional(spread, "min", f"{where}: range")
        high = _optional(spread, "max", f"{where}: range")
    return Interval(
        kind=str(kind),
        channel=str(row.get("channelType")),
        start=start,
        end=end,
        per_kwh=_number(row.get("perKwh"), where, "perKwh"),
        estimate=kind == _FORECAST or (kind == _CURRENT and estimate),
        predicted=predicted,
        low=low,
        high=high,
    )


def parse_prices(body: Any, where: str = "prices") -> list[Interval]:
    """A prices answer -> the intervals of every channel (unknown channel types are kept
    with their name, so a new one does not break the others)."""
    if not isinstance(body, list):
        raise ProviderDataError(f"{where}: expected a JSON list, got {type(body).__name__}")
    rows = []
    for index, row in enumerate(body):
        if isinstance(row, Mapping) and not isinstance(row.get("channelType"), str):
            raise ProviderDataError(f"{where}: [{index}] has no channelType")
        rows.append(parse_interval(row, f"{where}: [{index}]"))
    return rows


def slot_of(interval: Interval, sign: float) -> EnergyPriceSlot:
    """One interval as a slot; ``sign`` -1 turns feed-in prices into earnings."""
    if not interval.estimate:
        return EnergyPriceSlot(interval.start, interval.end, sign * interval.per_kwh, CURRENCY)
    price = interval.per_kwh if interval.predicted is None else interval.predicted
    low = high = None
    if interval.low is not None and interval.high is not None:
        low, high = sorted((sign * interval.low, sign * interval.high))
    return EnergyPriceSlot(
        interval.start,
        interval.end,
        sign * price,
        CURRENCY,
        estimate=True,
        estimate_low_pence=low,
        estimate_high_pence=high,
    )


def channel_slots(intervals: Sequence[Interval], channel: str) -> list[EnergyPriceSlot]:
    """The slots of ``channel``, ascending; feedIn as earnings (``-perKwh``). Overlapping
    intervals refuse the whole answer."""
    sign = -1.0 if channel == "feedIn" else 1.0
    chosen = sorted((i for i in intervals if i.channel == channel), key=lambda i: i.start)
    for before, after in itertools.pairwise(chosen):
        if after.start < before.end:
            raise ProviderDataError(
                f"prices: {channel} intervals at {format_utc(before.start)} and "
                f"{format_utc(after.start)} overlap"
            )
    return [slot_of(interval, sign) for interval in chosen]


# -- the rate limit ---------------------------------------------------------------------------


@dataclass
class Quota:
    """The last ``RateLimit-*`` headers of one token: remaining requests until ``reset_at``
    (the pacer's monotonic clock)."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None
    policy: str | None = None


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    try:
        value = int(str(raw).strip()) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and value >= 0 else None


class AmberProvider(KitProvider):
    """An Amber site's 5- or 30-minute prices of one channel, with Amber's forecasts."""

    metadata = EnergyProviderMetadata(
        provider_id=PROVIDER_ID,
        display_name="Amber Electric (AU)",
        version=__version__,
        description=(
            "The retail prices of an Amber Electric site (Australia's NEM) with a personal "
            "API token, GST included, in AUD cents per kWh: general, controlled load or "
            "feed-in (published as what you earn), 5- or 30-minute, with Amber's forecasts "
            "marked as estimates."
        ),
        author="energyd",
        supported_regions=tuple(STATES),
        region_names=dict(STATES),
        currency=CURRENCY,
        slot_minutes=5,
        market_timezone=TIMEZONE,
        publish_time_local=None,
        day_start_local="00:00",
        requires_api_key=True,
    )
    config_fields = FIELDS
    # markets.md §7: 50 requests per 300 s per token, RateLimit-* headers on every answer
    # (obeyed in _get). The daemon asks about once an interval (once a minute while the
    # current interval is an estimate); feeds of one site share an answer for 20 s.
    cache_seconds: ClassVar[float] = 20.0
    request_spacing_seconds: ClassVar[float] = 2.0

    def __init__(self) -> None:
        super().__init__()
        self._quotas: dict[tuple[str, str], Quota] = {}
        self._sites: dict[tuple[str, str], tuple[float, list[Site]]] = {}
        #: feed -> (end of its last final price fetched, when): how far back to ask.
        self._final_until: dict[tuple[str, ...], tuple[datetime, float]] = {}
        self._site_used: dict[tuple[str, ...], Site | str] = {}

    def now(self) -> datetime:
        """The wall clock (aware UTC); a test may replace it."""
        return datetime.now(UTC)

    # -- per config ------------------------------------------------------------------------

    def metadata_for(self, region: str, config: Mapping[str, Any]) -> EnergyProviderMetadata:
        """Slot length of the configured resolution."""
        settings = self.settings(region, config)
        return dataclasses.replace(self.get_metadata(), slot_minutes=settings.integer("resolution"))

    def source_notes(self, region: str, config: Mapping[str, Any]) -> dict[str, str]:
        """The API, the site used, the channel's sign and the rate limit as last seen."""
        try:
            settings = self.settings(region, config)
        except ProviderConfigError:
            return {}
        channel = settings.text("channel")
        notes = {
            "api": settings.text("base_url") + SITES,
            "channel": channel,
            "forecast": "advancedPrice.predicted (band low / high), marked as estimates",
        }
        if channel == "feedIn":
            notes["sign"] = "what you earn per kWh exported (-perKwh): positive when paid"
        site = self._site_used.get(self._feed(settings))
        if site is not None:
            notes["site"] = site.shown if isinstance(site, Site) else site
        quota = self._quotas.get(self._account(settings))
        if quota is not None and quota.remaining is not None:
            limit = f" of {quota.limit}" if quota.limit is not None else ""
            policy = f" ({quota.policy})" if quota.policy else ""
            notes["rate_limit"] = f"{quota.remaining}{limit} requests left{policy}"
        return notes

    # -- fetching --------------------------------------------------------------------------

    async def fetch_window(
        self, region: str, start: datetime, end: datetime, settings: Settings
    ) -> list[EnergyPriceSlot]:
        channel = settings.text("channel")
        minutes = settings.integer("resolution")
        site = await self._site_id(settings)
        feed = self._feed(settings)
        params = self._counts(feed, start, end, settings)
        resp = await self._get(settings, prices_path(site), params)
        intervals = parse_prices(resp.json(), resp.where)
        if not intervals:
            retry = slot_floor(self.now(), minutes) + timedelta(minutes=1)
            raise ProviderNotPublishedError(
                f"Amber site {site}: the answer holds no intervals (previous={params['previous']}"
                f", next={params['next']})",
                retry_at=retry,
            )
        slots = channel_slots(intervals, channel)
        if not slots:
            found = sorted({i.channel for i in intervals})
            raise ProviderConfigError(
                f"Amber site {site} has no {channel} channel: its prices are for "
                f"{', '.join(found)}",
                {"channel": f"the site has {', '.join(found)}"},
            )
        if start < slot_floor(self.now(), minutes):  # history asked: remember where it ends
            finals = [slot.valid_to for slot in slots if not slot.estimate]
            if finals:
                self._final_until[feed] = (max(finals), self.pacer.clock())
        return slots

    def _counts(
        self, feed: tuple[str, ...], start: datetime, end: datetime, settings: Settings
    ) -> dict[str, str]:
        """``previous`` / ``next`` / ``resolution`` covering ``[start, end)`` around now."""
        minutes = settings.integer("resolution")
        step = timedelta(minutes=minutes)
        now = self.now()
        current = slot_floor(now, minutes)
        earliest = max(start, now - MAX_HISTORY)
        known = self._final_until.get(feed)
        if known is not None and self.pacer.clock() - known[1] < HISTORY_MEMORY_SECONDS:
            earliest = max(earliest, known[0] - step)
        horizon = min(end, now + timedelta(hours=settings.integer("forecast_hours")))
        previous = max(0, math.ceil((current - earliest) / step))
        following = max(0, math.ceil((horizon - (current + step)) / step))
        return {"previous": str(previous), "next": str(following), "resolution": str(minutes)}

    async def _site_id(self, settings: Settings) -> str:
        """``site_id`` as configured, else the token's one (active) site (sites cached)."""
        feed = self._feed(settings)
        configured = settings.optional_text("site_id")
        if configured is not None:
            self._site_used.setdefault(feed, configured)
            return configured
        account = self._account(settings)
        kept = self._sites.get(account)
        if kept is not None and self.pacer.clock() - kept[0] < SITES_SECONDS:
            sites = kept[1]
        else:
            resp = await self._get(settings, SITES, {})
            sites = parse_sites(resp.json())
            self._sites[account] = (self.pacer.clock(), sites)
        site = choose_site(sites)
        self._site_used[feed] = site
        return site.id

    async def _get(self, settings: Settings, path: str, params: Mapping[str, str]) -> HttpResponse:
        """One GET with the token, inside the token's rate limit; an identical request of
        another feed within ``cache_seconds`` gets the same answer."""
        token = settings.text("token")
        account = self._account(settings)
        api = self.api(settings, headers={"Authorization": f"Bearer {token}"})
        key = (PROVIDER_ID, *account, path, tuple(sorted(params.items())))

        async def send() -> HttpResponse:
            await self._wait_for_quota(account)
            resp = await api.get(
                path,
                params=dict(params),
                headers={"Accept": "application/json"},
                accept_statuses=(429,),
                cache_if=lambda _: False,  # kept by the outer shared() instead
            )
            self._note_quota(account, resp)
            if resp.status == 429:
                wait = retry_after_from_headers(resp.headers)
                hint = "" if wait is None else f", retry after {wait:g} s"
                raise ProviderRateLimitError(
                    f"{resp.where}: HTTP 429 too many requests{hint}", wait
                )
            return resp

        return await self.pacer.shared(key, send, _reusable)

    async def _wait_for_quota(self, account: tuple[str, str]) -> None:
        """Sleep out a short exhausted window; refuse to send into a longer one."""
        quota = self._quotas.get(account)
        if quota is None or quota.remaining != 0 or quota.reset_at is None:
            return
        wait = quota.reset_at - self.pacer.clock()
        if wait <= 0:
            return
        if wait > self.pacer.max_wait:
            limit = f" of {quota.limit}" if quota.limit is not None else ""
            raise RequestSpacingError(
                f"amber: no requests left{limit} in Amber's rate-limit window; next in "
                f"{wait:.0f} s",
                retry_after=round(wait, 3),
            )
        await self.pacer.sleep(wait)

    def _note_quota(self, account: tuple[str, str], resp: HttpResponse) -> None:
        """Remember the answer's ``RateLimit-*`` headers (a 429 without them: its wait)."""
        headers = resp.headers
        quota = self._quotas.setdefault(account, Quota())
        remaining = _header_int(headers, "RateLimit-Remaining")
        reset = _header_int(headers, "RateLimit-Reset")
        limit = _header_int(headers, "RateLimit-Limit")
        if limit is not None:
            quota.limit = limit
        policy = headers.get("RateLimit-Policy")
        if policy:
            quota.policy = policy.strip()[:100]
        if resp.status == 429:
            wait = retry_after_from_headers(headers)
            remaining, reset = 0, (round(wait) if wait is not None else reset)
        if remaining is not None:
            quota.remaining = remaining
            quota.reset_at = None if reset is None else self.pacer.clock() + reset
            if remaining == 0:
                self.log.warning(
                    "amber.rate_limit_exhausted", limit=quota.limit, reset_seconds=reset
                )

    def _account(self, settings: Settings) -> tuple[str, str]:
        return (settings.text("base_url"), fingerprint(settings.text("token")))

    def _feed(self, settings: Settings) -> tuple[str, ...]:
        return (
            *self._account(settings),
            settings.optional_text("site_id") or "",
            settings.text("channel"),
            str(settings.integer("resolution")),
        )


def _reusable(resp: HttpResponse) -> bool:
    """Only a 200 answer that is a JSON list is reused."""
    if resp.status != 200:
        return False
    try:
        resp.json(list)
    except ProviderDataError:
        return False
    return True
