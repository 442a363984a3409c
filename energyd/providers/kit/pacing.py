"""Keeping a plugin inside its source's rate limit: request spacing and a short answer cache.

One :class:`Pacer` belongs to one plugin instance, so every feed of that plugin shares it
(two feeds of one bidding zone, DK1 and DK2 of Energi Data Service, ...):

- ``spacing``: at least this many seconds between the starts of two requests. A request that
  would have to wait longer than ``max_wait`` is not sent: it fails at once with
  :class:`RequestSpacingError` (a ``ProviderRateLimitError`` no retry waits for) carrying the
  wait as ``retry_after``, so the scheduler asks again when the source allows it instead of a
  fetch hanging on a sleep.
- ``cache_seconds``: a successful GET answer is reused for this long for the same URL and
  parameters, and the same request asked while one is in flight waits for that one
  (:meth:`Pacer.shared`), so feeds asking the same thing make one request. A request may
  keep its answer for longer or shorter than that (``keep_for``: a product list that changes
  a few times a year, say, for a day) and may refuse a kept answer older than it can use
  (``max_age``: a check that needs a recent one).

The clock and sleep are injectable for tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import TypeVar, cast

from energyd.exceptions import RequestSpacingError

__all__ = ["Pacer"]

_T = TypeVar("_T")


@dataclass
class Pacer:
    """Request spacing and a short answer cache for one plugin instance."""

    spacing: float = 0.0
    cache_seconds: float = 0.0
    #: Longest wait for a free turn before failing with ``retry_after`` instead.
    max_wait: float = 5.0
    name: str = ""
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)
    _last_start: float | None = field(default=None, init=False, repr=False)
    #: key -> (kept at, kept for: None for ``cache_seconds`` as it is now, answer)
    _cache: dict[Hashable, tuple[float, float | None, object]] = field(
        default_factory=dict, init=False, repr=False
    )
    _flying: dict[Hashable, asyncio.Future[object]] = field(
        default_factory=dict, init=False, repr=False
    )

    async def shared(
        self,
        key: Hashable,
        make: Callable[[], Awaitable[_T]],
        keep_if: Callable[[_T], bool] | None = None,
        *,
        keep_for: float | None = None,
        max_age: float | None = None,
    ) -> _T:
        """``make()``'s answer for ``key``: a fresh cached one (younger than ``max_age`` too,
        when given), the one of the same request already in flight, or a new request (kept
        for ``keep_for`` seconds, default ``cache_seconds``, when that is above 0 and
        ``keep_if``, if given, says so). A failure is not kept: each waiter gets it, and the
        next call asks again."""
        kept = self.cached(key, max_age)
        if kept is not None:
            return cast("_T", kept)  # stored by this method for this key
        flying = self._flying.get(key)
        if flying is not None:
            return cast("_T", await asyncio.shield(flying))
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._flying[key] = future
        try:
            value = await make()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        else:
            future.set_result(value)
            if self._lifetime(keep_for) > 0 and (keep_if is None or keep_if(value)):
                self.keep(key, value, keep_for)  # keep_if (a decode, say) only runs when kept
            return value
        finally:
            del self._flying[key]

    def wait_needed(self) -> float:
        """Seconds until the next request may start (0: now)."""
        if self.spacing <= 0 or self._last_start is None:
            return 0.0
        return max(0.0, self._last_start + self.spacing - self.clock())

    def retry_delay(self, planned: float) -> float:
        """The delay a retry planned in ``planned`` seconds needs so that its turn is not
        refused: ``planned`` when the rest is a short wait here, else the full wait."""
        needed = self.wait_needed()
        return needed if needed - planned > self.max_wait else planned

    async def turn(self) -> None:
        """Wait for the next allowed request start (or fail with ``retry_after``)."""
        if self.spacing <= 0:
            return
        async with self._lock:
            now = self.clock()
            if self._last_start is not None:
                wait = self._last_start + self.spacing - now
                if wait > self.max_wait:
                    raise RequestSpacingError(
                        f"{self.name or 'source'}: at most one request every "
                        f"{self.spacing:g} s; next in {wait:.0f} s",
                        retry_after=round(wait, 3),
                    )
                if wait > 0:
                    await self.sleep(wait)
                    now = self.clock()
            self._last_start = now

    def cached(self, key: Hashable, max_age: float | None = None) -> object | None:
        """The answer kept for ``key``, while it is fresh (and younger than ``max_age``)."""
        entry = self._cache.get(key)
        if entry is None:
            return None
        stored_at, lifetime, value = entry
        age = self.clock() - stored_at
        if age > self._lifetime(lifetime):
            del self._cache[key]
            return None
        if max_age is not None and age > max_age:
            return None
        return value

    def keep(self, key: Hashable, value: object, lifetime: float | None = None) -> None:
        """Remember a successful answer for ``lifetime`` seconds (default: ``cache_seconds``,
        as it is when the answer is read; old entries are dropped as they expire)."""
        if self._lifetime(lifetime) <= 0:
            return
        now = self.clock()
        stale = [k for k, (at, kept, _) in self._cache.items() if now - at > self._lifetime(kept)]
        for old in stale:
            del self._cache[old]
        self._cache[key] = (now, lifetime, value)

    def _lifetime(self, kept_for: float | None) -> float:
        return self.cache_seconds if kept_for is None else kept_for
