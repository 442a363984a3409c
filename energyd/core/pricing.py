"""Stored (market) prices through a provider's price formula, as every reader gets them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from energyd.domain.tariff import Tariff
from energyd.providers.base import EnergyPriceSlot

__all__ = ["priced"]


def priced(slots: Iterable[EnergyPriceSlot], tariff: Tariff | None) -> list[EnergyPriceSlot]:
    """``slots`` with the end price of ``tariff`` in ``price_pence`` (the market price kept in
    ``market_pence``, the end price without VAT in ``price_pence_exc_vat``); unchanged
    without a formula."""
    if tariff is None:
        return list(slots)
    out = []
    for slot in slots:
        parts = tariff.parts(slot.price_pence, slot.valid_from)
        out.append(
            dataclasses.replace(
                slot,
                price_pence=parts.end,
                price_pence_exc_vat=parts.exc_vat,
                market_pence=slot.price_pence,
            )
        )
    return out
