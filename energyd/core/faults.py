"""What went wrong while the daemon ran, per provider: event-loop blocks and unbuilt topics.

One :class:`RuntimeFaults` per daemon, owned by the :class:`~energyd.core.service.PriceService`;
provider health (:func:`energyd.domain.health.assess`) reads it.

- **Loop blocks.** Every plugin call goes through :meth:`RuntimeFaults.run` (coroutines) or
  :meth:`RuntimeFaults.run_sync`, which time each step (:mod:`energyd.core.steptimer`). A step
  longer than :data:`~energyd.core.steptimer.BLOCK_THRESHOLD` is a block of the event loop by that
  plugin in that call: logged at once as ``loop.blocked`` (provider, call, seconds) and kept
  as the provider's ``loop_block``. While the most recent call of that kind blocked, the
  provider is *blocking* (its health is degraded); its next call of that kind that does not
  block ends that, the ``loop_block`` record stays.
- **Event-loop lag.** :mod:`energyd.core.loopwatch` reports the overshoot of each of its ticks
  (:meth:`RuntimeFaults.loop_tick`); a lag over the threshold that no timed plugin step
  explains is logged as ``loop.blocked`` with provider and call ``"unknown"``.
- **Derived topics** that could not be built, per provider (:meth:`set_derived_errors`).

A change of a provider's health state — blocking starts or ends, its topic errors change —
wakes :meth:`wait_changed`, so the retained ``providers`` topic and systemd's ``STATUS=``
follow right after the block ends. A further block while already blocking only updates the
record (it is published with the provider's next change, e.g. the end of that fetch).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import ParamSpec, TypedDict, TypeVar

import structlog

from energyd.core.steptimer import BLOCK_THRESHOLD, TimedSteps
from energyd.domain.health import LoopBlock

__all__ = ["EventLoopJson", "LoopBlock", "RuntimeFaults"]

log = structlog.get_logger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class EventLoopJson(TypedDict):
    """:meth:`RuntimeFaults.event_loop_json` (the ``health`` reply's ``event_loop``)."""

    lag_seconds: float | None
    max_lag_seconds: float | None
    blocked_by: str | None


class RuntimeFaults:
    """Loop blocks, loop lag and derived-topic errors of one daemon (see the module doc)."""

    def __init__(
        self,
        *,
        threshold: float = BLOCK_THRESHOLD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self._clock = clock
        self._last_block: dict[str, LoopBlock] = {}
        #: (provider, call) -> the block of the most recent call of that kind, while it blocked.
        self._blocking: dict[tuple[str, str], LoopBlock] = {}
        self._derived: dict[str, dict[str, str]] = {}
        self._block_ended: float | None = None  # monotonic end of the last timed block
        self._lag: float | None = None
        self._max_lag: float | None = None
        self._blocked_by: str | None = None
        self._changed = asyncio.Event()

    # -- plugin calls ----------------------------------------------------------------------

    async def run(
        self,
        provider: str,
        call: str,
        fn: Callable[P, Awaitable[T]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """``await fn(*args, **kwargs)`` with every step timed (calling ``fn`` is a step too)."""
        blocked = False

        def step(seconds: float) -> None:
            nonlocal blocked
            if seconds > self.threshold:
                blocked = True
                self._blocked(provider, call, seconds)

        try:
            started = self._clock()
            try:
                awaitable = fn(*args, **kwargs)
            finally:
                step(self._clock() - started)
            return await TimedSteps(awaitable, step, clock=self._clock)
        finally:
            if not blocked:
                self._unblocked(provider, call)

    def run_sync(
        self, provider: str, call: str, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``fn(*args, **kwargs)``, timed as one step (``validate_config``, ``get_metadata``)."""
        started = self._clock()
        try:
            return fn(*args, **kwargs)
        finally:
            seconds = self._clock() - started
            if seconds > self.threshold:
                self._blocked(provider, call, seconds)
            else:
                self._unblocked(provider, call)

    def _blocked(self, provider: str, call: str, seconds: float) -> None:
        block = LoopBlock(seconds, call, datetime.now(UTC))
        starts = (provider, call) not in self._blocking
        self._last_block[provider] = block
        self._blocking[(provider, call)] = block
        self._block_ended = self._clock()
        self._blocked_by = provider
        log.warning("loop.blocked", provider=provider, call=call, seconds=round(seconds, 3))
        if starts:
            # Only the start of blocking wakes the follower: a validate_config that blocks on
            # every health evaluation must not make each re-publication trigger the next.
            self._changed.set()

    def _unblocked(self, provider: str, call: str) -> None:
        if self._blocking.pop((provider, call), None) is not None:
            log.info("loop.unblocked", provider=provider, call=call)
            self._changed.set()

    def last_block(self, provider: str) -> LoopBlock | None:
        """The most recent block by ``provider``'s plugin (kept after it stopped blocking)."""
        return self._last_block.get(provider)

    def blocking(self, provider: str) -> LoopBlock | None:
        """The latest block of a call kind whose most recent call blocked; else None."""
        current = [block for (key, _), block in self._blocking.items() if key == provider]
        return max(current, key=lambda block: block.at, default=None)

    # -- derived topics --------------------------------------------------------------------

    def set_derived_errors(self, provider: str, errors: Mapping[str, str]) -> list[str]:
        """Record the derived topics of ``provider`` that could not be built now (topic
        suffix -> error); returns the topics whose error is new or changed."""
        before = self._derived.get(provider, {})
        fresh = [topic for topic, error in errors.items() if before.get(topic) != error]
        if dict(errors) != before:
            self._derived[provider] = dict(errors)
            self._changed.set()
        return sorted(fresh)

    def derived_errors(self, provider: str) -> dict[str, str]:
        return dict(self._derived.get(provider, {}))

    def forget(self, provider: str) -> None:
        """``provider`` stopped running: its topic errors go (its loop-block history stays)."""
        if self._derived.pop(provider, None):
            self._changed.set()

    # -- the event loop --------------------------------------------------------------------

    def loop_tick(self, lag: float, since: float) -> None:
        """One tick of the loop-lag monitor: it overshot by ``lag`` seconds a sleep begun at
        ``since`` (``time.monotonic``)."""
        self._lag = lag
        self._max_lag = lag if self._max_lag is None else max(self._max_lag, lag)
        if lag <= self.threshold:
            return
        if self._block_ended is not None and self._block_ended >= since:
            return  # a timed plugin step explains it; logged and recorded when it ended
        self._blocked_by = None
        log.warning("loop.blocked", provider="unknown", call="unknown", seconds=round(lag, 3))

    def event_loop_json(self) -> EventLoopJson:
        """``{"lag_seconds", "max_lag_seconds", "blocked_by"}``: the last tick's lag, the
        largest since start (null before the monitor's first tick) and the provider blamed
        for the most recent block (null: none yet, or no plugin step explained it)."""
        return {
            "lag_seconds": None if self._lag is None else round(self._lag, 3),
            "max_lag_seconds": None if self._max_lag is None else round(self._max_lag, 3),
            "blocked_by": self._blocked_by,
        }

    # -- changes ---------------------------------------------------------------------------

    async def wait_changed(self) -> None:
        """Return once something that alters a provider's health changed since the last call."""
        await self._changed.wait()
        self._changed.clear()
