"""Fetch planning: when to ask a provider next, and how long to back off after failures.

Three rhythms, so that a feed asks only when something is new:

- the market's publication time (tomorrow's prices), and a rare low-frequency refresh for a
  correction;
- while a publication is late (the source answers, but without it), a short fixed cadence of
  about :data:`PUBLICATION_RETRY` seconds, jittered, for :data:`PUBLICATION_PATIENCE` after
  the usual time: a publication an hour late is picked up within minutes, at the price of a
  bounded number of calls around the expected time, never an open-ended poll;
- the source itself failing (5xx, timeouts, a broken answer), or prices missing that no
  publication explains, or a publication later than the patience: exponential backoff.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from energyd.domain.calendar import MarketCalendar
from energyd.domain.time import require_aware

__all__ = [
    "ESTIMATE_GAP",
    "PUBLICATION_PATIENCE",
    "PUBLICATION_RETRY",
    "FetchPlan",
    "awaiting_publication",
    "backoff_delay",
    "cadence_delay",
    "plan_fetch",
]

#: The shortest time between two fetches that only replace forecasts.
ESTIMATE_GAP = timedelta(minutes=1)
#: Seconds between two attempts while a publication is late (``refresh.publication_retry_
#: seconds``): jittered by :data:`CADENCE_JITTER`, at most about 4 minutes, so a publication
#: is stored less than 5 minutes after it appears.
PUBLICATION_RETRY = 210.0
#: How long after a publication's usual time the short cadence goes on; later it is the
#: exponential backoff (a source that is hours late is not polled every few minutes).
PUBLICATION_PATIENCE = timedelta(hours=3)
#: Each wait of the short cadence is the cadence times a factor in this range (feeds of one
#: source drift apart instead of asking in step).
CADENCE_JITTER = (0.85, 1.15)
#: A refresh due less than this part of the refresh interval before the next publication
#: waits for it: the publication's fetch reads the same window (on a 25-hour day a 12-hour
#: refresh would otherwise land an hour before the publication).
MERGE = 0.25


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


def cadence_delay(
    cadence: float,
    minimum: float,
    maximum: float,
    rng: random.Random | None = None,
) -> float:
    """The short cadence's wait: ``cadence`` kept within ``[minimum, maximum]`` (the retry
    bounds: a wait is never longer than the longest backoff), times a jitter factor of
    :data:`CADENCE_JITTER`, and still within the bounds."""
    base = min(max(cadence, minimum), maximum)
    low, high = CADENCE_JITTER
    jitter = rng.random() if rng is not None else random.random()
    return min(maximum, max(minimum, base * (low + (high - low) * jitter)))


def awaiting_publication(
    now: datetime,
    calendar: MarketCalendar,
    coverage_end: datetime | None,
    patience: timedelta = PUBLICATION_PATIENCE,
) -> bool:
    """Whether what is missing at ``now`` is exactly the latest publication, within
    ``patience`` of its usual time: everything owed before it is stored, only what it brings
    is not (a late or partial publication, prices not final yet). A gap older than that, or
    nothing stored at all, is not a publication to wait for."""
    published = calendar.last_publication(now)
    if published is None or coverage_end is None or now >= published + patience:
        return False
    return coverage_end >= calendar.expected_before(published)


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
    errors: int = 0,
    publication_retry: float | None = PUBLICATION_RETRY,
    patience: timedelta = PUBLICATION_PATIENCE,
) -> FetchPlan:
    """Decide when to fetch next.

    ``failures`` counts the attempts in a row that came up short (whatever the reason),
    ``errors`` the last of them in a row that failed on the source's side (an ``error`` run:
    5xx, a timeout, a refusal), 0 when the source last answered without the prices.

    - The source's last answer said when to ask again (``not_before``, from its
      ``Retry-After``): not before then, whatever else says, and no later than then when
      prices are missing (its word replaces energyd's backoff).
    - Prices missing for what the market has published (start-up, a gap, tomorrow late or
      partial): due now; after attempts that came up short, on the short cadence
      (``publication_retry`` seconds, :func:`cadence_delay`) while the source answers but the
      latest publication is not out yet (:func:`awaiting_publication`), else after a jittered
      exponential backoff (of ``errors`` when the source failed, else of ``failures``).
      ``publication_retry=None``: always the backoff.
    - Otherwise at the next publication time or the low-frequency refresh, whichever is first
      (a refresh due shortly before the publication, within :data:`MERGE` of the interval,
      is left to the publication's fetch) -- or, where stored prices are forecasts
      (``estimate_from``: where the first one still to come or running starts), when that
      forecast's period begins: a rolling source (Amber) replaces its forecasts as they come
      due. Never sooner than :data:`ESTIMATE_GAP` after
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
            publication_retry=publication_retry,
            patience=patience,
        )
        if plan.due_at <= not_before:
            return FetchPlan(max(now, not_before), "retry-after")
        return plan
    required = calendar.expected_coverage_end(now)
    if coverage_end is None or coverage_end < required:
        reason = "missing" if coverage_end is None else "incomplete"
        if failures <= 0 or last_attempt is None:
            return FetchPlan(now, reason)
        if (
            errors <= 0
            and publication_retry is not None
            and awaiting_publication(now, calendar, coverage_end, patience)
        ):
            delay = cadence_delay(publication_retry, retry_min, retry_max, rng)
            return FetchPlan(max(now, last_attempt + timedelta(seconds=delay)), "publication-retry")
        delay = backoff_delay(errors if errors > 0 else failures, retry_min, retry_max, rng)
        return FetchPlan(max(now, last_attempt + timedelta(seconds=delay)), f"{reason}-retry")
    refresh = (last_success or now) + refresh_interval
    publication = calendar.next_publication(now)
    candidates = []
    if publication is None or not refresh < publication <= refresh + refresh_interval * MERGE:
        candidates.append((refresh, "refresh"))
    if publication is not None:
        candidates.append((publication, "publication"))
    if estimate_from is not None:
        estimate_from = require_aware(estimate_from, "estimate_from")
        earliest = (last_attempt or now) + ESTIMATE_GAP
        candidates.append((max(estimate_from, earliest), "estimate"))
    due_at, reason = min(candidates)
    return FetchPlan(max(due_at, now), reason)
