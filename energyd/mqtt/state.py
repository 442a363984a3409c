"""Turns what the store knows into retained MQTT state.

Per provider/region: ``current``, ``next``, ``upcoming`` and the derived figures built by
:class:`energyd.api.figures.FigureSource` (which also keeps the standing windows);
daemon-wide: ``providers`` and ``settings``. The MQTT client keeps every retained payload
and re-sends it after a reconnect, so this module only says what the state is; it never
worries about the connection.

A topic whose payload cannot be built (stored data that breaks an assumption of a figure) is
skipped, not fatal: it is logged as ``derived.failed`` once per change of its error, named in
the provider's health (``derived_errors``, via :class:`energyd.core.faults.RuntimeFaults`), and its
earlier retained value is left as it was; the other topics are published as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial

import structlog

from energyd.api.derived import Derived, PayloadBuilder, known_currency
from energyd.api.figures import HORIZON, FigureSource
from energyd.config import PricesSettings, WindowSettings
from energyd.core.events import ChangeFeed, Changes
from energyd.core.selection import ProviderSpec
from energyd.core.service import PriceService
from energyd.core.shapes import OverviewReply
from energyd.domain.figures import current_and_next
from energyd.exceptions import StoreError
from energyd.mqtt.client import MqttClient
from energyd.mqtt.payloads import (
    dumps,
    price_payload,
    providers_payload,
    settings_payload,
    upcoming_payload,
)
from energyd.providers.base import EnergyPriceSlot

__all__ = ["STORE_RETRY", "UPCOMING_HORIZON", "StatePublisher", "Step"]

log = structlog.get_logger(__name__)

#: How far ahead ``upcoming`` reaches (Agile publishes at most ~31 h ahead).
UPCOMING_HORIZON = HORIZON
#: Topics that stop being published are emptied this much later: Home Assistant first needs
#: to take in the new discovery configs, or it would read the empty payloads as broken JSON.
RETIRE_DELAY = 2.0
#: After a store failure, the next round of publishing is tried this much later (seconds).
STORE_RETRY = 5.0

#: A step of a publishing round (see :meth:`StatePublisher.follow`).
Step = Callable[[Changes], Awaitable[None]]


class StatePublisher:
    def __init__(
        self,
        service: PriceService,
        mqtt: MqttClient,
        prices: PricesSettings | None = None,
        *,
        retire_delay: float = RETIRE_DELAY,
        figures: FigureSource | None = None,
    ) -> None:
        self._service = service
        self._mqtt = mqtt
        self._topics = mqtt.topics
        #: The derived figures and the standing windows (shared with the ``figures`` operation).
        self._figures = figures or FigureSource(service, prices)
        self._retire_delay = retire_delay
        #: Topics published per (provider key, region), to clear the ones no longer published.
        self._published: dict[tuple[str, str], set[str]] = {}
        #: The overview last published on the providers topic (to tell a boundary's change).
        self._overview: OverviewReply | None = None
        self._retiring: asyncio.Queue[tuple[float, list[str]]] = asyncio.Queue()

    def windows_for(self, key: str) -> list[WindowSettings]:
        """The standing windows computed for provider ``key``."""
        return self._figures.windows.settings_for(key)

    async def publish_prices(self, key: str | None = None, now: datetime | None = None) -> None:
        """Publish every price topic for one provider key, or for all of them."""
        now = now or datetime.now(UTC)
        specs = self._service.specs()
        if key is not None:
            specs = [spec for spec in specs if spec.key == key]
        for spec in specs:
            await self._publish_spec(spec, now)

    async def _known(self, spec: ProviderSpec, now: datetime) -> list[EnergyPriceSlot]:
        """The slots the topics are built from: today's market day up to the horizon."""
        return await self._figures.known(spec, now)

    def _derive(self, spec: ProviderSpec, slots: list[EnergyPriceSlot], now: datetime) -> Derived:
        return self._figures.derive(spec, slots, now)  # remembers the windows chosen

    async def _publish_spec(self, spec: ProviderSpec, now: datetime) -> None:
        slots = await self._known(spec, now)
        # The provider's currency; without a plugin, the stored slots' own (or none: nulls).
        currency = known_currency(self._service.runtime(spec).currency, slots)
        current, following = current_and_next(slots, now)
        upcoming = [slot for slot in slots if slot.valid_to > now]
        basics = PayloadBuilder()  # like the derived topics: one that fails is skipped
        for kind, slot in (("current", current), ("next", following)):
            basics.build(
                kind,
                partial(price_payload, spec.key, spec.region, slot, now=now, currency=currency),
            )
        basics.build(
            "upcoming",
            partial(upcoming_payload, spec.key, spec.region, upcoming, now=now, currency=currency),
        )
        derived = self._derive(spec, slots, now)
        payloads = {**basics.payloads, **derived.payloads}
        errors = {**basics.errors, **derived.errors}
        self._report(spec, errors)

        def topic(suffix: str) -> str:  # current/next/upcoming and every figure alike
            return self._topics.figure(spec.key, spec.region, suffix)

        messages = {topic(suffix): body for suffix, body in payloads.items()}
        for name, body in messages.items():
            await self._mqtt.publish_retained(name, dumps(body))
        pair = (spec.key, spec.region)
        if pair not in {(s.key, s.region) for s in self._service.specs()}:
            # Settings changed while this was being published: it must not stay retained.
            self._retire(set(messages))
            return
        # A topic that could not be built now keeps its earlier retained value (if it had
        # one) rather than being emptied: a slightly old figure serves its readers better
        # than none, and the failure is in the provider's health. So it counts as published.
        failed = {topic(suffix) for suffix in errors}
        live = set(messages) | (failed & self._published.get(pair, set()))
        self._retire(self._published.get(pair, set()) - live)
        self._published[pair] = live

    def _report(self, spec: ProviderSpec, errors: dict[str, str]) -> None:
        """Log each topic's failure once per change of its error, and its recovery."""
        before = self._service.faults.derived_errors(spec.key)
        for name in self._service.faults.set_derived_errors(spec.key, errors):
            log.warning(
                "derived.failed",
                provider=spec.key,
                region=spec.region,
                topic=name,
                error=errors[name],
            )
        for name in sorted(set(before) - set(errors)):
            log.info("derived.recovered", provider=spec.key, region=spec.region, topic=name)

    async def publish_providers(
        self, now: datetime | None = None, *, if_changed: bool = False
    ) -> None:
        """Every plugin's status and provider's health; ``if_changed``: only when they differ
        from what was last published (a slot boundary: a price running out, a fallback taking
        over, changes health without a fetch)."""
        overview = await self._service.overview(now)
        if if_changed and overview == self._overview:
            return
        self._overview = overview
        await self._mqtt.publish_retained(
            self._topics.providers(), dumps(providers_payload(overview, now=now))
        )

    async def publish_settings(self) -> None:
        """The selected provider and each provider's region (state of the HA selects)."""
        service = self._service
        body = settings_payload(
            service.energy.provider_id,
            [(spec, service.metadata(spec)) for spec in service.specs()],
        )
        await self._mqtt.publish_retained(self._topics.settings(), dumps(body))

    async def publish_all(self, now: datetime | None = None) -> None:
        """Everything, and clear the retained topics of providers/regions no longer running."""
        now = now or datetime.now(UTC)
        running = {(spec.key, spec.region) for spec in self._service.specs()}
        for gone in sorted(set(self._published) - running):
            self._retire(self._published.pop(gone))
            self._figures.windows.forget(*gone)
            if gone[0] not in {key for key, _ in running}:
                self._service.faults.forget(gone[0])
            log.info("mqtt.prices_removed", provider=gone[0], region=gone[1])
        await self.publish_prices(now=now)
        await self.publish_providers(now)
        await self.publish_settings()

    def _retire(self, topics: set[str]) -> None:
        if topics:
            due = asyncio.get_running_loop().time() + self._retire_delay
            self._retiring.put_nowait((due, sorted(topics)))

    async def retire_loop(self) -> None:
        """Empty the retained topics that stopped being published, after ``retire_delay``
        (unless they are published again meanwhile)."""
        loop = asyncio.get_running_loop()
        while True:
            due, topics = await self._retiring.get()
            await asyncio.sleep(max(0.0, due - loop.time()))
            live = set().union(*self._published.values())
            for name in topics:
                if name not in live:
                    await self._mqtt.clear_retained(name)

    async def publish_changes(self, changes: Changes) -> None:
        """Publish what ``changes`` says changed (and nothing else)."""
        if changes.everything:
            await self.publish_all()
            return
        if changes.boundary:
            await self.publish_prices()
        else:
            for key in sorted(changes.prices):
                await self.publish_prices(key)
        if changes.prices or changes.status:
            await self.publish_providers()
        elif changes.boundary:
            await self.publish_providers(if_changed=True)

    async def follow(
        self,
        feed: ChangeFeed,
        *,
        before: Step | None = None,
        after: Step | None = None,
    ) -> None:
        """Publish whatever the core reports, in this task (``energyd.publisher``).

        Changes that arrive while a round is being published are coalesced into the next
        round. ``before`` runs first in each round (Home Assistant discovery: it must follow a
        region change before the state it describes), ``after`` last (systemd ``STATUS=``). A
        store failure is retried after :data:`STORE_RETRY` seconds; anything else is logged,
        and what was published stays retained.
        """
        while True:
            changes = await feed.take()
            try:
                if before is not None:
                    await before(changes)
                await self.publish_changes(changes)
                if after is not None:
                    await after(changes)
            except StoreError as exc:  # disk full or locked: keep what is retained, retry
                log.error("publisher.store_failed", error=str(exc))
                await asyncio.sleep(STORE_RETRY)
                feed.mark(everything=changes.everything, boundary=True, status=changes.status)
                for key in changes.prices:
                    feed.mark(key=key)
            except Exception:  # publishing a change must not stop publishing the next ones
                log.exception("publisher.failed")
