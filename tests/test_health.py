"""Provider health from plugin problems, coverage and the last fetch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from energyd.health import assess
from energyd.providers.base import HealthState
from energyd.records import FetchOutcome, FetchRun

NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
TOMORROW_23 = datetime(2026, 11, 26, 23, 0, tzinfo=UTC)


def run(outcome: FetchOutcome, error: str | None = None) -> FetchRun:
    return FetchRun("p", "C", NOW - timedelta(minutes=1), outcome, error=error)


def state(**overrides: object) -> HealthState:
    arguments: dict[str, object] = {
        "problem": None,
        "has_current": True,
        "covered_until": TOMORROW_23,
        "expected_until": TOMORROW_23,
        "last_run": run(FetchOutcome.OK),
        "last_success": NOW,
    }
    arguments.update(overrides)
    return assess(**arguments).state  # type: ignore[arg-type]


class TestStates:
    def test_ok(self) -> None:
        """Everything published is known and the last fetch worked."""
        assert HealthState.OK == state()

    def test_plugin_problem_is_error(self) -> None:
        """A broken plugin or invalid config is an error whatever the store holds."""
        assert HealthState.ERROR == state(problem="plugin failed to load")

    def test_failed_fetch_with_current_price_is_degraded(self) -> None:
        """Serving known prices through an outage is degraded, not an error."""
        assert HealthState.DEGRADED == state(last_run=run(FetchOutcome.ERROR, "HTTP 503"))

    def test_tomorrow_missing_is_degraded(self) -> None:
        """After publication time, missing prices for tomorrow degrade health."""
        assert HealthState.DEGRADED == state(covered_until=NOW + timedelta(hours=6))

    def test_no_current_price_is_stale(self) -> None:
        """Known prices ran out: stale."""
        assert HealthState.STALE == state(has_current=False, covered_until=None)

    def test_never_fetched_and_failing_is_error(self) -> None:
        """Nothing ever fetched and the attempt failed: error."""
        assert HealthState.ERROR == state(
            has_current=False, last_run=run(FetchOutcome.ERROR, "x"), last_success=None
        )

    def test_nothing_yet_is_unknown(self) -> None:
        """Before the first fetch health is unknown."""
        assert HealthState.UNKNOWN == state(has_current=False, last_run=None, last_success=None)
