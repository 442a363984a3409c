"""Turns what the store knows into retained MQTT state.

Per provider/region: ``current``, ``next``, ``upcoming`` and the derived figures built by
:class:`energyd.api.figures.FigureSource` (which also keeps the standing windows);
daemon-wide: ``providers`` and ``settings``. The MQTT client keeps every retained payload
and re-sends it after a reconnect, so this module only says what the state is; it never
worries about the connection.

What is published when:

- prices changed (a fetch, a fallback's fetch), settings or plugins: every topic of the
  providers concerned;
- a slot boundary: only what a boundary changes, :data:`BOUNDARY_TOPICS` and the standing
  windows, every feed's ``current`` first (all of them before anything else); the series and
  figures (``upcoming``, ``today``, ``tomorrow``, ``stats/*``, ``hourly``, ``predbat``,
  ``emhass``) only when prices change and when the market's day rolls over;
- the ``providers`` topic when a fetch or a plan changed it, and at a boundary only when it
  differs (a price running out, a fallback taking over).

Payloads carry no time of building, and each is built for the moment the state is for (the
last boundary passed, :meth:`energyd.api.figures.FigureSource.moment`): the same prices give
the same bytes, the MQTT client does not send a payload again that did not change, and two
daemons on one broker publish the same retained state. Each round goes out in one batch
(:meth:`energyd.mqtt.client.MqttClient.publish_retained_many`) rather than one
acknowledgement at a time.

A topic whose payload cannot be built (stored data that breaks an assumption of a figure) is
skipped, not fatal: it is logged as ``derived.failed`` once per change of its error, named in
the provider's health (``derived_errors``, via :class:`energyd.core.faults.RuntimeFaults`), and its
earlier retained value is left as it was; the other topics are published as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial

import structlog

from energyd.api.derived import Payload, PayloadBuilder, known_currency
from energyd.api.figures import HORIZON, FigureSource
from energyd.api.shapes import PricePayload
from energyd.config import PricesSettings, WindowSettings
from energyd.core.events import ChangeFeed, Changes
from energyd.core.registry import ProviderRuntime
from energyd.core.service import PriceService
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

__all__ = ["BOUNDARY_TOPICS", "STORE_RETRY", "UPCOMING_HORIZON", "StatePublisher", "Step"]

log = structlog.get_logger(__name__)

#: How far ahead ``upcoming`` reaches (Agile publishes at most ~31 h ahead).
UPCOMING_HORIZON = HORIZON
#: What a slot boundary re-publishes of every feed (and its standing windows): what "now"
#: changes. ``upcoming`` is not among them: it is every slot not over when prices last
#: changed (its slots say when each is; re-sending the whole series at every boundary would
#: cost more than everything else a boundary sends).
BOUNDARY_TOPICS = ("current", "next", "level")
#: Topics that stop being published are emptied this much later: Home Assistant first needs
#: to take in the new discovery configs, or it would read the empty payloads as broken JSON.
RETIRE_DELAY = 2.0
#: After a store failure, the next round of publishing is tried this much later (seconds).
STORE_RETRY = 5.0

#: A step of a publishing round (see :meth:`StatePublisher.follow`).
Step = Callable[[Changes], Awaitable[None]]


@dataclass(slots=True)
class _Built:
    """One provider's part of a round: what it is built from (the known slots, the moment
    the state is for, the currency), its payloads (topic -> bytes), the topics attempted
    (suffixes) and those that could not be built (suffix -> error)."""

    runtime: ProviderRuntime
    series: bool
    slots: list[EnergyPriceSlot]
    moment: datetime
    currency: str | None
    following: EnergyPriceSlot | None = None
    #: The price payloads built (slot, currency, bytes): the next boundary's ``current`` is
    #: this one's ``next``, and is not built twice.
    prices: list[tuple[EnergyPriceSlot | None, str | None, bytes]] = field(default_factory=list)
    messages: dict[str, bytes] = field(default_factory=dict)
    attempted: set[str] = field(default_factory=set)
    errors: dict[str, str] = field(default_factory=dict)


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
        #: The market's local day the series of each (provider key, region) were built for.
        self._days: dict[tuple[str, str], date] = {}
        #: What could not be built, per provider key (topic suffix -> error).
        self._errors: dict[str, dict[str, str]] = {}
        #: The price payloads of each (provider key, region) last built (see ``_Built.prices``).
        self._recent: dict[
            tuple[str, str], list[tuple[EnergyPriceSlot | None, str | None, bytes]]
        ] = {}
        #: Topic names by (provider key, region, suffix), checked once.
        self._names: dict[tuple[str, str, str], str] = {}
        #: The providers payload last published (to tell a boundary's change).
        self._overview: bytes | None = None
        self._retiring: asyncio.Queue[tuple[float, list[str]]] = asyncio.Queue()

    def windows_for(self, key: str) -> list[WindowSettings]:
        """The standing windows computed for provider ``key``."""
        return self._figures.windows.settings_for(key)

    async def publish_prices(self, key: str | None = None, now: datetime | None = None) -> None:
        """Publish every price topic for one provider key, or for all of them."""
        now = now or datetime.now(UTC)
        runtimes = [r for r in self._service.runtimes() if key is None or r.key == key]
        await self._publish(
            [await self._prepare(runtime, now, series=True) for runtime in runtimes]
        )

    async def publish_boundary(self, now: datetime | None = None) -> None:
        """What a slot boundary changes, of every running provider: ``current`` of all of
        them first, then the rest of :data:`BOUNDARY_TOPICS` and the standing windows (every
        topic of a provider whose market day rolled over)."""
        now = now or datetime.now(UTC)
        built = []
        for runtime in self._service.runtimes():
            pair = (runtime.key, runtime.spec.region)
            rolled = self._days.get(pair) != runtime.calendar.local_date(now)
            built.append(await self._prepare(runtime, now, series=rolled))
        await self._publish(built)

    async def _prepare(self, runtime: ProviderRuntime, now: datetime, *, series: bool) -> _Built:
        """Read what ``runtime``'s topics are built from, and build ``current`` (the rest:
        :meth:`_complete`, once every provider's ``current`` is out)."""
        slots, moment = await self._figures.known_at(runtime, now)
        # The provider's currency; without a plugin, the stored slots' own (or none: nulls).
        built = _Built(runtime, series, slots, moment, known_currency(runtime.currency, slots))
        current, built.following = current_and_next(slots, moment)
        self._add_price(built, "current", current)
        return built

    def _add_price(self, built: _Built, suffix: str, slot: EnergyPriceSlot | None) -> None:
        """``current`` or ``next`` of ``slot``: the bytes built for it last time, if any."""
        spec = built.runtime.spec
        topic = self._topic(spec.key, spec.region, suffix)
        for known, currency, body in self._recent.get((spec.key, spec.region), ()):
            if known == slot and currency == built.currency:
                built.messages[topic] = body
                built.attempted.add(suffix)
                break
        else:
            self._add(built, {suffix: partial(self._price, built, slot)})
            if topic not in built.messages:
                return
        built.prices.append((slot, built.currency, built.messages[topic]))

    def _price(self, built: _Built, slot: EnergyPriceSlot | None) -> PricePayload:
        spec = built.runtime.spec
        return price_payload(spec.key, spec.region, slot, currency=built.currency)

    def _complete(self, built: _Built) -> None:
        """Everything else ``built`` publishes: ``next``, the derived topics of a boundary
        or (``series``) all of them."""
        runtime, moment = built.runtime, built.moment
        spec = runtime.spec
        self._add_price(built, "next", built.following)
        steps: dict[str, Callable[[], Payload]] = {}
        if built.series:
            upcoming = [slot for slot in built.slots if slot.valid_to > moment]
            steps["upcoming"] = partial(
                upcoming_payload,
                spec.key,
                spec.region,
                upcoming,
                now=moment,
                currency=built.currency,
            )
            self._days[(spec.key, spec.region)] = runtime.calendar.local_date(moment)
        self._add(built, steps)
        derived = self._figures.derive(runtime, built.slots, moment, series=built.series)
        self._add_built(built, derived.payloads, derived.errors)

    def _add(self, built: _Built, steps: dict[str, Callable[[], Payload]]) -> None:
        payloads = PayloadBuilder()  # like the derived topics: one that fails is skipped
        for suffix, step in steps.items():
            payloads.build(suffix, step)
        self._add_built(built, payloads.payloads, payloads.errors)

    def _add_built(
        self, built: _Built, payloads: dict[str, Payload], errors: dict[str, str]
    ) -> None:
        spec = built.runtime.spec
        for suffix, body in payloads.items():
            built.messages[self._topic(spec.key, spec.region, suffix)] = dumps(body)
        built.errors.update(errors)
        built.attempted.update(payloads, errors)

    def _topic(self, key: str, region: str, suffix: str) -> str:
        name = self._names.get((key, region, suffix))
        if name is None:
            name = self._names[(key, region, suffix)] = self._topics.figure(key, region, suffix)
        return name

    async def _publish(self, rounds: list[_Built]) -> None:
        """Send ``current`` of every provider of ``rounds``, then build and send the rest;
        then settle which topics each provider has published (and retire the ones it no
        longer has)."""
        first = {topic: body for built in rounds for topic, body in built.messages.items()}
        await self._mqtt.publish_retained_many(first)
        for built in rounds:
            self._complete(built)
        await self._mqtt.publish_retained_many(
            {t: body for built in rounds for t, body in built.messages.items() if t not in first}
        )
        running = {(spec.key, spec.region) for spec in self._service.specs()}
        for built in rounds:
            self._settle(built, running)

    def _settle(self, built: _Built, running: set[tuple[str, str]]) -> None:
        # What is kept from one round to the next is replaced only when it changed: a round
        # of 100 feeds leaves little behind for the garbage collector's oldest generation.
        spec = built.runtime.spec
        pair = (spec.key, spec.region)
        if self._recent.get(pair) != built.prices:
            self._recent[pair] = built.prices
        errors = built.errors
        if not built.series:  # a boundary: the errors of the series topics stand
            kept = self._errors.get(spec.key, {})
            errors = {**{k: v for k, v in kept.items() if k not in built.attempted}, **errors}
        if errors != self._errors.get(spec.key) or errors != self._service.faults.derived_errors(
            spec.key
        ):
            self._report(spec.key, spec.region, errors)
        if pair not in running:
            # Settings changed while this was being published: it must not stay retained.
            self._retire(set(built.messages))
            return
        before = self._published.get(pair, set())
        if not built.series:  # a boundary: the series topics stay as they are
            if not before.issuperset(built.messages):
                self._published[pair] = before | set(built.messages)
            return
        # A topic that could not be built now keeps its earlier retained value (if it had
        # one) rather than being emptied: a slightly old figure serves its readers better
        # than none, and the failure is in the provider's health. So it counts as published.
        failed = {self._topic(spec.key, spec.region, suffix) for suffix in errors}
        live = set(built.messages) | (failed & before)
        self._retire(before - live)
        self._published[pair] = live

    def _report(self, key: str, region: str, errors: dict[str, str]) -> None:
        """Log each topic's failure once per change of its error, and its recovery."""
        self._errors[key] = errors
        before = self._service.faults.derived_errors(key)
        for name in self._service.faults.set_derived_errors(key, errors):
            log.warning(
                "derived.failed", provider=key, region=region, topic=name, error=errors[name]
            )
        for name in sorted(set(before) - set(errors)):
            log.info("derived.recovered", provider=key, region=region, topic=name)

    async def publish_providers(
        self, now: datetime | None = None, *, if_changed: bool = False
    ) -> None:
        """Every plugin's status and provider's health; ``if_changed``: only when they differ
        from what was last published (a slot boundary: a price running out, a fallback taking
        over, changes health without a fetch)."""
        body = dumps(providers_payload(await self._service.shared_overview(now)))
        if if_changed and body == self._overview:
            return
        self._overview = body
        await self._mqtt.publish_retained(self._topics.providers(), body)

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
            self._days.pop(gone, None)
            self._recent.pop(gone, None)
            self._figures.windows.forget(*gone)
            if gone[0] not in {key for key, _ in running}:
                self._service.faults.forget(gone[0])
                self._errors.pop(gone[0], None)
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
        now = datetime.now(UTC)
        if changes.boundary:
            await self.publish_boundary(now)
        for key in sorted(changes.prices):
            await self.publish_prices(key, now)
        if changes.prices or changes.status:
            await self.publish_providers(now)
        elif changes.boundary:
            await self.publish_providers(now, if_changed=True)

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
