"""JSON payloads for the retained price, provider and settings topics (pure; no I/O).

Prices are published in minor currency units per kWh (``price``, e.g. pence) and in major
units (``price_major``, e.g. GBP/kWh, the unit Home Assistant's Energy dashboard wants), in
the provider's currency (shapes: :mod:`energyd.api.shapes`).
A missing price is ``null`` with ``"available": false`` -- never ``0``, so an automation
cannot mistake "no data" for "free power". Datetimes are ISO 8601 UTC with a ``Z``.

Nothing here stamps the time a payload was built: the same state gives the same bytes, so two
daemons on one broker publish identical retained topics and the MQTT client skips a payload
that did not change (:meth:`energyd.mqtt.client.MqttClient.publish_retained`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import overload

from energyd.api.shapes import (
    PricePayload,
    ProviderListPayload,
    ProvidersPayload,
    ProviderStatePayload,
    SettingsPayload,
    UpcomingPayload,
    series_head,
)
from energyd.core.selection import ProviderSpec
from energyd.core.shapes import SharedOverviewReply
from energyd.domain.figures import slot_json
from energyd.domain.time import iso_utc
from energyd.domain.units import major_digits, major_per_kwh, minor_unit, round_price, to_major
from energyd.providers.base import EnergyPriceSlot, EnergyProviderMetadata

__all__ = [
    "dumps",
    "iso_utc",
    "minor_unit",
    "price_payload",
    "providers_payload",
    "settings_payload",
    "slot_json",
    "upcoming_payload",
]


def price_payload(
    provider_id: str,
    region: str,
    slot: EnergyPriceSlot | None,
    *,
    currency: str | None,
) -> PricePayload:
    """The self-describing payload of one price topic (``current`` or ``next``).

    ``currency`` (the provider's) is only used when ``slot`` is ``None``; a slot carries its
    own. ``None``: not known (no plugin loaded), so the units are ``null`` too.
    """
    code = slot.currency if slot is not None else currency
    head = series_head(provider_id, region, code)
    payload: PricePayload = {
        "provider": provider_id,
        "region": region,
        "available": False,
        "valid_from": None,
        "valid_to": None,
        "price": None,
        "unit": head["unit"],
        "currency": code,
        "price_major": None,
        "unit_major": None if code is None else major_per_kwh(code),
        "price_exc_vat": None,
        "market_price": None,
        "market_price_major": None,
        "provisional": False,
        "estimate": False,
        "estimate_low": None,
        "estimate_high": None,
        "source": None,
    }
    if slot is None:
        return payload
    price = round_price(slot.price_pence)
    payload["available"] = price is not None
    payload["valid_from"] = iso_utc(slot.valid_from)
    payload["valid_to"] = iso_utc(slot.valid_to)
    payload["price"] = price
    payload["price_major"] = round_price(slot.price_major, major_digits(slot.currency))
    payload["price_exc_vat"] = round_price(slot.price_pence_exc_vat)
    market = slot.market_price_pence
    payload["market_price"] = round_price(market)
    payload["market_price_major"] = round_price(
        to_major(market, slot.currency), major_digits(slot.currency)
    )
    payload["provisional"] = slot.provisional
    payload["estimate"] = slot.estimate
    payload["estimate_low"] = round_price(slot.estimate_low_pence)
    payload["estimate_high"] = round_price(slot.estimate_high_pence)
    payload["source"] = provider_id if slot.source is None else slot.source
    return payload


def upcoming_payload(
    provider_id: str,
    region: str,
    slots: Iterable[EnergyPriceSlot],
    *,
    now: datetime,
    currency: str | None,
) -> UpcomingPayload:
    """The compact series of every slot not yet over at ``now``, in time order.

    ``currency`` (the provider's; ``None``: not known) is only used when there are no slots.
    Slots in different currencies are refused (``ValueError``): one ``unit`` must describe
    every price in the list.
    """
    iso_utc(now)  # refuse a naive ``now`` before comparing with it
    remaining = sorted((s for s in slots if s.valid_to > now), key=lambda s: s.valid_from)
    currencies = {s.currency for s in remaining}
    if len(currencies) > 1:
        raise ValueError(f"slots of {provider_id}/{region} mix currencies {sorted(currencies)}")
    code = currencies.pop() if currencies else currency
    return {
        **series_head(provider_id, region, code),
        "count": len(remaining),
        "slots": [slot_json(s) for s in remaining],
    }


@overload
def providers_payload(statuses: SharedOverviewReply) -> ProvidersPayload: ...
@overload
def providers_payload(statuses: list[ProviderStatePayload]) -> ProviderListPayload: ...
def providers_payload(
    statuses: SharedOverviewReply | list[ProviderStatePayload],
) -> ProvidersPayload | ProviderListPayload:
    """The retained ``providers`` payload from
    :meth:`~energyd.core.service.PriceService.shared_overview`: each provider's health as two
    daemons over the same prices agree on it (no last attempt or success, no next try, no
    loop block) and no time of building, so it changes only when the state does.

    A list of per-provider entries becomes ``{"providers": [...], "count": n}``; a mapping
    (the overview, with its own ``providers`` key: what the daemon publishes) keeps its keys.
    """
    if isinstance(statuses, Mapping):
        return {
            "selected": statuses["selected"],
            "providers": statuses["providers"],
            "plugins": statuses["plugins"],
        }
    return {"providers": statuses, "count": len(statuses)}


def settings_payload(
    provider_id: str, providers: Iterable[tuple[ProviderSpec, EnergyProviderMetadata | None]]
) -> SettingsPayload:
    """The selected provider and each running one (with what its plugin said when loaded;
    ``None``: not loaded, no regions)."""
    return {
        "provider_id": provider_id,
        "providers": {
            spec.key: {
                "plugin": spec.plugin_id,
                "region": spec.region,
                "regions": list(meta.supported_regions) if meta is not None else [],
                "enabled": True,
            }
            for spec, meta in providers
        },
    }


def _default(value: object) -> str:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


#: One encoder for every payload (``json.dumps`` with options builds one per call).
_ENCODER = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
)


def dumps(obj: object) -> bytes:
    """Compact UTF-8 JSON; aware datetimes become ISO 8601 UTC, NaN/Infinity are refused.

    A string with a lone surrogate (say, in a plugin's error message) cannot be UTF-8: then the
    payload is ASCII JSON with ``\\udXXX`` escapes instead, still valid JSON, never an error.
    """
    text = _ENCODER.encode(obj)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False, default=_default).encode()
