"""What the application layer needs from outside it, as Protocols (no transport imported).

- :class:`BrokerStatus`: the MQTT connection as health, readiness and ``/metrics`` see it
  (:class:`energyd.mqtt.client.MqttClient` is one);
- :class:`FiguresSource`: the derived figures of a provider
  (:class:`energyd.api.figures.FigureSource` is one).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from energyd.api.replies import FiguresReply
from energyd.core.selection import ProviderSpec

__all__ = ["BrokerCounters", "BrokerStatus", "FiguresSource"]


class BrokerCounters(Protocol):
    """**Protocol**: the broker connection's counters since start, and since when it is up
    or down."""

    @property
    def connects(self) -> int: ...
    @property
    def disconnects(self) -> int: ...
    @property
    def published(self) -> int: ...
    @property
    def publish_failures(self) -> int: ...
    @property
    def requests(self) -> int: ...
    @property
    def replies(self) -> int: ...
    @property
    def retained_topics(self) -> int: ...
    @property
    def last_error(self) -> str | None:
        """Why the last connection (or attempt) ended; None before any ended."""

    @property
    def connected_since(self) -> datetime | None:
        """When the connection that is up now was made (None while disconnected)."""

    @property
    def disconnected_since(self) -> datetime | None:
        """Since when no connection is up (None while connected, or before the client
        started)."""


class BrokerStatus(Protocol):
    """**Protocol**: whether the process is connected to its MQTT broker, and its counters."""

    @property
    def connected(self) -> bool: ...

    @property
    def stats(self) -> BrokerCounters: ...


class FiguresSource(Protocol):
    """**Protocol**: level, statistics and standing windows of one provider at ``now``."""

    async def figures(self, spec: ProviderSpec, now: datetime) -> FiguresReply: ...
