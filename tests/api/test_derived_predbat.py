"""The ``predbat`` payload: major units per kWh (Predbat multiplies by 100), and small enough
to be Home Assistant attributes (16 KiB) with quarter-hour slots (pure)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from energyd.api.derived import PREDBAT_MAX_BYTES, derive, predbat_value
from energyd.domain.levels import default_bands
from energyd.mqtt.payloads import price_payload
from energyd.providers.base import EnergyPriceSlot
from tests.support.calendars import AGILE, MIDNIGHT_MARKET
from tests.support.octopus_data import default_price

#: Home Assistant's limit on a state's attributes (JSON, compact), beyond which it records none.
HA_ATTRIBUTES_LIMIT = 16_384
#: What Home Assistant adds to the attributes of the Predbat rates sensor itself.
OWN_ATTRIBUTES = {
    "friendly_name": "Energy-Charts day-ahead (Germany, Austria, Luxembourg) Predbat rates",
    "icon": "mdi:battery-clock",
}


def compact(value: Any) -> int:
    """The size in bytes of ``value`` as Home Assistant measures attributes."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def quarter_hours(
    start: datetime, count: int, price: float, currency: str
) -> list[EnergyPriceSlot]:
    step = timedelta(minutes=15)
    return [
        EnergyPriceSlot(start + i * step, start + (i + 1) * step, price, currency)
        for i in range(count)
    ]


def half_hours(day: date, count: int = 2) -> list[EnergyPriceSlot]:
    start = AGILE.day_bounds(day)[0]
    end = AGILE.day_bounds(day + timedelta(days=count - 1))[1]
    slots, moment = [], start
    while moment < end:
        slots.append(
            EnergyPriceSlot(moment, moment + timedelta(minutes=30), default_price("C", moment))
        )
        moment += timedelta(minutes=30)
    return slots


def payloads(slots: list[EnergyPriceSlot], now: datetime, currency: str, calendar: Any) -> Any:
    return derive(
        provider="market",
        region="R",
        currency=currency,
        slots=slots,
        calendar=calendar,
        levels=default_bands(currency),
        windows=[],
        previous={},
        now=now,
    ).payloads


class TestUnits:
    def test_value_is_price_major(self) -> None:
        """Every rate's value is the slot's price in GBP/kWh, as `price_major` of the price
        topics has it (not p/kWh: Predbat would read prices 100 times too high)."""
        now = datetime(2026, 11, 25, 17, 10, tzinfo=UTC)
        slots = half_hours(date(2026, 11, 25))
        predbat = payloads(slots, now, "GBP", AGILE)["predbat"]
        rates = predbat["raw_today"] + predbat["raw_tomorrow"]
        majors = [price_payload("p", "C", s, currency="GBP")["price_major"] for s in slots]
        assert 96 == len(rates)
        assert majors == [rate["value"] for rate in rates]
        assert all(abs(rate["value"]) < 2 for rate in rates)  # GBP, never pence

    def test_rate_shape(self) -> None:
        """start / end / value only (the Nord Pool shape), times ISO 8601 UTC."""
        start = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)
        slot = EnergyPriceSlot(start, start + timedelta(minutes=30), 18.2915, "GBP")
        expected = {
            "start": "2026-11-25T15:30:00Z",
            "end": "2026-11-25T16:00:00Z",
            "value": 0.182915,
        }
        assert expected == predbat_value(slot)

    def test_other_currencies(self) -> None:
        """EUR cents become EUR/kWh; a currency without minor units stays as it is."""
        start = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
        end = start + timedelta(minutes=15)
        values = [
            predbat_value(EnergyPriceSlot(start, end, 8.123, currency))["value"]
            for currency in ("EUR", "JPY", "KWD")
        ]
        assert [0.08123, 8.123, 0.008123] == values


class TestSize:
    def test_two_days_of_quarter_hours_fit_in_attributes(self) -> None:
        """100 + 100 quarter hours (more than two days can have) of day-ahead prices fit
        under Home Assistant's 16 KiB of attributes, with the sensor's own beside them."""
        start = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
        rates = [predbat_value(s) for s in quarter_hours(start, 200, -12.345, "EUR")]
        payload = {"raw_today": rates[:100], "raw_tomorrow": rates[100:]}
        size = compact(payload)
        assert size <= PREDBAT_MAX_BYTES
        assert size + compact(OWN_ATTRIBUTES) < HA_ATTRIBUTES_LIMIT

    def test_clock_change_day_of_quarter_hours(self) -> None:
        """Built by derive on the day clocks go back (100 quarter hours) and the day after
        (96): all of both days, compact, within the budget."""
        today = MIDNIGHT_MARKET.day_bounds(date(2026, 10, 25))
        tomorrow = MIDNIGHT_MARKET.day_bounds(date(2026, 10, 26))
        slots = quarter_hours(today[0], 196, -9.8765, "EUR")
        assert tomorrow[1] == slots[-1].valid_to
        predbat = payloads(slots, today[0], "EUR", MIDNIGHT_MARKET)["predbat"]
        assert (100, 96) == (len(predbat["raw_today"]), len(predbat["raw_tomorrow"]))
        assert compact(predbat) <= PREDBAT_MAX_BYTES
        assert b" " not in json.dumps(predbat, separators=(",", ":")).encode()

    def test_earliest_rates_go_first_when_too_big(self) -> None:
        """Prices with every digit and two places before the point (-12.345678 GBP/kWh) over
        the clock-change day and the next pass the budget: today's earliest rates are left
        out first (over by the afternoon, when tomorrow is known), tomorrow stays whole, and
        the payload is the same whenever it is built."""
        today = MIDNIGHT_MARKET.day_bounds(date(2026, 10, 25))
        slots = quarter_hours(today[0], 196, -1234.5678, "GBP")
        early = payloads(slots, today[0], "GBP", MIDNIGHT_MARKET)["predbat"]
        later = payloads(slots, today[0] + timedelta(hours=12), "GBP", MIDNIGHT_MARKET)["predbat"]
        whole_today = [predbat_value(s) for s in slots if s.valid_from < today[1]]
        assert early == later
        assert compact(early) <= PREDBAT_MAX_BYTES
        assert 96 == len(early["raw_tomorrow"])
        kept = early["raw_today"]
        assert 0 < len(kept) < 100
        assert whole_today[-len(kept) :] == kept
