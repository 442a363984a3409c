"""Turns what the store knows into retained MQTT state.

Per provider/region: ``current``, ``next``, ``upcoming`` and the derived figures of
:mod:`energyd.api.derived`; daemon-wide: ``providers`` and ``settings``. The MQTT client keeps
every retained payload and re-sends it after a reconnect, so this module only says what the
state is; it never worries about the connection.

A topic whose payload cannot be built (stored data that breaks an assumption of a figure) is
skipped, not fatal: it is logged as ``derived.failed`` once per change of its error, named in
the provider's health (``derived_errors``, via :class:`energyd.core.faults.RuntimeFaults`), and its
earlier retained value is left as it was; the other topics are published as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import structlog

from energyd.api.derived import PERIODS, Derived, PayloadBuilder, derive
from energyd.config import PricesSettings, WindowSettings
from energyd.core.selection import ProviderSpec
from energyd.core.service import PriceService
from energyd.domain.figures import Window
from energyd.mqtt.client import MqttClient
from energyd.mqtt.payloads import dumps, price_payload, providers_payload, upcoming_payload
from energyd.providers.base import EnergyPriceSlot

__all__ = ["UPCOMING_HORIZON", "StatePublisher", "current_and_next"]

log = structlog.get_logger(__name__)

#: How far ahead ``upcoming`` reaches (Agile publishes at most ~31 h ahead).
UPCOMING_HORIZON = timedelta(days=3)
#: Topics that stop being published are emptied this much later: Home Assistant first needs
#: to take in the new discovery configs, or it would read the empty payloads as broken JSON.
RETIRE_DELAY = 2.0


def current_and_next(
    slots: Sequence[EnergyPriceSlot], now: datetime
) -> tuple[EnergyPriceSlot | None, EnergyPriceSlot | None]:
    """The slot containing ``now`` and the one after it (ascending ``slots``)."""
    current = next((slot for slot in slots if slot.contains(now)), None)
    after = current.valid_to if current is not None else now
    following = next((slot for slot in slots if slot.valid_from >= after), None)
    return current, following


class StatePublisher:
    def __init__(
        self,
        service: PriceService,
        mqtt: MqttClient,
        prices: PricesSettings | None = None,
        *,
        retire_delay: float = RETIRE_DELAY,
    ) -> None:
        self._service = service
        self._mqtt = mqtt
        self._topics = mqtt.topics
        self._prices = prices or PricesSettings()
        self._retire_delay = retire_delay
        #: Topics published per (provider key, region), to clear the ones no longer published.
        self._published: dict[tuple[str, str], set[str]] = {}
        self._retiring: asyncio.Queue[tuple[float, list[str]]] = asyncio.Queue()
        #: Standing windows last chosen per (provider key, region); a started one is kept.
        self._windows: dict[tuple[str, str], dict[str, Window | None]] = {}

    def windows_for(self, key: str) -> list[WindowSettings]:
        """The standing windows computed for provider ``key``."""
        selected = self._service.energy.provider_id
        return [w for w in self._prices.windows if (w.provider or selected) == key]

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
        calendar = self._service.calendar(spec)
        today_start = calendar.day_bounds(calendar.local_date(now))[0]
        return await self._service.slots(spec, today_start, now + UPCOMING_HORIZON)

    def _derive(self, spec: ProviderSpec, slots: list[EnergyPriceSlot], now: datetime) -> Derived:
        meta = self._service.metadata(spec)
        return derive(
            provider=spec.key,
            region=spec.region,
            currency=meta.currency if meta is not None else "GBP",
            slots=slots,
            calendar=self._service.calendar(spec),
            levels=self._prices.levels,
            windows=self.windows_for(spec.key),
            previous=self._windows.get((spec.key, spec.region), {}),
            now=now,
        )

    async def figures(self, spec: ProviderSpec, now: datetime) -> dict[str, Any]:
        """Level, statistics and standing windows as published (for the HTTP status page);
        a figure that cannot be built is null (``level``, a period) or left out (a window)."""
        payloads = self._derive(spec, await self._known(spec, now), now).payloads
        windows = [payloads.get(f"windows/{w.name}") for w in self.windows_for(spec.key)]
        return {
            "level": payloads.get("level"),
            "stats": {name: payloads.get(f"stats/{name}") for name in PERIODS},
            "windows": [window for window in windows if window is not None],
        }

    async def _publish_spec(self, spec: ProviderSpec, now: datetime) -> None:
        meta = self._service.metadata(spec)
        currency = meta.currency if meta is not None else "GBP"
        slots = await self._known(spec, now)
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
        self._windows[(spec.key, spec.region)] = derived.windows
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

    async def publish_providers(self, now: datetime | None = None) -> None:
        overview = await self._service.overview(now)
        await self._mqtt.publish_retained(
            self._topics.providers(), dumps(providers_payload(overview, now=now))
        )

    async def publish_settings(self) -> None:
        """The selected provider and each provider's region (state of the HA selects)."""
        providers = {}
        for spec in self._service.specs():
            meta = self._service.metadata(spec)
            providers[spec.key] = {
                "plugin": spec.plugin_id,
                "region": spec.region,
                "regions": list(meta.supported_regions) if meta is not None else [],
                "enabled": True,
            }
        body = {"provider_id": self._service.energy.provider_id, "providers": providers}
        await self._mqtt.publish_retained(self._topics.settings(), dumps(body))

    async def publish_all(self, now: datetime | None = None) -> None:
        """Everything, and clear the retained topics of providers/regions no longer running."""
        now = now or datetime.now(UTC)
        running = {(spec.key, spec.region) for spec in self._service.specs()}
        for gone in sorted(set(self._published) - running):
            self._retire(self._published.pop(gone))
            self._windows.pop(gone, None)
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

    async def on_change(self, key: str | None) -> None:
        """Service listener: prices of ``key`` changed, or (None) anything did."""
        if key is None:
            await self.publish_all()
        else:
            await self.publish_prices(key)
            await self.publish_providers()
