"""The price formula: market price -> the price paid, on ordinary and clock-change days."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from energyd.domain.tariff import FeeZone, Tariff, clock_of, months_of, weekdays_of

BERLIN = ZoneInfo("Europe/Berlin")
COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def local(
    zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone).astimezone(UTC)


class TestFormula:
    def test_nothing_configured_changes_nothing(self) -> None:
        tariff = Tariff(BERLIN)
        assert tariff.is_identity
        assert 9.285 == tariff.end_price(9.285, local(BERLIN, 2026, 12, 2, 12))

    def test_a_german_household(self) -> None:
        """(9.285 ct market + 15.87 ct fees and taxes) x 1.19 VAT."""
        tariff = Tariff(BERLIN, adders={"grid": 10.5, "levies": 5.37}, vat_percent=19)
        parts = tariff.parts(9.285, local(BERLIN, 2026, 12, 2, 12))
        assert pytest.approx(15.87) == parts.adders
        assert pytest.approx(25.155) == parts.before_vat
        assert pytest.approx(29.93445) == parts.end
        assert pytest.approx(25.155) == parts.exc_vat

    def test_the_multiplier_applies_to_the_market_price_only(self) -> None:
        tariff = Tariff(BERLIN, multiplier=2.2, adders={"p": 12.0})
        assert pytest.approx(2.2 * 10 + 12) == tariff.end_price(10, local(BERLIN, 2026, 1, 1))

    @pytest.mark.parametrize(
        ("vat_on", "market", "expected"),
        [
            ("all", -10.0, -12.0),  # the tax is "paid back" on a negative price
            ("positive", -10.0, -10.0),  # no VAT below zero
            ("positive", 10.0, 12.0),
            ("all", 10.0, 12.0),
        ],
    )
    def test_vat_always_or_only_on_positive_prices(
        self, vat_on: str, market: float, expected: float
    ) -> None:
        tariff = Tariff(BERLIN, vat_percent=20, vat_on=vat_on)  # type: ignore[arg-type]
        assert pytest.approx(expected) == tariff.end_price(market, local(BERLIN, 2026, 6, 1))

    def test_vat_on_positive_looks_at_the_price_before_vat_not_the_market(self) -> None:
        """A negative market price plus fees that make it positive is taxed."""
        tariff = Tariff(BERLIN, adders={"grid": 15}, vat_percent=20, vat_on="positive")
        assert pytest.approx(6.0) == tariff.end_price(-10, local(BERLIN, 2026, 6, 1))

    def test_floor_and_cap_bound_the_end_price(self) -> None:
        tariff = Tariff(BERLIN, vat_percent=25, floor=0.0, cap=40.0)
        at = local(BERLIN, 2026, 6, 1)
        assert (0.0, 40.0, 12.5) == (
            tariff.end_price(-5, at),
            tariff.end_price(100, at),
            tariff.end_price(10, at),
        )
        capped = tariff.parts(100, at)
        assert pytest.approx(32.0) == capped.exc_vat  # the cap's share without VAT

    @pytest.mark.parametrize(
        "bad",
        [
            {"vat_percent": 100},
            {"vat_percent": -1},
            {"multiplier": float("nan")},
            {"floor": 5.0, "cap": 1.0},
            {"adders": {"x": float("inf")}},
        ],
    )
    def test_nonsense_is_refused(self, bad: dict[str, object]) -> None:
        with pytest.raises(ValueError):  # noqa: PT011 - each names its own field
            Tariff(BERLIN, **bad)  # type: ignore[arg-type]


#: Danish network tariff (Radius-like): peak 17-21 in winter months, cheap night 00-06.
DK_FEES = (
    FeeZone(36.0, time(17), time(21), months=months_of("oct-mar"), name="peak winter"),
    FeeZone(12.0, time(17), time(21), months=months_of("apr-sep"), name="peak summer"),
    FeeZone(-5.0, time(0), time(6), name="night"),
)


class TestFeeZones:
    def test_zones_match_local_time_weekday_and_month(self) -> None:
        tariff = Tariff(COPENHAGEN, fees=DK_FEES)
        assert 36.0 == tariff.parts(0, local(COPENHAGEN, 2026, 12, 2, 17)).fees
        assert 0.0 == tariff.parts(0, local(COPENHAGEN, 2026, 12, 2, 21)).fees  # end exclusive
        assert 12.0 == tariff.parts(0, local(COPENHAGEN, 2026, 7, 1, 20, 45)).fees
        assert -5.0 == tariff.parts(0, local(COPENHAGEN, 2026, 7, 1, 5, 45)).fees
        assert 0.0 == tariff.parts(0, local(COPENHAGEN, 2026, 7, 1, 12)).fees

    def test_overlapping_zones_add_up(self) -> None:
        """A time-of-day fee and a weekday module both apply where they overlap."""
        tariff = Tariff(
            BERLIN,
            fees=(
                FeeZone(3.0, time(17), time(20)),
                FeeZone(1.5, time(0), None, weekdays=weekdays_of("mon-fri")),
            ),
        )
        assert 4.5 == tariff.parts(0, local(BERLIN, 2026, 12, 2, 18)).fees  # a Wednesday
        assert 3.0 == tariff.parts(0, local(BERLIN, 2026, 12, 5, 18)).fees  # a Saturday

    def test_a_zone_past_midnight_keeps_the_weekday_it_started_on(self) -> None:
        weekend_nights = FeeZone(-2.0, time(22), time(6), weekdays=weekdays_of("sat,sun"))
        tariff = Tariff(BERLIN, fees=(weekend_nights,))
        assert -2.0 == tariff.parts(0, local(BERLIN, 2026, 12, 5, 23)).fees  # Sat 23:00
        assert -2.0 == tariff.parts(0, local(BERLIN, 2026, 12, 7, 5)).fees  # Mon 05:00 (Sun)
        assert 0.0 == tariff.parts(0, local(BERLIN, 2026, 12, 5, 5)).fees  # Sat 05:00 (Fri)
        assert 0.0 == tariff.parts(0, local(BERLIN, 2026, 12, 7, 22)).fees  # Mon 22:00

    @pytest.mark.parametrize(
        ("day", "slots"),
        [(datetime(2026, 3, 29), 92), (datetime(2026, 10, 25), 100), (datetime(2026, 6, 1), 96)],
    )
    def test_zone_edges_stay_on_the_wall_clock_on_clock_change_days(
        self, day: datetime, slots: int
    ) -> None:
        """On 23- and 25-hour days the 17:00-21:00 peak is 16 quarter hours from 17:00 local
        and the night zone 00:00-06:00 is what the wall clock says (20 or 28 quarter hours on
        the short and long night), never shifted by an hour."""
        tariff = Tariff(COPENHAGEN, fees=DK_FEES)
        start = datetime.combine(day.date(), time(0), tzinfo=COPENHAGEN).astimezone(UTC)
        end = datetime.combine(
            day.date() + timedelta(days=1), time(0), tzinfo=COPENHAGEN
        ).astimezone(UTC)
        quarters = []
        moment = start
        while moment < end:
            quarters.append(moment)
            moment += timedelta(minutes=15)
        assert slots == len(quarters)
        peak = [q for q in quarters if tariff.parts(0, q).fees > 0]
        night = [q for q in quarters if tariff.parts(0, q).fees < 0]
        assert 16 == len(peak)
        assert time(17) == peak[0].astimezone(COPENHAGEN).time()
        assert time(20, 45) == peak[-1].astimezone(COPENHAGEN).time()
        assert {92: 20, 96: 24, 100: 28}[slots] == len(night)

    def test_the_tariff_zone_is_used_not_utc(self) -> None:
        """Fees read Helsinki wall-clock time even for a CET market's slots."""
        tariff = Tariff(ZoneInfo("Europe/Helsinki"), fees=(FeeZone(7.0, time(7), time(22)),))
        assert 7.0 == tariff.parts(0, datetime(2026, 12, 2, 5, 0, tzinfo=UTC)).fees  # 07:00 EET
        assert 0.0 == tariff.parts(0, datetime(2026, 12, 2, 4, 45, tzinfo=UTC)).fees


class TestReading:
    def test_weekdays_and_months(self) -> None:
        assert frozenset({0, 1, 2, 3, 4}) == weekdays_of("Mon-Fri")
        assert frozenset({4, 5, 6, 0}) == weekdays_of("fri-mon")
        assert frozenset({5, 6}) == weekdays_of("sat, sun")
        assert frozenset({10, 11, 12, 1, 2, 3}) == months_of("oct-mar")
        assert frozenset({1, 12}) == months_of("jan,dec")

    def test_clock_times(self) -> None:
        assert (time(17), None, time(6, 30)) == (
            clock_of("17:00"),
            clock_of("24:00"),
            clock_of("06:30"),
        )

    @pytest.mark.parametrize("text", ["moon", "mon-xyz", ""])
    def test_bad_days_are_refused_with_the_names(self, text: str) -> None:
        with pytest.raises(ValueError, match="weekday"):
            weekdays_of(text)

    @pytest.mark.parametrize("text", ["7", "25:00", "12:60", "noon", "7:5"])
    def test_bad_clock_times(self, text: str) -> None:
        with pytest.raises(ValueError, match=r"HH:MM|time of day"):
            clock_of(text)

    def test_a_zone_must_not_be_empty(self) -> None:
        with pytest.raises(ValueError, match="same time"):
            FeeZone(1.0, time(6), time(6))
