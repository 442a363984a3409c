"""Home Assistant: publish the discovery configs of the running providers, retire the ones of
providers that are gone, and send configs and states again when Home Assistant comes online.

The payloads themselves are built by :mod:`energyd.mqtt.discovery` (pure).
"""

from __future__ import annotations

import asyncio
import random

import structlog

from energyd import __version__
from energyd.config import HomeAssistantSettings, MqttSettings
from energyd.core.events import Changes
from energyd.core.service import PriceService
from energyd.mqtt.client import MqttClient
from energyd.mqtt.discovery import DeviceEntities, discovery_messages, with_removed_components
from energyd.mqtt.state import StatePublisher

__all__ = ["HA_ONLINE_DELAY", "DiscoveryPublisher"]

log = structlog.get_logger(__name__)

#: Home Assistant asks for a short random delay before re-sending after its ``online``.
HA_ONLINE_DELAY = (0.5, 3.0)


class DiscoveryPublisher:
    def __init__(
        self,
        service: PriceService,
        mqtt: MqttClient,
        publisher: StatePublisher,
        *,
        mqtt_settings: MqttSettings,
        ha: HomeAssistantSettings,
        online_delay: tuple[float, float] = HA_ONLINE_DELAY,
    ) -> None:
        self._service = service
        self._mqtt = mqtt
        self._publisher = publisher
        self._prefix = mqtt_settings.discovery_prefix
        self._ha = ha
        self._online_delay = online_delay
        self._current: dict[str, bytes] = {}

    @property
    def status_topic(self) -> str:
        return f"{self._prefix}/status"

    def _entities(self) -> list[DeviceEntities]:
        entities = []
        for runtime in self._service.runtimes():
            spec, meta = runtime.spec, runtime.metadata
            entities.append(
                DeviceEntities(
                    provider_key=spec.key,
                    region=spec.region,
                    plugin_display_name=meta.display_name if meta else spec.plugin_id,
                    plugin_version=meta.version if meta else None,
                    currency=runtime.currency,
                    regions=tuple(meta.supported_regions) if meta else (),
                    levels=tuple(band.name for band in runtime.levels),
                    windows=tuple(w.name for w in self._publisher.windows_for(spec.key)),
                )
            )
        return entities

    async def publish(self) -> None:
        """Publish every device config (retained); retire devices and components that left."""
        if not self._ha.discovery:
            return
        current = discovery_messages(
            self._prefix,
            self._mqtt.topics,
            providers=self._entities(),
            sw_version=__version__,
            device_name=self._ha.device_name,
        )
        for topic, payload in with_removed_components(self._current, current).items():
            if payload:
                await self._mqtt.publish_retained(topic, payload)
            else:
                await self._mqtt.clear_retained(topic)
                log.info("homeassistant.device_removed", topic=topic)
        self._current = current

    async def on_change(self, changes: Changes) -> None:
        """A publishing round's first step: providers, regions or plugins may have changed."""
        if changes.everything:
            await self.publish()

    async def on_ha_status(self, topic: str, payload: bytes) -> None:
        """Home Assistant (re)started: send the configs, then every state, again."""
        if payload.strip() != b"online" or not self._ha.discovery:
            return
        await asyncio.sleep(random.uniform(*self._online_delay))
        log.info("homeassistant.online", topic=topic)
        await self._mqtt.republish(list(self._current))
        await self._mqtt.republish()
