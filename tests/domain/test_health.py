"""Provider health from plugin problems, coverage and the last fetch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from energyd.domain.health import HealthReport, LoopBlock, assess
from energyd.domain.records import FetchOutcome, FetchRun
from energyd.providers.base import HealthState

NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
TOMORROW_23 = datetime(2026, 11, 26, 23, 0, tzinfo=UTC)


def run(outcome: FetchOutcome, error: str | None = None) -> FetchRun:
    return FetchRun("p", "C", NOW - timedelta(minutes=1), outcome, error=error)


def state(**overrides: object) -> HealthState:
    return report(**overrides).state


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

    def test_tomorrow_not_published_yet_is_waiting_not_a_fault(self) -> None:
        """After publication time, tomorrow missing while the fetch worked is waiting: the
        source has not published, nothing is wrong."""
        found = report(
            covered_until=NOW + timedelta(hours=6),
            next_attempt=NOW + timedelta(minutes=5),
            awaited="the prices of 2026-11-26 (usually out at 16:00 Europe/London)",
        )
        assert HealthState.WAITING == found.state
        assert found.last_error is None
        assert found.message == (
            "waiting for the prices of 2026-11-26 (usually out at 16:00 Europe/London): "
            "not published yet; next try 2026-11-25T17:05:00Z"
        )

    def test_a_not_published_answer_is_waiting_too(self) -> None:
        """The last fetch said "not published yet" (nothing stored): waiting, no last error."""
        found = report(
            covered_until=NOW + timedelta(hours=6),
            last_run=run(FetchOutcome.WAITING, "HTTP 404: not published yet"),
        )
        assert (HealthState.WAITING, None) == (found.state, found.last_error)

    def test_a_failed_fetch_while_tomorrow_is_missing_is_degraded(self) -> None:
        """A real failure stays a failure, whatever else is missing."""
        assert HealthState.DEGRADED == state(
            covered_until=NOW + timedelta(hours=6), last_run=run(FetchOutcome.ERROR, "HTTP 503")
        )

    def test_nothing_published_and_nothing_known_is_an_error(self) -> None:
        """No price for now and the source has none: an error that says so."""
        found = report(
            has_current=False,
            covered_until=None,
            last_run=run(FetchOutcome.WAITING, "no prices (not published yet?)"),
            last_success=None,
        )
        assert HealthState.ERROR == found.state
        assert "not published" in found.message

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


BLOCK = LoopBlock(5.01, "fetch_prices", NOW - timedelta(seconds=30))


def report(**overrides: object) -> HealthReport:
    arguments: dict[str, object] = {
        "problem": None,
        "has_current": True,
        "covered_until": TOMORROW_23,
        "expected_until": TOMORROW_23,
        "last_run": run(FetchOutcome.OK),
        "last_success": NOW,
    }
    arguments.update(overrides)
    return assess(**arguments)  # type: ignore[arg-type]


class TestRunTimeFaults:
    def test_a_blocking_plugin_degrades_an_ok_provider(self) -> None:
        """While the plugin's latest call blocked the loop: degraded, and the message says so."""
        health = report(loop_block=BLOCK, blocking=BLOCK)
        assert HealthState.DEGRADED == health.state
        assert "plugin blocked the event loop for 5.0 s in fetch_prices" == health.message

    def test_a_past_block_is_kept_but_ok(self) -> None:
        """After a call that did not block the state is back; loop_block still shows the last."""
        health = report(loop_block=BLOCK, blocking=None)
        assert (HealthState.OK, "prices current") == (health.state, health.message)
        assert {"seconds": 5.01, "call": "fetch_prices", "at": "2026-11-25T16:59:30Z"} == (
            health.as_json()["loop_block"]
        )

    def test_block_is_added_to_another_degradation(self) -> None:
        """A failed fetch and a block: degraded, both named."""
        health = report(last_run=run(FetchOutcome.ERROR, "HTTP 503"), blocking=BLOCK)
        assert HealthState.DEGRADED == health.state
        assert "last fetch failed: HTTP 503; plugin blocked the event loop" in health.message

    @pytest.mark.parametrize(
        ("overrides", "expected"),
        [
            ({"problem": "plugin failed to load"}, HealthState.ERROR),
            ({"has_current": False, "covered_until": None}, HealthState.STALE),
        ],
    )
    def test_worse_states_stay(self, overrides: dict[str, object], expected: HealthState) -> None:
        """Error and stale are not softened to degraded by a block or a broken topic, but
        their message names both."""
        faults = {"blocking": BLOCK, "derived_errors": {"emhass": "ValueError: x"}}
        health = report(**overrides, **faults)
        assert expected == health.state
        assert "; plugin blocked the event loop" in health.message
        assert health.message.endswith("; derived topics not published: emhass")

    def test_derived_errors_degrade_and_name_the_topics(self) -> None:
        """A topic that cannot be built degrades health; the message names it."""
        errors = {"emhass": "ValueError: slot lengths must be whole minutes", "level": "X: y"}
        health = report(derived_errors=errors)
        assert HealthState.DEGRADED == health.state
        assert "derived topics not published: emhass, level" == health.message
        assert errors == health.as_json()["derived_errors"]

    def test_json_keys_when_all_is_well(self) -> None:
        """No faults: loop_block null, derived_errors empty."""
        body = report().as_json()
        assert (None, {}) == (body["loop_block"], body["derived_errors"])


class TestProvisional:
    def test_provisional_prices_up_to_the_expected_end_are_waiting(self) -> None:
        """All of tomorrow known, but from EXAA (or not final): waiting for the final ones."""
        found = report(final_until=NOW + timedelta(hours=6))
        assert HealthState.WAITING == found.state
        assert "final prices from 2026-11-25T23:00:00Z" in found.message
        assert "provisional" in found.message

    def test_final_prices_to_the_end_are_ok(self) -> None:
        assert HealthState.OK == state(final_until=TOMORROW_23)

    def test_a_missing_day_is_named_before_provisional_ones(self) -> None:
        found = report(covered_until=NOW + timedelta(hours=6), final_until=NOW)
        assert "not published yet" in found.message


class TestShared:
    """What two daemons over the same prices agree on: the retained ``providers`` topic."""

    def test_no_time_only_this_daemon_knows(self) -> None:
        """The shared report has state, message, coverage, topic errors and failover; no last
        attempt or success, no next try, no loop block."""
        health = report(loop_block=BLOCK, next_attempt=NOW + timedelta(minutes=5))
        assert {"state", "message", "covered_until", "derived_errors", "failover"} == set(
            health.shared_json()
        )
        assert health.as_json()["next_attempt"] is not None

    def test_waiting_without_the_next_try(self) -> None:
        """A waiting provider's shared message is its message without this daemon's next try."""
        health = report(
            covered_until=NOW + timedelta(hours=6), next_attempt=NOW + timedelta(minutes=5)
        )
        assert HealthState.WAITING == health.state
        assert health.message.endswith("; next try 2026-11-25T17:05:00Z")
        assert (
            health.message.removesuffix("; next try 2026-11-25T17:05:00Z")
            == (health.shared_json()["message"])
        )

    def test_the_same_message_otherwise(self) -> None:
        """Without a next try in it, the shared message is the message."""
        health = report(last_run=run(FetchOutcome.ERROR, "HTTP 503"))
        assert health.message == health.shared_json()["message"]
