"""The kit's time helpers: parsing, market days (clock changes included), slot cutting."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from energyd.exceptions import ProviderDataError
from energyd.providers.base import EnergyPriceSlot
from energyd.providers.kit.time import (
    format_local,
    format_utc,
    from_epoch,
    infer_step,
    local_day_window,
    local_days,
    parse_utc,
    slots_from_starts,
    split_into_slots,
    utc_window,
)

HOUR = timedelta(hours=1)
HALF_HOUR = timedelta(minutes=30)
QUARTER = timedelta(minutes=15)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class TestParseUtc:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2024-05-07T21:30:00Z", utc(2024, 5, 7, 21, 30)),
            ("2024-05-07T23:30:00+02:00", utc(2024, 5, 7, 21, 30)),
            ("2024-12-10T00:00+01:00", utc(2024, 12, 9, 23, 0)),
            (" 2024-05-07T21:30:00.250Z ", utc(2024, 5, 7, 21, 30, 0, 250000)),
        ],
    )
    def test_offsets_become_utc(self, text: str, expected: datetime) -> None:
        """Z and numeric offsets both give the same aware UTC moment."""
        actual = parse_utc(text)
        assert expected == actual
        assert UTC == actual.tzinfo

    @pytest.mark.parametrize("value", ["2024-05-07T21:30:00", "2024-05-07", "yesterday", 5, None])
    def test_naive_or_malformed_values_are_data_errors(self, value: object) -> None:
        """A moment without an offset is refused, not guessed."""
        with pytest.raises(ProviderDataError):
            parse_utc(value, "valid_from")


class TestFromEpoch:
    def test_seconds(self) -> None:
        """Whole seconds since 1970 give the exact moment."""
        assert utc(2024, 12, 9, 23, 0) == from_epoch(1733785200)

    def test_milliseconds(self) -> None:
        """unit="ms" reads milliseconds."""
        assert utc(2024, 12, 9, 23, 0) == from_epoch(1733785200000, unit="ms")

    @pytest.mark.parametrize("value", [True, "1733785200", float("nan"), None, 1e30])
    def test_non_numbers_are_data_errors(self, value: object) -> None:
        """Booleans, strings, NaN and absurd values are refused."""
        with pytest.raises(ProviderDataError):
            from_epoch(value)


class TestFormatting:
    def test_format_utc_uses_z_and_whole_seconds(self) -> None:
        """format_utc writes UTC with Z."""
        moment = datetime(2024, 5, 7, 23, 30, 5, 999, tzinfo=timezone(timedelta(hours=2)))
        assert "2024-05-07T21:30:05Z" == format_utc(moment)

    def test_format_local_writes_the_market_offset(self) -> None:
        """format_local writes local time with its offset, in minutes."""
        assert "2024-12-10T00:00+01:00" == format_local(utc(2024, 12, 9, 23), "Europe/Berlin")

    def test_naive_moments_are_refused(self) -> None:
        """A naive datetime is a bug in the caller: ValueError."""
        with pytest.raises(ValueError, match="timezone-aware"):
            format_utc(datetime(2024, 1, 1))

    def test_utc_window_refuses_empty_windows(self) -> None:
        """A window must end after it starts."""
        with pytest.raises(ValueError, match="empty window"):
            utc_window(utc(2024, 1, 2), utc(2024, 1, 1))


class TestLocalDayWindow:
    @pytest.mark.parametrize(
        ("day", "hours"),
        [(date(2025, 3, 30), 23), (date(2025, 10, 26), 25), (date(2025, 6, 1), 24)],
    )
    def test_berlin_days_are_23_24_or_25_hours(self, day: date, hours: int) -> None:
        """Clock-change days in Europe/Berlin are 23 and 25 hours long."""
        start, end = local_day_window(day, "Europe/Berlin")
        assert timedelta(hours=hours) == end - start

    def test_berlin_spring_day_starts_at_local_midnight(self) -> None:
        """2025-03-30 runs 2025-03-29T23:00Z .. 2025-03-30T22:00Z."""
        assert (utc(2025, 3, 29, 23), utc(2025, 3, 30, 22)) == local_day_window(
            date(2025, 3, 30), "Europe/Berlin"
        )

    @pytest.mark.parametrize(("day", "halves"), [(date(2025, 3, 30), 46), (date(2025, 10, 26), 50)])
    def test_london_clock_change_days_hold_46_or_50_half_hours(
        self, day: date, halves: int
    ) -> None:
        """Europe/London days on clock changes hold 46 and 50 half-hours."""
        start, end = local_day_window(day, "Europe/London")
        assert halves == (end - start) // HALF_HOUR

    def test_a_23_00_market_day_runs_from_the_evening_before(self) -> None:
        """Agile's day D runs 23:00 on D-1 to 23:00 on D (UK time), 46 half-hours in spring."""
        start, end = local_day_window(date(2025, 3, 30), "Europe/London", "23:00")
        assert (utc(2025, 3, 29, 23), utc(2025, 3, 30, 22)) == (start, end)


class TestLocalDays:
    def test_days_the_window_touches(self) -> None:
        """A window from Berlin noon to the next noon touches two local days."""
        days = local_days(utc(2024, 12, 10, 11), utc(2024, 12, 11, 11), "Europe/Berlin")
        assert [date(2024, 12, 10), date(2024, 12, 11)] == days

    def test_a_window_of_exact_days(self) -> None:
        """A window of exactly one local day is that day only."""
        start, end = local_day_window(date(2025, 10, 26), "Europe/Berlin")
        assert [date(2025, 10, 26)] == local_days(start, end, "Europe/Berlin")

    def test_utc_midnight_is_still_the_previous_day_in_berlin_only_for_an_hour(self) -> None:
        """UTC 00:00 .. 00:30 on 10 Dec lies within Berlin's 10 Dec (01:00 local)."""
        assert [date(2024, 12, 10)] == local_days(
            utc(2024, 12, 10, 0), utc(2024, 12, 10, 0, 30), "Europe/Berlin"
        )


class TestSplitIntoSlots:
    def test_a_long_period_is_cut_into_slots(self) -> None:
        """Two hours at 30 minutes become four equal slots."""
        slots = split_into_slots(
            utc(2024, 1, 1, 0), utc(2024, 1, 1, 2), 12.5, slot=HALF_HOUR, currency="GBP"
        )
        assert [utc(2024, 1, 1) + HALF_HOUR * n for n in range(4)] == [
            slot.valid_from for slot in slots
        ]
        assert {12.5} == {slot.price_pence for slot in slots}

    def test_the_window_keeps_overlapping_slots_only(self) -> None:
        """Only slots overlapping the window are returned (a partly covered one included)."""
        slots = split_into_slots(
            utc(2024, 1, 1, 0),
            utc(2024, 1, 2, 0),
            10.0,
            slot=HALF_HOUR,
            currency="GBP",
            price_exc_vat=9.5,
            window=(utc(2024, 1, 1, 10, 10), utc(2024, 1, 1, 11)),
        )
        expected = [
            EnergyPriceSlot(utc(2024, 1, 1, 10), utc(2024, 1, 1, 10, 30), 10.0, "GBP", 9.5),
            EnergyPriceSlot(utc(2024, 1, 1, 10, 30), utc(2024, 1, 1, 11), 10.0, "GBP", 9.5),
        ]
        assert expected == slots

    def test_a_period_that_is_not_whole_slots_is_a_data_error(self) -> None:
        """A 45-minute period cannot be cut into half-hours."""
        with pytest.raises(ProviderDataError, match="multiple"):
            split_into_slots(
                utc(2024, 1, 1), utc(2024, 1, 1, 0, 45), 1.0, slot=HALF_HOUR, currency="GBP"
            )

    def test_a_naive_period_is_a_data_error(self) -> None:
        """Naive datetimes in market data are refused."""
        with pytest.raises(ProviderDataError, match="naive"):
            split_into_slots(
                datetime(2024, 1, 1), utc(2024, 1, 1, 1), 1.0, slot=HALF_HOUR, currency="GBP"
            )


class TestSeries:
    def test_the_step_is_the_smallest_gap(self) -> None:
        """A hole in the series does not change the step."""
        starts = [utc(2025, 1, 1, 0), utc(2025, 1, 1, 0, 15), utc(2025, 1, 1, 1)]
        assert QUARTER == infer_step(starts)

    @pytest.mark.parametrize(
        "starts",
        [
            [utc(2025, 1, 1, 1), utc(2025, 1, 1, 0)],
            [utc(2025, 1, 1, 0), utc(2025, 1, 1, 0)],
            [utc(2025, 1, 1, 0), utc(2025, 1, 1, 0, 0, 30)],
            [utc(2025, 1, 1, 0)],
        ],
        ids=["descending", "duplicate", "off-minute", "single"],
    )
    def test_unusable_series_are_data_errors(self, starts: list[datetime]) -> None:
        """Unordered, duplicate, off-minute and single-point series have no step."""
        with pytest.raises(ProviderDataError):
            infer_step(starts)

    def test_each_point_lasts_one_step_and_null_is_a_gap(self) -> None:
        """The last point lasts one step; a null price is left out, never zero."""
        starts = [utc(2025, 1, 1, 0), utc(2025, 1, 1, 1), utc(2025, 1, 1, 2)]
        slots = slots_from_starts(
            starts, [50.0, None, -1.5], currency="EUR", convert=lambda p: p / 10
        )
        expected = [
            EnergyPriceSlot(utc(2025, 1, 1, 0), utc(2025, 1, 1, 1), 5.0, "EUR"),
            EnergyPriceSlot(utc(2025, 1, 1, 2), utc(2025, 1, 1, 3), -0.15, "EUR"),
        ]
        assert expected == slots

    def test_a_series_changing_resolution_keeps_both(self) -> None:
        """Hourly points, then quarter-hours: each slot lasts its own step."""
        starts = [utc(2025, 9, 30, 20), utc(2025, 9, 30, 21)]
        starts += [utc(2025, 9, 30, 22) + QUARTER * n for n in range(3)]
        slots = slots_from_starts(starts, [1.0] * 5, currency="EUR")
        assert [HOUR, HOUR, QUARTER, QUARTER, QUARTER] == [slot.duration for slot in slots]

    def test_a_hole_is_not_a_longer_slot(self) -> None:
        """A missing hour leaves a hole: the point before it still lasts one hour."""
        starts = [utc(2025, 1, 1, 0), utc(2025, 1, 1, 1), utc(2025, 1, 1, 3), utc(2025, 1, 1, 4)]
        slots = slots_from_starts(starts, [1.0] * 4, currency="EUR")
        assert [HOUR] * 4 == [slot.duration for slot in slots]

    def test_a_single_point_needs_an_explicit_step(self) -> None:
        """One point has no gap to measure."""
        with pytest.raises(ProviderDataError, match="one point only"):
            slots_from_starts([utc(2025, 1, 1)], [1.0], currency="EUR")
        assert [HOUR] == [
            s.duration
            for s in slots_from_starts([utc(2025, 1, 1)], [1.0], currency="EUR", step=HOUR)
        ]

    @pytest.mark.parametrize("bad", ["12", True, float("inf")])
    def test_non_numeric_prices_are_data_errors(self, bad: object) -> None:
        """Strings, booleans and infinities are not prices."""
        with pytest.raises(ProviderDataError):
            slots_from_starts([utc(2025, 1, 1)], [bad], currency="EUR", step=HOUR)  # type: ignore[list-item]

    def test_lengths_must_match(self) -> None:
        """Times and prices must pair up."""
        with pytest.raises(ProviderDataError, match="2 times but 1 prices"):
            slots_from_starts([utc(2025, 1, 1), utc(2025, 1, 1, 1)], [1.0], currency="EUR")
