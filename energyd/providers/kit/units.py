"""Price units for plugins: wholesale markets quote per MWh, energyd stores minor units per kWh.

``EnergyPriceSlot.price_pence`` holds minor currency units (pence, cents, öre) per kWh.
"""

from __future__ import annotations

import math

__all__ = ["PRICE_DIGITS", "per_kwh_major_to_minor", "per_mwh_to_minor_per_kwh"]

#: Decimal places kept after a conversion, so 92.85 EUR/MWh is exactly 9.285 c/kWh.
PRICE_DIGITS = 6


def per_mwh_to_minor_per_kwh(value: float, minor_per_major: int = 100) -> float:
    """92.85 (EUR/MWh) -> 9.285 (c/kWh): divide by 1000 kWh, multiply by 100 minor units."""
    if not math.isfinite(value):
        raise ValueError(f"price {value!r} is not finite")
    return round(value * minor_per_major / 1000, PRICE_DIGITS)


def per_kwh_major_to_minor(value: float, minor_per_major: int = 100) -> float:
    """0.2451 (EUR/kWh) -> 24.51 (c/kWh)."""
    if not math.isfinite(value):
        raise ValueError(f"price {value!r} is not finite")
    return round(value * minor_per_major, PRICE_DIGITS)
