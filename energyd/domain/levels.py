"""Default price level bands per currency (pure data).

A level band names the prices below its ``below`` bound (minor units per kWh, exclusive) and
above the previous band's; the last band has no bound and takes the rest (see
:func:`energyd.domain.figures.level_for`). Which bands apply to a provider is chosen in
:mod:`energyd.core.registry`: the provider's own ``levels``, else the global ``prices.levels``,
else the defaults of its currency here.

The defaults are absolute prices a household would recognise, VAT included as plugins report
them: GBP in p/kWh (energyd's original bands), EUR in c/kWh, and SEK, NOK and DKK in öre/øre
(the EUR bounds at round exchange rates). A currency without defaults gets only what is true
in every currency: ``negative`` below zero, ``normal`` for the rest -- no band is called
cheap or expensive without knowing what the money is worth (configure ``levels`` for it).
Relative positions ("the cheapest third of today") are published exactly by ``stats/*``
(``current_rank``, ``current_percentile``), so they are not guessed into levels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["FALLBACK_BANDS", "PriceBand", "default_bands", "has_default_bands"]


@dataclass(frozen=True, slots=True)
class PriceBand:
    """A price level: prices below ``below`` (minor units per kWh); ``None``: the rest."""

    name: str
    below: float | None = None


def _bands(cheap: float, normal: float) -> tuple[PriceBand, ...]:
    return (
        PriceBand("negative", 0.0),
        PriceBand("cheap", cheap),
        PriceBand("normal", normal),
        PriceBand("expensive"),
    )


#: Bands by ISO 4217 code, bounds in minor units per kWh.
_DEFAULTS: Final[Mapping[str, tuple[PriceBand, ...]]] = {
    "GBP": _bands(12.0, 20.0),  # p/kWh
    "EUR": _bands(10.0, 25.0),  # c/kWh
    "SEK": _bands(100.0, 250.0),  # öre/kWh
    "NOK": _bands(100.0, 250.0),  # øre/kWh
    "DKK": _bands(75.0, 190.0),  # øre/kWh
}

#: For a currency without defaults (or none known): only the sign of the price is known.
FALLBACK_BANDS: Final = (PriceBand("negative", 0.0), PriceBand("normal"))


def has_default_bands(currency: str) -> bool:
    """Whether ``currency`` has bands of its own (else :data:`FALLBACK_BANDS` apply)."""
    return currency.upper() in _DEFAULTS


def default_bands(currency: str | None) -> tuple[PriceBand, ...]:
    """The default bands of ``currency``; :data:`FALLBACK_BANDS` for another or ``None``."""
    if currency is None:
        return FALLBACK_BANDS
    return _DEFAULTS.get(currency.upper(), FALLBACK_BANDS)
