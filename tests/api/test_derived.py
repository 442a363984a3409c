"""The derived topics of one provider/region, laid out from the figures (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from energyd.api.derived import derive
from energyd.config import WindowSettings
from energyd.domain.levels import default_bands
from energyd.providers.base import EnergyPriceSlot
from tests.support.calendars import AGILE
from tests.support.octopus_data import default_price

OVERNIGHT = WindowSettings(name="overnight", minutes=180, earliest="00:00", latest="07:00")

GBP_LEVELS = default_bands("GBP")


def days(first: date, count: int) -> list[EnergyPriceSlot]:
    start = AGILE.day_bounds(first)[0]
    end = AGILE.day_bounds(first + timedelta(days=count - 1))[1]
    slots = []
    moment = start
    while moment < end:
        slots.append(
            EnergyPriceSlot(moment, moment + timedelta(minutes=30), default_price("C", moment))
        )
        moment += timedelta(minutes=30)
    return slots


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def run(slots: list[EnergyPriceSlot], now: datetime) -> dict[str, dict]:  # type: ignore[type-arg]
    return derive(
        provider="octopus_agile",
        region="C",
        currency="GBP",
        slots=slots,
        calendar=AGILE,
        levels=GBP_LEVELS,
        windows=[OVERNIGHT],
        previous={},
        now=now,
    ).payloads


class TestDays:
    def test_today_and_tomorrow(self) -> None:
        """Both local days are laid out; tomorrow is complete once all 48 slots are known."""
        now = datetime(2026, 11, 25, 17, 10, tzinfo=UTC)
        payloads = run(days(date(2026, 11, 25), 2), now)
        assert (48, True) == (payloads["today"]["count"], payloads["today"]["complete"])
        assert (48, True) == (payloads["tomorrow"]["count"], payloads["tomorrow"]["complete"])
        assert "2026-11-26" == payloads["tomorrow"]["date"]

    def test_tomorrow_available_as_agile_publishes_it(self) -> None:
        """Agile publishes until 23:00 UK tomorrow: the market day is available, although the
        calendar day (until midnight) is not complete yet."""
        now = datetime(2026, 11, 25, 17, 10, tzinfo=UTC)
        published = [s for s in days(date(2026, 11, 25), 2) if s.valid_to <= _utc(2026, 11, 26, 23)]
        tomorrow = run(published, now)["tomorrow"]
        assert (True, False) == (tomorrow["available"], tomorrow["complete"])
        assert 46 == tomorrow["count"]

    def test_tomorrow_unknown(self) -> None:
        """Before tomorrow is published its topic is empty and not complete."""
        now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
        payloads = run(days(date(2026, 11, 25), 1), now)
        assert ([], False) == (payloads["tomorrow"]["slots"], payloads["tomorrow"]["complete"])
        assert payloads["tomorrow"]["available"] is False
        assert payloads["stats/tomorrow"]["min"] is None

    @pytest.mark.parametrize(("day", "count"), [(date(2026, 3, 29), 46), (date(2026, 10, 25), 50)])
    def test_clock_change_days(self, day: date, count: int) -> None:
        """Today has 46 or 50 half-hours on the clock-change days."""
        now = AGILE.day_bounds(day)[0] + timedelta(hours=12)
        payloads = run(days(day, 1), now)
        assert count == payloads["today"]["count"]
        assert count == len(payloads["predbat"]["raw_today"])
        assert payloads["today"]["complete"]


class TestFigures:
    def test_stats_level_and_consumer_shapes(self) -> None:
        """Stats match the slots; level, Predbat and EMHASS shapes carry the same prices."""
        now = datetime(2026, 11, 25, 17, 10, tzinfo=UTC)
        slots = days(date(2026, 11, 25), 2)
        payloads = run(slots, now)
        today = [s.price_pence for s in slots[:48]]
        assert min(today) == payloads["stats/today"]["min"]
        assert max(today) == payloads["stats/today"]["max"]
        current = next(s for s in slots if s.contains(now))
        assert current.price_pence == payloads["level"]["price"]
        assert ("expensive" if current.price_pence >= 20 else "normal") == payloads["level"][
            "level"
        ]
        assert {"start", "end", "value"} == set(payloads["predbat"]["raw_today"][0])
        assert round(current.price_pence / 100, 6) == payloads["emhass"]["prices"][0]
        assert 30 == payloads["emhass"]["step_minutes"]

    def test_overnight_window(self) -> None:
        """The overnight window lies between 00:00 and 07:00 UK time tomorrow."""
        now = datetime(2026, 11, 25, 17, 10, tzinfo=UTC)
        window = run(days(date(2026, 11, 25), 2), now)["windows/overnight"]
        assert window["available"]
        assert "2026-11-26T00:00:00Z" <= window["start"] < window["end"] <= "2026-11-26T07:00:00Z"
        assert 6 == len(window["slots"])
        assert window["active"] is False


def five_second_slots(now: datetime, count: int = 720) -> list[EnergyPriceSlot]:
    """An hour of 5-second slots from ``now`` on the minute (stale data of an older version)."""
    start = now.replace(second=0, microsecond=0)
    step = timedelta(seconds=5)
    return [EnergyPriceSlot(start + i * step, start + (i + 1) * step, 10.0) for i in range(count)]


class TestIsolation:
    def test_a_topic_that_cannot_be_built_is_left_out_and_named(self) -> None:
        """5-second slots break the EMHASS steps only: emhass is missing and named in errors,
        every other topic is built."""
        now = datetime(2026, 11, 25, 17, 10, 2, tzinfo=UTC)
        derived = derive(
            provider="octopus_agile",
            region="C",
            currency="GBP",
            slots=five_second_slots(now),
            calendar=AGILE,
            levels=GBP_LEVELS,
            windows=[OVERNIGHT],
            previous={},
            now=now,
        )
        assert {"emhass": "ValueError: slot lengths must be whole minutes"} == derived.errors
        expected = {"today", "tomorrow", "level", "predbat", "windows/overnight"} | {
            f"stats/{name}" for name in ("today", "tomorrow", "next_24h")
        }
        assert expected == set(derived.payloads)
        assert 10.0 == derived.payloads["level"]["price"]

    def test_no_errors_on_good_slots(self) -> None:
        """Ordinary half-hours: every topic, no errors."""
        now = datetime(2026, 11, 25, 17, 10, tzinfo=UTC)
        derived = derive(
            provider="octopus_agile",
            region="C",
            currency="GBP",
            slots=days(date(2026, 11, 25), 2),
            calendar=AGILE,
            levels=GBP_LEVELS,
            windows=[OVERNIGHT],
            previous={},
            now=now,
        )
        assert ({}, True) == (derived.errors, "emhass" in derived.payloads)
