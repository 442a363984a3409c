"""Hourly averages of quarter hours: whole local hours only, weighted, 23 / 25 on clock-change
days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from energyd.domain.averages import hourly_averages
from energyd.providers.base import EnergyPriceSlot

BERLIN = ZoneInfo("Europe/Berlin")
QUARTER = timedelta(minutes=15)


def day_of_quarters(day: date, price: object = None) -> list[EnergyPriceSlot]:
    start = datetime.combine(day, time(0), tzinfo=BERLIN).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=BERLIN).astimezone(UTC)
    slots = []
    index = 0
    while start < end:
        slots.append(EnergyPriceSlot(start, start + QUARTER, float(index), "EUR"))
        start += QUARTER
        index += 1
    return slots


class TestHourly:
    def test_four_quarters_make_their_mean(self) -> None:
        hours = hourly_averages(day_of_quarters(date(2026, 12, 2)), BERLIN)
        assert 24 == len(hours)
        assert (1.5, 5.5) == (hours[0].price_pence, hours[1].price_pence)
        assert time(0) == hours[0].valid_from.astimezone(BERLIN).time()
        assert timedelta(hours=1) == hours[5].duration

    @pytest.mark.parametrize(("day", "count"), [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25)])
    def test_clock_change_days(self, day: date, count: int) -> None:
        """92 quarters -> 23 hours, 100 -> 25 (the repeated 02:00 hour counted twice)."""
        hours = hourly_averages(day_of_quarters(day), BERLIN)
        assert count == len(hours)
        assert all(h.duration == timedelta(hours=1) for h in hours)
        starts = [h.valid_from for h in hours]
        assert starts == sorted(set(starts))

    def test_a_partial_hour_has_no_average(self) -> None:
        """A missing quarter (or the end of what is known) leaves that hour out: no guess."""
        slots = day_of_quarters(date(2026, 12, 2))
        del slots[5]  # 01:15-01:30 missing
        hours = hourly_averages(slots[:-1], BERLIN)  # and 23:45 unknown
        local_hours = [h.valid_from.astimezone(BERLIN).hour for h in hours]
        assert 1 not in local_hours
        assert 23 not in local_hours
        assert 22 == len(hours)

    def test_hourly_slots_stay_and_market_prices_are_averaged_too(self) -> None:
        start = datetime(2026, 12, 2, 11, tzinfo=UTC)
        slots = [
            EnergyPriceSlot(start, start + QUARTER * 2, 20.0, "EUR", market_pence=10.0),
            EnergyPriceSlot(
                start + QUARTER * 2, start + QUARTER * 4, 30.0, "EUR", market_pence=12.0
            ),
            EnergyPriceSlot(start + QUARTER * 4, start + QUARTER * 8, 7.0, "EUR"),
        ]
        first, second = hourly_averages(slots, BERLIN)
        assert (25.0, 11.0) == (first.price_pence, first.market_pence)
        assert (7.0, None) == (second.price_pence, second.market_pence)
