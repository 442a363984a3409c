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
    without a formula.

    The formula starts from the source's price of the energy alone where the slot has one
    (``energy_pence``: Tibber's ``energy`` beside its all-in ``total``), so taxes and VAT the
    source included are not counted twice. A forecast's band goes through it too."""
    if tariff is None:
        return list(slots)
    out = []
    for slot in slots:
        market = slot.price_pence if slot.energy_pence is None else slot.energy_pence
        parts = tariff.parts(market, slot.valid_from)
        low, high = slot.estimate_low_pence, slot.estimate_high_pence
        start = slot.valid_from
        out.append(
            dataclasses.replace(
                slot,
                price_pence=parts.end,
                price_pence_exc_vat=parts.exc_vat,
                market_pence=market,
                estimate_low_pence=None if low is None else tariff.end_price(low, start),
                estimate_high_pence=None if high is None else tariff.end_price(high, start),
            )
        )
    return out
