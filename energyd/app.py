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

import aiohttp
import structlog

from energyd import __version__
from energyd.api.figures import FigureSource
from energyd.api.operations import Operations
from energyd.api.ports import BrokerStatus
from energyd.config import Settings
from energyd.core.events import ChangeFeed, Changes
from energyd.core.faults import RuntimeFaults
from energyd.core.loopwatch import LoopWatch
from energyd.core.scheduler import Scheduler
from energyd.core.selection import resolve
from energyd.core.service import PriceService
from energyd.core.store import PriceStore
from energyd.domain.time import iso_utc
from energyd.exceptions import ConfigError
from energyd.http import HttpServer, make_http_app
from energyd.mqtt.client import MqttClient
from energyd.mqtt.commands import CommandRouter
from energyd.mqtt.handlers import register_commands
from energyd.mqtt.homeassistant import DiscoveryPublisher
from energyd.mqtt.state import RETIRE_DELAY, StatePublisher
from energyd.notify import SystemdNotifier, status_line
from energyd.providers.loader import EnergyProviderLoader, init_energy_provider_loader
from energyd.providers.management import ProviderManager

__all__ = ["Components", "Wiring", "build", "check_providers", "run_daemon", "wire"]

log = structlog.get_logger(__name__)

#: How often old slots are pruned (``storage.retention_days``).
PRUNE_EVERY = timedelta(hours=6)


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


def check_providers(settings: Settings, loader: EnergyProviderLoader) -> None:
    """Raise :class:`ConfigError` when a loaded plugin rejects its configuration.

    A plugin that failed to load is not a configuration error: the daemon reports it and runs
    the other providers.
    """
    errors: dict[str, str] = {}
    for spec in resolve(settings.energy):
        plugin = loader.providers.get(spec.plugin_id)
        if plugin is None:
            continue
        try:
            found = plugin.validate_config(dict(spec.config))
        except Exception as exc:  # a crashing validator is reported as the plugin's problem
            log.error("plugin.validate_crashed", provider=spec.key, error=str(exc))
            continue
        for field, reason in found.items():
            errors[f"energy.providers.{spec.key}.{field}"] = reason
    if errors:
        lines = "; ".join(f"{k}: {v}" for k, v in errors.items())
        raise ConfigError(f"invalid provider configuration: {lines}", errors)


@contextlib.asynccontextmanager
async def build(
    settings: Settings, *, bundled_dir: Path | None = None, check_config: bool = True
) -> AsyncIterator[Components]:
    """Open everything the CLI commands and the daemon share (no MQTT, no loops).

    ``bundled_dir`` replaces the shipped plugin folder (tests bring their own plugins);
    ``check_config=False`` lets a provider whose plugin rejects its config run (as a provider
    with a problem), as a settings change at run time can leave it.
    """
    loader = init_energy_provider_loader(settings.config_dir, bundled_dir)
    if check_config:
        check_providers(settings, loader)
    async with contextlib.AsyncExitStack() as stack:
        store = await stack.enter_async_context(PriceStore(settings.db_path))
        session = await stack.enter_async_context(
            aiohttp.ClientSession(
                headers={"User-Agent": f"energyd/{__version__}"},
                timeout=aiohttp.ClientTimeout(total=settings.refresh.http_timeout_seconds),
            )
        )
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
    mqtt = MqttClient(settings.mqtt, router)
    publisher = StatePublisher(
        parts.service, mqtt, settings.prices, figures=parts.figures, retire_delay=retire_delay
    )
    discovery = DiscoveryPublisher(
        parts.service, mqtt, publisher, mqtt_settings=settings.mqtt, ha=settings.homeassistant
    )
    operations = parts.operations(broker=mqtt)
    register_commands(router, operations)
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


async def run_daemon(settings: Settings, *, handle_signals: bool = True) -> None:
    """Run until SIGTERM/SIGINT (or cancellation); unexpected errors propagate."""
    stop = asyncio.Event()
    notifier = SystemdNotifier()
    if not faulthandler.is_enabled():
        # A watchdog kill (SIGABRT) of a wedged loop then prints every thread's stack.
        faulthandler.enable()
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
            http_app = make_http_app(operations=wiring.operations, settings=settings.http)
            await stack.enter_async_context(HttpServer.from_settings(http_app, settings.http))
        await discovery.publish()
        await publisher.publish_all()
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
                group.create_task(mqtt.run(), name="energyd.mqtt")
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
