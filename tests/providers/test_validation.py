"""Slot validation: a fetch is accepted whole or refused whole."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from energyd.exceptions import SlotValidationError
from energyd.providers.base import EnergyPriceSlot
from energyd.providers.validation import validate_slots

START = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
END = START + timedelta(days=1)


def slot(offset: int, price: float = 10.0, minutes: int = 30) -> EnergyPriceSlot:
    begin = START + timedelta(minutes=30 * offset)
    return EnergyPriceSlot(begin, begin + timedelta(minutes=minutes), price)


class TestAccepted:
    def test_sorted_and_normalised_to_utc(self) -> None:
        """Slots come back ascending, in UTC, with float prices."""
        plus_one = timezone(timedelta(hours=1))
        shifted = EnergyPriceSlot(
            (START + timedelta(hours=1)).astimezone(plus_one),
            (START + timedelta(hours=1, minutes=30)).astimezone(plus_one),
            7,
        )
        result = validate_slots([shifted, slot(0)], START, END)
        assert [START, START + timedelta(hours=1)] == [s.valid_from for s in result]
        assert UTC == result[1].valid_from.tzinfo
        assert 7.0 == result[1].price_pence

    def test_negative_prices_are_fine(self) -> None:
        """Agile goes negative; that is a price, not an error."""
        assert -5.25 == validate_slots([slot(0, -5.25)], START, END)[0].price_pence


class TestRefused:
    @pytest.mark.parametrize(
        ("bad", "message"),
        [
            (EnergyPriceSlot(datetime(2026, 11, 25), datetime(2026, 11, 25, 0, 30), 1.0), "naive"),
            (EnergyPriceSlot(START, START, 1.0), "not after"),
            (slot(0, math.nan), "out of range"),
            (slot(0, math.inf), "out of range"),
            (slot(0, minutes=60 * 25), "longer than"),
            (slot(200), "outside the requested window"),
            ("not a slot", "expected EnergyPriceSlot"),
        ],
    )
    def test_one_bad_slot_fails_all(self, bad: object, message: str) -> None:
        """A single bad slot makes the whole fetch fail with a clear message."""
        with pytest.raises(SlotValidationError, match=message):
            validate_slots([slot(1), bad], START, END)

    def test_duplicates(self) -> None:
        """Two slots starting at the same moment are refused."""
        with pytest.raises(SlotValidationError, match="duplicate"):
            validate_slots([slot(0), slot(0, 11.0)], START, END)

    def test_overlaps(self) -> None:
        """A 60-minute slot overlapping the next half-hour is refused."""
        with pytest.raises(SlotValidationError, match="overlapping"):
            validate_slots([slot(0, minutes=60), slot(1)], START, END)

    def test_bool_is_not_a_price(self) -> None:
        """True is not 1 p/kWh."""
        with pytest.raises(SlotValidationError, match="not a number"):
            validate_slots([slot(0, True)], START, END)

    def test_provisional_is_kept_and_must_be_a_bool(self) -> None:
        """A provisional price stays provisional; "yes" is not a flag."""
        (checked,) = validate_slots([replace(slot(0), provisional=True)], START, END)
        assert checked.provisional
        with pytest.raises(SlotValidationError, match="provisional must be true or false"):
            validate_slots([replace(slot(0), provisional="yes")], START, END)  # type: ignore[arg-type]

    def test_currency_must_match_metadata(self) -> None:
        """A EUR slot from a GBP provider is refused."""
        euro = EnergyPriceSlot(START, START + timedelta(minutes=30), 1.0, currency="EUR")
        with pytest.raises(SlotValidationError, match="currency EUR"):
            validate_slots([euro], START, END, currency="GBP")


def run_of(length: timedelta, count: int, first: datetime = START) -> list[EnergyPriceSlot]:
    """``count`` back-to-back slots of ``length`` from ``first``."""
    return [
        EnergyPriceSlot(first + i * length, first + (i + 1) * length, 10.0) for i in range(count)
    ]


class TestWholeMinutes:
    @pytest.mark.parametrize(
        "length", [timedelta(seconds=5), timedelta(seconds=90)], ids=["5s", "90s"]
    )
    def test_lengths_that_are_not_whole_minutes_are_refused(self, length: timedelta) -> None:
        """5-second and 90-second slots are refused, the whole fetch with them."""
        with pytest.raises(SlotValidationError, match="not on a whole minute"):
            validate_slots(run_of(length, 40), START, END)

    def test_an_edge_off_the_minute_is_refused(self) -> None:
        """A whole-minute length starting half a second past the minute is refused too."""
        first = START + timedelta(milliseconds=500)
        with pytest.raises(SlotValidationError, match=r"valid_from .* not on a whole minute"):
            validate_slots(run_of(timedelta(minutes=30), 2, first), START, END)

    def test_one_minute_slots_are_fine(self) -> None:
        """The shortest slot accepted is one minute."""
        assert 60 == len(validate_slots(run_of(timedelta(minutes=1), 60), START, END))

    def test_whole_minutes_are_judged_in_utc(self) -> None:
        """An offset of whole minutes (Nepal, +05:45) keeps a UTC-minute edge on the minute."""
        nepal = timezone(timedelta(hours=5, minutes=45))
        local = EnergyPriceSlot(
            START.astimezone(nepal), (START + timedelta(minutes=15)).astimezone(nepal), 3.0
        )
        assert START == validate_slots([local], START, END)[0].valid_from

    def test_one_currency_per_fetch_without_metadata(self) -> None:
        """Without an expected currency the slots must still agree on one."""
        euro = EnergyPriceSlot(
            START + timedelta(minutes=30), START + timedelta(hours=1), 1.0, currency="EUR"
        )
        with pytest.raises(SlotValidationError, match="currency EUR, expected GBP"):
            validate_slots([slot(0), euro], START, END)
