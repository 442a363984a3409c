"""Composition root: builds every part, runs the loops in one TaskGroup, stops on a signal.

Start-up order matters: plugins are deployed and loaded and the store is opened before any
network traffic; what the store already knows is put into the retained MQTT state before the
first fetch, so a restart during a provider outage still publishes prices.

Beside the loops runs the loop-lag monitor (``energyd.core.loopwatch``) and a follower of the
run-time faults (``energyd.core.faults``): when a plugin blocks the event loop or a derived topic
cannot be built, the retained ``providers`` topic and systemd's ``STATUS=`` are brought up
to date within a tick of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict

import aiohttp
import structlog

from energyd import __version__
from energyd.api.figures import FigureSource
from energyd.api.operations import Operations
from energyd.api.ports import BrokerStatus
from energyd.config import Settings, unknown_env_vars
from energyd.core.events import ChangeFeed, Changes
from energyd.core.faults import RuntimeFaults
from energyd.core.loopwatch import LoopWatch
from energyd.core.scheduler import Scheduler
from energyd.core.selection import configure_providers, resolve
from energyd.core.service import PriceService
from energyd.core.store import PriceStore, read_overrides
from energyd.domain.time import iso_utc
from energyd.exceptions import ConfigError, StoreError
from energyd.mqtt.client import MqttClient
from energyd.mqtt.commands import CommandRouter
from energyd.mqtt.handlers import register_commands
from energyd.mqtt.homeassistant import DiscoveryPublisher
from energyd.mqtt.state import RETIRE_DELAY, StatePublisher
from energyd.notify import SystemdNotifier, status_line
from energyd.providers.loader import EnergyProviderLoader, init_energy_provider_loader
from energyd.providers.management import ProviderManager

__all__ = [
    "Components",
    "ConfigCheck",
    "RegionLookup",
    "Wiring",
    "build",
    "check_providers",
    "inspect_config",
    "lookup_region",
    "run_daemon",
    "wire",
]

log = structlog.get_logger(__name__)

#: How often old slots are pruned (``storage.retention_days``).
PRUNE_EVERY = timedelta(hours=6)
#: How long start-up waits for the broker before publishing into the MQTT client's cache
#: instead (a broker on the same host or LAN answers within milliseconds).
FIRST_CONNECT_WAIT = 1.0


class _Shutdown(Exception):
    """Control flow: a signal asked the daemon to stop (not an error)."""


@dataclass(slots=True)
class Components:
    settings: Settings
    loader: EnergyProviderLoader
    store: PriceStore
    service: PriceService
    manager: ProviderManager
    #: The derived figures and standing windows (the publisher's and the operations').
    figures: FigureSource

    def operations(self, broker: BrokerStatus | None = None) -> Operations:
        """The application layer over these parts (``broker``: the MQTT connection, if any)."""
        return Operations(
            self.service, self.manager, self.store, figures=self.figures, broker=broker
        )


def check_providers(
    settings: Settings, loader: EnergyProviderLoader, *, strict: bool = True
) -> Settings:
    """``settings`` with every provider config as its plugin normalises it (``region = "c"``
    is ``"C"`` from here on); :class:`ConfigError` naming each key a loaded plugin rejects
    (``strict=False``: those configs stay as given, and their providers report the problem).

    A plugin that failed to load is not a configuration error: the daemon reports it and runs
    the other providers.
    """
    energy, errors = configure_providers(settings.energy, loader.providers)
    if errors and strict:
        lines = "; ".join(f"{k}: {v}" for k, v in errors.items())
        raise ConfigError(f"invalid provider configuration: {lines}", errors)
    return settings.model_copy(update={"energy": energy})


def http_session(settings: Settings) -> aiohttp.ClientSession:
    """The HTTP session plugins share: energyd's User-Agent, ``refresh.http_timeout_seconds``."""
    return aiohttp.ClientSession(
        headers={"User-Agent": f"energyd/{__version__}"},
        timeout=aiohttp.ClientTimeout(total=settings.refresh.http_timeout_seconds),
    )


class ConfigCheck(TypedDict):
    """What ``energyd check-config`` found, and the paths the daemon would use."""

    ok: bool
    config_file: str | None
    config_dir: str
    database: str
    database_exists: bool
    plugin_dir: str
    plugins_deployed: bool
    overrides: dict[str, Any] | None
    env_warnings: dict[str, str]
    providers: dict[str, str | None]
    settings: dict[str, Any]


def inspect_config(settings: Settings, config_file: Path | None) -> ConfigCheck:
    """Validate ``settings`` as the daemon would, writing nothing: no database is created and
    no plugin deployed (the bundled ones are read in place). :class:`ConfigError` as
    :func:`build` raises it."""
    loader = init_energy_provider_loader(settings.config_dir, deploy=False)
    settings = check_providers(settings, loader)
    problems = {spec.key: loader.missing(spec.plugin_id) for spec in resolve(settings.energy)}
    try:
        overrides = read_overrides(settings.db_path)
    except StoreError as exc:  # the config can still be checked: say why, go on
        log.warning("store.unreadable", error=str(exc))
        overrides = None
    return {
        "ok": True,
        "config_file": None if config_file is None else str(config_file.absolute()),
        "config_dir": str(settings.config_dir),
        "database": str(settings.db_path),
        "database_exists": settings.db_path.is_file(),
        "plugin_dir": str(settings.plugin_dir),
        "plugins_deployed": loader.deployed_dir.is_dir()
        and any(loader.deployed_dir.glob("*_provider.py")),
        "overrides": overrides,
        "env_warnings": unknown_env_vars(),
        "providers": problems,
        "settings": settings.redacted(),
    }


class RegionLookup(TypedDict):
    """What ``energyd region`` found: the regions of a query, with their names."""

    provider: str
    query: str
    regions: list[str]
    names: dict[str, str]


async def lookup_region(settings: Settings, query: str, provider: str | None) -> RegionLookup:
    """Ask a plugin which regions ``query`` (a postcode) lies in, writing nothing.

    ``provider``: a configured provider key or a plugin id (default: ``energy.provider_id``).
    Raises :class:`ConfigError` when it names no loaded plugin or the plugin cannot look
    regions up, :class:`ProviderError` when the lookup fails."""
    loader = init_energy_provider_loader(settings.config_dir, deploy=False)
    key = provider or settings.energy.provider_id
    entry = settings.energy.providers.get(key)
    plugin_id = (entry.plugin if entry is not None else None) or key
    plugin = loader.providers.get(plugin_id)
    if plugin is None:
        loaded = ", ".join(sorted(loader.providers)) or "none"
        raise ConfigError(f"no plugin provides {plugin_id!r} (loaded: {loaded})", {"provider": key})
    config = {} if entry is None else entry.plugin_config()
    meta = loader.metadata(plugin_id)
    async with http_session(settings) as session:
        plugin.attach(session, settings.refresh.http_timeout_seconds)
        try:
            regions = await plugin.find_regions(query, config)
        except NotImplementedError:
            known = ", ".join(meta.supported_regions) or "any"
            raise ConfigError(
                f"{meta.display_name} cannot look up regions; its regions: {known}",
                {"provider": key},
            ) from None
    return {
        "provider": key,
        "query": query,
        "regions": list(regions),
        "names": {r: meta.region_names[r] for r in regions if r in meta.region_names},
    }


@contextlib.asynccontextmanager
async def build(
    settings: Settings, *, bundled_dir: Path | None = None, check_config: bool = True
) -> AsyncIterator[Components]:
    """Open everything the CLI commands and the daemon share (no MQTT, no loops).

    ``bundled_dir`` replaces the shipped plugin folder (tests bring their own plugins);
    ``check_config=False`` lets a provider whose plugin rejects its config run (as a provider
    with a problem), as a settings change at run time can leave it.
    """
    wanted = [spec.plugin_id for spec in resolve(settings.energy)]
    loader = init_energy_provider_loader(settings.config_dir, bundled_dir, wanted=wanted)
    settings = check_providers(settings, loader, strict=check_config)
    async with contextlib.AsyncExitStack() as stack:
        store = await stack.enter_async_context(PriceStore(settings.db_path))
        session = await stack.enter_async_context(http_session(settings))
        service = PriceService(settings, store, loader, session)
        await service.start()
        manager = ProviderManager(loader, store, on_change=service.plugins_changed)
        figures = FigureSource(service, settings.prices)
        yield Components(settings, loader, store, service, manager, figures)


@dataclass(slots=True)
class Wiring:
    """The MQTT side of a daemon over its :class:`Components`: the command router and client,
    the retained-state and Home Assistant publishers, the scheduler, and the publisher's feed
    of changes. :func:`run_daemon` runs them; a test runs the ones it needs."""

    router: CommandRouter
    mqtt: MqttClient
    publisher: StatePublisher
    scheduler: Scheduler
    discovery: DiscoveryPublisher
    changes: ChangeFeed
    operations: Operations


def wire(parts: Components, *, retire_delay: float = RETIRE_DELAY) -> Wiring:
    """Connect the MQTT side to ``parts`` (no I/O yet: nothing runs until its loops do)."""
    settings = parts.settings
    router = CommandRouter()
    mqtt = MqttClient(settings.mqtt, router, client_id=settings.client_id)
    # A share group is one Home Assistant device whichever instance announces it: its ids are
    # the group's, not the instance's (the client ids stay the instances' own).
    device = settings.mqtt.share_group or settings.instance
    publisher = StatePublisher(
        parts.service, mqtt, settings.prices, figures=parts.figures, retire_delay=retire_delay
    )
    discovery = DiscoveryPublisher(
        parts.service,
        mqtt,
        publisher,
        mqtt_settings=settings.mqtt,
        ha=settings.homeassistant,
        instance=device,
        http=settings.http,
    )
    operations = parts.operations(broker=mqtt)
    register_commands(router, operations, share_group=settings.mqtt.share_group)
    return Wiring(
        router=router,
        mqtt=mqtt,
        publisher=publisher,
        scheduler=Scheduler(parts.service, settings.refresh),
        discovery=discovery,
        changes=parts.service.events.feed("publisher"),
        operations=operations,
    )


async def _prune_loop(store: PriceStore, retention_days: int) -> None:
    while True:
        cutoff = datetime.now(UTC) - timedelta(days=retention_days)
        removed = await store.prune(cutoff)
        if removed:
            log.info("store.pruned", slots=removed, before=cutoff.isoformat())
        await asyncio.sleep(PRUNE_EVERY.total_seconds())


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGTERM / SIGINT set ``stop`` (installed before READY=1, so no signal is lost)."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        yield
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def _status_text(service: PriceService) -> str:
    """Each provider's health state, and the most recent loop block of each plugin."""
    states: dict[str, str] = {}
    notes: list[str] = []
    for spec in service.specs():
        report = await service.health(spec)
        states[spec.key] = report.state.value
        if report.loop_block is not None:
            block = report.loop_block
            notes.append(f"{spec.key} {block.describe()} at {iso_utc(block.at)}")
    return status_line(states, notes)


async def _follow_faults(
    faults: RuntimeFaults, publisher: StatePublisher, status: Callable[[], Awaitable[None]]
) -> None:
    """Re-publish provider health (and STATUS=) whenever a run-time fault changes."""
    while True:
        await faults.wait_changed()
        try:
            await publisher.publish_providers()
            await status()
        except Exception:  # reporting a fault must not become one (like a service listener)
            log.exception("faults.publish_failed")


async def _until(stop: asyncio.Event, notifier: SystemdNotifier) -> None:
    await stop.wait()
    log.info("daemon.stopping")
    notifier.stopping()
    raise _Shutdown


async def _join(task: asyncio.Task[None]) -> None:
    """Wait for ``task`` started before a task group, in the group (its failure is the
    group's; cancelling the group cancels it)."""
    await task


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait for it. What it raised was the task group's already (see
    :func:`_join`), or came after the failure that ends the start-up."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def run_daemon(
    settings: Settings,
    *,
    handle_signals: bool = True,
    on_started: Callable[[], object] | None = None,
) -> None:
    """Run until SIGTERM/SIGINT (or cancellation); unexpected errors propagate.

    ``on_started`` is called once what the store knows has been published (or cached for
    the broker): the end of start-up (the command line switches garbage collection on)."""
    stop = asyncio.Event()
    notifier = SystemdNotifier()
    if not faulthandler.is_enabled():
        # A watchdog kill (SIGABRT) of a wedged loop then prints every thread's stack.
        faulthandler.enable()
    # Said first, before anything connects: a misspelt variable explains what follows.
    for name, problem in unknown_env_vars().items():
        log.warning("config.unknown_env", variable=name, problem=problem)
    async with contextlib.AsyncExitStack() as stack:
        if handle_signals:
            stack.enter_context(_stop_on_signals(stop))
        parts = await stack.enter_async_context(build(settings))
        wiring = wire(parts)
        mqtt, publisher, discovery = wiring.mqtt, wiring.publisher, wiring.discovery

        async def _status(changes: Changes | None = None) -> None:
            # `systemctl status` shows each provider's health, after a fetch or a settings
            # change (a slot boundary alone changes no fetch state worth a line)
            if notifier.enabled and (changes is None or changes.prices or changes.everything):
                notifier.status(await _status_text(parts.service))

        if settings.homeassistant.discovery:
            await mqtt.add_subscription(discovery.status_topic, discovery.on_ha_status)
        if settings.http.enabled:
            # Imported only with the server on: aiohttp.web is a tenth of energyd's imports.
            from energyd.http import HttpServer, make_http_app

            http_app = make_http_app(operations=wiring.operations, settings=settings.http)
            await stack.enter_async_context(HttpServer.from_settings(http_app, settings.http))
        # Connect first, so each part of the stored state goes out as it is published
        # (current prices first) rather than all of it once start-up's CPU-bound rest is
        # done. A broker that is not there within FIRST_CONNECT_WAIT gets it all on connect,
        # in the same order; start-up goes on meanwhile.
        connection = asyncio.create_task(mqtt.run(), name="energyd.mqtt")
        stack.push_async_callback(_cancel, connection)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FIRST_CONNECT_WAIT):
                await mqtt.wait_ready()
        await discovery.publish()
        await publisher.publish_all()
        if on_started is not None:
            on_started()
        log.info(
            "daemon.started",
            version=__version__,
            providers=[spec.key for spec in parts.service.specs()],
            store=str(settings.db_path),
            broker=f"{settings.mqtt.host}:{settings.mqtt.port}",
        )
        notifier.ready(status=f"started: {len(parts.service.specs())} provider(s)")
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(_join(connection), name="energyd.mqtt.join")
                group.create_task(
                    # Discovery first: Home Assistant must follow a region change before the
                    # state it describes (and before old topics are emptied).
                    publisher.follow(wiring.changes, before=discovery.on_change, after=_status),
                    name="energyd.publisher",
                )
                group.create_task(wiring.scheduler.run(), name="energyd.scheduler")
                group.create_task(publisher.retire_loop(), name="energyd.retire")
                group.create_task(
                    _prune_loop(parts.store, settings.storage.retention_days),
                    name="energyd.retention",
                )
                group.create_task(notifier.watchdog_loop(), name="energyd.watchdog")
                group.create_task(LoopWatch(parts.service.faults).run(), name="energyd.loopwatch")
                group.create_task(
                    _follow_faults(parts.service.faults, publisher, _status),
                    name="energyd.faults",
                )
                group.create_task(_until(stop, notifier), name="energyd.signals")
        except* _Shutdown:
            pass
    log.info("daemon.stopped")
