"""Home Assistant: publish the discovery configs of the running providers, retire the ones of
providers that are gone, and send configs and states again when Home Assistant comes online.

The payloads themselves are built by :mod:`energyd.mqtt.discovery` (pure).
"""

from __future__ import annotations

import asyncio
import random
import socket

import structlog

from energyd import __version__
from energyd.config import HomeAssistantSettings, HttpSettings, MqttSettings
from energyd.core.events import Changes
from energyd.core.service import PriceService
from energyd.mqtt.client import MqttClient
from energyd.mqtt.discovery import (
    DeviceEntities,
    discovery_messages,
    legacy_topics,
    with_removed_components,
    with_retired_components,
)
from energyd.mqtt.state import StatePublisher

__all__ = ["HA_ONLINE_DELAY", "DiscoveryPublisher", "configuration_url"]

log = structlog.get_logger(__name__)

#: Home Assistant asks for a short random delay before re-sending after its ``online``.
HA_ONLINE_DELAY = (0.5, 3.0)

#: Addresses that mean "every interface": no one can visit them, the host name stands in.
_ANY_ADDRESS = frozenset({"0.0.0.0", "::", ""})


def configuration_url(http: HttpSettings | None) -> str | None:
    """The status page's address (``http://host:port/``) when HTTP is on, else ``None``; a
    server on every interface (``0.0.0.0``, ``::``) is named by this machine's host name."""
    if http is None or not http.enabled or http.port == 0:
        return None
    host = socket.gethostname() if http.host in _ANY_ADDRESS else http.host
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"http://{host}:{http.port}/"


class DiscoveryPublisher:
    def __init__(
        self,
        service: PriceService,
        mqtt: MqttClient,
        publisher: StatePublisher,
        *,
        mqtt_settings: MqttSettings,
        ha: HomeAssistantSettings,
        instance: str,
        http: HttpSettings | None = None,
        online_delay: tuple[float, float] = HA_ONLINE_DELAY,
    ) -> None:
        self._service = service
        self._mqtt = mqtt
        self._publisher = publisher
        self._prefix = mqtt_settings.discovery_prefix
        self._ha = ha
        self._instance = instance
        self._configuration_url = configuration_url(http)
        self._online_delay = online_delay
        self._current: dict[str, bytes] = {}
        self._legacy_cleared = False

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
                    plugin_id=spec.plugin_id,
                    currency=runtime.currency,
                    regions=tuple(meta.supported_regions) if meta else (),
                    region_names=dict(meta.region_names) if meta else {},
                    levels=tuple(band.name for band in runtime.levels),
                    windows=tuple(w.name for w in self._publisher.windows_for(spec.key)),
                )
            )
        return entities

    async def publish(self) -> None:
        """Publish every device config (retained); retire devices and components that left."""
        if not self._ha.discovery:
            return
        entities = self._entities()
        current = discovery_messages(
            self._prefix,
            self._mqtt.topics,
            providers=entities,
            sw_version=__version__,
            instance=self._instance,
            device_name=self._ha.device_name,
            configuration_url=self._configuration_url,
        )
        if not self._legacy_cleared:
            # Before the instance went into the ids, the devices had other topics: removed
            # here, or Home Assistant would show each device twice after an upgrade.
            self._legacy_cleared = True
            keys = [e.provider_key for e in entities]
            for topic in legacy_topics(self._prefix, keys):
                if topic not in current:
                    await self._mqtt.clear_retained(topic)
            # So are the components earlier versions had and this one has not.
            for topic, payload in with_retired_components(current).items():
                await self._mqtt.publish_retained(topic, payload)
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
        """Home Assistant (re)started: send the configs, then every state, again -- each once
        (the states are every other retained topic; the configs went first)."""
        if payload.strip() != b"online" or not self._ha.discovery:
            return
        await asyncio.sleep(random.uniform(*self._online_delay))
        log.info("homeassistant.online", topic=topic, devices=len(self._current))
        configs = list(self._current)
        await self._mqtt.republish(configs)
        await self._mqtt.republish(self._mqtt.retained_topics(exclude=configs))
