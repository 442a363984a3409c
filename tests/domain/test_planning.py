"""Fetch planning: when to ask a provider next, backoff, and the source's Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

import pytest

from energyd.domain.calendar import MarketCalendar
from energyd.domain.planning import (
    ESTIMATE_GAP,
    PUBLICATION_PATIENCE,
    FetchPlan,
    awaiting_publication,
    backoff_delay,
    cadence_delay,
    plan_fetch,
)
from tests.support.calendars import AGILE, MIDNIGHT_MARKET


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

    def test_late_prices_are_asked_on_the_short_cadence(self) -> None:
        """After 16:00 with tomorrow still missing (the source answered without it), the next
        try is about 3.5 minutes after the last, whatever the failures so far."""
        now = utc(2026, 11, 25, 16, 30)
        reason, due = self.plan(now, utc(2026, 11, 25, 23), failures=3)
        assert "publication-retry" == reason
        last = now - timedelta(seconds=1)
        assert last + timedelta(seconds=178.5) <= due <= last + timedelta(seconds=241.5)

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


def local(calendar: MarketCalendar, day: date, hour: int, minute: int = 0) -> datetime:
    """The UTC instant of a local wall-clock time of ``calendar``'s market."""
    return calendar.at_local(day, time(hour, minute))


#: Both clock-change days of 2026 and an ordinary one, in Berlin and London alike.
DAYS = [date(2026, 3, 29), date(2026, 10, 25), date(2026, 11, 25)]
DAY_IDS = ["23-hour day", "25-hour day", "ordinary day"]
#: (calendar, its publication hour) for the two rhythms the tests use.
MARKETS = [(MIDNIGHT_MARKET, 13), (AGILE, 16)]
MARKET_IDS = ["13:00 Europe/Berlin", "16:00 Europe/London, days from 23:00"]


def waiting_plan(
    calendar: MarketCalendar,
    now: datetime,
    *,
    coverage: datetime | None,
    failures: int,
    errors: int = 0,
    last_attempt: datetime | None = None,
    retry_min: float = 60,
    retry_max: float = 1800,
    publication_retry: float | None = 210,
    not_before: datetime | None = None,
    seed: int = 1,
) -> FetchPlan:
    """The plan after ``failures`` attempts that came up short, the last one a second ago."""
    return plan_fetch(
        now,
        calendar=calendar,
        coverage_end=coverage,
        last_attempt=last_attempt or now - timedelta(seconds=1),
        last_success=now - timedelta(hours=1),
        failures=failures,
        errors=errors,
        refresh_interval=timedelta(hours=12),
        retry_min=retry_min,
        retry_max=retry_max,
        rng=random.Random(seed),
        not_before=not_before,
        publication_retry=publication_retry,
    )


def owed_before(calendar: MarketCalendar, day: date, hour: int) -> datetime:
    """Everything published before ``day``'s publication: what is stored while it is late."""
    return calendar.expected_before(local(calendar, day, hour))


class TestPublicationInstants:
    """The calendar's latest publication and what was owed before it (UTC, any day length)."""

    @pytest.mark.parametrize("day", DAYS, ids=DAY_IDS)
    @pytest.mark.parametrize(("calendar", "hour"), MARKETS, ids=MARKET_IDS)
    def test_last_publication(self, calendar: MarketCalendar, hour: int, day: date) -> None:
        """At the publication instant it is the latest; a minute before, the day before's."""
        published = local(calendar, day, hour)
        assert published == calendar.last_publication(published)
        assert published == calendar.last_publication(published + timedelta(hours=5))
        before = local(calendar, day - timedelta(days=1), hour)
        assert before == calendar.last_publication(published - timedelta(minutes=1))

    @pytest.mark.parametrize("day", DAYS, ids=DAY_IDS)
    @pytest.mark.parametrize(("calendar", "hour"), MARKETS, ids=MARKET_IDS)
    def test_owed_before_is_what_the_publication_extends(
        self, calendar: MarketCalendar, hour: int, day: date
    ) -> None:
        """Before the publication, prices are owed to the end of today's market day; after,
        to the end of tomorrow's (of 23, 24 or 25 hours)."""
        published = local(calendar, day, hour)
        today_end = calendar.market_day_bounds(day + timedelta(days=1))[0]
        tomorrow_end = calendar.market_day_bounds(day + timedelta(days=1))[1]
        assert today_end == calendar.expected_before(published)
        assert tomorrow_end == calendar.expected_coverage_end(published)

    def test_no_rhythm_no_publication(self) -> None:
        flat = MarketCalendar.of("Europe/London")
        assert flat.last_publication(utc(2026, 11, 25, 12)) is None


class TestLatePublication:
    """Tomorrow late: a short fixed cadence for a bounded time, then the backoff."""

    @pytest.mark.parametrize("day", DAYS, ids=DAY_IDS)
    @pytest.mark.parametrize(("calendar", "hour"), MARKETS, ids=MARKET_IDS)
    def test_first_attempt_at_the_usual_time(
        self, calendar: MarketCalendar, hour: int, day: date
    ) -> None:
        """Everything owed is stored 20 minutes before: the publication is the next fetch."""
        now = local(calendar, day, hour) - timedelta(minutes=20)
        plan = plan_fetch(
            now,
            calendar=calendar,
            coverage_end=owed_before(calendar, day, hour),
            last_attempt=now - timedelta(hours=3),
            last_success=now - timedelta(hours=3),
            failures=0,
            refresh_interval=timedelta(hours=12),
            retry_min=60,
            retry_max=1800,
        )
        assert ("publication", local(calendar, day, hour)) == (plan.reason, plan.due_at)

    @pytest.mark.parametrize("day", DAYS, ids=DAY_IDS)
    @pytest.mark.parametrize(("calendar", "hour"), MARKETS, ids=MARKET_IDS)
    @pytest.mark.parametrize("late", [timedelta(minutes=1), timedelta(minutes=65)])
    def test_late_is_asked_every_few_minutes(
        self, calendar: MarketCalendar, hour: int, day: date, late: timedelta
    ) -> None:
        """A minute or an hour after the usual time, many attempts on: the next try is 3 to 4
        minutes after the last one, never the 30-minute backoff cap."""
        now = local(calendar, day, hour) + late
        failures = 1 + int(late / timedelta(minutes=3.5))
        coverage = owed_before(calendar, day, hour)
        plan = waiting_plan(calendar, now, coverage=coverage, failures=failures)
        last = now - timedelta(seconds=1)
        assert "publication-retry" == plan.reason
        assert last + timedelta(seconds=178.5) <= plan.due_at <= last + timedelta(seconds=241.5)

    @pytest.mark.parametrize("day", DAYS, ids=DAY_IDS)
    @pytest.mark.parametrize(("calendar", "hour"), MARKETS, ids=MARKET_IDS)
    def test_after_the_patience_the_backoff_takes_over(
        self, calendar: MarketCalendar, hour: int, day: date
    ) -> None:
        """Three hours after the usual time the source is not polled every few minutes any
        more: the exponential backoff of all the failures, near its cap."""
        now = local(calendar, day, hour) + PUBLICATION_PATIENCE
        coverage = owed_before(calendar, day, hour)
        plan = waiting_plan(calendar, now, coverage=coverage, failures=52)
        last = now - timedelta(seconds=1)
        assert "incomplete-retry" == plan.reason
        assert last + timedelta(seconds=900) <= plan.due_at <= last + timedelta(seconds=1800)

    def test_a_partial_publication_is_waited_for_on_the_cadence(self) -> None:
        """Half of tomorrow stored: still the publication being late, still the cadence."""
        day = date(2026, 11, 25)
        now = local(MIDNIGHT_MARKET, day, 13, 30)
        coverage = owed_before(MIDNIGHT_MARKET, day, 13) + timedelta(hours=12)
        plan = waiting_plan(MIDNIGHT_MARKET, now, coverage=coverage, failures=4)
        assert "publication-retry" == plan.reason

    def test_a_source_failure_keeps_the_backoff(self) -> None:
        """The source failing (5xx, timeouts) during the publication window: exponential
        backoff of the errors in a row (the 4th: 240 to 480 s), not the cadence."""
        day = date(2026, 11, 25)
        now = local(MIDNIGHT_MARKET, day, 13, 10)
        coverage = owed_before(MIDNIGHT_MARKET, day, 13)
        plan = waiting_plan(MIDNIGHT_MARKET, now, coverage=coverage, failures=6, errors=4)
        last = now - timedelta(seconds=1)
        assert "incomplete-retry" == plan.reason
        assert last + timedelta(seconds=240) <= plan.due_at <= last + timedelta(seconds=480)

    def test_the_first_error_after_waiting_starts_the_backoff_low(self) -> None:
        """Ten "not yet" answers, then one 503: the backoff of one error (60 s), not of 11."""
        day = date(2026, 11, 25)
        now = local(MIDNIGHT_MARKET, day, 13, 40)
        coverage = owed_before(MIDNIGHT_MARKET, day, 13)
        plan = waiting_plan(MIDNIGHT_MARKET, now, coverage=coverage, failures=11, errors=1)
        assert ("incomplete-retry", now - timedelta(seconds=1) + timedelta(seconds=60)) == (
            plan.reason,
            plan.due_at,
        )

    def test_an_older_gap_is_not_a_publication(self) -> None:
        """Today's afternoon missing at 13:10 is a gap no publication explains: backoff."""
        day = date(2026, 11, 25)
        now = local(MIDNIGHT_MARKET, day, 13, 10)
        plan = waiting_plan(
            MIDNIGHT_MARKET, now, coverage=local(MIDNIGHT_MARKET, day, 15), failures=5
        )
        assert "incomplete-retry" == plan.reason
        assert plan.due_at >= now - timedelta(seconds=1) + timedelta(seconds=480)

    def test_nothing_stored_is_not_a_publication(self) -> None:
        day = date(2026, 11, 25)
        now = local(MIDNIGHT_MARKET, day, 13, 10)
        plan = waiting_plan(MIDNIGHT_MARKET, now, coverage=None, failures=2)
        assert "missing-retry" == plan.reason

    def test_without_a_cadence_it_is_the_backoff(self) -> None:
        """``publication_retry=None``: the old behaviour, backoff of the failures."""
        day = date(2026, 11, 25)
        now = local(MIDNIGHT_MARKET, day, 13, 30)
        coverage = owed_before(MIDNIGHT_MARKET, day, 13)
        plan = waiting_plan(
            MIDNIGHT_MARKET, now, coverage=coverage, failures=8, publication_retry=None
        )
        assert "incomplete-retry" == plan.reason
        assert plan.due_at >= now - timedelta(seconds=1) + timedelta(seconds=900)

    def test_the_cadence_keeps_to_the_retry_bounds(self) -> None:
        """Never longer than ``retry_max`` (a test's 5 s), never shorter than ``retry_min``."""
        day = date(2026, 11, 25)
        now = local(MIDNIGHT_MARKET, day, 13, 30)
        coverage = owed_before(MIDNIGHT_MARKET, day, 13)
        quick = waiting_plan(
            MIDNIGHT_MARKET, now, coverage=coverage, failures=3, retry_min=0.5, retry_max=5
        )
        slow = waiting_plan(
            MIDNIGHT_MARKET, now, coverage=coverage, failures=3, retry_min=600, retry_max=900
        )
        last = now - timedelta(seconds=1)
        assert last + timedelta(seconds=4.25) <= quick.due_at <= last + timedelta(seconds=5)
        assert last + timedelta(seconds=600) <= slow.due_at <= last + timedelta(seconds=690)

    def test_retry_after_still_decides(self) -> None:
        """The source said "in 10 minutes" while it is late: then, not on the cadence."""
        day = date(2026, 11, 25)
        now = local(MIDNIGHT_MARKET, day, 13, 30)
        later = now + timedelta(minutes=10)
        coverage = owed_before(MIDNIGHT_MARKET, day, 13)
        plan = waiting_plan(MIDNIGHT_MARKET, now, coverage=coverage, failures=3, not_before=later)
        assert ("retry-after", later) == (plan.reason, plan.due_at)

    def test_every_wait_is_well_under_five_minutes(self) -> None:
        """The default cadence with its jitter: 178.5 to 241.5 s, so a publication is stored
        less than 5 minutes after it appears (a fetch takes the rest)."""
        delays = [cadence_delay(210, 60, 1800, random.Random(seed)) for seed in range(500)]
        assert 178.5 <= min(delays) < 190
        assert 230 < max(delays) <= 241.5

    def test_awaiting_publication_only_in_the_window(self) -> None:
        """From the usual time on, for the patience (3 h), and only with all owed before it."""
        day = date(2026, 11, 25)
        owed = owed_before(MIDNIGHT_MARKET, day, 13)
        at = local(MIDNIGHT_MARKET, day, 13)
        assert awaiting_publication(at, MIDNIGHT_MARKET, owed)
        assert awaiting_publication(at + timedelta(hours=2, minutes=59), MIDNIGHT_MARKET, owed)
        assert not awaiting_publication(at + PUBLICATION_PATIENCE, MIDNIGHT_MARKET, owed)
        assert not awaiting_publication(at, MIDNIGHT_MARKET, owed - timedelta(minutes=15))
        assert not awaiting_publication(at, MIDNIGHT_MARKET, None)


class TestRefreshBesidePublication:
    """The low-frequency refresh, and where the publication's fetch makes it needless."""

    def plan(self, calendar: MarketCalendar, now: datetime, last_success: datetime) -> FetchPlan:
        return plan_fetch(
            now,
            calendar=calendar,
            coverage_end=calendar.expected_coverage_end(now) + timedelta(hours=24),
            last_attempt=last_success,
            last_success=last_success,
            failures=0,
            refresh_interval=timedelta(hours=12),
            retry_min=60,
            retry_max=1800,
        )

    def test_a_refresh_just_before_the_publication_waits_for_it(self) -> None:
        """On the 25-hour day 12 h after 01:07 CEST is 12:07 CET, 53 minutes before the
        publication: the publication's fetch is the refresh."""
        last = datetime(2026, 10, 24, 23, 7, tzinfo=UTC)  # 01:07 CEST on 2026-10-25
        now = last + timedelta(hours=1)
        plan = self.plan(MIDNIGHT_MARKET, now, last)
        assert ("publication", utc(2026, 10, 25, 12)) == (plan.reason, plan.due_at)

    def test_a_refresh_well_before_the_publication_stays(self) -> None:
        """Due at 09:00, four hours before the 13:00 publication: it runs then."""
        last = local(MIDNIGHT_MARKET, date(2026, 11, 24), 21)
        plan = self.plan(MIDNIGHT_MARKET, last + timedelta(hours=1), last)
        assert ("refresh", last + timedelta(hours=12)) == (plan.reason, plan.due_at)

    def test_without_a_publication_the_refresh_is_the_rhythm(self) -> None:
        """Fixed blocks (Octopus Go): nothing is published, the refresh fetches."""
        flat = MarketCalendar.of("Europe/London")
        last = utc(2026, 11, 25, 3)
        plan = self.plan(flat, last + timedelta(hours=1), last)
        assert ("refresh", last + timedelta(hours=12)) == (plan.reason, plan.due_at)
