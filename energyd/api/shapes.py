"""The shapes of the published payloads, as TypedDicts (README "MQTT topics"): the price
topics, and the daemon-wide ``providers`` and ``settings``.

Builders (:mod:`energyd.mqtt.payloads`, :mod:`energyd.api.derived`) return these, and Home
Assistant's value templates (:mod:`energyd.mqtt.discovery`) name their keys through
:func:`payload_key`, so a renamed key fails type checking or the tests, not a live Home
Assistant. Key order on the wire is the order the builders write, kept byte-identical. The
replies of the operations are :mod:`energyd.api.replies`.

No payload carries the time it was built (no ``updated_at``): two daemons over the same prices
publish the same bytes, and an unchanged payload is not sent again.

Units follow the provider's currency: ``unit`` is minor units per kWh (``p/kWh``, ``c/kWh``),
``unit_major`` major units (``GBP/kWh``). Both are ``null`` (with ``currency``) only when the
currency is not known: a provider whose plugin is not loaded and with no stored prices.
"""

from __future__ import annotations

from typing import Any, TypedDict

from energyd.core.shapes import ProviderOverview, ProviderState, SharedOverviewReply
from energyd.domain.figures import SlotJson, StatsJson, WindowJson, WindowNowJson
from energyd.domain.health import HealthReportJson, SharedHealthJson
from energyd.domain.units import minor_per_kwh

__all__ = [
    "BandJson",
    "DayPayload",
    "EmhassPayload",
    "HealthReportJson",
    "LevelPayload",
    "PredbatPayload",
    "PredbatValue",
    "PricePayload",
    "ProviderListPayload",
    "ProviderOverview",
    "ProviderSettingsPayload",
    "ProviderStatePayload",
    "ProvidersPayload",
    "SeriesHead",
    "SettingsPayload",
    "SharedHealthJson",
    "SlotJson",
    "StatsPayload",
    "UpcomingPayload",
    "WindowPayload",
    "WindowReply",
    "payload_key",
    "series_head",
]


class SeriesHead(TypedDict):
    """The keys every series payload of one provider/region starts with."""

    provider: str
    region: str
    unit: str | None
    currency: str | None


class PricePayload(TypedDict):
    """``current`` and ``next``: one slot, or nulls with ``available`` false."""

    provider: str
    region: str
    available: bool
    valid_from: str | None
    valid_to: str | None
    price: float | None
    unit: str | None
    currency: str | None
    price_major: float | None
    unit_major: str | None
    price_exc_vat: float | None
    #: The source's price before the price formula (equal to ``price`` without one).
    market_price: float | None
    market_price_major: float | None
    #: The source may still replace this price (false when none is known).
    provisional: bool
    #: A forecast, not a price the source has set; its band where the source gives one.
    estimate: bool
    estimate_low: float | None
    estimate_high: float | None
    #: The provider whose price this is: the feed's own key, or the fallback's that filled
    #: a gap of it (``null`` when no price is known).
    source: str | None


class UpcomingPayload(SeriesHead):
    """``upcoming``: every slot not yet over, compactly."""

    count: int
    slots: list[SlotJson]


class DayPayload(SeriesHead):
    """``today`` / ``tomorrow``: one local calendar day of the market."""

    date: str
    start: str
    end: str
    complete: bool
    available: bool
    count: int
    slots: list[SlotJson]


class HourlyPayload(SeriesHead):
    """``hourly`` (a provider with ``hourly = true``): the hourly averages of the known slots
    from the start of today, each hour of the market's wall clock fully known."""

    count: int
    slots: list[SlotJson]


class StatsPayload(SeriesHead, StatsJson):
    """``stats/<period>``."""

    period: str


class BandJson(TypedDict):
    name: str
    below: float | None


class LevelPayload(SeriesHead):
    """``level``: the current slot's band (``level`` null when no price is known) and its
    rank among today's slots (1: the cheapest; ``percentile``: the share of the others that
    are cheaper, 0 = cheapest, 100 = dearest), published at every slot boundary."""

    level: str | None
    price: float | None
    valid_from: str | None
    valid_to: str | None
    rank: int | None
    percentile: float | None
    bands: list[BandJson]


class WindowPayload(SeriesHead, WindowNowJson):
    """``windows/<name>``: a standing window (with ``active``)."""

    name: str


class WindowReply(SeriesHead, WindowJson):
    """The ``cheapest`` command's reply: a window asked for once (no ``active``)."""

    name: str | None


class PredbatValue(TypedDict):
    """One rate: ``value`` in *major* units per kWh (GBP/kWh, as ``price_major``): Predbat
    multiplies a ``start``/``end``/``value`` rate (the Nord Pool shape) by 100."""

    start: str
    end: str
    value: float | None


class PredbatPayload(TypedDict):
    """``predbat``: the shape Predbat reads from a sensor's ``raw_today`` / ``raw_tomorrow``
    attributes (major units per kWh; compact, to stay within Home Assistant's 16 KiB of
    attributes)."""

    raw_today: list[PredbatValue]
    raw_tomorrow: list[PredbatValue]


class EmhassPayload(TypedDict):
    """``emhass``: one price per step from the current slot on, in major units per kWh."""

    provider: str
    region: str
    start: str | None
    step_minutes: int | None
    unit: str | None
    prices: list[float | None]


#: One running provider on the retained ``providers`` topic: its plugin as loaded and its
#: health as two daemons over the same prices agree on it (the whole report, with this
#: daemon's last attempt and next try, is the ``health`` / ``providers/status`` reply).
ProviderStatePayload = ProviderState


class ProvidersPayload(SharedOverviewReply):
    """``providers`` (retained, daemon-wide): every running provider with its shared health,
    every plugin file (the overview without times only one daemon knows)."""


class ProviderListPayload(TypedDict):
    """:func:`~energyd.mqtt.payloads.providers_payload` of a bare list of providers (the
    daemon publishes the overview, :class:`ProvidersPayload`)."""

    providers: list[ProviderStatePayload]
    count: int


class ProviderSettingsPayload(TypedDict):
    """One running provider in ``settings``: its plugin, region and the plugin's regions."""

    plugin: str
    region: str
    regions: list[str]
    enabled: bool


class SettingsPayload(TypedDict):
    """``settings`` (retained): the selected provider and each running provider's region (the
    state of Home Assistant's selects)."""

    provider_id: str
    providers: dict[str, ProviderSettingsPayload]


def series_head(provider: str, region: str, currency: str | None) -> SeriesHead:
    """The keys every series payload of one provider/region starts with (units ``null``
    when the currency is not known)."""
    return {
        "provider": provider,
        "region": region,
        "unit": None if currency is None else minor_per_kwh(currency),
        "currency": currency,
    }


def payload_key(shape: Any, key: str) -> str:
    """``key`` when the TypedDict ``shape`` has it; ``KeyError`` otherwise (at import time of
    the module that names it, so every test fails rather than a Home Assistant template)."""
    keys: frozenset[str] = shape.__required_keys__ | shape.__optional_keys__
    if key not in keys:
        raise KeyError(f"{shape.__name__} has no key {key!r} (keys: {', '.join(sorted(keys))})")
    return key
