"""Retries for plugins: exponential backoff with full jitter, only for transient failures.

A :class:`RetryPolicy` says how often and how long; a :class:`Retrier` applies it to one fetch.
Make one retrier per fetch and run every request of that fetch through it: ``attempts`` bounds
each request, ``budget_seconds`` bounds the waiting of the whole fetch.

Transient: a connection failure or timeout, HTTP 5xx, HTTP 429. Never retried: other 4xx,
authentication, not found, bad data, "not published yet". A 429 whose ``retry_after`` does not
fit in the remaining budget is raised at once, ``retry_after`` intact, so the daemon's planner
can wait that long instead of hammering the provider.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog

from energyd.exceptions import (
    ProviderConnectionError,
    ProviderError,
    ProviderFetchError,
    ProviderRateLimitError,
    ProviderServerError,
    RequestSpacingError,
)
from energyd.providers.kit.config import Integer, Number

__all__ = ["NO_RETRY", "RETRY_FIELDS", "Retrier", "RetryPolicy", "is_transient"]

log = structlog.get_logger("energyd.providers.kit.retry")

_T = TypeVar("_T")


def _check(name: str, value: float, low: float) -> None:
    if isinstance(value, bool) or not math.isfinite(value) or value < low:
        raise ValueError(f"{name} must be a finite number >= {low:g}, got {value!r}")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How one fetch retries: ``attempts`` per request, delays in seconds, one budget per fetch.

    ``retry_statuses`` adds HTTP statuses that count as transient for this market (say 403
    from a CDN that blocks bursts); by default only 5xx and 429 do.
    """

    attempts: int = 4
    base_delay: float = 2.0
    max_delay: float = 60.0
    budget_seconds: float = 60.0
    retry_statuses: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise ValueError(f"attempts must be a whole number, got {self.attempts!r}")
        _check("attempts", self.attempts, 1)
        _check("base_delay", self.base_delay, 0)
        _check("max_delay", self.max_delay, 0)
        _check("budget_seconds", self.budget_seconds, 0)

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in ``[0, min(max_delay, base_delay * 2 ** (attempt - 1))]``."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** min(attempt - 1, 60))
        return rng.uniform(0.0, ceiling)

    def is_transient(self, exc: BaseException) -> bool:
        """Whether ``exc`` is worth another attempt under this policy."""
        status = getattr(exc, "status", None)
        if isinstance(exc, ProviderFetchError) and status in self.retry_statuses:
            return True
        return is_transient(exc)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], default: RetryPolicy) -> RetryPolicy:
        """``default`` with the :data:`RETRY_FIELDS` found in parsed ``settings`` applied."""
        return cls(
            attempts=int(settings.get("retry_attempts", default.attempts)),
            base_delay=float(settings.get("retry_base_seconds", default.base_delay)),
            max_delay=default.max_delay,
            budget_seconds=float(settings.get("retry_budget_seconds", default.budget_seconds)),
            retry_statuses=default.retry_statuses,
        )


#: One attempt, no waiting: health checks and tests.
NO_RETRY = RetryPolicy(attempts=1, base_delay=0.0, max_delay=0.0, budget_seconds=0.0)

#: Config fields a plugin can add to let operators tune :class:`RetryPolicy` (read back with
#: :meth:`RetryPolicy.from_settings`).
RETRY_FIELDS = {
    "retry_attempts": Integer(1, 20, default=4, identity=False, description="attempts per request"),
    "retry_base_seconds": Number(
        0,
        600,
        default=2.0,
        identity=False,
        description="first backoff ceiling in seconds (doubles per attempt)",
    ),
    "retry_budget_seconds": Number(
        0,
        3600,
        default=60.0,
        identity=False,
        description="longest total wait for retries within one fetch",
    ),
}


def is_transient(exc: BaseException) -> bool:
    """Connection failures, HTTP 5xx and 429 are transient; every other error is not (nor
    is a request the plugin's own spacing held back: waiting for it is the scheduler's)."""
    if isinstance(exc, RequestSpacingError):
        return False
    if isinstance(exc, ProviderConnectionError | ProviderRateLimitError):
        return True
    if isinstance(exc, ProviderServerError):
        return exc.status is None or exc.status >= 500
    return False


class Retrier:
    """Runs operations under one :class:`RetryPolicy` and one budget (start: construction).

    ``rng``, ``sleep`` and ``clock`` are injectable so tests run without waiting.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        name: str = "",
    ) -> None:
        self.policy = policy
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._clock = clock
        self._deadline = clock() + policy.budget_seconds
        self._name = name

    @property
    def remaining(self) -> float:
        """Seconds of the budget left (never negative)."""
        return max(0.0, self._deadline - self._clock())

    def delay_for(self, exc: ProviderError, attempt: int) -> float | None:
        """How long to wait before attempt ``attempt + 1`` after ``exc``; ``None``: give up."""
        if not self.policy.is_transient(exc):
            return None
        remaining = self.remaining
        if isinstance(exc, ProviderRateLimitError) and exc.retry_after is not None:
            if exc.retry_after > remaining or attempt >= self.policy.attempts:
                return None
            return exc.retry_after
        if attempt >= self.policy.attempts:
            return None
        delay = self.policy.backoff(attempt, self._rng)
        return delay if delay <= remaining else None

    async def run(
        self,
        operation: Callable[[], Awaitable[_T]],
        *,
        what: str = "",
        pace: Callable[[float], float] | None = None,
        **fields: object,
    ) -> _T:
        """Await ``operation()`` until it succeeds or the policy says stop (then re-raise).

        ``pace`` turns a planned delay into the one the plugin's request spacing needs
        (:meth:`Pacer.retry_delay`); when that does not fit in the budget the error is
        raised as it is instead of waiting in vain.

        Each retry is logged as ``provider.retry`` with structured fields: ``fields`` (the
        request's ``method`` and ``url``, say), ``attempt``, ``delay``, the error's type,
        HTTP ``status`` and ``retry_after`` when known, and its text as ``detail``; ``what``
        (free text) only when given."""
        attempt = 1
        while True:
            try:
                return await operation()
            except ProviderError as exc:
                delay = self.delay_for(exc, attempt)
                if delay is not None and pace is not None:
                    delay = pace(delay)
                    if delay > self.remaining:
                        delay = None
                if delay is None:
                    raise
                event: dict[str, object] = {"provider": self._name or None}
                if what:
                    event["what"] = what
                event.update(fields)
                event.update(attempt=attempt, delay=round(delay, 3), error=type(exc).__name__)
                if isinstance(exc, ProviderFetchError) and exc.status is not None:
                    event["status"] = exc.status
                if isinstance(exc, ProviderRateLimitError) and exc.retry_after is not None:
                    event["retry_after"] = exc.retry_after
                event["detail"] = str(exc)
                log.warning("provider.retry", **event)
                await self._sleep(delay)
                attempt += 1
