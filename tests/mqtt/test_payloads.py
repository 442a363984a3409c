"""JSON payloads of the retained price and provider topics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from energyd.mqtt.payloads import (
    dumps,
    iso_utc,
    minor_unit,
    price_payload,
    providers_payload,
    slot_json,
    upcoming_payload,
)
from energyd.providers.base import EnergyPriceSlot

NOW = datetime(2024, 5, 1, 12, 10, tzinfo=UTC)


def slot(start_minute: int, price: float, currency: str = "GBP") -> EnergyPriceSlot:
    start = datetime(2024, 5, 1, 12, 0, tzinfo=UTC) + timedelta(minutes=start_minute)
    return EnergyPriceSlot(start, start + timedelta(minutes=30), price, currency)


class TestPricePayload:
    def test_slot(self) -> None:
        """A slot becomes a self-describing payload in minor and major units."""
        start = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
        current = EnergyPriceSlot(
            start, start + timedelta(minutes=30), 18.291, "GBP", price_pence_exc_vat=17.42
        )
        expected = {
            "provider": "octopus_agile",
            "region": "C",
            "available": True,
            "valid_from": "2024-05-01T12:00:00Z",
            "valid_to": "2024-05-01T12:30:00Z",
            "price": 18.291,
            "unit": "p/kWh",
            "currency": "GBP",
            "price_major": 0.18291,
            "unit_major": "GBP/kWh",
            "price_exc_vat": 17.42,
            "market_price": 18.291,
            "market_price_major": 0.18291,
            "provisional": False,
            "estimate": False,
            "estimate_low": None,
            "estimate_high": None,
            "source": "octopus_agile",
        }
        assert expected == price_payload("octopus_agile", "C", current, currency="GBP")

    def test_a_formula_price_carries_the_market_price_beside_it(self) -> None:
        """Where a price formula applies, ``price`` is the end price and ``market_price`` the
        source's (both units), so the formula can be audited."""
        start = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
        current = EnergyPriceSlot(
            start, start + timedelta(minutes=15), 29.9345, "EUR", 25.155, market_pence=9.285
        )
        payload = price_payload("de", "DE-LU", current, currency="EUR")
        assert (29.9345, 0.299345, 9.285, 0.09285, 25.155) == (
            payload["price"],
            payload["price_major"],
            payload["market_price"],
            payload["market_price_major"],
            payload["price_exc_vat"],
        )

    def test_missing_slot_is_null_not_zero(self) -> None:
        """No slot gives the same keys with null prices and available false."""
        payload = price_payload("octopus_agile", "C", None, currency="GBP")
        expected = {
            "provider": "octopus_agile",
            "region": "C",
            "available": False,
            "valid_from": None,
            "valid_to": None,
            "price": None,
            "unit": "p/kWh",
            "currency": "GBP",
            "price_major": None,
            "unit_major": "GBP/kWh",
            "price_exc_vat": None,
            "market_price": None,
            "market_price_major": None,
            "provisional": False,
            "estimate": False,
            "estimate_low": None,
            "estimate_high": None,
            "source": None,
        }
        assert expected == payload

    def test_same_keys_either_way(self) -> None:
        """Available and missing payloads have the same keys."""
        full = price_payload("p", "C", slot(0, 10.0), currency="GBP")
        empty = price_payload("p", "C", None, currency="GBP")
        assert sorted(full) == sorted(empty)

    def test_rounding(self) -> None:
        """Prices are rounded to 4 decimals in minor units, 6 in major units."""
        payload = price_payload("p", "C", slot(0, 18.29123456), currency="GBP")
        assert (18.2912, 0.182912) == (payload["price"], payload["price_major"])

    def test_negative_price_kept(self) -> None:
        """Negative prices (Agile plunge pricing) are published as they are."""
        assert -2.5 == price_payload("p", "C", slot(0, -2.5), currency="GBP")["price"]

    def test_currency_units(self) -> None:
        """A EUR slot is in c/kWh and EUR/kWh."""
        payload = price_payload("p", "NL", slot(0, 25.0, "EUR"), currency="EUR")
        expected = ("c/kWh", "EUR", "EUR/kWh")
        assert expected == (payload["unit"], payload["currency"], payload["unit_major"])

    def test_currency_when_missing(self) -> None:
        """Without a slot the given currency names the units."""
        payload = price_payload("p", "NL", None, currency="EUR")
        assert ("c/kWh", "EUR/kWh") == (payload["unit"], payload["unit_major"])

    def test_unknown_currency_is_null(self) -> None:
        """Without a slot and a currency (no plugin loaded) the units are null, not GBP."""
        payload = price_payload("p", "C", None, currency=None)
        expected = (False, None, None, None)
        actual = (payload["available"], payload["unit"], payload["currency"], payload["unit_major"])
        assert expected == actual

    def test_slot_names_its_currency_without_a_provider_one(self) -> None:
        """A stored slot still says its own units when the provider's currency is unknown."""
        payload = price_payload("p", "C", slot(0, 12.0), currency=None)
        assert ("p/kWh", "GBP", 0.12) == (
            payload["unit"],
            payload["currency"],
            payload["price_major"],
        )

    def test_naive_slot_refused(self) -> None:
        """A naive timestamp is an error, not a guess."""
        naive = datetime(2024, 5, 1, 12, 0)
        with pytest.raises(ValueError, match="naive"):
            price_payload("p", "C", EnergyPriceSlot(naive, naive, 1.0), currency="GBP")

    def test_no_time_of_building(self) -> None:
        """The payload is the slot's alone: built twice, the same bytes (no updated_at)."""
        first = dumps(price_payload("p", "C", slot(0, 10.0), currency="GBP"))
        assert "updated_at" not in json.loads(first)
        assert first == dumps(price_payload("p", "C", slot(0, 10.0), currency="GBP"))


class TestUpcomingPayload:
    def test_series(self) -> None:
        """Slots still to come are listed compactly, in time order; past ones dropped."""
        slots = [slot(60, 20.0), slot(-30, 5.0), slot(0, 10.0), slot(30, 15.12345)]
        expected = {
            "provider": "octopus_agile",
            "region": "C",
            "unit": "p/kWh",
            "currency": "GBP",
            "count": 3,
            "slots": [
                {"start": "2024-05-01T12:00:00Z", "end": "2024-05-01T12:30:00Z", "price": 10.0},
                {"start": "2024-05-01T12:30:00Z", "end": "2024-05-01T13:00:00Z", "price": 15.1235},
                {"start": "2024-05-01T13:00:00Z", "end": "2024-05-01T13:30:00Z", "price": 20.0},
            ],
        }
        assert expected == upcoming_payload("octopus_agile", "C", slots, now=NOW, currency="GBP")

    def test_empty(self) -> None:
        """No slots gives an empty list and a count of zero."""
        payload = upcoming_payload("p", "C", [], now=NOW, currency="GBP")
        assert (0, [], "p/kWh") == (payload["count"], payload["slots"], payload["unit"])

    def test_empty_with_unknown_currency(self) -> None:
        """No slots and no known currency: null units, never a guessed GBP."""
        payload = upcoming_payload("p", "C", [], now=NOW, currency=None)
        assert (None, None, 0) == (payload["unit"], payload["currency"], payload["count"])

    def test_mixed_currencies_refused(self) -> None:
        """One unit must describe every price in the list."""
        mixed = [slot(0, 1.0), slot(30, 1.0, "EUR")]
        with pytest.raises(ValueError, match="mix currencies"):
            upcoming_payload("p", "C", mixed, now=NOW, currency="GBP")

    def test_two_days_of_quarter_hours_stays_small(self) -> None:
        """48 hours of 15-minute slots stay well below Home Assistant's 16 KiB attribute cap."""
        start = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
        slots = [
            EnergyPriceSlot(
                start + timedelta(minutes=15 * i), start + timedelta(minutes=15 * (i + 1)), 12.3456
            )
            for i in range(192)
        ]
        assert len(dumps(upcoming_payload("p", "C", slots, now=start, currency="GBP"))) < 16_384


class TestProvidersPayload:
    def test_wraps(self) -> None:
        """A list of provider entries is wrapped with a count (no timestamp)."""
        statuses: list[Any] = [{"id": "octopus_agile", "health": {"state": "ok"}}]
        assert {"providers": statuses, "count": 1} == providers_payload(statuses)

    def test_mapping_kept(self) -> None:
        """An overview mapping keeps its own keys and gains none."""
        overview: Any = {"selected": "octopus_agile", "providers": [], "plugins": []}
        assert overview == providers_payload(overview)


class TestHelpers:
    def test_slot_json(self) -> None:
        """One slot in the compact form the upcoming series uses."""
        expected = {"start": "2024-05-01T12:00:00Z", "end": "2024-05-01T12:30:00Z", "price": 1.5}
        assert expected == slot_json(slot(0, 1.5))

    def test_iso_utc_converts_offsets(self) -> None:
        """Aware datetimes in other zones are written in UTC with a Z."""
        moment = datetime(2024, 5, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
        assert "2024-05-01T12:00:00Z" == iso_utc(moment)

    @pytest.mark.parametrize(
        ("currency", "expected"),
        [
            ("GBP", "p"),
            ("EUR", "c"),
            ("usd", "c"),
            ("SEK", "öre"),
            ("XYZ", "minor XYZ"),
            ("JPY", "JPY"),
        ],
    )
    def test_minor_unit(self, currency: str, expected: str) -> None:
        """Minor-unit symbols per currency."""
        assert expected == minor_unit(currency)

    def test_dumps_compact_utf8(self) -> None:
        """dumps writes compact UTF-8 JSON, not ASCII escapes."""
        assert '{"a":[1,2],"b":"£"}'.encode() == dumps({"a": [1, 2], "b": "£"})

    def test_dumps_lone_surrogate(self) -> None:
        """A lone surrogate (a plugin's garbage error text) becomes an ASCII escape, not a crash."""
        assert b'{"error":"bad \\ud800 \\u00a3"}' == dumps({"error": "bad \ud800 £"})

    def test_dumps_datetimes(self) -> None:
        """Aware datetimes are serialised as ISO 8601 UTC."""
        assert b'{"at":"2024-05-01T12:10:00Z"}' == dumps({"at": NOW})

    @pytest.mark.parametrize("value", [float("nan"), float("inf"), object()])
    def test_dumps_refuses_non_json(self, value: object) -> None:
        """NaN, infinities and arbitrary objects are not silently written."""
        with pytest.raises((TypeError, ValueError)):
            dumps({"v": value})

    def test_round_trip(self) -> None:
        """A price payload survives dumps and json.loads unchanged."""
        payload = price_payload("p", "C", slot(0, 10.5), currency="GBP")
        assert payload == json.loads(dumps(payload))
