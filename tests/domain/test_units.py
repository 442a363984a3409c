"""Currencies and price units: ISO 4217 exponents, unit symbols, conversion and rounding."""

from __future__ import annotations

import math

import pytest

from energyd.domain.units import (
    MINOR_DIGITS,
    major_digits,
    major_display_digits,
    major_per_kwh,
    major_unit,
    minor_exponent,
    minor_per_kwh,
    minor_per_major,
    minor_unit,
    round_price,
    to_major,
)


class TestMinorUnits:
    @pytest.mark.parametrize(
        ("currency", "expected"),
        [("GBP", 100), ("EUR", 100), ("SEK", 100), ("usd", 100), ("KWD", 1000), ("JPY", 1)],
    )
    def test_minor_per_major(self, currency: str, expected: int) -> None:
        """How many minor units make a major one follows ISO 4217, never a fixed 100."""
        assert expected == minor_per_major(currency)

    @pytest.mark.parametrize(("currency", "expected"), [("GBP", 2), ("BHD", 3), ("ISK", 0)])
    def test_exponent(self, currency: str, expected: int) -> None:
        """The exponent of a currency; 2 for any code not listed as otherwise."""
        assert expected == minor_exponent(currency)

    def test_unknown_code_has_two_decimals(self) -> None:
        """An unlisted code (a new currency) is taken as hundredths, like most."""
        assert (2, 100) == (minor_exponent("XYZ"), minor_per_major("XYZ"))


class TestUnitNames:
    @pytest.mark.parametrize(
        ("currency", "minor", "major"),
        [
            ("GBP", "p/kWh", "GBP/kWh"),
            ("EUR", "c/kWh", "EUR/kWh"),
            ("SEK", "öre/kWh", "SEK/kWh"),
            ("NOK", "øre/kWh", "NOK/kWh"),
            ("DKK", "øre/kWh", "DKK/kWh"),
            ("JPY", "JPY/kWh", "JPY/kWh"),
            ("XYZ", "minor XYZ/kWh", "XYZ/kWh"),
        ],
    )
    def test_per_kwh(self, currency: str, minor: str, major: str) -> None:
        """Both units of a price per kWh, from the currency alone."""
        assert (minor, major) == (minor_per_kwh(currency), major_per_kwh(currency))

    def test_codes_are_upper_case(self) -> None:
        """A lower-case code still names the unit the ISO way."""
        assert ("EUR", "c") == (major_unit("eur"), minor_unit("eur"))


class TestConversion:
    @pytest.mark.parametrize(
        ("minor", "currency", "expected"),
        [(18.29, "GBP", 0.1829), (25.0, "EUR", 0.25), (1234.0, "KWD", 1.234), (30.0, "JPY", 30.0)],
    )
    def test_to_major(self, minor: float, currency: str, expected: float) -> None:
        """A minor-unit price divided by the currency's own factor."""
        assert math.isclose(expected, to_major(minor, currency))

    @pytest.mark.parametrize(("currency", "expected"), [("GBP", 6), ("KWD", 7), ("JPY", 4)])
    def test_major_digits_keep_the_minor_precision(self, currency: str, expected: int) -> None:
        """A major-unit price keeps MINOR_DIGITS places of the minor unit (GBP: 6 as before)."""
        assert expected == major_digits(currency)
        assert MINOR_DIGITS + minor_exponent(currency) == major_digits(currency)

    @pytest.mark.parametrize(("currency", "expected"), [("GBP", 4), ("EUR", 4), ("JPY", 2)])
    def test_display_digits(self, currency: str, expected: int) -> None:
        """A displayed major-unit price shows hundredths of the minor unit (GBP/kWh: 4)."""
        assert expected == major_display_digits(currency)


class TestRoundPrice:
    def test_rounds_to_minor_digits(self) -> None:
        """By default four decimal places (of the minor unit)."""
        assert 18.2912 == round_price(18.29123456)

    def test_digits_given(self) -> None:
        """Any number of places, e.g. a major-unit price."""
        assert 0.182912 == round_price(0.1829123456, 6)

    @pytest.mark.parametrize("value", [None, math.nan, math.inf, -math.inf])
    def test_missing_or_not_finite_is_none(self, value: float | None) -> None:
        """Nothing to publish is null, never NaN (which is not JSON) and never 0."""
        assert round_price(value) is None

    def test_negative_kept(self) -> None:
        """Negative prices are prices."""
        assert -2.5 == round_price(-2.5)
