"""The price service: configured providers, their plugins, fetching, health and settings.

One object that the scheduler, the command handlers and the publisher share. It owns no
background task; it reports what changed to :attr:`PriceService.events` (see
:mod:`energyd.core.events`), which the publisher and the scheduler follow in their own tasks,
so no call here waits for a broker.

Every call into a plugin (``fetch_prices``, ``health_check``, ``validate_config``) goes
through :attr:`PriceService.faults`, which times it step by step: a plugin that blocks the
event loop is named in its provider's health. ``get_metadata`` is not among them: the loader
reads it once per load, and :attr:`PriceService.registry` (:mod:`energyd.core.registry`) hands
out what it said, with the market calendar built from it.

Reads of served slots go through :attr:`PriceService.slot_cache` (:mod:`energyd.core.slotcache`),
and the fetch runs health is built from are remembered too: every write here (a fetch, settings,
plugins) forgets what it changed, in :meth:`PriceService.notify`, so no reader is ever served a
price or a fetch state the store no longer holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import structlog

from energyd.config import EnergySettings, Settings, redact
from energyd.core.events import Events
from energyd.core.fallbacks import FallbackReader
from energyd.core.faults import RuntimeFaults
from energyd.core.fetching import fetch_into_store
from energyd.core.pricing import priced
from energyd.core.registry import ProviderRegistry, ProviderRuntime, source_notes
from energyd.core.selection import (
    ProviderSpec,
    apply_overrides,
    check_setting_key,
    configure_providers,
    resolve,
)
from energyd.core.shapes import (
    OverviewReply,
    PriceWindowReply,
    ProbeJson,
    ProviderEntry,
    SettingsChangeReply,
    SettingsReply,
    SettingsResetReply,
    SharedOverviewReply,
)
from energyd.core.slotcache import SlotCache
from energyd.core.store import PriceStore
from energyd.domain.calendar import MarketCalendar
from energyd.domain.figures import slot_json
from energyd.domain.health import HealthReport, assess
from energyd.domain.records import FetchOutcome, FetchRun
from energyd.domain.time import iso_utc
from energyd.domain.units import minor_per_kwh, minor_unit
from energyd.exceptions import ConfigError, ProviderConfigError, UnknownProviderError
from energyd.providers.base import (
    EnergyPriceProvider,
    EnergyPriceSlot,
    EnergyProviderMetadata,
    HealthState,
)
from energyd.providers.loader import EnergyProviderLoader

__all__ = ["PriceService"]

log = structlog.get_logger(__name__)

#: The shortest window: the one slot containing a moment.
_INSTANT = timedelta(microseconds=1)
#: Market calendars whose expectations are remembered before the memo starts over.
_MARKETS_KEPT = 64


class PriceService:
    def __init__(
        self,
        settings: Settings,
        store: PriceStore,
        loader: EnergyProviderLoader,
        session: aiohttp.ClientSession,
    ) -> None:
        self.settings = settings
        self.store = store
        self.loader = loader
        self._session = session
        self._base_energy = settings.energy
        self.energy: EnergySettings = settings.energy
        self._overrides: dict[str, Any] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._last_runs: dict[tuple[str, str], FetchRun] = {}
        #: When the scheduler fetches each provider next (its plan; none without a scheduler).
        self._next_attempts: dict[str, datetime] = {}
        #: What changed, for the publisher and the scheduler to follow in their own tasks.
        self.events = Events()
        #: Loop blocks by plugins, loop lag and unbuilt topics (one registry per daemon).
        self.faults = RuntimeFaults()
        #: The running providers, their plugins and metadata as loaded (never asked again).
        self.registry = ProviderRegistry(loader, settings.prices)
        #: The stored slots with the gaps filled from fallbacks, and the failover of each.
        self.fallbacks = FallbackReader(
            store, self.runtimes, timedelta(days=settings.refresh.history_days)
        )
        #: The served slots of each running provider around now, in memory (see the module).
        self.slot_cache = SlotCache(self._read_served)
        #: The newest fetch run (of any outcome, and the newest ok one) of each provider, as
        #: stored; with the :meth:`SlotCache.version` of the provider it was read at.
        self._runs: dict[tuple[str, str, FetchOutcome | None], tuple[object, FetchRun | None]] = {}
        #: What :meth:`problem` found for each runtime (a config is validated once per runtime).
        self._problems: dict[str, tuple[ProviderRuntime, str | None]] = {}
        #: Per market calendar: the moment health was last built for, what it expected then.
        self._expectations: dict[MarketCalendar, tuple[datetime, datetime, str]] = {}
        #: The overview's entry of each runtime, with the version of its slots it was made at.
        self._entries_of: dict[str, tuple[ProviderRuntime, tuple[int, int], ProviderEntry]] = {}

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Apply persisted overrides (all of them ignored when they no longer validate, and
        logged either way: they win over the file) and wire plugins."""
        self._overrides = await self.store.get_overrides()
        try:
            self.energy = self._configured(apply_overrides(self._base_energy, self._overrides))
        except ConfigError as exc:
            log.error("settings.overrides_ignored", error=str(exc), keys=sorted(self._overrides))
            self.energy = self._base_energy
        else:
            self._log_overrides()
        self.attach_plugins()

    def _configured(self, energy: EnergySettings) -> EnergySettings:
        """``energy`` with each provider config in its plugin's canonical form."""
        return configure_providers(energy, self.loader.providers)[0]

    def _log_overrides(self) -> None:
        """One warning per run-time override in force, with what the file and environment say
        (which it hides), and how to drop it."""
        base = self._base_energy.model_dump(mode="json")
        for key in sorted(self._overrides):
            log.warning(
                "settings.override_in_force",
                key=key,
                value=redact(self._overrides[key], key.rsplit(".", 1)[-1]),
                file_value=redact(_dotted(base, key), key.rsplit(".", 1)[-1]),
                hint=f'drop it with settings/reset {{"keys": ["{key}"]}} or energyd settings reset',
            )

    def attach_plugins(self) -> None:
        """Give every loaded plugin the shared HTTP session (again after a reload)."""
        for plugin in self.loader.providers.values():
            plugin.attach(self._session, self.settings.refresh.http_timeout_seconds)

    def notify(self, key: str | None) -> None:
        """Tell the followers that ``key``'s prices changed, or (None) anything may have;
        what was read of them before is forgotten first."""
        self.forget(key)
        if key is None:
            self.events.everything_changed()
            return
        self.events.prices_changed(key)
        for runtime in self.runtimes():  # what a fallback fetched fills their gaps
            if key in runtime.fallbacks:
                self.events.prices_changed(runtime.key)

    def forget(self, key: str | None) -> None:
        """Forget the slots and fetch runs read of ``key`` (``None``: of every provider, and
        what each config's validation said): the store or the settings changed."""
        self.slot_cache.forget(key)
        if key is None:
            self._runs.clear()
            self._problems.clear()
            self._entries_of.clear()

    async def plugins_changed(self) -> None:
        """After an update or reload of plugin files."""
        self.attach_plugins()
        self.notify(None)

    # -- providers -------------------------------------------------------------------------

    def specs(self) -> list[ProviderSpec]:
        return [runtime.spec for runtime in self.runtimes()]

    def runtimes(self) -> list[ProviderRuntime]:
        """Every running provider with its plugin as loaded, the selected one first."""
        return list(self.registry.runtimes(self.energy))

    def runtime(self, spec: ProviderSpec | ProviderRuntime | str | None = None) -> ProviderRuntime:
        """The runtime of ``spec``, or of the running provider ``key`` (default: the selected
        one; :class:`UnknownProviderError` when it is not running); a runtime is its own."""
        if isinstance(spec, ProviderRuntime):
            return spec
        if not isinstance(spec, ProviderSpec):
            spec = self.spec(spec)
        return self.registry.runtime(spec, self.energy)

    def spec(self, key: str | None = None) -> ProviderSpec:
        """The spec for ``key`` (default: the selected ``energy.provider_id``)."""
        wanted = key or self.energy.provider_id
        for spec in self.specs():
            if spec.key == wanted:
                return spec
        known = ", ".join(s.key for s in self.specs())
        raise UnknownProviderError(f"no running provider {wanted!r} (running: {known})")

    def plugin(self, spec: ProviderSpec) -> EnergyPriceProvider | None:
        return self.runtime(spec).plugin

    def problem(self, spec: ProviderSpec | ProviderRuntime) -> str | None:
        """Why this provider cannot fetch (missing or broken plugin, invalid config), or None.

        Validated once per runtime (the registry builds a new one for new settings or
        plugins): a health report at every slot boundary of 100 feeds asks it 100 times."""
        runtime = self.runtime(spec)
        known = self._problems.get(runtime.key)
        if known is not None and known[0] is runtime:
            return known[1]
        problem = self._problem(runtime)
        self._problems[runtime.key] = (runtime, problem)
        return problem

    def _problem(self, runtime: ProviderRuntime) -> str | None:
        spec, plugin = runtime.spec, runtime.plugin
        if plugin is None:
            return self.loader.missing(spec.plugin_id) or f"no plugin provides {spec.plugin_id!r}"
        errors = self.faults.run_sync(spec.key, "validate_config", _validate, plugin, spec.config)
        if errors:
            return "invalid config: " + "; ".join(f"{k}: {v}" for k, v in errors.items())
        return None

    def calendar(self, spec: ProviderSpec) -> MarketCalendar:
        """The market's calendar, built once per plugin load (UTC days without a plugin)."""
        return self.runtime(spec).calendar

    def metadata(self, spec: ProviderSpec) -> EnergyProviderMetadata | None:
        """What the plugin said about itself when it was loaded (``None``: not loaded)."""
        return self.runtime(spec).metadata

    # -- fetching --------------------------------------------------------------------------

    async def fetch(self, spec: ProviderSpec, reason: str = "manual") -> FetchRun:
        """Fetch what the market has published for ``spec``; one fetch per provider at a time."""
        lock = self._locks.setdefault(spec.key, asyncio.Lock())
        asked = datetime.now(UTC)
        try:
            return await self._fetch(spec, lock, asked, reason)
        finally:  # whatever happened, a fetch run (at least) was written: forget what was read
            self.forget(spec.key)

    async def _fetch(
        self, spec: ProviderSpec, lock: asyncio.Lock, asked: datetime, reason: str
    ) -> FetchRun:
        async with lock:
            recent = self._last_runs.get((spec.key, spec.region))
            if recent is not None and recent.started_at >= asked:
                # A fetch that began after we asked has just finished: it answers us too
                # (a refresh command racing the scheduler's wake-up after a settings change).
                return recent
            now = datetime.now(UTC)
            problem = self.problem(spec)
            runtime = self.runtime(spec)
            loaded = runtime.loaded
            if problem is not None or loaded is None:
                run = FetchRun(
                    provider_id=spec.key,
                    region=spec.region,
                    started_at=now,
                    outcome=FetchOutcome.ERROR,
                    error=problem,
                    error_type="ProviderConfigError" if loaded else "PluginLoadError",
                )
                log.warning("prices.fetch_skipped", provider=spec.key, reason=problem)
                self._last_runs[(spec.key, spec.region)] = run
                await self.store.record_fetch(run)
                self.notify(spec.key)
                return run
            start, end = loaded.calendar.fetch_window(now, self.settings.refresh.history_days)
            log.debug("prices.fetch_start", provider=spec.key, reason=reason)
            run = await fetch_into_store(
                self.store,
                loaded.provider,
                key=spec.key,
                region=spec.region,
                currency=runtime.currency or loaded.currency,
                config=spec.config,
                source=runtime.identity,
                start=start,
                end=end,
                timeout=self.settings.refresh.fetch_timeout_seconds,
                faults=self.faults,
            )
            self._last_runs[(spec.key, spec.region)] = run
        self.notify(spec.key)
        return run

    async def refresh(self, key: str | None = None) -> list[FetchRun]:
        """Fetch one provider now, or all running providers (concurrently)."""
        specs = [self.spec(key)] if key else self.specs()
        return list(await asyncio.gather(*(self.fetch(spec, "command") for spec in specs)))

    # -- reading ---------------------------------------------------------------------------

    async def slots(
        self, spec: ProviderSpec | ProviderRuntime, start: datetime, end: datetime
    ) -> list[EnergyPriceSlot]:
        """The stored slots of ``[start, end)`` from the configured source (see
        :attr:`ProviderRuntime.identity`): never another tariff's or API's; the periods it
        has no price for filled from its fallbacks (each such slot names its ``source``);
        through the provider's price formula (:attr:`ProviderRuntime.tariff`) when it has one.
        Around now from :attr:`slot_cache`."""
        return await self.slot_cache.slots(self.runtime(spec), start, end)

    async def _read_served(
        self, runtime: ProviderRuntime, start: datetime, end: datetime
    ) -> list[EnergyPriceSlot]:
        """:meth:`slots` read from the store (what :attr:`slot_cache` keeps)."""
        return priced(await self.fallbacks.served(runtime, start, end), runtime.tariff)

    async def slot_at(
        self, spec: ProviderSpec | ProviderRuntime, moment: datetime
    ) -> EnergyPriceSlot | None:
        """The slot served for ``moment``: the configured source's, else a fallback's."""
        runtime = self.runtime(spec)
        served = await self.slot_cache.slots(runtime, moment, moment + _INSTANT)
        return next((s for s in served if s.contains(moment)), None)

    async def coverage_end(
        self, spec: ProviderSpec | ProviderRuntime, moment: datetime, *, final: bool = False
    ) -> datetime | None:
        """Where the configured source's gap-free prices from ``moment`` end (``None``: none;
        ``final``: where its final ones end, a provisional price counting as a gap)."""
        runtime = self.runtime(spec)
        known, end = await self.slot_cache.coverage_end(runtime, moment, final=final)
        if known:
            return end
        spec = runtime.spec
        return await self.store.coverage_end(
            spec.key, spec.region, moment, source=runtime.identity, final=final
        )

    async def last_fetch(
        self, spec: ProviderSpec | ProviderRuntime, outcome: FetchOutcome | None = None
    ) -> FetchRun | None:
        """The newest stored fetch run of ``spec`` (of ``outcome`` only, when given),
        remembered until the provider's next fetch."""
        runtime = self.runtime(spec)
        key, region = runtime.key, runtime.spec.region
        version = self.slot_cache.version(key)
        known = self._runs.get((key, region, outcome))
        if known is not None and known[0] == version:
            return known[1]
        run = await self.store.last_fetch(key, region, outcome)
        if self.slot_cache.version(key) == version:  # no fetch while reading
            self._runs[(key, region, outcome)] = (version, run)
        return run

    async def first_estimate(self, spec: ProviderSpec, moment: datetime) -> datetime | None:
        """Where the configured source's first forecast at or after ``moment`` starts."""
        return await self.store.first_estimate(
            spec.key, spec.region, moment, source=self.runtime(spec).identity
        )

    async def price_window(
        self, spec: ProviderSpec, start: datetime, end: datetime, *, date: str | None = None
    ) -> PriceWindowReply:
        """The stored slots of ``[start, end)`` as the ``prices`` command and API answer them
        (``date``: the market's local day they are, if one was asked for)."""
        slots = [slot_json(slot) for slot in await self.slots(spec, start, end)]
        currency = self.runtime(spec).currency
        unit = None if currency is None else f"{minor_unit(currency)}/kWh"
        if date is None:
            return {
                "provider": spec.key,
                "region": spec.region,
                "currency": currency,
                "unit": unit,
                "start": iso_utc(start),
                "end": iso_utc(end),
                "slots": slots,
            }
        return {  # ``date`` before ``start``: the order on the wire
            "provider": spec.key,
            "region": spec.region,
            "currency": currency,
            "unit": unit,
            "date": date,
            "start": iso_utc(start),
            "end": iso_utc(end),
            "slots": slots,
        }

    async def health(
        self, spec: ProviderSpec | ProviderRuntime, now: datetime | None = None
    ) -> HealthReport:
        now = now or datetime.now(UTC)
        runtime = self.runtime(spec)
        spec = runtime.spec
        calendar = runtime.calendar
        current = await self.slot_at(runtime, now)
        covered = await self.coverage_end(runtime, now)
        final = await self.coverage_end(runtime, now, final=True)
        last_run = await self.last_fetch(runtime)
        last_ok = await self.last_fetch(runtime, FetchOutcome.OK)
        expected, awaited = self._expected(calendar, now)
        own_current = current if current is None or current.source is None else None
        return assess(
            problem=self.problem(runtime),
            has_current=own_current is not None,
            covered_until=covered,
            # none final from now: the final ones end where the price now begins (a slot
            # edge, not the moment asked: two daemons say the same)
            final_until=final or (now if current is None else current.valid_from),
            expected_until=expected,
            last_run=last_run,
            last_success=None if last_ok is None else last_ok.started_at,
            loop_block=self.faults.last_block(spec.key),
            blocking=self.faults.blocking(spec.key),
            derived_errors=self.faults.derived_errors(spec.key),
            next_attempt=self._next_attempts.get(spec.key),
            awaited=awaited,
            failover=await self.fallbacks.failover(runtime, now) if runtime.fallbacks else None,
        )

    def _expected(self, calendar: MarketCalendar, now: datetime) -> tuple[datetime, str]:
        """Where ``calendar`` expects prices to reach at ``now``, and how health says what it
        waits for: the same for every provider of a market in a round (remembered)."""
        known = self._expectations.get(calendar)
        if known is not None and known[0] == now:
            return known[1], known[2]
        expected = calendar.expected_coverage_end(now)
        awaited = calendar.describe_until(expected)
        if len(self._expectations) > _MARKETS_KEPT:
            self._expectations.clear()
        self._expectations[calendar] = (now, expected, awaited)
        return expected, awaited

    def planned(self, key: str, when: datetime) -> None:
        """The scheduler's next fetch of ``key``; a change re-publishes provider health (so
        a failing provider says when it is tried again)."""
        if self._next_attempts.get(key) != when:
            self._next_attempts[key] = when
            self.events.status_changed()

    async def probe(self, spec: ProviderSpec) -> ProbeJson:
        """Run the plugin's own ``health_check`` (a live request to the provider), bounded."""
        plugin = self.plugin(spec)
        problem = self.problem(spec)
        if plugin is None or problem is not None:
            return {"state": HealthState.ERROR.value, "message": problem, "latency_ms": None}
        try:
            async with asyncio.timeout(self.settings.refresh.fetch_timeout_seconds):
                result = await self.faults.run(
                    spec.key, "health_check", plugin.health_check, spec.region, spec.config
                )
        except TimeoutError:
            return {
                "state": HealthState.ERROR.value,
                "message": "health check timed out",
                "latency_ms": None,
            }
        except Exception as exc:  # a plugin's health check must not break the command
            return {
                "state": HealthState.ERROR.value,
                "message": f"{type(exc).__name__}: {exc}",
                "latency_ms": None,
            }
        return {
            "state": result.state.value,
            "message": result.message,
            "latency_ms": result.latency_ms,
        }

    async def overview(self, now: datetime | None = None) -> OverviewReply:
        """Every plugin file's status and every running provider's health."""
        entries = await self._entries(now)
        return {
            "selected": self.energy.provider_id,
            "providers": [{**entry, "health": report.as_json()} for entry, report in entries],
            "plugins": [status.as_json() for status in self.loader.status()],
        }

    async def shared_overview(self, now: datetime | None = None) -> SharedOverviewReply:
        """:meth:`overview` as two daemons over the same prices agree on it: each health's
        :meth:`~energyd.domain.health.HealthReport.shared_json` (the retained topic)."""
        entries = await self._entries(now)
        return {
            "selected": self.energy.provider_id,
            "providers": [{**entry, "health": report.shared_json()} for entry, report in entries],
            "plugins": [status.as_json() for status in self.loader.status()],
        }

    async def _entries(
        self, now: datetime | None = None
    ) -> list[tuple[ProviderEntry, HealthReport]]:
        now = now or datetime.now(UTC)
        return [
            (self._entry(runtime), await self.health(runtime, now)) for runtime in self.runtimes()
        ]

    def _entry(self, runtime: ProviderRuntime) -> ProviderEntry:
        """What the overview says of ``runtime`` besides its health: the same until the
        runtime is rebuilt or the provider fetches (its plugin's notes may follow a fetch)."""
        version = self.slot_cache.version(runtime.key)
        known = self._entries_of.get(runtime.key)
        if known is not None and known[0] is runtime and known[1] == version:
            return known[2]
        spec, meta = runtime.spec, runtime.metadata
        entry = self.energy.providers.get(spec.key)
        tariff = None if entry is None or entry.tariff is None else entry.tariff
        built: ProviderEntry = {
            "id": spec.key,
            "plugin": spec.plugin_id,
            "region": spec.region,
            "region_name": None if meta is None else meta.region_names.get(spec.region),
            "selected": spec.selected,
            "display_name": None if meta is None else meta.display_name,
            "version": None if meta is None else meta.version,
            "currency": runtime.currency,
            "unit": None if runtime.currency is None else minor_per_kwh(runtime.currency),
            "tariff": None if tariff is None else tariff.model_dump(mode="json", by_alias=True),
            "notes": source_notes(runtime.plugin, spec),
        }
        self._entries_of[runtime.key] = (runtime, version, built)
        return built

    # -- settings --------------------------------------------------------------------------

    def settings_view(self) -> SettingsReply:
        """Effective settings (file, env and overrides), secrets redacted."""
        view = self.settings.redacted()
        return {
            "instance": view["instance"],
            "config_dir": view["config_dir"],
            "energy": redact(self.energy.model_dump(mode="json")),
            "mqtt": view["mqtt"],
            "storage": view["storage"],
            "refresh": view["refresh"],
            "log": view["log"],
            "prices": view["prices"],
            "homeassistant": view["homeassistant"],
            "http": view["http"],
            "overrides": sorted(self._overrides),
        }

    async def change_settings(self, changes: Mapping[str, Any]) -> SettingsChangeReply:
        """:meth:`set_settings`, then fetch for the providers whose settings changed; the reply
        of ``settings/set`` and ``PUT /api/settings``."""
        before = self._as_running()
        await self.set_settings(changes)
        runs = await self._fetch_changed(before)
        return {
            "energy": self.settings_view()["energy"],
            "runs": [run.as_json() for run in runs],
        }

    async def set_settings(self, changes: Mapping[str, Any]) -> EnergySettings:
        """Validate, persist and apply run-time changes; the caller then triggers a fetch.

        Raises :class:`ConfigError` (bad key or shape) or :class:`ProviderConfigError`
        (``validate_config`` of a plugin said no); nothing is persisted then.
        """
        if not changes:
            raise ConfigError("no settings given", {"values": "empty"})
        for key in changes:
            check_setting_key(key)
        merged = {**self._overrides, **changes}
        candidate = self._configured(apply_overrides(self._base_energy, merged))
        # A change is validated for what it changes: a provider that runs exactly as before
        # (say one whose plugin is broken) is not this change's business.
        unchanged = self._as_running()
        errors: dict[str, str] = {}
        for spec in resolve(candidate):
            if _unselected(spec) in unchanged:
                continue
            plugin = self.plugin(spec)
            if plugin is None:
                errors[f"energy.providers.{spec.key}"] = f"no plugin provides {spec.plugin_id!r}"
                continue
            for field, reason in _validate(plugin, spec.config).items():
                errors[f"energy.providers.{spec.key}.{field}"] = reason
        if errors:
            raise ProviderConfigError("; ".join(f"{k}: {v}" for k, v in errors.items()), errors)
        await self.store.change_overrides(changes)
        self._overrides = merged
        self.energy = candidate
        log.info("settings.changed", keys=sorted(changes))
        self.notify(None)
        return candidate

    async def reset_settings(self, keys: Sequence[str] | None = None) -> SettingsResetReply:
        """Drop run-time overrides so the file and environment apply again: ``keys`` (each an
        override in force, or a prefix of some: ``energy.providers.<id>``), or all of them
        (``None``). Then fetch for the providers whose settings changed.

        Raises :class:`ConfigError` naming a key that is no override (nothing is dropped
        then), or when what remains no longer validates."""
        if keys is None:
            dropped = sorted(self._overrides)
        else:
            dropped = []
            errors: dict[str, str] = {}
            for key in keys:
                found = [k for k in self._overrides if k == key or k.startswith(key + ".")]
                if not found:
                    in_force = ", ".join(sorted(self._overrides)) or "none"
                    errors[key] = f"not overridden (overrides in force: {in_force})"
                dropped.extend(k for k in found if k not in dropped)
            if errors:
                raise ConfigError("; ".join(f"{k}: {v}" for k, v in errors.items()), errors)
            dropped.sort()
        remaining = {k: v for k, v in self._overrides.items() if k not in dropped}
        candidate = self._configured(apply_overrides(self._base_energy, remaining))
        before = self._as_running()
        await self.store.change_overrides({}, dropped)
        self._overrides = remaining
        self.energy = candidate
        log.info("settings.reset", keys=dropped, remaining=sorted(remaining))
        self.notify(None)
        runs = await self._fetch_changed(before)
        return {
            "reset": dropped,
            "overrides": sorted(remaining),
            "energy": self.settings_view()["energy"],
            "runs": [run.as_json() for run in runs],
        }

    def _as_running(self) -> list[ProviderSpec]:
        """The providers as they run now, which one is selected aside."""
        return [_unselected(spec) for spec in self.specs()]

    async def _fetch_changed(self, before: Sequence[ProviderSpec]) -> list[FetchRun]:
        """Fetch for every provider that does not run as it did ``before`` (a settings
        change or reset); the runs."""
        changed = [spec for spec in self.specs() if _unselected(spec) not in before]
        return list(await asyncio.gather(*(self.fetch(spec, "settings") for spec in changed)))


def _unselected(spec: ProviderSpec) -> ProviderSpec:
    return replace(spec, selected=False)


def _dotted(data: Mapping[str, Any], key: str) -> Any:
    """``energy.providers.x.region`` looked up in a dump of the ``energy`` section."""
    value: Any = data
    for part in key.split(".")[1:]:
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _validate(plugin: EnergyPriceProvider, config: Mapping[str, Any]) -> dict[str, str]:
    try:
        return dict(plugin.validate_config(dict(config)))
    except Exception as exc:  # a plugin's validator crashing is a plugin problem, not ours
        return {"(plugin)": f"validate_config raised {type(exc).__name__}: {exc}"}
