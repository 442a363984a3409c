"""Turns what the store knows into retained MQTT state (current, next, upcoming, providers).

The MQTT client keeps every retained payload and re-sends it after a reconnect, so this module
only says what the state is; it never worries about the connection.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog

from energyd.mqtt.client import MqttClient
from energyd.mqtt.payloads import dumps, price_payload, providers_payload, upcoming_payload
from energyd.providers.base import EnergyPriceSlot
from energyd.selection import ProviderSpec
from energyd.service import PriceService

__all__ = ["UPCOMING_HORIZON", "StatePublisher", "current_and_next"]

log = structlog.get_logger(__name__)

#: How far ahead ``upcoming`` reaches (Agile publishes at most ~31 h ahead).
UPCOMING_HORIZON = timedelta(days=3)


def current_and_next(
    slots: list[EnergyPriceSlot], now: datetime
) -> tuple[EnergyPriceSlot | None, EnergyPriceSlot | None]:
    """The slot containing ``now`` and the one after it (ascending ``slots``)."""
    current = next((slot for slot in slots if slot.contains(now)), None)
    after = current.valid_to if current is not None else now
    following = next((slot for slot in slots if slot.valid_from >= after), None)
    return current, following


class StatePublisher:
    def __init__(self, service: PriceService, mqtt: MqttClient) -> None:
        self._service = service
        self._mqtt = mqtt
        self._topics = mqtt.topics
        self._published: set[tuple[str, str]] = set()

    async def publish_prices(self, key: str | None = None, now: datetime | None = None) -> None:
        """Publish current / next / upcoming for one provider key, or for all of them."""
        now = now or datetime.now(UTC)
        specs = self._service.specs()
        if key is not None:
            specs = [spec for spec in specs if spec.key == key]
        for spec in specs:
            await self._publish_spec(spec, now)

    async def _publish_spec(self, spec: ProviderSpec, now: datetime) -> None:
        slots = await self._service.slots(spec, now, now + UPCOMING_HORIZON)
        current, following = current_and_next(slots, now)
        upcoming = [slot for slot in slots if slot.valid_to > now]
        topic = self._topics.price
        await self._mqtt.publish_retained(
            topic(spec.key, spec.region, "current"),
            dumps(price_payload(spec.key, spec.region, current, now=now)),
        )
        await self._mqtt.publish_retained(
            topic(spec.key, spec.region, "next"),
            dumps(price_payload(spec.key, spec.region, following, now=now)),
        )
        await self._mqtt.publish_retained(
            topic(spec.key, spec.region, "upcoming"),
            dumps(upcoming_payload(spec.key, spec.region, upcoming, now=now)),
        )
        self._published.add((spec.key, spec.region))

    async def publish_providers(self, now: datetime | None = None) -> None:
        overview = await self._service.overview(now)
        await self._mqtt.publish_retained(
            self._topics.providers(), dumps(providers_payload(overview, now=now))
        )

    async def publish_all(self, now: datetime | None = None) -> None:
        """Everything, and clear the retained topics of providers/regions no longer running."""
        now = now or datetime.now(UTC)
        running = {(spec.key, spec.region) for spec in self._service.specs()}
        for key, region in sorted(self._published - running):
            for kind in ("current", "next", "upcoming"):
                await self._mqtt.clear_retained(self._topics.price(key, region, kind))
            self._published.discard((key, region))
            log.info("mqtt.prices_removed", provider=key, region=region)
        await self.publish_prices(now=now)
        await self.publish_providers(now)

    async def on_change(self, key: str | None) -> None:
        """Service listener: prices of ``key`` changed, or (None) anything did."""
        if key is None:
            await self.publish_all()
        else:
            await self.publish_prices(key)
            await self.publish_providers()
