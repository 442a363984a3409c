"""Failover between sources and cross-checking (pure): gaps, filling, disagreements, and what
health makes of them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from energyd.domain.failover import Disagreement, Tolerance, disagreements, fill_gaps, gaps
from energyd.domain.failover import serving_since as serving
from energyd.domain.health import Failover, HealthReport, assess
from energyd.domain.records import FetchOutcome, FetchRun
from energyd.providers.base import EnergyPriceSlot, HealthState

NOW = datetime(2026, 12, 2, 10, 5, tzinfo=UTC)
DAY = datetime(2026, 12, 2, tzinfo=UTC)
QUARTER = timedelta(minutes=15)
HOUR = timedelta(hours=1)


def at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


def slots(start: datetime, prices: list[float], step: timedelta = QUARTER) -> list[EnergyPriceSlot]:
    return [
        EnergyPriceSlot(start + i * step, start + (i + 1) * step, price, "EUR")
        for i, price in enumerate(prices)
    ]


def cut(slot: EnergyPriceSlot, start: datetime, end: datetime, source: str) -> EnergyPriceSlot:
    return dataclasses.replace(slot, valid_from=start, valid_to=end, source=source)


def spans(served: list[EnergyPriceSlot]) -> list[tuple[str, str, float, str | None]]:
    return [
        (s.valid_from.strftime("%H:%M"), s.valid_to.strftime("%H:%M"), s.price_pence, s.source)
        for s in served
    ]


class TestGaps:
    def test_open_parts_of_a_window(self) -> None:
        """The window's parts no slot covers: before, between and after."""
        own = slots(at(10), [1, 2]) + slots(at(11), [3])
        assert [(at(9), at(10)), (at(10, 30), at(11)), (at(11, 15), at(12))] == gaps(
            own, at(9), at(12)
        )

    def test_covered_window_has_none(self) -> None:
        assert [] == gaps(slots(at(10), [1, 2, 3, 4]), at(10), at(11))


class TestFillGaps:
    def test_own_prices_win_and_fallback_fills_the_rest(self) -> None:
        """The primary's slots stay; the fallback's fill only its gap, each naming its source."""
        own = slots(at(10), [1.0, 2.0]) + slots(at(10, 45), [4.0])
        other = slots(at(10), [9.0, 9.5, 3.0, 9.9])
        served = fill_gaps(own, [("b", other)], at(10), at(11), cut)
        assert [
            ("10:00", "10:15", 1.0, None),
            ("10:15", "10:30", 2.0, None),
            ("10:30", "10:45", 3.0, "b"),
            ("10:45", "11:00", 4.0, None),
        ] == spans(served)

    def test_a_longer_fallback_slot_is_cut_to_the_gap(self) -> None:
        """An hourly fallback fills a quarter-hour gap with its hour's price, cut to the gap."""
        own = slots(at(10), [1.0, 2.0, 3.0])
        served = fill_gaps(own, [("hourly", slots(at(10), [7.0], HOUR))], at(10), at(11), cut)
        assert ("10:45", "11:00", 7.0, "hourly") == spans(served)[-1]

    def test_fallbacks_in_order(self) -> None:
        """The second fallback fills only what the first left open."""
        first = slots(at(10), [5.0])  # 10:00-10:15 only
        second = slots(at(10), [8.0, 8.0])
        served = fill_gaps([], [("first", first), ("second", second)], at(10), at(10, 30), cut)
        assert [("10:00", "10:15", 5.0, "first"), ("10:15", "10:30", 8.0, "second")] == spans(
            served
        )

    def test_nothing_to_fill_leaves_own(self) -> None:
        own = slots(at(10), [1.0, 2.0])
        assert own == fill_gaps(own, [("b", slots(at(10), [9.0, 9.0]))], at(10), at(10, 30), cut)


class TestDisagreements:
    @pytest.mark.parametrize(
        ("first", "second", "agree"),
        [
            (10.0, 10.4, True),  # 4 %
            (10.0, 11.0, False),  # 10 %
            (0.1, 0.5, True),  # 400 % but within the 0.5 minimum
            (-10.0, -11.0, False),  # negative prices: the larger absolute one counts
        ],
    )
    def test_tolerance(self, first: float, second: float, agree: bool) -> None:
        assert agree == Tolerance(percent=5, minimum=0.5).allows(first, second)

    def test_only_equal_periods_are_compared(self) -> None:
        """A 10 % dearer quarter-hour is named; an hourly slot over the same time is not
        compared (it differs by design)."""
        own = slots(at(10), [10.0, 10.0])
        other = slots(at(10), [11.0, 10.1]) + slots(at(11), [50.0], HOUR)
        found = disagreements(own, other, "b", Tolerance(), lambda s: s.price_pence)
        assert [Disagreement(at(10), at(10, 15), 10.0, 11.0, "b")] == found
        assert "2026-12-02T10:00:00Z 10.00 vs 11.00 from b (+10.0 %)" == found[0].describe()


class TestServingSince:
    def test_since_the_start_of_the_fallback_run(self) -> None:
        """The fallback serving now, since the first of its unbroken run up to now."""
        own = slots(at(9), [1.0, 1.0, 1.0, 1.0])  # 09:00-10:00
        served = fill_gaps(own, [("b", slots(at(9), [2.0] * 12))], at(9), at(12), cut)
        assert ("b", at(10)) == serving(served, NOW)

    def test_own_price_now(self) -> None:
        assert serving(slots(at(10), [1.0]), NOW) is None


def health(**overrides: object) -> HealthReport:
    arguments: dict[str, object] = {
        "problem": None,
        "has_current": True,
        "covered_until": at(23),
        "expected_until": at(23),
        "last_run": FetchRun("p", "DE", NOW, FetchOutcome.OK),
        "last_success": NOW,
    }
    arguments.update(overrides)
    return assess(**arguments)  # type: ignore[arg-type]


class TestHealth:
    def test_a_fallback_serving_is_degraded_not_stale_and_says_since_when(self) -> None:
        """No price of its own for now: a fallback's price is served, and health says so."""
        failing = FetchRun("p", "DE", NOW, FetchOutcome.ERROR, error="HTTP 503")
        report = health(
            has_current=False,
            last_run=failing,
            failover=Failover(serving=("de_entsoe", at(10))),
        )
        assert HealthState.DEGRADED == report.state
        assert report.message.startswith("prices from fallback de_entsoe since 2026-12-02T10:00")
        assert {"serving": "de_entsoe", "since": "2026-12-02T10:00:00Z"}.items() <= (
            report.as_json()["failover"] or {}
        ).items()

    def test_without_the_fallback_it_is_stale(self) -> None:
        failing = FetchRun("p", "DE", NOW, FetchOutcome.ERROR, error="HTTP 503")
        assert HealthState.STALE == health(has_current=False, last_run=failing).state

    def test_a_disagreement_degrades_and_is_named(self) -> None:
        found = (Disagreement(at(10), at(10, 15), 10.0, 11.0, "b"),)
        report = health(failover=Failover(disagreements=found))
        assert HealthState.DEGRADED == report.state
        assert "1 slot(s) disagree with b beyond the tolerance" in report.message
        failover = report.as_json()["failover"]
        assert failover is not None
        assert 1 == failover["disagreement_count"]
        assert [
            {
                "start": "2026-12-02T10:00:00Z",
                "end": "2026-12-02T10:15:00Z",
                "price": 10.0,
                "other": 11.0,
                "source": "b",
            }
        ] == failover["disagreements"]

    def test_an_unusable_fallback_is_a_problem(self) -> None:
        report = health(failover=Failover(problems=("fallback x quotes SEK, not EUR: not used",)))
        assert HealthState.DEGRADED == report.state
        assert "fallback x quotes SEK" in report.message

    def test_no_fallbacks_no_failover_key_value(self) -> None:
        assert health().as_json()["failover"] is None
        assert HealthState.OK == health(failover=Failover()).state
