"""The v1 energy price provider plugin contract (re-exported by :mod:`energyd.providers.base`).

A plugin is a ``*_provider.py`` file holding one concrete subclass of
:class:`EnergyPriceProvider`. It must implement:

- ``get_metadata()`` -> :class:`EnergyProviderMetadata`
- ``validate_config(config)`` -> ``{field: reason}`` (empty means valid)
- ``async fetch_prices(region, start_utc, end_utc, config)`` -> list of :class:`EnergyPriceSlot`

and may override ``get_current_price(...)`` and ``health_check(...)``, which have working
defaults built on ``fetch_prices``.

Improvements over the written v1 contract (all backwards compatible):

- Datetimes are timezone-aware. The daemon rejects slots with naive datetimes instead of
  guessing their zone (see :mod:`energyd.providers.validation`).
- ``price_pence`` is the price in *minor* currency units per kWh, VAT included where the
  market has VAT; ``currency`` (ISO 4217) stands beside it, and ``price_pence_exc_vat`` is
  optional.
- ``ProviderNotPublishedError`` (a ``ProviderEmptyError``) says "not published yet": the
  daemon shows a waiting state and asks again, without reporting a fault.
- A slot may be ``provisional`` (the source can still replace it); ``market_pence`` is the
  daemon's (the source's price where a price formula made ``price_pence``).
- A slot may be an ``estimate`` (a forecast, with an optional low / high band); ``source``
  is the daemon's (the fallback provider a served slot came from).
- Optional methods with defaults: ``normalise_config``, ``source_identity``,
  ``find_regions``, ``currency_for`` (the currency a config's prices come in),
  ``source_notes`` (short facts shown beside health) and ``metadata_for`` (the metadata of
  one config, where slot length or market rhythm depend on it).
- The daemon hands every provider its one shared ``aiohttp.ClientSession`` and a request
  timeout (:meth:`EnergyPriceProvider.attach`); plugins use :attr:`EnergyPriceProvider.http`
  and never open a session per request.

Plugins do not import this module directly: they import ``providers.energy.base`` (the path
the contract documents), the facade that re-exports this contract and the plugin kit.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from energyd.domain.health import HealthState
from energyd.domain.units import to_major
from energyd.exceptions import (
    ProviderAuthError,
    ProviderConfigError,
    ProviderConnectionError,
    ProviderDataError,
    ProviderEmptyError,
    ProviderError,
    ProviderFetchError,
    ProviderNotFoundError,
    ProviderNotPublishedError,
    ProviderRateLimitError,
    ProviderServerError,
    RequestSpacingError,
)

__all__ = [
    "DEFAULT_HTTP_TIMEOUT",
    "EnergyPriceProvider",
    "EnergyPriceSlot",
    "EnergyProviderMetadata",
    "HealthState",
    "ProviderAuthError",
    "ProviderConfigError",
    "ProviderConnectionError",
    "ProviderDataError",
    "ProviderEmptyError",
    "ProviderError",
    "ProviderFetchError",
    "ProviderHealth",
    "ProviderNotFoundError",
    "ProviderNotPublishedError",
    "ProviderRateLimitError",
    "ProviderServerError",
    "RequestSpacingError",
]

DEFAULT_HTTP_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class EnergyPriceSlot:
    """One price for one period: ``[valid_from, valid_to)``, aware datetimes.

    ``price_pence`` is minor currency units per kWh (pence for GBP, cents for EUR), VAT
    included where the market has VAT.

    ``provisional``: the source may still replace this price (a preliminary result, another
    auction standing in for the one that counts, such as EXAA before SDAC): the daemon
    publishes it marked so and keeps asking until a final price replaces it.

    ``market_pence`` is set by the daemon, never by a plugin: where a price formula
    (``tariff``) applies, the slots it serves carry the end price in ``price_pence`` and the
    source's price here (``None``: no formula, ``price_pence`` is the source's).

    ``estimate``: a forecast, not a price the source has set (Amber's forecast intervals, a
    predictor's tail): published marked so, never mixed silently with set prices; the daemon
    asks again when the first one's period begins (a rolling source replaces its forecasts as
    they come due). Unlike ``provisional`` it does not mean "the final price is late": a
    forecast is what the source has for that period. ``estimate_low_pence`` /
    ``estimate_high_pence`` are the forecast's band where the source gives one (Amber's
    ``advancedPrice`` low / high), in the same unit as ``price_pence``.

    ``energy_pence``: where a retail source quotes an all-in price (taxes and VAT included,
    ``price_pence``) and beside it the price of the energy alone (Tibber's ``energy`` beside
    ``total``), the energy alone. A price formula (``tariff``) then starts from it instead of
    ``price_pence``, so no tax or VAT is counted twice; without a formula ``price_pence`` is
    published as it is.

    ``source`` is set by the daemon, never by a plugin: the provider key whose price this is
    when a fallback filled a gap of the provider it is served as (``None``: its own).
    """

    valid_from: datetime
    valid_to: datetime
    price_pence: float
    currency: str = "GBP"
    price_pence_exc_vat: float | None = None
    market_pence: float | None = None
    provisional: bool = False
    estimate: bool = False
    estimate_low_pence: float | None = None
    estimate_high_pence: float | None = None
    energy_pence: float | None = None
    source: str | None = None

    @property
    def market_price_pence(self) -> float:
        """The source's price: ``market_pence`` where a formula applies, else ``price_pence``."""
        return self.price_pence if self.market_pence is None else self.market_pence

    @property
    def duration(self) -> timedelta:
        return self.valid_to - self.valid_from

    @property
    def price_major(self) -> float:
        """The price in major currency units per kWh (GBP/kWh for pence, EUR/kWh for cents)."""
        return to_major(self.price_pence, self.currency)

    def contains(self, moment: datetime) -> bool:
        return self.valid_from <= moment < self.valid_to


@dataclass(frozen=True, slots=True)
class EnergyProviderMetadata:
    """What a plugin says about itself.

    ``market_timezone`` is where the market defines its day (Europe/London for Agile).
    ``publish_time_local`` ("HH:MM" in that zone) is when the next day's prices usually
    appear; ``None`` means the provider has no day-ahead rhythm and is refreshed on the
    regular interval only. ``day_start_local`` is when the market's published day starts
    (Agile publishes 23:00 -> 23:00 UK time).
    """

    provider_id: str
    display_name: str
    version: str
    description: str = ""
    author: str = ""
    supported_regions: tuple[str, ...] = ()
    region_names: Mapping[str, str] = field(default_factory=dict)
    currency: str = "GBP"
    slot_minutes: int = 30
    market_timezone: str = "UTC"
    publish_time_local: str | None = None
    day_start_local: str = "00:00"
    requires_api_key: bool = False
    config_schema: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    """Result of a health check: a state, a short human message and when it was taken."""

    state: HealthState
    message: str = ""
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    latency_ms: float | None = None

    @property
    def ok(self) -> bool:
        return self.state is HealthState.OK


class EnergyPriceProvider(ABC):
    """Base class of every energy price provider plugin."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._timeout: float = DEFAULT_HTTP_TIMEOUT

    # -- wiring done by the daemon -------------------------------------------------------

    def attach(self, session: aiohttp.ClientSession, timeout: float = DEFAULT_HTTP_TIMEOUT) -> None:
        """Give the provider the daemon's shared HTTP session and its request timeout."""
        if not math.isfinite(timeout) or timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        self._session = session
        self._timeout = timeout

    @property
    def http(self) -> aiohttp.ClientSession:
        """The shared session; raises if the daemon has not attached one."""
        if self._session is None or self._session.closed:
            raise ProviderConnectionError(
                f"{type(self).__name__} has no open HTTP session (daemon did not attach one)"
            )
        return self._session

    @property
    def timeout(self) -> float:
        """Per-request timeout in seconds."""
        return self._timeout

    # -- the required contract -----------------------------------------------------------

    @abstractmethod
    def get_metadata(self) -> EnergyProviderMetadata:
        """Describe the provider (id, name, version, regions, market rhythm)."""

    @abstractmethod
    def validate_config(self, config: Mapping[str, Any]) -> dict[str, str]:
        """Check a provider configuration; return ``{field: reason}``, empty when valid."""

    @abstractmethod
    async def fetch_prices(
        self,
        region: str,
        start_utc: datetime,
        end_utc: datetime,
        config: Mapping[str, Any],
    ) -> list[EnergyPriceSlot]:
        """Return the price slots overlapping ``[start_utc, end_utc)`` for ``region``."""

    # -- optional, with working defaults -------------------------------------------------

    async def get_current_price(
        self,
        region: str,
        config: Mapping[str, Any],
        now: datetime | None = None,
    ) -> EnergyPriceSlot | None:
        """The slot containing ``now`` (default: the current time), or ``None``."""
        moment = now or datetime.now(UTC)
        span = timedelta(minutes=max(self.get_metadata().slot_minutes, 1))
        slots = await self.fetch_prices(region, moment - span, moment + span, config)
        for slot in slots:
            if slot.contains(moment):
                return slot
        return None

    def normalise_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` (one ``validate_config`` accepted) in its canonical form, e.g. a region
        ``"c"`` as ``"C"``. The daemon keeps, shows and publishes under what this returns.
        Default: unchanged."""
        return dict(config)

    def source_identity(self, region: str, config: Mapping[str, Any]) -> str:
        """Names where the prices of ``config`` come from; stored with every slot fetched.

        Stored prices are only served while the configured source has the same identity, so
        a config that would fetch *other* prices (another tariff, direction or API) must give
        another identity. Default: every key of the (normalised) config, so any change counts.
        """
        items = sorted({**config, "region": region}.items())
        return ";".join(
            f"{key}={json.dumps(value, sort_keys=True, default=str)}" for key, value in items
        )

    def currency_for(self, region: str, config: Mapping[str, Any]) -> str:
        """The currency (ISO 4217) of the prices ``config`` fetches, for a source that quotes
        in a currency the user chooses (Nord Pool in SEK, NOK, EUR ...). Every slot of a fetch
        must be in it. Default: ``get_metadata().currency``."""
        return self.get_metadata().currency

    def metadata_for(self, region: str, config: Mapping[str, Any]) -> EnergyProviderMetadata:
        """The metadata of one (valid) config, where it differs from the plugin's: a source
        whose slot length, currency, market day or publication time depend on the config
        (Tibber hourly or quarter-hourly, Octopus Tracker published at 11:00 but Agile at
        16:00, a fixed tariff with no publication at all). The daemon reads ``slot_minutes``,
        ``market_timezone``, ``day_start_local`` and ``publish_time_local`` from it; the
        provider id, name and version stay the plugin's. Default: ``get_metadata()``."""
        return self.get_metadata()

    def source_notes(self, region: str, config: Mapping[str, Any]) -> dict[str, str]:
        """Short facts about the source to show beside its health (``{"license": "CC BY
        4.0 ..."}``), as last seen; shown as they are. Default: none."""
        return {}

    async def find_regions(self, query: str, config: Mapping[str, Any]) -> list[str]:
        """The regions that ``query`` (a postcode, an address, ...) lies in; most plugins
        cannot say (``NotImplementedError``, the default)."""
        raise NotImplementedError(f"{type(self).__name__} cannot look up regions")

    async def health_check(self, region: str, config: Mapping[str, Any]) -> ProviderHealth:
        """Default health check: can the price for now be fetched?"""
        loop_start = datetime.now(UTC)
        try:
            slot = await self.get_current_price(region, config, now=loop_start)
        except ProviderError as exc:
            return ProviderHealth(HealthState.ERROR, f"{type(exc).__name__}: {exc}")
        latency = (datetime.now(UTC) - loop_start).total_seconds() * 1000
        if slot is None:
            return ProviderHealth(
                HealthState.DEGRADED, "no price for the current period", latency_ms=latency
            )
        return ProviderHealth(HealthState.OK, "current price available", latency_ms=latency)
