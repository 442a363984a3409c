"""Fetch planning: when to ask a provider next, backoff, and the source's Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from energyd.domain.planning import ESTIMATE_GAP, FetchPlan, backoff_delay, plan_fetch
from tests.support.calendars import AGILE


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


class TestPlanFetch:
    def plan(
        self,
        now: datetime,
        coverage: datetime | None,
        failures: int = 0,
        not_before: datetime | None = None,
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
            not_before=not_before,
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


class TestRetryAfter:
    """A source's ``Retry-After`` decides when it is asked again, not energyd's backoff."""

    plan = TestPlanFetch.plan

    def test_missing_prices_wait_exactly_until_retry_after(self) -> None:
        """Prices missing and the source said 120 s: due at that moment, no backoff on top."""
        now = utc(2026, 11, 25, 16, 30)
        later = now + timedelta(seconds=120)
        assert ("retry-after", later) == self.plan(now, None, failures=5, not_before=later)

    def test_retry_after_shorter_than_backoff_wins(self) -> None:
        """A 5 s Retry-After is honoured even though the backoff would wait minutes."""
        now = utc(2026, 11, 25, 16, 30)
        soon = now + timedelta(seconds=5)
        assert ("retry-after", soon) == self.plan(
            now, utc(2026, 11, 25, 23), failures=6, not_before=soon
        )

    def test_a_later_plan_is_not_brought_forward(self) -> None:
        """Complete prices: the next refresh (55 min away) is after the Retry-After, so kept."""
        now = utc(2026, 11, 25, 10)
        soon = now + timedelta(seconds=30)
        assert ("refresh", now + timedelta(minutes=55)) == self.plan(
            now, utc(2026, 11, 25, 23), not_before=soon
        )

    def test_a_past_retry_after_means_now(self) -> None:
        """Its moment has passed and prices are missing: due now, no backoff after it."""
        now = utc(2026, 11, 25, 10)
        assert ("missing", now) == self.plan(
            now, None, failures=4, not_before=now - timedelta(seconds=1)
        )


class TestForecasts:
    """Stored forecasts (a rolling source's) are asked about again as they come due."""

    def plan(self, now: datetime, estimate_from: datetime, last_attempt: datetime) -> FetchPlan:
        return plan_fetch(
            now,
            calendar=AGILE,
            coverage_end=utc(2026, 11, 27, 23),  # all published prices are there
            last_attempt=last_attempt,
            last_success=last_attempt,
            failures=0,
            refresh_interval=timedelta(hours=6),
            retry_min=60,
            retry_max=1800,
            estimate_from=estimate_from,
        )

    def test_when_the_first_forecast_begins(self) -> None:
        now = utc(2026, 11, 26, 10, 2)
        plan = self.plan(now, utc(2026, 11, 26, 10, 5), now - timedelta(minutes=2))
        assert ("estimate", utc(2026, 11, 26, 10, 5)) == (plan.reason, plan.due_at)

    def test_a_running_forecast_is_asked_about_once_a_minute(self) -> None:
        """The forecast for the running period: not again within a minute of the last try."""
        now = utc(2026, 11, 26, 10, 2)
        plan = self.plan(now, utc(2026, 11, 26, 10, 0), now - timedelta(seconds=10))
        assert ("estimate", now - timedelta(seconds=10) + ESTIMATE_GAP) == (
            plan.reason,
            plan.due_at,
        )

    def test_a_far_forecast_waits_for_the_publication(self) -> None:
        now = utc(2026, 11, 26, 10, 2)
        plan = self.plan(now, utc(2026, 11, 27, 20, 0), now)
        assert "publication" == plan.reason
