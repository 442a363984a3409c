"""Pure time arithmetic: slot boundaries, market days, publication times, fetch planning.

Everything takes and returns timezone-aware UTC datetimes; a market's local zone appears only
inside, where the market defines its day (Agile: Europe/London, day 23:00 -> 23:00, next day's
prices published around 16:00 local time).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from energyd.providers.base import EnergyProviderMetadata

__all__ = [
    "FetchPlan",
    "MarketCalendar",
    "backoff_delay",
    "iso_or_none",
    "iso_utc",
    "next_boundary",
    "plan_fetch",
    "require_aware",
    "slot_floor",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def require_aware(moment: datetime, name: str = "datetime") -> datetime:
    """Return ``moment`` in UTC; raise ``ValueError`` for a naive datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def iso_utc(moment: datetime) -> str:
    """``2024-05-01T22:30:00Z``: how energyd writes every moment; naive datetimes are refused."""
    return require_aware(moment).isoformat().replace("+00:00", "Z")


def iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else iso_utc(moment)


def slot_floor(moment: datetime, slot_minutes: int) -> datetime:
    """Start of the ``slot_minutes`` slot containing ``moment`` (aligned to the UTC epoch)."""
    moment = require_aware(moment)
    step = slot_minutes * 60
    seconds = int((moment - _EPOCH).total_seconds() // step) * step
    return _EPOCH + timedelta(seconds=seconds)


def next_boundary(moment: datetime, slot_minutes: int) -> datetime:
    """The first slot boundary strictly after ``moment``."""
    return slot_floor(moment, slot_minutes) + timedelta(minutes=slot_minutes)


def _parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True, slots=True)
class MarketCalendar:
    """A market's days and publication rhythm, built from a plugin's metadata."""

    zone: ZoneInfo
    day_start: time
    publish_time: time | None

    @classmethod
    def from_metadata(cls, meta: EnergyProviderMetadata) -> MarketCalendar:
        publish = _parse_hhmm(meta.publish_time_local) if meta.publish_time_local else None
        return cls(ZoneInfo(meta.market_timezone), _parse_hhmm(meta.day_start_local), publish)

    def local_date(self, moment: datetime) -> date:
        return require_aware(moment).astimezone(self.zone).date()

    def at_local(self, day: date, clock: time) -> datetime:
        """The UTC instant of ``clock`` on local ``day`` (fold=0 on the repeated hour)."""
        return datetime.combine(day, clock, tzinfo=self.zone).astimezone(UTC)

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """A local calendar day ``[00:00, 24:00)`` in UTC (23, 24 or 25 hours long)."""
        return self.at_local(day, time(0)), self.at_local(day + timedelta(days=1), time(0))

    def market_day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """The market's own day ``day`` in UTC: what one day-ahead publication covers.

        A midnight-based market's day is the local calendar day; Agile's day ``D`` runs from
        23:00 on ``D-1`` to 23:00 on ``D`` (UK time), published at 16:00 on ``D-1``.
        """
        if self.day_start == time(0):
            return self.day_bounds(day)
        return self.at_local(day - timedelta(days=1), self.day_start), self.at_local(
            day, self.day_start
        )

    def published_until(self, publication_day: date) -> datetime:
        """How far prices reach once the publication made on local ``publication_day`` is out.

        Agile publishes at 16:00 on day L the prices up to 23:00 on L+1; a midnight-based
        day-ahead market publishes on L the whole of L+1 (until 00:00 on L+2).
        """
        following = publication_day + timedelta(days=1)
        if self.day_start == time(0):
            return self.at_local(following + timedelta(days=1), time(0))
        return self.at_local(following, self.day_start)

    def expected_coverage_end(self, now: datetime) -> datetime:
        """How far prices should be known at ``now``, as far as the market has published."""
        local_now = require_aware(now).astimezone(self.zone)
        today = local_now.date()
        if self.publish_time is None:
            return self.day_bounds(today)[1]
        if local_now.time() >= self.publish_time:
            return self.published_until(today)
        return self.published_until(today - timedelta(days=1))

    def next_publication(self, now: datetime) -> datetime | None:
        """The next publication instant strictly after ``now`` (None without a rhythm)."""
        if self.publish_time is None:
            return None
        today = self.local_date(now)
        candidate = self.at_local(today, self.publish_time)
        if candidate <= now:
            candidate = self.at_local(today + timedelta(days=1), self.publish_time)
        return candidate

    def fetch_window(self, now: datetime, history_days: int) -> tuple[datetime, datetime]:
        """The window to ask for: from ``history_days`` local days back to what may be published."""
        today = self.local_date(now)
        start = self.day_bounds(today - timedelta(days=history_days))[0]
        end = max(self.published_until(today), self.day_bounds(today)[1])
        return start, end


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
) -> FetchPlan:
    """Decide when to fetch next.

    - Prices missing for what the market has published (start-up, a gap, tomorrow late or
      partial): due now, or after a jittered backoff when earlier attempts came up short.
    - Otherwise at the next publication time or the low-frequency refresh, whichever is first.
    """
    now = require_aware(now)
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
    due_at, reason = min(candidates)
    return FetchPlan(max(due_at, now), reason)
