"""Derived price figures: periods, statistics, levels, windows, window periods, EMHASS steps."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest

from energyd.config import LevelBand
from energyd.domain.figures import (
    PeriodStats,
    Window,
    WindowMode,
    current_and_next,
    find_window,
    is_complete,
    keep_started,
    level_for,
    period_stats,
    rank_at,
    series_step,
    slots_in,
    state_moment,
    window_json,
    window_period,
)
from energyd.domain.levels import default_bands
from energyd.providers.base import EnergyPriceSlot
from tests.support.calendars import AGILE

DAY = date(2026, 11, 25)
SPRING = date(2026, 3, 29)  # 23 hours in the UK
AUTUMN = date(2026, 10, 25)  # 25 hours in the UK

GBP_LEVELS = default_bands("GBP")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def run(start: datetime, prices: Sequence[float], minutes: int = 30) -> list[EnergyPriceSlot]:
    """Back-to-back slots of ``minutes`` from ``start`` with the given prices."""
    step = timedelta(minutes=minutes)
    return [
        EnergyPriceSlot(start + i * step, start + (i + 1) * step, float(price))
        for i, price in enumerate(prices)
    ]


def mixed(start: datetime, spec: Sequence[tuple[int, float]]) -> list[EnergyPriceSlot]:
    """Back-to-back slots of varying length: ``(minutes, price)`` pairs."""
    slots = []
    for minutes, price in spec:
        end = start + timedelta(minutes=minutes)
        slots.append(EnergyPriceSlot(start, end, float(price)))
        start = end
    return slots


def local_day(day: date, minutes: int = 30) -> list[EnergyPriceSlot]:
    """A UK local day of slots priced 0, 1, 2, ... (one per slot)."""
    start, end = AGILE.day_bounds(day)
    count = (end - start) // timedelta(minutes=minutes)
    return run(start, range(count), minutes)


def without(slots: list[EnergyPriceSlot], *indices: int) -> list[EnergyPriceSlot]:
    return [s for i, s in enumerate(slots) if i not in indices]


def starts(window: Window | None) -> list[datetime]:
    assert window is not None
    return [s.valid_from for s in window.slots]


class TestSlotsIn:
    def test_overlapping_slots_at_both_edges(self) -> None:
        """Slots cut by the period's start or end are included."""
        slots = run(utc(2026, 11, 25, 10), [1, 2, 3, 4])
        inside = slots_in(slots, utc(2026, 11, 25, 10, 15), utc(2026, 11, 25, 11, 15))
        assert [1.0, 2.0, 3.0] == [s.price_pence for s in inside]

    def test_touching_slots_excluded(self) -> None:
        """A slot ending at the start or starting at the end does not overlap."""
        slots = run(utc(2026, 11, 25, 10), [1, 2, 3, 4])
        inside = slots_in(slots, utc(2026, 11, 25, 10, 30), utc(2026, 11, 25, 11, 30))
        assert [2.0, 3.0] == [s.price_pence for s in inside]

    def test_empty_and_reversed_period(self) -> None:
        """No slots for an empty or reversed period, or outside the data."""
        slots = run(utc(2026, 11, 25, 10), [1, 2])
        assert [] == slots_in(slots, utc(2026, 11, 25, 11), utc(2026, 11, 25, 10))
        assert [] == slots_in(slots, utc(2026, 11, 25, 12), utc(2026, 11, 25, 13))
        assert [] == slots_in([], utc(2026, 11, 25, 10), utc(2026, 11, 25, 11))

    def test_naive_rejected(self) -> None:
        """Naive datetimes are refused."""
        with pytest.raises(ValueError, match="timezone-aware"):
            slots_in([], datetime(2026, 1, 1), utc(2026, 1, 2))


class TestCompleteness:
    @pytest.mark.parametrize(("day", "count"), [(DAY, 48), (SPRING, 46), (AUTUMN, 50)])
    def test_local_days_complete(self, day: date, count: int) -> None:
        """An ordinary day has 48 half-hours, the clock-change days 46 and 50; all complete."""
        slots = local_day(day)
        assert count == len(slots)
        assert is_complete(slots, *AGILE.day_bounds(day))

    def test_gap_in_the_middle(self) -> None:
        """One missing half-hour makes the day incomplete."""
        assert not is_complete(without(local_day(DAY), 20), *AGILE.day_bounds(DAY))

    def test_missing_start_or_end(self) -> None:
        """A day missing its first or last slot is incomplete."""
        slots = local_day(DAY)
        assert not is_complete(slots[1:], *AGILE.day_bounds(DAY))
        assert not is_complete(slots[:-1], *AGILE.day_bounds(DAY))

    def test_no_slots(self) -> None:
        """Nothing known is incomplete; an empty period is trivially complete."""
        start, end = AGILE.day_bounds(DAY)
        assert not is_complete([], start, end)
        assert is_complete([], start, start)

    def test_mixed_lengths_cover(self) -> None:
        """60, 15 and 30-minute slots back to back cover their span."""
        slots = mixed(utc(2026, 11, 25, 10), [(60, 1), (15, 2), (15, 3), (30, 4)])
        assert is_complete(slots, utc(2026, 11, 25, 10, 20), utc(2026, 11, 25, 12))


class TestPeriodStats:
    def test_ordinary_day(self) -> None:
        """48 half-hours priced 0..47: figures, extremes, and the rank of the slot now."""
        start, end = AGILE.day_bounds(DAY)
        stats = period_stats(local_day(DAY), start, end, utc(2026, 11, 25, 5, 10))
        expected = PeriodStats(
            start=start,
            end=end,
            complete=True,
            count=48,
            min=0.0,
            max=47.0,
            mean=23.5,
            median=23.5,
            min_at=utc(2026, 11, 25, 0),
            max_at=utc(2026, 11, 25, 23, 30),
            current_rank=11,
            current_percentile=21.3,  # 10 of the 47 other slots are cheaper
        )
        assert expected == stats

    def test_as_json(self) -> None:
        """The figure keys of a stats payload, rounded to 4 dp, datetimes in UTC with Z."""
        slots = run(utc(2026, 11, 25, 10), [10.123456, 20.0, 30.0])
        stats = period_stats(
            slots, utc(2026, 11, 25, 10), utc(2026, 11, 25, 11, 30), utc(2026, 1, 1)
        )
        assert {
            "start": "2026-11-25T10:00:00Z",
            "end": "2026-11-25T11:30:00Z",
            "complete": True,
            "count": 3,
            "min": 10.1235,
            "max": 30.0,
            "mean": 20.0412,
            "median": 20.0,
            "min_at": "2026-11-25T10:00:00Z",
            "max_at": "2026-11-25T11:00:00Z",
            "estimated_minutes": 0,
        } == stats.as_json()

    def test_spring_clock_change_day(self) -> None:
        """2026-03-29 is 46 half-hours, 00:00 GMT to 23:00 UTC (00:00 BST)."""
        start, end = AGILE.day_bounds(SPRING)
        stats = period_stats(local_day(SPRING), start, end, utc(2026, 3, 29, 22, 45))
        assert (utc(2026, 3, 29, 0), utc(2026, 3, 29, 23)) == (stats.start, stats.end)
        assert (True, 46, 0.0, 45.0, 22.5, 22.5) == (
            stats.complete,
            stats.count,
            stats.min,
            stats.max,
            stats.mean,
            stats.median,
        )
        assert (utc(2026, 3, 29, 22, 30), 46, 100.0) == (
            stats.max_at,
            stats.current_rank,
            stats.current_percentile,
        )

    def test_autumn_clock_change_day(self) -> None:
        """2026-10-25 is 50 half-hours, 23:00 UTC (00:00 BST) to 00:00 UTC the next day."""
        start, end = AGILE.day_bounds(AUTUMN)
        stats = period_stats(local_day(AUTUMN), start, end, utc(2026, 10, 24, 23, 0))
        assert (utc(2026, 10, 24, 23), utc(2026, 10, 26, 0)) == (stats.start, stats.end)
        assert (True, 50, 49.0, 24.5, 24.5) == (
            stats.complete,
            stats.count,
            stats.max,
            stats.mean,
            stats.median,
        )
        assert (utc(2026, 10, 25, 23, 30), 1, 0.0) == (
            stats.max_at,
            stats.current_rank,
            stats.current_percentile,
        )

    def test_quarter_hour_day(self) -> None:
        """A day of 96 quarter-hours."""
        start, end = AGILE.day_bounds(DAY)
        stats = period_stats(local_day(DAY, 15), start, end, utc(2026, 11, 25, 23, 59))
        assert (True, 96, 47.5, 47.5, utc(2026, 11, 25, 23, 45)) == (
            stats.complete,
            stats.count,
            stats.mean,
            stats.median,
            stats.max_at,
        )
        assert (96, 100.0) == (stats.current_rank, stats.current_percentile)

    def test_negative_prices(self) -> None:
        """Negative prices are ordinary numbers: the minimum and the best rank."""
        slots = run(utc(2026, 11, 25, 12), [4.0, -2.5, -7.25, 3.0])
        stats = period_stats(
            slots, utc(2026, 11, 25, 12), utc(2026, 11, 25, 14), utc(2026, 11, 25, 13)
        )
        assert (-7.25, utc(2026, 11, 25, 13), -0.6875, 0.25) == (
            stats.min,
            stats.min_at,
            stats.mean,
            stats.median,
        )
        assert (1, 0.0) == (stats.current_rank, stats.current_percentile)

    def test_ties_share_the_better_rank(self) -> None:
        """Equal prices share the better rank; min_at / max_at are the first of equals."""
        slots = run(utc(2026, 11, 25, 12), [5, 3, 7, 5, 3, 7])
        start, end = utc(2026, 11, 25, 12), utc(2026, 11, 25, 15)
        at_five = period_stats(slots, start, end, utc(2026, 11, 25, 13, 40))
        at_seven = period_stats(slots, start, end, utc(2026, 11, 25, 14, 50))
        assert (3, 40.0) == (at_five.current_rank, at_five.current_percentile)
        assert (5, 80.0) == (at_seven.current_rank, at_seven.current_percentile)
        assert (utc(2026, 11, 25, 12, 30), utc(2026, 11, 25, 13)) == (
            at_five.min_at,
            at_five.max_at,
        )

    def test_mean_and_median_weighted_by_duration(self) -> None:
        """An hour at 10 and half an hour at 40: mean 20, median 10 (two thirds of the time)."""
        slots = mixed(utc(2026, 11, 25, 12), [(60, 10), (30, 40)])
        stats = period_stats(
            slots, utc(2026, 11, 25, 12), utc(2026, 11, 25, 13, 30), utc(2026, 1, 1)
        )
        assert (20.0, 10.0) == (stats.mean, stats.median)

    def test_next_24h_weights_cut_slots_by_their_part_inside(self) -> None:
        """From 10:15: the current half-hour counts 15 minutes, the last one 15 minutes."""
        slots = run(utc(2026, 11, 25, 10), [100] + [10] * 47 + [100] + [0] * 10)
        now = utc(2026, 11, 25, 10, 15)
        stats = period_stats(slots, now, now + timedelta(hours=24), now)
        # 15 min at 100 + 23.5 h at 10 + 15 min at 100, over 24 h
        assert (49, True, 10.0) == (stats.count, stats.complete, stats.min)
        assert pytest.approx((15 * 100 + 1410 * 10 + 15 * 100) / 1440) == stats.mean
        assert (10.0, 48, 97.9) == (stats.median, stats.current_rank, stats.current_percentile)

    def test_gap_makes_period_incomplete(self) -> None:
        """A missing slot: complete false, the figures over what is known."""
        slots = without(local_day(DAY), 47)
        stats = period_stats(slots, *AGILE.day_bounds(DAY), utc(2026, 11, 25, 23, 40))
        assert (False, 47, 46.0, 23.0) == (stats.complete, stats.count, stats.max, stats.mean)
        assert (None, None) == (stats.current_rank, stats.current_percentile)

    def test_no_slots(self) -> None:
        """Tomorrow before publication: count 0, every figure null."""
        start, end = AGILE.day_bounds(DAY)
        assert PeriodStats(start, end, False, 0) == period_stats([], start, end, start)

    def test_now_outside_period(self) -> None:
        """Tomorrow's figures have no current slot."""
        start, end = AGILE.day_bounds(DAY)
        stats = period_stats(local_day(DAY), start, end, end)
        assert (None, None, 48) == (stats.current_rank, stats.current_percentile, stats.count)

    def test_single_slot(self) -> None:
        """The only slot is rank 1, percentile 0."""
        slots = run(utc(2026, 11, 25, 12), [9])
        stats = period_stats(
            slots, utc(2026, 11, 25, 12), utc(2026, 11, 25, 12, 30), utc(2026, 11, 25, 12)
        )
        assert (1, 0.0, 9.0) == (stats.current_rank, stats.current_percentile, stats.median)


class TestLevels:
    @pytest.mark.parametrize(
        ("price", "level"),
        [
            (-30.0, "negative"),
            (-0.0001, "negative"),
            (0.0, "cheap"),  # exactly on a bound: the band above
            (11.9999, "cheap"),
            (12.0, "normal"),
            (19.99, "normal"),
            (20.0, "expensive"),
            (250.0, "expensive"),
            (None, None),
            (float("nan"), None),
        ],
    )
    def test_default_bands(self, price: float | None, level: str | None) -> None:
        """`below` is exclusive: a price on a bound goes to the next band up."""
        assert level == level_for(price, GBP_LEVELS)

    def test_custom_and_degenerate_bands(self) -> None:
        """One band takes everything; no bands, or no open last band, gives None."""
        assert "all" == level_for(99.0, [LevelBand(name="all")])
        assert None is level_for(5.0, [])
        assert None is level_for(5.0, [LevelBand(name="low", below=5.0)])


class TestContiguousWindows:
    def test_cheapest_block_on_an_ordinary_day(self) -> None:
        """Three hours of half-hours: the block with the lowest mean, with its figures."""
        prices = [20.0] * 48
        prices[4:10] = [9, 8, 1, 30, 1, 8]  # 4:00-5:00 mean 57/6, but...
        prices[30:36] = [5, 6, 7, 6, 5, 4]  # ...15:00-18:00 averages 5.5
        start, end = AGILE.day_bounds(DAY)
        window = find_window(run(start, prices), 180, start, end)
        assert window is not None
        assert (utc(2026, 11, 25, 15), utc(2026, 11, 25, 18), 5.5, 6) == (
            window.start,
            window.end,
            window.mean,
            len(window.slots),
        )
        assert (180, True, "cheapest", start, end) == (
            window.minutes,
            window.contiguous,
            window.mode,
            window.period_start,
            window.period_end,
        )

    def test_most_expensive(self) -> None:
        """The dearest block of an hour."""
        slots = run(utc(2026, 11, 25, 12), [10, 30, 35, 20, 40, 5])
        window = find_window(
            slots, 60, utc(2026, 11, 25, 12), utc(2026, 11, 25, 15), mode="most_expensive"
        )
        assert [utc(2026, 11, 25, 12, 30), utc(2026, 11, 25, 13)] == starts(window)
        assert window is not None
        assert 32.5 == window.mean

    def test_ties_go_to_the_earliest(self) -> None:
        """Equal means (up to float noise in running sums): the earliest start, both modes."""
        slots = run(utc(2026, 11, 25, 12), [2.02, -4.79, 37.447] * 16)
        period = (utc(2026, 11, 25, 12), utc(2026, 11, 26, 12))
        cheap = find_window(slots, 90, *period)
        dear = find_window(slots, 90, *period, mode="most_expensive")
        assert [utc(2026, 11, 25, 12), utc(2026, 11, 25, 12, 30), utc(2026, 11, 25, 13)] == starts(
            cheap
        )
        assert utc(2026, 11, 25, 12) == (dear.start if dear else None)

    def test_negative_prices(self) -> None:
        """Negative prices make the cheapest block."""
        slots = run(utc(2026, 11, 25, 12), [5, -1, -3, 2, -10, 8])
        window = find_window(slots, 60, utc(2026, 11, 25, 12), utc(2026, 11, 25, 15))
        assert window is not None
        assert (utc(2026, 11, 25, 13, 30), -4.0) == (window.start, window.mean)

    @pytest.mark.parametrize(
        ("slot_minutes", "minutes", "expected_slots"),
        [(30, 45, 2), (30, 60, 2), (15, 50, 4), (15, 15, 1), (60, 90, 2), (60, 1, 1)],
    )
    def test_minutes_round_up_to_whole_slots(
        self, slot_minutes: int, minutes: int, expected_slots: int
    ) -> None:
        """A length that is not a multiple of the slot takes the next whole slot."""
        start = utc(2026, 11, 25, 0)
        count = 24 * 60 // slot_minutes
        prices = [10.0] * count
        cheap = count // 2
        prices[cheap : cheap + expected_slots] = [1.0] * expected_slots
        window = find_window(run(start, prices, slot_minutes), minutes, start, start + timedelta(1))
        assert window is not None
        assert (expected_slots, 1.0) == (len(window.slots), window.mean)
        assert start + cheap * timedelta(minutes=slot_minutes) == window.start

    def test_quarter_hours_over_48_hours(self) -> None:
        """192 quarter-hours: two hours of the cheapest ones, found the next day."""
        start = utc(2026, 11, 25, 0)
        prices = [20.0 + (i % 7) for i in range(192)]
        prices[150:158] = [2.0] * 8  # 13:30-15:30 on the second day
        window = find_window(run(start, prices, 15), 120, start, start + timedelta(hours=48))
        assert window is not None
        assert (utc(2026, 11, 26, 13, 30), utc(2026, 11, 26, 15, 30), 2.0) == (
            window.start,
            window.end,
            window.mean,
        )

    def test_mixed_lengths_weighted_mean(self) -> None:
        """An hour at 4 beats a quarter-hour at 1 followed by 45 minutes at 9 (mean 7)."""
        slots = mixed(
            utc(2026, 11, 25, 10),
            [(15, 1), (15, 9), (15, 9), (15, 9), (60, 4), (30, 6), (30, 6)],
        )
        window = find_window(slots, 60, utc(2026, 11, 25, 10), utc(2026, 11, 25, 13))
        assert window is not None
        assert (utc(2026, 11, 25, 11), utc(2026, 11, 25, 12), 4.0) == (
            window.start,
            window.end,
            window.mean,
        )

    def test_each_start_takes_its_shortest_run(self) -> None:
        """45 minutes from a 60-minute slot is that slot; from quarter-hours it is three."""
        slots = mixed(utc(2026, 11, 25, 10), [(60, 5), (15, 4), (15, 4), (15, 4), (15, 20)])
        window = find_window(slots, 45, utc(2026, 11, 25, 10), utc(2026, 11, 25, 12))
        assert window is not None
        assert (utc(2026, 11, 25, 11), utc(2026, 11, 25, 11, 45), 4.0) == (
            window.start,
            window.end,
            window.mean,
        )

    def test_gaps_break_blocks(self) -> None:
        """A cheap block across a missing slot is not chosen; the next gap-free one is."""
        slots = without(run(utc(2026, 11, 25, 0), [1, 1, 1, 1, 9, 4, 4, 4, 4, 9]), 2)
        window = find_window(slots, 90, utc(2026, 11, 25, 0), utc(2026, 11, 25, 5))
        assert [utc(2026, 11, 25, 2, 30), utc(2026, 11, 25, 3), utc(2026, 11, 25, 3, 30)] == starts(
            window
        )

    def test_not_enough_prices(self) -> None:
        """No gap-free run long enough in the period: None."""
        slots = without(run(utc(2026, 11, 25, 0), [1] * 8), 3)
        assert None is find_window(slots, 150, utc(2026, 11, 25, 0), utc(2026, 11, 25, 4))
        assert None is find_window([], 30, utc(2026, 11, 25, 0), utc(2026, 11, 25, 4))

    def test_only_whole_slots_inside_the_period(self) -> None:
        """Slots cut by the period's edges are left out."""
        slots = run(utc(2026, 11, 25, 0), [0, 5, 6, 0])
        window = find_window(slots, 60, utc(2026, 11, 25, 0, 10), utc(2026, 11, 25, 1, 50))
        assert [utc(2026, 11, 25, 0, 30), utc(2026, 11, 25, 1)] == starts(window)
        assert None is find_window(slots, 90, utc(2026, 11, 25, 0, 10), utc(2026, 11, 25, 1, 50))

    def test_not_before_keeps_the_slot_under_way(self) -> None:
        """Past slots are ignored; the current one (ending after now) still counts."""
        slots = run(utc(2026, 11, 25, 0), [0, 0, 3, 3, 9, 9])
        period = (utc(2026, 11, 25, 0), utc(2026, 11, 25, 3))
        window = find_window(slots, 60, *period, not_before=utc(2026, 11, 25, 0, 45))
        assert [utc(2026, 11, 25, 0, 30), utc(2026, 11, 25, 1)] == starts(window)
        window = find_window(slots, 60, *period, not_before=utc(2026, 11, 25, 1))
        assert [utc(2026, 11, 25, 1), utc(2026, 11, 25, 1, 30)] == starts(window)
        assert None is find_window(slots, 60, *period, not_before=utc(2026, 11, 25, 2, 30))

    def test_autumn_day_has_25_hours(self) -> None:
        """On 2026-10-25 a 25-hour window fits the local day; a longer one does not."""
        start, end = AGILE.day_bounds(AUTUMN)
        slots = local_day(AUTUMN)
        window = find_window(slots, 25 * 60, start, end)
        assert window is not None
        assert (start, end, 50, 24.5) == (window.start, window.end, len(window.slots), window.mean)
        assert None is find_window(slots, 25 * 60 + 1, start, end)

    def test_invalid_arguments(self) -> None:
        """Non-positive minutes, an unknown mode and naive datetimes raise ValueError."""
        period = (utc(2026, 11, 25, 0), utc(2026, 11, 25, 3))
        with pytest.raises(ValueError, match="minutes"):
            find_window([], 0, *period)
        with pytest.raises(ValueError, match="mode"):
            find_window([], 30, *period, mode="dearest")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="timezone-aware"):
            find_window([], 30, datetime(2026, 11, 25), period[1])


class TestScatteredWindows:
    def test_cheapest_slots_in_time_order(self) -> None:
        """The three cheapest half-hours wherever they are, returned by time."""
        slots = run(utc(2026, 11, 25, 0), [9, 2, 8, 1, 7, 3, 6])
        window = find_window(
            slots, 90, utc(2026, 11, 25, 0), utc(2026, 11, 25, 4), contiguous=False
        )
        assert window is not None
        assert [utc(2026, 11, 25, 0, 30), utc(2026, 11, 25, 1, 30), utc(2026, 11, 25, 2, 30)] == (
            starts(window)
        )
        assert (utc(2026, 11, 25, 0, 30), utc(2026, 11, 25, 3), 2.0, False) == (
            window.start,
            window.end,
            window.mean,
            window.contiguous,
        )

    def test_most_expensive(self) -> None:
        """The two dearest half-hours."""
        slots = run(utc(2026, 11, 25, 0), [9, 2, 8, 1, 7, 3, 6])
        window = find_window(
            slots,
            60,
            utc(2026, 11, 25, 0),
            utc(2026, 11, 25, 4),
            contiguous=False,
            mode="most_expensive",
        )
        assert [utc(2026, 11, 25, 0), utc(2026, 11, 25, 1)] == starts(window)

    def test_ties_prefer_earlier_slots(self) -> None:
        """Among equal prices the earlier slots are chosen."""
        slots = run(utc(2026, 11, 25, 0), [5, 1, 5, 1, 5, 1])
        window = find_window(
            slots, 60, utc(2026, 11, 25, 0), utc(2026, 11, 25, 3), contiguous=False
        )
        assert [utc(2026, 11, 25, 0, 30), utc(2026, 11, 25, 1, 30)] == starts(window)

    def test_minutes_not_a_multiple_and_mixed_lengths(self) -> None:
        """Slots are added cheapest first until the length is reached; the mean is weighted."""
        slots = mixed(utc(2026, 11, 25, 0), [(60, 4), (15, 1), (15, 9), (30, 2), (30, 8)])
        window = find_window(
            slots, 45, utc(2026, 11, 25, 0), utc(2026, 11, 25, 3), contiguous=False
        )
        assert [utc(2026, 11, 25, 1), utc(2026, 11, 25, 1, 30)] == starts(window)
        assert window is not None
        assert pytest.approx((15 * 1 + 30 * 2) / 45) == window.mean
        window = find_window(
            slots, 50, utc(2026, 11, 25, 0), utc(2026, 11, 25, 3), contiguous=False
        )
        assert window is not None
        assert [utc(2026, 11, 25, 0), utc(2026, 11, 25, 1), utc(2026, 11, 25, 1, 30)] == starts(
            window
        )
        assert pytest.approx((15 * 1 + 30 * 2 + 60 * 4) / 105) == window.mean

    def test_gaps_do_not_matter_but_not_enough_does(self) -> None:
        """Scattered slots may straddle gaps; too few known slots give None."""
        slots = without(run(utc(2026, 11, 25, 0), [1, 9, 1, 9, 1]), 1, 3)
        period = (utc(2026, 11, 25, 0), utc(2026, 11, 25, 3))
        window = find_window(slots, 90, *period, contiguous=False)
        assert [utc(2026, 11, 25, 0), utc(2026, 11, 25, 1), utc(2026, 11, 25, 2)] == starts(window)
        assert None is find_window(slots, 91, *period, contiguous=False)

    def test_not_before(self) -> None:
        """Slots that ended before now are not chosen."""
        slots = run(utc(2026, 11, 25, 0), [1, 2, 9, 3])
        window = find_window(
            slots,
            60,
            utc(2026, 11, 25, 0),
            utc(2026, 11, 25, 2),
            contiguous=False,
            not_before=utc(2026, 11, 25, 0, 30),
        )
        assert [utc(2026, 11, 25, 0, 30), utc(2026, 11, 25, 1, 30)] == starts(window)


class TestWindowJson:
    def test_found_window(self) -> None:
        """A found window: its figures, slots and, with now, whether it is active."""
        slots = run(utc(2026, 11, 25, 0), [3, 1.23456, 2, 9])
        window = find_window(slots, 60, utc(2026, 11, 25, 0), utc(2026, 11, 25, 2))
        assert window is not None
        assert {
            "mode": "cheapest",
            "minutes": 60,
            "contiguous": True,
            "period_start": "2026-11-25T00:00:00Z",
            "period_end": "2026-11-25T02:00:00Z",
            "available": True,
            "start": "2026-11-25T00:30:00Z",
            "end": "2026-11-25T01:30:00Z",
            "mean": 1.6173,
            "estimated_minutes": 0,
            "active": True,
            "slots": [
                {"start": "2026-11-25T00:30:00Z", "end": "2026-11-25T01:00:00Z", "price": 1.2346},
                {"start": "2026-11-25T01:00:00Z", "end": "2026-11-25T01:30:00Z", "price": 2.0},
            ],
        } == window.as_json(utc(2026, 11, 25, 1, 10))
        assert "active" not in window.as_json()

    def test_active_only_inside_chosen_slots(self) -> None:
        """A scattered window is not active between its slots."""
        slots = run(utc(2026, 11, 25, 0), [1, 9, 1])
        window = find_window(
            slots, 60, utc(2026, 11, 25, 0), utc(2026, 11, 25, 2), contiguous=False
        )
        assert window is not None
        moments = [utc(2026, 11, 25, 0), utc(2026, 11, 25, 0, 30), utc(2026, 11, 25, 1, 29)]
        moments.append(utc(2026, 11, 25, 1, 30))
        assert [True, False, True, False] == [window.as_json(m)["active"] for m in moments]

    def test_no_window(self) -> None:
        """Not available: start, end and mean null, no slots, not active."""
        assert {
            "mode": "most_expensive",
            "minutes": 120,
            "contiguous": False,
            "period_start": "2026-11-25T00:00:00Z",
            "period_end": "2026-11-25T07:00:00Z",
            "available": False,
            "start": None,
            "end": None,
            "mean": None,
            "estimated_minutes": 0,
            "active": False,
            "slots": [],
        } == window_json(
            None,
            minutes=120,
            period_start=utc(2026, 11, 25, 0),
            period_end=utc(2026, 11, 25, 7),
            contiguous=False,
            mode="most_expensive",
            now=utc(2026, 11, 25, 1),
        )


class TestWindowPeriod:
    def test_no_bounds_is_the_next_24_hours(self) -> None:
        """Neither earliest nor latest: now .. now + 24 h."""
        now = utc(2026, 11, 25, 15, 47)
        assert (now, utc(2026, 11, 26, 15, 47)) == window_period(now, AGILE, None, None)

    @pytest.mark.parametrize(
        ("now", "expected"),
        [
            (utc(2026, 11, 25, 0, 30), (utc(2026, 11, 25, 1), utc(2026, 11, 25, 7))),
            (utc(2026, 11, 25, 3), (utc(2026, 11, 25, 1), utc(2026, 11, 25, 7))),
            (utc(2026, 11, 25, 7), (utc(2026, 11, 26, 1), utc(2026, 11, 26, 7))),
        ],
    )
    def test_same_day_period(self, now: datetime, expected: tuple[datetime, datetime]) -> None:
        """01:00-07:00: the coming one, the current one, and tomorrow's once it is over."""
        assert expected == window_period(now, AGILE, "01:00", "07:00")

    @pytest.mark.parametrize(
        ("now", "expected"),
        [
            (utc(2026, 11, 25, 3), (utc(2026, 11, 24, 23), utc(2026, 11, 25, 7))),
            (utc(2026, 11, 25, 12), (utc(2026, 11, 25, 23), utc(2026, 11, 26, 7))),
            (utc(2026, 11, 25, 23, 30), (utc(2026, 11, 25, 23), utc(2026, 11, 26, 7))),
        ],
    )
    def test_across_midnight(self, now: datetime, expected: tuple[datetime, datetime]) -> None:
        """23:00-07:00 ends the next day: current at 03:00 and 23:30, tonight's at noon."""
        assert expected == window_period(now, AGILE, "23:00", "07:00")

    def test_summer_time(self) -> None:
        """In BST 23:00-07:00 local is 22:00-06:00 UTC."""
        assert (utc(2026, 7, 1, 22), utc(2026, 7, 2, 6)) == window_period(
            utc(2026, 7, 1, 12), AGILE, "23:00", "07:00"
        )

    def test_latest_equal_to_earliest_is_a_day(self) -> None:
        """latest == earliest: from earliest to the same time the next day."""
        assert (utc(2026, 11, 25, 16), utc(2026, 11, 26, 16)) == window_period(
            utc(2026, 11, 25, 17), AGILE, "16:00", "16:00"
        )

    def test_spring_night_is_seven_hours(self) -> None:
        """23:00-07:00 over 2026-03-29: clocks go forward, the night is 7 hours."""
        start, end = window_period(utc(2026, 3, 28, 20), AGILE, "23:00", "07:00")
        assert (utc(2026, 3, 28, 23), utc(2026, 3, 29, 6)) == (start, end)
        assert timedelta(hours=7) == end - start

    def test_autumn_night_is_nine_hours(self) -> None:
        """23:00-07:00 over 2026-10-25: clocks go back, the night is 9 hours."""
        start, end = window_period(utc(2026, 10, 25, 1), AGILE, "23:00", "07:00")
        assert (utc(2026, 10, 24, 22), utc(2026, 10, 25, 7)) == (start, end)
        assert timedelta(hours=9) == end - start

    def test_earliest_only(self) -> None:
        """earliest alone: from earliest today to earliest tomorrow (23 h over the change)."""
        assert (utc(2026, 11, 25, 16), utc(2026, 11, 26, 16)) == window_period(
            utc(2026, 11, 25, 10), AGILE, "16:00", None
        )
        start, end = window_period(utc(2026, 3, 29, 0, 30), AGILE, "00:00", None)
        assert (utc(2026, 3, 29, 0), utc(2026, 3, 29, 23)) == (start, end)

    def test_latest_only(self) -> None:
        """latest alone: from now to the next latest (tomorrow's once today's has passed)."""
        now = utc(2026, 11, 25, 10)
        assert (now, utc(2026, 11, 25, 16)) == window_period(now, AGILE, None, "16:00")
        assert (now, utc(2026, 11, 26, 7)) == window_period(now, AGILE, None, "07:00")
        at = utc(2026, 11, 25, 7)
        assert (at, utc(2026, 11, 26, 7)) == window_period(at, AGILE, None, "07:00")

    def test_latest_only_on_autumn_day(self) -> None:
        """From 00:30 BST on 2026-10-25 to 07:00 GMT is 7.5 hours."""
        now = utc(2026, 10, 24, 23, 30)
        assert (now, utc(2026, 10, 25, 7)) == window_period(now, AGILE, None, "07:00")

    @pytest.mark.parametrize("bad", ["7:00", "24:00", "12:60", "noon", "12-00", ""])
    def test_bad_clock_rejected(self, bad: str) -> None:
        """Anything but a valid "HH:MM" raises ValueError."""
        with pytest.raises(ValueError, match="HH:MM"):
            window_period(utc(2026, 11, 25, 10), AGILE, bad, None)


class TestKeepStarted:
    SLOTS = run(utc(2026, 11, 25, 0), [1, 1, 5, 5, 2, 2, 9])
    PERIOD = (utc(2026, 11, 25, 0), utc(2026, 11, 25, 3, 30))

    def window(
        self,
        price_slots: list[EnergyPriceSlot] | None = None,
        mode: WindowMode = "cheapest",
        not_before: datetime | None = None,
    ) -> Window:
        found = find_window(
            price_slots or self.SLOTS, 60, *self.PERIOD, mode=mode, not_before=not_before
        )
        assert found is not None
        return found

    def test_started_window_is_kept(self) -> None:
        """Once under way, a window stays until its end even if a cheaper block appears."""
        previous = self.window()  # 00:00-01:00 at 1
        repriced = run(utc(2026, 11, 25, 0), [1, 1, 5, 5, -1, -1, 9])
        computed = self.window(repriced, not_before=utc(2026, 11, 25, 0, 40))
        assert utc(2026, 11, 25, 2) == computed.start
        assert previous is keep_started(previous, computed, utc(2026, 11, 25, 0, 40))

    def test_not_started_or_over_is_replaced(self) -> None:
        """Before its start or from its end on, the new computation wins."""
        previous = self.window(run(utc(2026, 11, 25, 0), [9, 9, 1, 1, 9, 9, 9]))
        computed = self.window()
        assert computed is keep_started(previous, computed, utc(2026, 11, 25, 0, 59))
        assert computed is keep_started(previous, computed, utc(2026, 11, 25, 2))
        assert None is keep_started(previous, None, utc(2026, 11, 25, 2))

    def test_running_window_survives_missing_prices(self) -> None:
        """Nothing computed (prices gone) while a window runs: the window stays."""
        previous = self.window()
        assert previous is keep_started(previous, None, utc(2026, 11, 25, 0, 30))

    def test_no_previous(self) -> None:
        """Without a previous window the computation is taken as it is."""
        computed = self.window()
        assert computed is keep_started(None, computed, utc(2026, 11, 25, 0, 30))

    def test_changed_request_is_not_kept(self) -> None:
        """A window asked with other minutes or mode is not carried over."""
        previous = self.window()
        computed = self.window(mode="most_expensive")
        assert computed is keep_started(previous, computed, utc(2026, 11, 25, 0, 30))


class TestSeriesStep:
    def test_uniform_half_hours(self) -> None:
        """From the current half-hour on, one price per 30-minute step."""
        slots = run(utc(2026, 11, 25, 10), [1, 2, 3, 4])
        assert (utc(2026, 11, 25, 10, 30), 30, [2.0, 3.0, 4.0]) == series_step(
            slots, utc(2026, 11, 25, 10, 47)
        )

    def test_mixed_lengths_repeat_longer_slots(self) -> None:
        """Steps are the shortest slot; an hour at 15-minute steps gives four equal entries."""
        slots = mixed(utc(2026, 11, 25, 10), [(60, 5), (30, 6), (15, 7), (15, 8)])
        assert (utc(2026, 11, 25, 10), 15, [5.0] * 4 + [6.0] * 2 + [7.0, 8.0]) == series_step(
            slots, utc(2026, 11, 25, 10, 5)
        )

    def test_stops_at_a_gap(self) -> None:
        """The series ends where the first gap begins."""
        slots = without(run(utc(2026, 11, 25, 10), [1, 2, 3, 4, 5]), 3)
        assert (utc(2026, 11, 25, 10), 30, [1.0, 2.0, 3.0]) == series_step(
            slots, utc(2026, 11, 25, 10)
        )

    def test_no_current_slot(self) -> None:
        """Now in a gap, before or after the data: nothing."""
        slots = without(run(utc(2026, 11, 25, 10), [1, 2, 3]), 1)
        empty: tuple[None, None, list[float]] = (None, None, [])
        assert empty == series_step(slots, utc(2026, 11, 25, 10, 30))
        assert empty == series_step(slots, utc(2026, 11, 25, 9))
        assert empty == series_step(slots, utc(2026, 11, 25, 11, 30))
        assert empty == series_step([], utc(2026, 11, 25, 9))


class TestNow:
    """The slot now and after, its rank, and the moment published state is built for."""

    def test_current_and_next_across_a_gap(self) -> None:
        """The slot containing now and the first one after it, a gap between or not."""
        slots = run(utc(2026, 11, 25, 10), [1.0, 2.0]) + run(utc(2026, 11, 25, 12), [3.0])
        assert (slots[0], slots[1]) == current_and_next(slots, utc(2026, 11, 25, 10, 29))
        assert (slots[1], slots[2]) == current_and_next(slots, utc(2026, 11, 25, 10, 30))
        assert (None, slots[2]) == current_and_next(slots, utc(2026, 11, 25, 11, 15))
        assert (slots[2], None) == current_and_next(slots, utc(2026, 11, 25, 12, 0))
        assert (None, None) == current_and_next(slots, utc(2026, 11, 25, 13, 0))
        assert (None, slots[0]) == current_and_next(slots, utc(2026, 11, 25, 9, 0))

    def test_rank_is_period_stats_rank(self) -> None:
        """rank_at gives the current_rank / current_percentile of period_stats, at every
        slot of the day (and None outside the period or in a gap)."""
        slots = local_day(DAY)
        start, end = AGILE.day_bounds(DAY)
        for slot in slots:
            stats = period_stats(slots, start, end, slot.valid_from)
            assert (stats.current_rank, stats.current_percentile) == rank_at(
                slots, start, end, slot.valid_from
            )
        assert (None, None) == rank_at(slots, start, end, end)
        assert (None, None) == rank_at(slots[:10] + slots[11:], start, end, slots[10].valid_from)

    @pytest.mark.parametrize(
        ("now", "expected"),
        [
            (datetime(2026, 11, 25, 10, 31, 5, tzinfo=UTC), utc(2026, 11, 25, 10, 30)),  # a start
            (utc(2026, 11, 25, 11, 20), utc(2026, 11, 25, 11, 15)),  # a gap: the grid's
            (utc(2026, 11, 25, 11, 7), utc(2026, 11, 25, 11, 0)),  # the slot before's end
            (utc(2026, 11, 25, 0, 3), utc(2026, 11, 25, 0, 0)),  # the day's start
        ],
    )
    def test_state_moment(self, now: datetime, expected: datetime) -> None:
        """The latest slot edge, 15-minute grid point or day start at or before now."""
        slots = run(utc(2026, 11, 25, 10), [1.0, 2.0]) + run(utc(2026, 11, 25, 12), [3.0])
        day = utc(2026, 11, 25)
        assert expected == state_moment(slots, now, slot_minutes=15, day_start=day)

    def test_state_moment_without_a_grid(self) -> None:
        """A provider without a plugin (no grid): slot edges and the day's start only."""
        slots = run(utc(2026, 11, 25, 10), [1.0])
        day = utc(2026, 11, 25)
        moment = utc(2026, 11, 25, 11, 20)
        assert utc(2026, 11, 25, 10, 30) == state_moment(
            slots, moment, slot_minutes=None, day_start=day
        )
