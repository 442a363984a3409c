"""Slot validation: a fetch is accepted whole or refused whole."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from energyd.exceptions import SlotValidationError
from energyd.providers.base import EnergyPriceSlot
from energyd.providers.validation import (
    MAX_ABS_PRICE,
    WINDOW_TOLERANCE,
    _checked,
    _sort_refusing_overlaps,
    validate_slots,
)

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


def reference(
    slots: list[object], start: datetime, end: datetime, *, currency: str | None = None
) -> list[EnergyPriceSlot]:
    """Every rule on every slot (validation's own ``_checked``), then the sort: the result
    validate_slots must give, whatever shortcut it takes for plain slots."""
    low, high = start - WINDOW_TOLERANCE, end + WINDOW_TOLERANCE
    checked: list[EnergyPriceSlot] = []
    for index, slot in enumerate(slots):
        expected = currency if currency is not None or not checked else checked[0].currency
        checked.append(_checked(index, slot, low, high, start, end, expected))
    _sort_refusing_overlaps(checked)
    return checked


def outcome(
    check: Callable[..., list[EnergyPriceSlot]], slots: list[object], currency: str | None
) -> list[str] | str:
    """``check(slots, START, END, currency=currency)`` as the ``repr`` of each slot (so the
    class, the zone objects and int-or-float count, not only equality), or the message it
    refused them with."""
    try:
        return [repr(slot) for slot in check(slots, START, END, currency=currency)]
    except SlotValidationError as exc:
        return f"refused: {exc}"


LONDON = ZoneInfo("Europe/London")
#: One change each: what a fuzzed slot may be given (good and bad alike).
CHANGES: list[Callable[[EnergyPriceSlot], EnergyPriceSlot]] = [
    lambda s: replace(s, price_pence=math.nan),
    lambda s: replace(s, price_pence=-math.inf),
    lambda s: replace(s, price_pence=MAX_ABS_PRICE),
    lambda s: replace(s, price_pence=MAX_ABS_PRICE * 1.01),
    lambda s: replace(s, price_pence=7),
    lambda s: replace(s, price_pence=True),
    lambda s: replace(s, price_pence_exc_vat=math.nan),
    lambda s: replace(s, price_pence_exc_vat=3),
    lambda s: replace(s, price_pence_exc_vat=False),
    lambda s: replace(s, energy_pence=math.inf),
    lambda s: replace(s, energy_pence=2.5),
    lambda s: replace(s, currency="EUR"),
    lambda s: replace(s, currency="GB"),
    lambda s: replace(s, provisional=1),  # type: ignore[arg-type]
    lambda s: replace(s, estimate=True, estimate_low_pence=1.0, estimate_high_pence=2.0),
    lambda s: replace(s, estimate=True, estimate_low_pence=3.0, estimate_high_pence=2.0),
    lambda s: replace(s, estimate=True, estimate_high_pence=math.nan),
    lambda s: replace(s, estimate_low_pence=1.0),
    lambda s: replace(s, market_pence=1.0),
    lambda s: replace(s, source="fallback"),
    lambda s: replace(s, valid_from=s.valid_from.astimezone(LONDON)),
    lambda s: replace(s, valid_to=s.valid_to.astimezone(ZoneInfo("UTC"))),
    lambda s: replace(s, valid_to=s.valid_to + timedelta(seconds=1)),
    lambda s: replace(s, valid_from=s.valid_from - timedelta(microseconds=1)),
    lambda s: replace(s, valid_to=s.valid_to + timedelta(minutes=30)),
    lambda s: replace(s, valid_to=s.valid_from),
    lambda s: replace(s, valid_to=s.valid_from + timedelta(days=1, minutes=1)),
    lambda s: replace(s, valid_to=s.valid_to.replace(tzinfo=None)),
    lambda s: _Subclass(s.valid_from, s.valid_to, s.price_pence),
]


@dataclass(frozen=True, slots=True)
class _Subclass(EnergyPriceSlot):
    """A slot type of a plugin's own."""


class TestSameAsEveryRule:
    """The shortcut for plain slots gives what every rule on every slot gives: the same
    slots, or the same refusal."""

    def test_fuzzed_fetches(self) -> None:
        """2000 seeded fetches: runs of 15-, 30- and 60-minute slots with gaps and overlaps,
        a few slots given one of CHANGES, some fetches shuffled, in and out of the window."""
        rng = random.Random(12)
        for _ in range(2000):
            slots: list[object] = []
            moment = START - timedelta(hours=rng.choice([0, 0, 0, 24.5, -23]))
            for _ in range(rng.randint(1, 12)):
                length = timedelta(minutes=rng.choice([15, 30, 30, 60]))
                slot = EnergyPriceSlot(moment, moment + length, round(rng.uniform(-5, 40), 2))
                if rng.random() < 0.05:
                    slot = rng.choice(CHANGES)(slot)
                slots.append(slot)
                moment += length if rng.random() < 0.9 else length * rng.choice([-1, 2])
            if rng.random() < 0.1:
                rng.shuffle(slots)
            if rng.random() < 0.05:
                slots.append("not a slot")
            currency = rng.choice([None, None, "GBP", "GBP", "GBP", "EUR", "POUND"])
            expected = outcome(reference, slots, currency)
            assert expected == outcome(validate_slots, slots, currency), slots

    def test_plain_slots_are_passed_on_as_they_are(self) -> None:
        """A plain run (UTC, floats) comes back as the same objects, the others as copies."""
        slots = run_of(timedelta(minutes=30), 4) + run_of(timedelta(minutes=15), 4, END)
        slots[2] = replace(slots[2], price_pence=7)  # an int: copied as a float
        result = validate_slots(slots, START, END + timedelta(hours=1), currency="GBP")
        assert slots == result
        assert [True, True, False, True, True, True, True, True] == [
            a is b for a, b in zip(slots, result, strict=True)
        ]

    def test_a_run_leaving_the_window_is_refused_where_it_leaves(self) -> None:
        """Contiguous slots going on past the window's tolerance are refused at the first
        one outside it."""
        slots = run_of(timedelta(hours=1), 60)
        with pytest.raises(SlotValidationError, match=r"slot 48 \(.*outside the requested"):
            validate_slots(slots, START, END)
