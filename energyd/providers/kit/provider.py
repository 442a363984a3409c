"""``KitProvider``: a v1 provider whose plumbing comes from class attributes.

A plugin states its ``metadata`` and ``config_fields`` and implements one of

- ``async fetch_day(region, day, settings)``: the slots of one market day (the default
  ``fetch_window`` calls it for every market day the window touches, skipping days that are
  not published yet), or
- ``async fetch_window(region, start, end, settings)``: whatever covers ``[start, end)``
  (one call for several days, say).

``fetch_prices`` validates the window, parses the config (``region`` merged in), calls the
plugin, keeps the slots overlapping the window, sorted, and raises
``ProviderNotPublishedError`` when none are left (the source has nothing for it yet).
``get_metadata`` publishes the schema of ``config_fields``; ``validate_config`` checks
against the same fields. ``api(settings)`` gives an
:class:`~energyd.providers.kit.http.HttpApi` with one retry budget for the current fetch
(none during ``health_check``, which must be quick), the class's ``server_statuses`` and the
instance's :class:`~energyd.providers.kit.pacing.Pacer` (``request_spacing_seconds``,
``cache_seconds``: one per plugin instance, so all its feeds share the source's rate limit).
"""

from __future__ import annotations

import contextvars
import dataclasses
import random
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

import structlog

from energyd.domain.time import slot_floor
from energyd.exceptions import ProviderEmptyError, ProviderError, ProviderNotPublishedError
from energyd.providers.contract import (
    EnergyPriceProvider,
    EnergyPriceSlot,
    EnergyProviderMetadata,
    HealthState,
    ProviderHealth,
)
from energyd.providers.kit.config import ConfigFields, Settings
from energyd.providers.kit.http import HttpApi
from energyd.providers.kit.pacing import Pacer
from energyd.providers.kit.retry import NO_RETRY, Retrier, RetryPolicy
from energyd.providers.kit.time import format_utc, local_days, utc_window

__all__ = ["KitProvider"]

_probing: contextvars.ContextVar[bool] = contextvars.ContextVar("kit_probing", default=False)
#: The "not published yet" answers of the days the default ``fetch_window`` skipped during
#: the current ``fetch_prices`` (so an empty window can say when to ask again).
_skipped: contextvars.ContextVar[list[ProviderEmptyError] | None] = contextvars.ContextVar(
    "kit_skipped", default=None
)


class KitProvider(EnergyPriceProvider):
    """Base class of kit plugins: set ``metadata`` and ``config_fields``, implement
    ``fetch_day`` or ``fetch_window``."""

    #: What the plugin says about itself; ``config_schema`` is filled from ``config_fields``.
    metadata: ClassVar[EnergyProviderMetadata]
    #: The plugin's config keys (``region`` is always accepted).
    config_fields: ClassVar[ConfigFields] = ConfigFields()
    #: Retries unless settings carry the kit's ``RETRY_FIELDS``.
    retry_policy: ClassVar[RetryPolicy] = RetryPolicy()
    #: Failing HTTP statuses this market means as server trouble (``HttpApi.server_statuses``).
    server_statuses: ClassVar[frozenset[int]] = frozenset()
    #: Least seconds between two requests of this plugin (all its feeds): the source's limit.
    request_spacing_seconds: ClassVar[float] = 0.0
    #: Seconds a successful GET answer is reused for the same URL (feeds asking the same).
    cache_seconds: ClassVar[float] = 0.0

    def __init__(self) -> None:
        super().__init__()
        self.rng = random.Random()
        self._described: EnergyProviderMetadata | None = None
        self._pacer: Pacer | None = None

    # -- the v1 contract ---------------------------------------------------------------------

    def get_metadata(self) -> EnergyProviderMetadata:
        if self._described is None:
            meta = type(self).metadata
            if not meta.config_schema:
                meta = dataclasses.replace(meta, config_schema=self.config_fields.schema())
            self._described = meta
        return self._described

    def validate_config(self, config: Mapping[str, Any]) -> dict[str, str]:
        return self.config_fields.validate(config)

    def normalise_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return self.config_fields.normalise(config)

    def source_identity(self, region: str, config: Mapping[str, Any]) -> str:
        """The provider id and every identity field (:attr:`Field.identity`), normalised."""
        settings = self.settings(region, config)
        return f"{self.get_metadata().provider_id}:{self.config_fields.identity(settings)}"

    async def fetch_prices(
        self,
        region: str,
        start_utc: datetime,
        end_utc: datetime,
        config: Mapping[str, Any],
    ) -> list[EnergyPriceSlot]:
        start, end = utc_window(start_utc, end_utc)
        settings = self.settings(region, config)
        skipped: list[ProviderEmptyError] = []
        token = _skipped.set(skipped)
        try:
            slots = await self.fetch_window(region, start, end, settings)
        finally:
            _skipped.reset(token)
        kept = sorted(
            (slot for slot in slots if slot.valid_to > start and slot.valid_from < end),
            key=lambda slot: slot.valid_from,
        )
        if not kept:
            expected = [
                e.retry_at
                for e in skipped
                if isinstance(e, ProviderNotPublishedError) and e.retry_at is not None
            ]
            raise ProviderNotPublishedError(
                f"no {region or 'price'} prices between {format_utc(start)} and "
                f"{format_utc(end)} (not published yet?)",
                retry_at=min(expected, default=None),
            )
        return kept

    async def get_current_price(
        self,
        region: str,
        config: Mapping[str, Any],
        now: datetime | None = None,
    ) -> EnergyPriceSlot | None:
        """The slot containing ``now``; ``None`` when the market has no price for it."""
        moment = now or datetime.now(UTC)
        step = max(self.get_metadata().slot_minutes, 1)
        start = slot_floor(moment, step)
        try:
            slots = await self.fetch_prices(region, start, start + timedelta(minutes=step), config)
        except ProviderEmptyError:
            return None
        return next((slot for slot in slots if slot.contains(moment)), None)

    async def health_check(self, region: str, config: Mapping[str, Any]) -> ProviderHealth:
        """One attempt, no retries: ok, degraded (reachable, no price for now) or error."""
        token = _probing.set(True)
        try:
            began = datetime.now(UTC)
            try:
                slot = await self.get_current_price(region, config, now=began)
            except ProviderError as exc:
                return ProviderHealth(HealthState.ERROR, f"{type(exc).__name__}: {exc}")
            latency = (datetime.now(UTC) - began).total_seconds() * 1000
        finally:
            _probing.reset(token)
        if slot is None:
            return ProviderHealth(
                HealthState.DEGRADED, "reachable, but no price for now", latency_ms=latency
            )
        return ProviderHealth(HealthState.OK, "current price available", latency_ms=latency)

    # -- what a plugin implements ------------------------------------------------------------

    async def fetch_window(
        self, region: str, start: datetime, end: datetime, settings: Settings
    ) -> list[EnergyPriceSlot]:
        """Slots covering ``[start, end)`` (aware UTC); default: :meth:`fetch_day` per day."""
        meta = self.get_metadata()
        slots: list[EnergyPriceSlot] = []
        for day in local_days(start, end, meta.market_timezone, meta.day_start_local):
            try:
                slots.extend(await self.fetch_day(region, day, settings))
            except ProviderEmptyError as exc:
                self.log.info("provider.day_not_published", day=day.isoformat(), detail=str(exc))
                found = _skipped.get()
                if found is not None:
                    found.append(exc)
        return slots

    async def fetch_day(self, region: str, day: date, settings: Settings) -> list[EnergyPriceSlot]:
        """The slots of market day ``day``; ProviderEmptyError while it is not published."""
        raise NotImplementedError(
            f"{type(self).__name__} implements neither fetch_day nor fetch_window"
        )

    # -- helpers for plugins -----------------------------------------------------------------

    def settings(self, region: str, config: Mapping[str, Any]) -> Settings:
        """``config`` parsed by ``config_fields`` (``region`` merged in when declared)."""
        merged = dict(config)
        if region and "region" in self.config_fields:
            merged["region"] = region
        return self.config_fields.parse(merged)

    def policy(self, settings: Mapping[str, Any] | None = None) -> RetryPolicy:
        """The retry policy for a fetch: none while probing, else from ``settings``."""
        if _probing.get():
            return NO_RETRY
        if settings is None:
            return self.retry_policy
        return RetryPolicy.from_settings(settings, self.retry_policy)

    def api(
        self,
        settings: Mapping[str, Any] | None = None,
        *,
        base_url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpApi:
        """An HttpApi for one fetch over the shared session: base URL from ``base_url`` or
        the ``base_url`` setting, one retry budget (starting now)."""
        url = base_url if base_url is not None else str((settings or {}).get("base_url") or "")
        name = self.get_metadata().provider_id
        retrier = Retrier(self.policy(settings), rng=self.rng, name=name)
        return HttpApi.of(
            self,
            base_url=url,
            retry=retrier,
            headers=headers,
            name=name,
            server_statuses=self.server_statuses,
            pacer=self.pacer,
        )

    @property
    def pacer(self) -> Pacer:
        """This instance's request spacing and answer cache (shared by all its feeds)."""
        if self._pacer is None:
            self._pacer = Pacer(
                spacing=self.request_spacing_seconds,
                cache_seconds=self.cache_seconds,
                name=self.get_metadata().provider_id,
            )
        return self._pacer

    @property
    def log(self) -> Any:
        """A structlog logger bound with this provider's id."""
        return structlog.get_logger("energyd.providers").bind(
            provider=self.get_metadata().provider_id
        )
