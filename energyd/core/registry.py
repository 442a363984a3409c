"""The running providers: each configured spec with its plugin as loaded.

A :class:`ProviderRuntime` is what every part of the daemon needs to know about one running
provider, worked out once: the plugin instance, its metadata (read by the loader when the
plugin was loaded, never asked again), the market calendar built from it, the currency and
slot length, and the level bands that apply. A provider whose plugin is not loaded has no
:attr:`ProviderRuntime.loaded` (so no currency and no slot length: it fetches nothing) -- the
one place that says so, instead of a ``meta if meta else ...`` fallback at every use.

:class:`ProviderRegistry` keeps the runtimes of the current settings and rebuilds them when
the settings or the loaded plugins change (a reload makes new plugin instances).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import structlog

from energyd.config import EnergySettings, LevelBand, PricesSettings
from energyd.core.selection import ProviderSpec, resolve
from energyd.domain.calendar import MarketCalendar
from energyd.domain.failover import Tolerance
from energyd.domain.figures import Band
from energyd.domain.levels import default_bands, has_default_bands
from energyd.domain.tariff import Tariff
from energyd.providers.base import EnergyPriceProvider, EnergyProviderMetadata
from energyd.providers.loader import EnergyProviderLoader

__all__ = [
    "NO_SOURCE",
    "LoadedPlugin",
    "ProviderRegistry",
    "ProviderRuntime",
    "choose_levels",
    "feed_currency",
    "for_config",
    "source_identity",
    "source_notes",
]

log = structlog.get_logger(__name__)

#: The identity of a provider whose plugin is missing or cannot name its source (an invalid
#: config): no stored slot has it, so none is served as this provider's.
NO_SOURCE = "(unknown source)"

#: Two sources differing by up to 5 % (and 0.5 minor units) agree.
DEFAULT_TOLERANCE = Tolerance()

#: The calendar of a provider without a plugin: it has no market, only stored slots.
_UTC_CALENDAR = MarketCalendar.of("UTC")


@dataclass(frozen=True, slots=True)
class LoadedPlugin:
    """A plugin as loaded: the instance, the metadata it gave at load and its calendar."""

    provider: EnergyPriceProvider
    metadata: EnergyProviderMetadata
    calendar: MarketCalendar

    @classmethod
    def of(cls, provider: EnergyPriceProvider, metadata: EnergyProviderMetadata) -> LoadedPlugin:
        calendar = MarketCalendar.of(
            metadata.market_timezone, metadata.day_start_local, metadata.publish_time_local
        )
        return cls(provider, metadata, calendar)

    @property
    def currency(self) -> str:
        return self.metadata.currency

    @property
    def slot_minutes(self) -> int:
        return self.metadata.slot_minutes


@dataclass(frozen=True, slots=True)
class ProviderRuntime:
    """One running provider: its spec, its plugin as loaded (``None``: not loaded) and the
    level bands that apply to it."""

    spec: ProviderSpec
    loaded: LoadedPlugin | None
    levels: tuple[Band, ...]
    #: Where this config's prices come from (the plugin's ``source_identity``); only stored
    #: slots of this identity are served. :data:`NO_SOURCE` when the plugin cannot say.
    identity: str
    #: The currency of this config's prices (the plugin's ``currency_for``); ``None``
    #: without a plugin.
    feed_currency: str | None = None
    #: The price formula (``tariff``): market price -> end price; ``None``: prices as stored.
    tariff: Tariff | None = None
    #: Whether an hourly-average series is published beside the native one.
    hourly: bool = False
    #: The providers whose prices fill this one's gaps, in order (their keys), and those of
    #: them it is cross-checked against, with the tolerance.
    fallbacks: tuple[str, ...] = ()
    cross_checked: tuple[str, ...] = ()
    tolerance: Tolerance = DEFAULT_TOLERANCE

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def plugin(self) -> EnergyPriceProvider | None:
        return None if self.loaded is None else self.loaded.provider

    @property
    def metadata(self) -> EnergyProviderMetadata | None:
        return None if self.loaded is None else self.loaded.metadata

    @property
    def calendar(self) -> MarketCalendar:
        """The market's calendar; UTC days for a provider without a plugin."""
        return _UTC_CALENDAR if self.loaded is None else self.loaded.calendar

    @property
    def currency(self) -> str | None:
        """The provider's currency; ``None`` without a plugin (it has no prices to fetch)."""
        return self.feed_currency

    @property
    def slot_minutes(self) -> int | None:
        """The provider's slot length; ``None`` without a plugin."""
        return None if self.loaded is None else self.loaded.slot_minutes


def source_identity(plugin: EnergyPriceProvider | None, spec: ProviderSpec) -> str:
    """``plugin``'s identity of the source of ``spec``'s prices, :data:`NO_SOURCE` when it
    has none (no plugin, a config it refuses, a crash)."""
    if plugin is None:
        return NO_SOURCE
    try:
        identity = plugin.source_identity(spec.region, dict(spec.config))
    except Exception as exc:  # an invalid config or a broken plugin: nothing is its prices
        log.debug("provider.no_identity", provider=spec.key, error=str(exc))
        return NO_SOURCE
    if not isinstance(identity, str) or not identity:
        return NO_SOURCE
    return f"{spec.plugin_id}|{identity}"


def for_config(loaded: LoadedPlugin, spec: ProviderSpec) -> LoadedPlugin:
    """``loaded`` as it runs ``spec``: where the plugin overrides the contract's optional
    ``metadata_for``, the slot length and market rhythm (zone, day start, publication time) it
    gives for this config, with its calendar; the id, name and version stay the plugin's. A
    plugin that does not override it is not asked; a broken answer is logged and the metadata
    read at load stays."""
    provider = loaded.provider
    if type(provider).metadata_for is EnergyPriceProvider.metadata_for:
        return loaded
    try:
        given = provider.metadata_for(spec.region, dict(spec.config))
        if not isinstance(given, EnergyProviderMetadata):
            raise TypeError(f"metadata_for returned {type(given).__name__}")
        minutes = given.slot_minutes
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 1440:
            raise ValueError(f"slot_minutes {minutes!r} is not a whole number from 1 to 1440")
        metadata = replace(
            loaded.metadata,
            slot_minutes=minutes,
            market_timezone=given.market_timezone,
            day_start_local=given.day_start_local,
            publish_time_local=given.publish_time_local,
        )
        if metadata == loaded.metadata:
            return loaded
        return LoadedPlugin.of(provider, metadata)
    except Exception as exc:  # an invalid config or a broken plugin: the load-time metadata
        log.debug("provider.no_config_metadata", provider=spec.key, error=str(exc))
        return loaded


def feed_currency(loaded: LoadedPlugin, spec: ProviderSpec) -> str:
    """The currency of ``spec``'s prices: the plugin's ``currency_for`` when it gives a
    3-letter code, else the currency of its metadata (a broken answer is logged). A plugin
    that does not override ``currency_for`` is not asked (its metadata was read at load)."""
    if type(loaded.provider).currency_for is EnergyPriceProvider.currency_for:
        return loaded.currency
    try:
        currency = loaded.provider.currency_for(spec.region, dict(spec.config))
    except Exception as exc:  # an invalid config or a broken plugin
        log.debug("provider.no_currency", provider=spec.key, error=str(exc))
        return loaded.currency
    if isinstance(currency, str) and len(currency) == 3 and currency.isalpha():
        return currency.upper()
    log.warning("provider.bad_currency", provider=spec.key, currency=repr(currency))
    return loaded.currency


def source_notes(plugin: EnergyPriceProvider | None, spec: ProviderSpec) -> dict[str, str]:
    """The plugin's ``source_notes`` for ``spec`` as short strings; none when it has none,
    gives nonsense or fails (a note is never worth a failing overview)."""
    if plugin is None:
        return {}
    try:
        notes = plugin.source_notes(spec.region, dict(spec.config))
    except Exception as exc:
        log.debug("provider.notes_failed", provider=spec.key, error=str(exc))
        return {}
    if not isinstance(notes, Mapping):
        return {}
    return {str(k)[:40]: str(v)[:300] for k, v in list(notes.items())[:10]}


def choose_levels(
    own: Sequence[LevelBand] | None,
    overall: Sequence[LevelBand] | None,
    currency: str | None,
) -> tuple[Band, ...]:
    """The bands of one provider: its own ``levels``, else ``prices.levels``, else the
    defaults of its currency (:func:`energyd.domain.levels.default_bands`)."""
    if own is not None:
        return tuple(own)
    if overall is not None:
        return tuple(overall)
    return default_bands(currency)


class ProviderRegistry:
    """The :class:`ProviderRuntime` of every running provider, for the current settings and
    the plugins the loader holds; rebuilt when either changes."""

    def __init__(self, loader: EnergyProviderLoader, prices: PricesSettings) -> None:
        self._loader = loader
        self._prices = prices
        self._instances: dict[str, EnergyPriceProvider] = {}
        self._plugins: dict[str, LoadedPlugin] = {}
        self._loads: int | None = None  # the loader's load count the plugins were taken at
        self._energy: EnergySettings | None = None
        self._runtimes: tuple[ProviderRuntime, ...] = ()

    def runtimes(self, energy: EnergySettings) -> tuple[ProviderRuntime, ...]:
        """Every running provider of ``energy``, the selected one first, then by key."""
        plugins_changed = self._sync_plugins()
        if plugins_changed or energy is not self._energy:
            self._energy = energy
            self._runtimes = tuple(self._build(spec, energy) for spec in resolve(energy))
            for runtime in self._runtimes:
                self._log_levels(runtime, energy)
        return self._runtimes

    def runtime(self, spec: ProviderSpec, energy: EnergySettings) -> ProviderRuntime:
        """The runtime of ``spec``; one built for it when it is not (or no longer) running."""
        running = self.runtimes(energy)
        for runtime in running:  # the running spec itself, asked for again and again
            if runtime.spec is spec:
                return runtime
        for runtime in running:
            if runtime.spec == spec:
                return runtime
        return self._build(spec, energy)

    def plugin(self, plugin_id: str) -> LoadedPlugin | None:
        """The loaded plugin providing ``plugin_id``, or ``None``."""
        self._sync_plugins()
        return self._plugins.get(plugin_id)

    # -- building ----------------------------------------------------------------------------

    def _sync_plugins(self) -> bool:
        """Take in the loader's plugins when they changed (a load makes new instances);
        whether they did. Metadata comes from the loader's cache: no plugin call.

        Asked on every read of every provider (each command asks several times): nothing
        is compared while the loader has not loaded again."""
        loads = self._loader.loads
        if loads == self._loads:
            return False
        self._loads = loads
        current = self._loader.providers
        same = current.keys() == self._instances.keys() and all(
            current[name] is self._instances[name] for name in current
        )
        if same:
            return False
        self._instances = dict(current)
        self._plugins = {
            name: LoadedPlugin.of(provider, self._loader.metadata(name))
            for name, provider in current.items()
        }
        return True

    def _build(self, spec: ProviderSpec, energy: EnergySettings) -> ProviderRuntime:
        loaded = self._plugins.get(spec.plugin_id)
        if loaded is not None:
            loaded = for_config(loaded, spec)
        entry = energy.providers.get(spec.key)
        own = None if entry is None else entry.levels
        calendar = _UTC_CALENDAR if loaded is None else loaded.calendar
        tariff = None
        if entry is not None and entry.tariff is not None:
            built = entry.tariff.build(calendar.zone)
            tariff = None if built.is_identity else built
        currency = None if loaded is None else feed_currency(loaded, spec)
        plugin = None if loaded is None else loaded.provider
        return ProviderRuntime(
            spec,
            loaded,
            choose_levels(own, self._prices.levels, currency),
            identity=source_identity(plugin, spec),
            feed_currency=currency,
            tariff=tariff,
            hourly=entry is not None and entry.hourly,
            fallbacks=() if entry is None else tuple(f.provider for f in entry.fallbacks),
            cross_checked=()
            if entry is None
            else tuple(f.provider for f in entry.fallbacks if f.cross_check),
            tolerance=DEFAULT_TOLERANCE
            if entry is None
            else Tolerance(entry.cross_check.percent, entry.cross_check.minimum),
        )

    def _log_levels(self, runtime: ProviderRuntime, energy: EnergySettings) -> None:
        """Say so when a provider's currency has no default bands and none are configured."""
        currency = runtime.currency
        entry = energy.providers.get(runtime.key)
        configured = (entry is not None and entry.levels is not None) or (
            self._prices.levels is not None
        )
        if currency is not None and not configured and not has_default_bands(currency):
            log.info(
                "levels.no_defaults",
                provider=runtime.key,
                currency=currency,
                hint=f"set energy.providers.{runtime.key}.levels",
            )
