"""A market's day and publication rhythm.

Everything takes and returns timezone-aware UTC datetimes; a market's local zone appears only
inside, where the market defines its day (Agile: Europe/London, day 23:00 -> 23:00, next day's
prices published around 16:00 local time; SDAC: CET/CEST, 00:00 -> 00:00).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from energyd.domain.time import require_aware

__all__ = ["MarketCalendar"]


def _parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True, slots=True)
class MarketCalendar:
    """A market's days and publication rhythm (from a plugin's metadata, see :meth:`of`)."""

    zone: ZoneInfo
    day_start: time
    publish_time: time | None

    @classmethod
    def of(
        cls,
        market_timezone: str,
        day_start_local: str = "00:00",
        publish_time_local: str | None = None,
    ) -> MarketCalendar:
        """From a plugin's ``market_timezone``, ``day_start_local`` and ``publish_time_local``
        ("HH:MM" in that zone); raises ``ValueError`` or ``KeyError`` for unusable values."""
        publish = _parse_hhmm(publish_time_local) if publish_time_local else None
        return cls(ZoneInfo(market_timezone), _parse_hhmm(day_start_local), publish)

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

    def last_publication(self, now: datetime) -> datetime | None:
        """The latest publication instant at or before ``now`` (None without a rhythm): the
        one whose prices :meth:`expected_coverage_end` counts on from then."""
        if self.publish_time is None:
            return None
        today = self.local_date(now)
        candidate = self.at_local(today, self.publish_time)
        if candidate > now:
            candidate = self.at_local(today - timedelta(days=1), self.publish_time)
        return candidate

    def expected_before(self, publication: datetime) -> datetime:
        """How far prices should have been known just before ``publication`` (what is owed
        until that publication brings more)."""
        return self.expected_coverage_end(require_aware(publication) - timedelta(microseconds=1))

    def describe_until(self, expected: datetime) -> str:
        """Prices up to ``expected`` in the market's terms, for a provider waiting for them:
        ``the prices of 2026-12-03 (usually out at 13:00 Europe/Berlin)``."""
        day = self.local_date(require_aware(expected) - timedelta(microseconds=1))
        text = f"the prices of {day.isoformat()}"
        if self.publish_time is not None:
            text += f" (usually out at {self.publish_time:%H:%M} {self.zone.key})"
        return text

    def fetch_window(self, now: datetime, history_days: int) -> tuple[datetime, datetime]:
        """The window to ask for: from ``history_days`` local days back to what may be published."""
        today = self.local_date(now)
        start = self.day_bounds(today - timedelta(days=history_days))[0]
        end = max(self.published_until(today), self.day_bounds(today)[1])
        return start, end
