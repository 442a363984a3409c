"""Currencies and price units: minor units per major unit, unit symbols, rounding.

energyd keeps every price in *minor* units per kWh (pence, cents, öre, ...), as the v1 plugin
contract's ``price_pence`` does, and converts to major units (GBP/kWh, EUR/kWh, SEK/kWh) only
where a consumer wants them (Home Assistant's Energy dashboard, Predbat, EMHASS). How many
minor units make a major one is a property of the currency (ISO 4217 "minor unit" exponent),
never a constant of the daemon.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

__all__ = [
    "MINOR_DIGITS",
    "major_digits",
    "major_display_digits",
    "major_per_kwh",
    "major_unit",
    "minor_exponent",
    "minor_per_kwh",
    "minor_per_major",
    "minor_unit",
    "round_price",
    "to_major",
]

#: Decimal places of a published price in minor units (18.2910 p/kWh: finer than any tariff).
MINOR_DIGITS: Final = 4

#: ISO 4217 currencies whose minor unit is not 1/100 of the major one (exponent 0 or 3).
_EXPONENT: Final[Mapping[str, int]] = {
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}  # fmt: skip
#: The usual name of the minor unit, where one is usual in price displays.
_MINOR_SYMBOL: Final[Mapping[str, str]] = {
    "GBP": "p",
    "EUR": "c",
    "USD": "c",
    "AUD": "c",
    "NZD": "c",
    "CAD": "c",
    "CHF": "Rp",
    "SEK": "öre",
    "NOK": "øre",
    "DKK": "øre",
    "PLN": "gr",
    "CZK": "h",
}


#: Decimal places of the minor unit worth showing in a display (18.29 p, 0.1829 GBP).
_DISPLAY_MINOR_DIGITS: Final = 2


def minor_exponent(currency: str) -> int:
    """The ISO 4217 minor-unit exponent: 2 for GBP, EUR, SEK; 3 for KWD; 0 for JPY."""
    return _EXPONENT.get(currency.upper(), 2)


def minor_per_major(currency: str) -> int:
    """Minor units in one major unit: 100 for GBP, EUR, SEK; 1000 for KWD; 1 for JPY."""
    return int(10 ** minor_exponent(currency))


def to_major(minor: float, currency: str) -> float:
    """A price in minor units as major units (18.29 p -> 0.1829 GBP)."""
    return minor / minor_per_major(currency)


def major_digits(currency: str) -> int:
    """Decimal places of a major-unit price that keep :data:`MINOR_DIGITS` of the minor one."""
    return MINOR_DIGITS + minor_exponent(currency)


def minor_unit(currency: str) -> str:
    """The minor unit's symbol (``p`` for GBP, ``c`` for EUR, ``öre`` for SEK); for a currency
    without a usual symbol, ``"minor " + code`` so the unit is never mistaken for another."""
    code = currency.upper()
    if minor_exponent(code) == 0:
        return code  # the minor unit is the major one
    return _MINOR_SYMBOL.get(code, f"minor {code}")


def major_unit(currency: str) -> str:
    """The major unit: the ISO 4217 code itself (``GBP``, ``EUR``)."""
    return currency.upper()


def major_display_digits(currency: str) -> int:
    """Decimal places to show of a major-unit price: a hundredth of the minor unit
    (4 for GBP/kWh: 0.1829 GBP = 18.29 p; 2 for JPY/kWh; 5 for KWD/kWh)."""
    return _DISPLAY_MINOR_DIGITS + minor_exponent(currency)


def minor_per_kwh(currency: str) -> str:
    """The unit of a price in minor units per kWh: ``p/kWh``, ``c/kWh``, ``öre/kWh``."""
    return f"{minor_unit(currency)}/kWh"


def major_per_kwh(currency: str) -> str:
    """The unit of a price in major units per kWh: ``GBP/kWh``, ``EUR/kWh``, ``SEK/kWh``."""
    return f"{major_unit(currency)}/kWh"


def round_price(value: float | None, digits: int = MINOR_DIGITS) -> float | None:
    """``value`` rounded for publishing; ``None`` for a missing or non-finite value."""
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)
