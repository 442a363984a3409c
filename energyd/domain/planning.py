"""Fetch planning: when to ask a provider next, and how long to back off after failures."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from energyd.domain.calendar import MarketCalendar
from energyd.domain.time import require_aware

__all__ = ["ESTIMATE_GAP", "FetchPlan", "backoff_delay", "plan_fetch"]

#: The shortest time between two fetches that only replace forecasts.
ESTIMATE_GAP = timedelta(minutes=1)


def backoff_delay(
    failures: int,
    minimum: float,
    maximum: float,
    rng: random.Random | None = None,
) -> float:
    """Exponential backoff with jitter: ``min * 2**(failures-1)`` capped at ``max``, then a
    random value in its upper half (never below ``minimum``)."""
    if failures <= 0:
        return 0.0
    ceiling = min(maximum, minimum * 2.0 ** min(failures - 1, 30))
    jitter = rng.random() if rng is not None else random.random()
    return max(minimum, ceiling * (0.5 + 0.5 * jitter))


@dataclass(frozen=True, slots=True)
class FetchPlan:
    """When the next fetch is due and why."""

    due_at: datetime
    reason: str


def plan_fetch(
    now: datetime,
    *,
    calendar: MarketCalendar,
    coverage_end: datetime | None,
    last_attempt: datetime | None,
    last_success: datetime | None,
    failures: int,
    refresh_interval: timedelta,
    retry_min: float,
    retry_max: float,
    rng: random.Random | None = None,
    not_before: datetime | None = None,
    estimate_from: datetime | None = None,
) -> FetchPlan:
    """Decide when to fetch next.

    - The source's last answer said when to ask again (``not_before``, from its
      ``Retry-After``): not before then, whatever else says, and no later than then when
      prices are missing (its word replaces energyd's backoff).
    - Prices missing for what the market has published (start-up, a gap, tomorrow late or
      partial): due now, or after a jittered backoff when earlier attempts came up short.
    - Otherwise at the next publication time or the low-frequency refresh, whichever is first
      -- or, where stored prices are forecasts (``estimate_from``: where the first one still
      to come or running starts), when that forecast's period begins: a rolling source (Amber)
      replaces its forecasts as they come due. Never sooner than :data:`ESTIMATE_GAP` after
      the last attempt, so a forecast for the running period is asked about once a minute.
    """
    now = require_aware(now)
    if not_before is not None:
        not_before = require_aware(not_before, "not_before")
        plan = plan_fetch(
            now,
            calendar=calendar,
            coverage_end=coverage_end,
            last_attempt=last_attempt,
            last_success=last_success,
            failures=0,
            refresh_interval=refresh_interval,
            retry_min=retry_min,
            retry_max=retry_max,
            rng=rng,
            estimate_from=estimate_from,
        )
        if plan.due_at <= not_before:
            return FetchPlan(max(now, not_before), "retry-after")
        return plan
    required = calendar.expected_coverage_end(now)
    if coverage_end is None or coverage_end < required:
        reason = "missing" if coverage_end is None else "incomplete"
        if failures > 0 and last_attempt is not None:
            delay = backoff_delay(failures, retry_min, retry_max, rng)
            return FetchPlan(max(now, last_attempt + timedelta(seconds=delay)), f"{reason}-retry")
        return FetchPlan(now, reason)
    candidates = [((last_success or now) + refresh_interval, "refresh")]
    publication = calendar.next_publication(now)
    if publication is not None:
        candidates.append((publication, "publication"))
    if estimate_from is not None:
        estimate_from = require_aware(estimate_from, "estimate_from")
        earliest = (last_attempt or now) + ESTIMATE_GAP
        candidates.append((max(estimate_from, earliest), "estimate"))
    due_at, reason = min(candidates)
    return FetchPlan(max(due_at, now), reason)
