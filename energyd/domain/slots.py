"""What the domain needs of a price slot, as a Protocol.

The plugin contract's :class:`~energyd.providers.base.EnergyPriceSlot` is the one concrete
slot type (plugins build it, the store returns it); the pure modules of ``energyd.domain``
read slots through this Protocol, so they import nothing from the providers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

__all__ = ["Slot"]


class Slot(Protocol):
    """**Protocol**: one price for ``[valid_from, valid_to)`` (aware UTC), in minor units of
    ``currency`` per kWh."""

    @property
    def valid_from(self) -> datetime: ...

    @property
    def valid_to(self) -> datetime: ...

    @property
    def price_pence(self) -> float: ...

    @property
    def currency(self) -> str: ...

    @property
    def price_pence_exc_vat(self) -> float | None: ...

    @property
    def provisional(self) -> bool:
        """Whether the source may still replace this price."""
        ...

    @property
    def estimate(self) -> bool:
        """Whether this price is a forecast, not one the source has set."""
        ...

    @property
    def estimate_low_pence(self) -> float | None:
        """The low end of a forecast's band, where the source gives one."""
        ...

    @property
    def estimate_high_pence(self) -> float | None:
        """The high end of a forecast's band, where the source gives one."""
        ...

    @property
    def source(self) -> str | None:
        """The fallback provider this price came from (``None``: the provider's own)."""
        ...

    @property
    def market_pence(self) -> float | None:
        """The source's price where a price formula made ``price_pence``; else ``None``."""
        ...

    @property
    def duration(self) -> timedelta: ...

    def contains(self, moment: datetime, /) -> bool: ...
