"""Market days and publication times (UK clock changes included)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.support.calendars import AGILE, MIDNIGHT_MARKET


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


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
