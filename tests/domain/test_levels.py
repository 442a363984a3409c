"""Default level bands per currency."""

from __future__ import annotations

import pytest

from energyd.domain.figures import level_for
from energyd.domain.levels import FALLBACK_BANDS, default_bands, has_default_bands


def ladder(currency: str | None) -> list[tuple[str, float | None]]:
    return [(band.name, band.below) for band in default_bands(currency)]


class TestDefaults:
    def test_gbp_as_before(self) -> None:
        """GBP keeps energyd's original bands in p/kWh (the bytes of the level topic too)."""
        expected = [("negative", 0.0), ("cheap", 12.0), ("normal", 20.0), ("expensive", None)]
        assert expected == ladder("GBP")

    def test_eur_in_cents(self) -> None:
        """EUR in c/kWh: cheap below 10, normal below 25."""
        expected = [("negative", 0.0), ("cheap", 10.0), ("normal", 25.0), ("expensive", None)]
        assert expected == ladder("EUR")

    @pytest.mark.parametrize(
        ("currency", "cheap", "normal"),
        [("SEK", 100.0, 250.0), ("NOK", 100.0, 250.0), ("DKK", 75.0, 190.0)],
    )
    def test_nordic_in_ore(self, currency: str, cheap: float, normal: float) -> None:
        """SEK, NOK and DKK in öre/øre per kWh."""
        expected = [("negative", 0.0), ("cheap", cheap), ("normal", normal), ("expensive", None)]
        assert expected == ladder(currency)

    def test_lower_case_code(self) -> None:
        """The code's case does not matter."""
        assert ladder("EUR") == ladder("eur")

    @pytest.mark.parametrize("currency", ["CHF", "JPY", "XYZ", None])
    def test_others_only_know_the_sign(self, currency: str | None) -> None:
        """Without defaults: negative below zero, normal for the rest, nothing called cheap."""
        assert FALLBACK_BANDS == default_bands(currency)
        assert [("negative", 0.0), ("normal", None)] == ladder(currency)

    @pytest.mark.parametrize(("currency", "expected"), [("GBP", True), ("CHF", False)])
    def test_has_defaults(self, currency: str, expected: bool) -> None:
        """Whether a currency has bands of its own."""
        assert expected == has_default_bands(currency)


class TestLevelsOfDefaults:
    @pytest.mark.parametrize(
        ("price", "currency", "expected"),
        [
            (-1.0, "EUR", "negative"),
            (9.99, "EUR", "cheap"),
            (12.0, "EUR", "normal"),
            (25.0, "EUR", "expensive"),
            (12.0, "GBP", "normal"),
            (120.0, "SEK", "normal"),
            (5000.0, "JPY", "normal"),
            (-0.5, "JPY", "negative"),
        ],
    )
    def test_level_for(self, price: float, currency: str, expected: str) -> None:
        """A price is levelled by its own currency's bands."""
        assert expected == level_for(price, default_bands(currency))
