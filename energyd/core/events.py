"""Change notifications from the core to whoever follows it, coalesced, never awaited.

The core (fetching, settings, plugin management, the scheduler's slot boundaries) says *what*
changed by calling :class:`Events`; it never waits for a consumer. Each consumer (the MQTT
state publisher, the scheduler's re-planning, systemd's ``STATUS=``) has its own
:class:`ChangeFeed` and runs in its own task: it takes everything that changed since it last
looked as one :class:`Changes`, so a burst (ten refreshes, a settings change during a fetch)
costs one round of work, and a command's reply never waits for a broker to receive every
retained topic.

Ordering between consumers is not a rule here: a consumer that must act in a given order (Home
Assistant discovery before the state it describes) does both in its own task.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

__all__ = ["ChangeFeed", "Changes", "Events"]


@dataclass(frozen=True, slots=True)
class Changes:
    """What changed since a consumer last looked.

    ``everything``: settings or plugins changed (providers, regions, windows may all differ);
    ``boundary``: a slot boundary passed, so every provider's "now" moved;
    ``prices``: provider keys whose stored prices (or fetch state) changed;
    ``status``: provider health changed without its prices (the next planned fetch).
    """

    everything: bool = False
    boundary: bool = False
    prices: frozenset[str] = field(default_factory=frozenset)
    status: bool = False

    def __bool__(self) -> bool:
        return self.everything or self.boundary or bool(self.prices) or self.status


class ChangeFeed:
    """One consumer's view of :class:`Events`: marks accumulate until :meth:`take`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._everything = False
        self._boundary = False
        self._prices: set[str] = set()
        self._status = False
        self._pending = asyncio.Event()

    def mark(
        self,
        *,
        everything: bool = False,
        boundary: bool = False,
        key: str | None = None,
        status: bool = False,
    ) -> None:
        self._everything |= everything
        self._boundary |= boundary
        self._status |= status
        if key is not None:
            self._prices.add(key)
        self._pending.set()

    def take_nowait(self) -> Changes:
        """Everything marked so far (empty :class:`Changes` when nothing is), and reset."""
        changes = Changes(self._everything, self._boundary, frozenset(self._prices), self._status)
        self._everything = self._boundary = self._status = False
        self._prices.clear()
        self._pending.clear()
        return changes

    async def take(self) -> Changes:
        """Wait until something is marked, then take it all."""
        while True:
            await self._pending.wait()
            changes = self.take_nowait()
            if changes:
                return changes

    @property
    def pending(self) -> bool:
        return self._pending.is_set()


class Events:
    """Fan-out of change notifications to every :class:`ChangeFeed`; all methods are
    synchronous and cheap, so the core calls them from anywhere (even inside a lock)."""

    def __init__(self) -> None:
        self._feeds: list[ChangeFeed] = []

    def feed(self, name: str) -> ChangeFeed:
        """A new consumer's feed (it sees changes from now on)."""
        feed = ChangeFeed(name)
        self._feeds.append(feed)
        return feed

    def prices_changed(self, key: str) -> None:
        """Provider ``key`` fetched (prices or fetch state changed)."""
        for feed in self._feeds:
            feed.mark(key=key)

    def status_changed(self) -> None:
        """Provider health changed, its prices did not (a new plan for the next fetch)."""
        for feed in self._feeds:
            feed.mark(status=True)

    def everything_changed(self) -> None:
        """Settings or plugins changed."""
        for feed in self._feeds:
            feed.mark(everything=True)

    def boundary(self) -> None:
        """A slot boundary of some provider passed."""
        for feed in self._feeds:
            feed.mark(boundary=True)
