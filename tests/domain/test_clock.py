"""Time arithmetic: slot boundaries, UK market days (clock changes included), fetch planning."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from energyd.domain.planning import backoff_delay, plan_fetch
from energyd.domain.time import next_boundary, slot_floor
from tests.support.calendars import AGILE, MIDNIGHT_MARKET


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


class TestSlots:
    def test_floor_and_next_boundary(self) -> None:
        """A moment inside a half-hour floors to its start; the next boundary is its end."""
        moment = utc(2026, 11, 25, 15, 47, 12)
        assert utc(2026, 11, 25, 15, 30) == slot_floor(moment, 30)
        assert utc(2026, 11, 25, 16, 0) == next_boundary(moment, 30)
        assert utc(2026, 11, 25, 15, 45) == slot_floor(moment, 15)

    def test_boundary_itself_moves_on(self) -> None:
        """Exactly on a boundary, the next boundary is one slot later."""
        assert utc(2026, 11, 25, 16, 30) == next_boundary(utc(2026, 11, 25, 16, 0), 30)

    def test_naive_rejected(self) -> None:
        """Naive datetimes are refused, never guessed."""
        with pytest.raises(ValueError, match="timezone-aware"):
            slot_floor(datetime(2026, 1, 1), 30)


class TestMarketDays:
    @pytest.mark.parametrize(
        ("day", "half_hours"),
        [(date(2026, 3, 29), 46), (date(2026, 10, 25), 50), (date(2026, 11, 25), 48)],
    )
    def test_uk_day_lengths(self, day: date, half_hours: int) -> None:
        """UK local days have 46 / 50 half-hours on the clock-change days, 48 otherwise."""
        start, end = AGILE.day_bounds(day)
        assert half_hours == (end - start) / timedelta(minutes=30)

    def test_market_day(self) -> None:
        """Agile's market day D runs 23:00 UK on D-1 to 23:00 UK on D; EU's is the calendar day."""
        assert (utc(2026, 11, 24, 23), utc(2026, 11, 25, 23)) == AGILE.market_day_bounds(
            date(2026, 11, 25)
        )
        assert (utc(2026, 10, 24, 22), utc(2026, 10, 25, 23)) == AGILE.market_day_bounds(
            date(2026, 10, 25)
        )
        assert MIDNIGHT_MARKET.day_bounds(date(2026, 11, 25)) == MIDNIGHT_MARKET.market_day_bounds(
            date(2026, 11, 25)
        )

    def test_summer_day_starts_at_2300_utc(self) -> None:
        """A BST day starts at 23:00 UTC the evening before."""
        assert utc(2026, 6, 30, 23) == AGILE.day_bounds(date(2026, 7, 1))[0]

    def test_expected_coverage_before_and_after_publication(self) -> None:
        """Before 16:00 UK prices reach 23:00 today; after it, 23:00 tomorrow."""
        assert utc(2026, 11, 25, 23) == AGILE.expected_coverage_end(utc(2026, 11, 25, 15, 59))
        assert utc(2026, 11, 26, 23) == AGILE.expected_coverage_end(utc(2026, 11, 25, 16, 0))

    def test_expected_coverage_in_summer_time(self) -> None:
        """16:00 BST is 15:00 UTC; 23:00 BST is 22:00 UTC."""
        assert utc(2026, 7, 1, 22) == AGILE.expected_coverage_end(utc(2026, 7, 1, 14, 59))
        assert utc(2026, 7, 2, 22) == AGILE.expected_coverage_end(utc(2026, 7, 1, 15, 0))

    def test_expected_coverage_across_clock_change(self) -> None:
        """Published on the Saturday before clocks go back: until 23:00 GMT on the Sunday."""
        assert utc(2026, 10, 25, 23) == AGILE.expected_coverage_end(utc(2026, 10, 24, 15, 30))

    def test_midnight_market(self) -> None:
        """A midnight-based day-ahead market publishes all of tomorrow."""
        assert utc(2026, 11, 26, 23) == MIDNIGHT_MARKET.expected_coverage_end(
            utc(2026, 11, 25, 12, 1)
        )

    def test_next_publication(self) -> None:
        """The next 16:00 UK time, tomorrow's once today's has passed."""
        assert utc(2026, 11, 25, 16) == AGILE.next_publication(utc(2026, 11, 25, 9))
        assert utc(2026, 11, 26, 16) == AGILE.next_publication(utc(2026, 11, 25, 16))


class TestPlanFetch:
    def plan(
        self, now: datetime, coverage: datetime | None, failures: int = 0
    ) -> tuple[str, datetime]:
        plan = plan_fetch(
            now,
            calendar=AGILE,
            coverage_end=coverage,
            last_attempt=now - timedelta(seconds=1) if failures else None,
            last_success=now - timedelta(minutes=5),
            failures=failures,
            refresh_interval=timedelta(hours=1),
            retry_min=60,
            retry_max=1800,
            rng=random.Random(1),
        )
        return plan.reason, plan.due_at

    def test_empty_store_fetches_now(self) -> None:
        """Nothing known: fetch at once."""
        now = utc(2026, 11, 25, 10)
        assert ("missing", now) == self.plan(now, None)

    def test_complete_waits_for_refresh_or_publication(self) -> None:
        """Covered until 23:00 in the morning: the hourly refresh comes first."""
        now = utc(2026, 11, 25, 10)
        assert ("refresh", now + timedelta(minutes=55)) == self.plan(now, utc(2026, 11, 25, 23))

    def test_publication_comes_before_refresh(self) -> None:
        """At 15:40 the 16:00 publication is the next reason to fetch."""
        now = utc(2026, 11, 25, 15, 40)
        assert ("publication", utc(2026, 11, 25, 16)) == self.plan(now, utc(2026, 11, 25, 23))

    def test_late_prices_back_off(self) -> None:
        """After 16:00 with tomorrow still missing, retries back off with jitter."""
        now = utc(2026, 11, 25, 16, 30)
        reason, due = self.plan(now, utc(2026, 11, 25, 23), failures=3)
        assert "incomplete-retry" == reason
        assert now + timedelta(seconds=60) <= due <= now + timedelta(seconds=241)

    def test_backoff_is_capped(self) -> None:
        """The delay never exceeds the maximum, never goes below the minimum."""
        delays = [backoff_delay(n, 60, 1800, random.Random(n)) for n in range(1, 40)]
        assert all(60 <= d <= 1800 for d in delays)
