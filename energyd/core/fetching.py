"""One fetch: ask a plugin for a window, validate every slot, store all of it or none of it."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import structlog

from energyd.core.faults import RuntimeFaults
from energyd.core.store import PriceStore
from energyd.domain.records import FetchOutcome, FetchRun
from energyd.exceptions import (
    ProviderError,
    ProviderNotPublishedError,
    ProviderRateLimitError,
    SlotValidationError,
    StoreError,
)
from energyd.providers.base import EnergyPriceProvider
from energyd.providers.validation import validate_slots

__all__ = ["MAX_RETRY_AFTER", "fetch_into_store"]

log = structlog.get_logger(__name__)

#: Longest ``Retry-After`` honoured: a source asking for more is asked again after a day.
MAX_RETRY_AFTER = 86400.0


async def fetch_into_store(
    store: PriceStore,
    plugin: EnergyPriceProvider,
    *,
    key: str,
    region: str,
    currency: str,
    config: Mapping[str, Any],
    source: str = "",
    start: datetime,
    end: datetime,
    timeout: float,  # noqa: ASYNC109 - bounds the plugin call only, not the store write
    faults: RuntimeFaults | None = None,
) -> FetchRun:
    """Fetch ``[start, end)`` for ``key``/``region`` and record the run; never half-writes.

    ``currency`` is the plugin's (its metadata, read when it was loaded): every slot must be
    in it. ``source`` is the identity of the source (``source_identity``), stored with them.

    Provider failures (typed errors, a timeout, or anything a broken plugin raises) become an
    ``error`` run recorded in the store; known prices stay as they are. A store failure while
    saving a good fetch propagates as :class:`StoreError` after trying to record it.

    The plugin's calls run through ``faults`` (a fresh registry when not given), which times
    every step of them: a plugin blocking the event loop is named there.
    """
    faults = faults or RuntimeFaults()
    started = datetime.now(UTC)
    clock = time.monotonic()
    bound = log.bind(provider=key, region=region)

    def run(outcome: FetchOutcome, slots: int = 0, error: BaseException | None = None) -> FetchRun:
        return FetchRun(
            provider_id=key,
            region=region,
            started_at=started,
            outcome=outcome,
            slots=slots,
            duration_ms=round((time.monotonic() - clock) * 1000, 1),
            error=None if error is None else (str(error) or type(error).__name__)[:500],
            error_type=None if error is None else type(error).__name__,
            window_start=start,
            window_end=end,
            retry_after=_retry_after(error),
        )

    try:
        async with asyncio.timeout(timeout):
            raw = await faults.run(
                key, "fetch_prices", plugin.fetch_prices, region, start, end, config
            )
        slots = validate_slots(raw, start, end, currency=currency)
        if not slots:
            raise SlotValidationError("provider returned no slots")
    except ProviderNotPublishedError as exc:  # the source has nothing yet: wait, no fault
        waiting = run(FetchOutcome.WAITING, error=exc)
        bound.info("prices.not_published", detail=waiting.error)
        await _record(store, waiting)
        return waiting
    except TimeoutError:
        failed = run(FetchOutcome.ERROR, error=TimeoutError(f"fetch exceeded {timeout:g} s"))
        bound.warning("prices.fetch_failed", error=failed.error, error_type="TimeoutError")
        await _record(store, failed)
        return failed
    except ProviderError as exc:
        failed = run(FetchOutcome.ERROR, error=exc)
        bound.warning("prices.fetch_failed", error=failed.error, error_type=failed.error_type)
        await _record(store, failed)
        return failed
    except Exception as exc:  # a broken plugin must not take the daemon down
        failed = run(FetchOutcome.ERROR, error=exc)
        bound.error(
            "prices.plugin_crashed", error=failed.error, error_type=failed.error_type, exc_info=exc
        )
        await _record(store, failed)
        return failed

    done = run(FetchOutcome.OK, slots=len(slots))
    try:
        await store.save_fetch(key, region, slots, done, source=source)
    except StoreError as exc:
        bound.error("prices.store_failed", error=str(exc))
        await _record(store, run(FetchOutcome.ERROR, error=exc))
        raise
    bound.info(
        "prices.fetched",
        slots=len(slots),
        first=slots[0].valid_from.isoformat(),
        last=slots[-1].valid_to.isoformat(),
        duration_ms=done.duration_ms,
    )
    return done


def _retry_after(error: BaseException | None) -> float | None:
    """How long a throttling source asked us to wait, or until when a source that has not
    published yet expects to (a plugin's nonsense is ignored)."""
    if isinstance(error, ProviderNotPublishedError):
        when = error.retry_at
        if not isinstance(when, datetime) or when.tzinfo is None:
            return None
        seconds: object = (when - datetime.now(UTC)).total_seconds()
    elif isinstance(error, ProviderRateLimitError):
        seconds = error.retry_after
    else:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return None
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    return min(float(seconds), MAX_RETRY_AFTER)


async def _record(store: PriceStore, failed: FetchRun) -> None:
    try:
        await store.record_fetch(failed)
    except StoreError as exc:
        log.error("store.record_failed", error=str(exc), provider=failed.provider_id)
