"""The JSON shapes :class:`~energyd.core.service.PriceService` builds, as TypedDicts.

The service answers some operations itself (the overview, a window of stored prices, a
plugin's probe, the settings); their shapes live here, below the application layer that
returns them (:mod:`energyd.api.replies` names every reply). The records inside them are
shaped next to the records: :class:`~energyd.domain.records.FetchRunJson`,
:class:`~energyd.domain.records.PluginStatusJson`,
:class:`~energyd.domain.health.HealthReportJson`. Key order on the wire is the order the
builders write.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypeAlias, TypedDict

from energyd.domain.figures import SlotJson
from energyd.domain.health import HealthReportJson, SharedHealthJson
from energyd.domain.records import FetchRunJson, PluginStatusJson

__all__ = [
    "OverviewReply",
    "PriceWindowReply",
    "ProbeJson",
    "ProviderEntry",
    "ProviderOverview",
    "ProviderState",
    "SectionJson",
    "SettingsChangeReply",
    "SettingsReply",
    "SettingsResetReply",
    "SharedOverviewReply",
]

#: One section of the settings as JSON (``energy``, ``mqtt``, ...): a dump of its pydantic
#: model in :mod:`energyd.config`, which is that section's schema (providers carry their
#: plugin's own keys, so ``energy`` has no fixed shape).
SectionJson: TypeAlias = dict[str, Any]


class ProviderEntry(TypedDict):
    """One running provider as the overview and the retained ``providers`` topic describe
    it: its plugin as loaded (each adds its own ``health``)."""

    id: str
    plugin: str
    region: str
    #: The plugin's name of ``region`` (``C`` -> ``London``), null when it names none.
    region_name: str | None
    selected: bool
    display_name: str | None
    version: str | None
    #: The currency of its prices and their unit (``c/kWh``); null without a plugin.
    currency: str | None
    unit: str | None
    #: The price formula as configured (``tariff``), null when prices are the source's.
    tariff: dict[str, Any] | None
    #: Short facts of the plugin about its source (``{"license": ...}``): its ``source_notes``.
    notes: dict[str, str]


class ProviderOverview(ProviderEntry):
    """One running provider in the overview: its plugin as loaded, and its health."""

    health: HealthReportJson


class OverviewReply(TypedDict):
    """:meth:`PriceService.overview`: the ``providers/status`` reply."""

    selected: str
    providers: list[ProviderOverview]
    plugins: list[PluginStatusJson]


class ProviderState(ProviderEntry):
    """One running provider as :meth:`PriceService.shared_overview` has it: its health as
    two daemons over the same prices agree on it (no times only this daemon knows)."""

    health: SharedHealthJson


class SharedOverviewReply(TypedDict):
    """:meth:`PriceService.shared_overview`: the overview without times only this daemon
    knows (the retained ``providers`` topic)."""

    selected: str
    providers: list[ProviderState]
    plugins: list[PluginStatusJson]


class PriceWindowReply(TypedDict):
    """:meth:`PriceService.price_window`: the ``prices`` reply, stored slots of a window
    (``date``: the market's local day, when one was asked for)."""

    provider: str
    region: str
    currency: str | None
    #: The slots' price unit (``p/kWh``, ``c/kWh``, ``öre/kWh``); ``None`` with no currency.
    unit: str | None
    date: NotRequired[str]
    start: str
    end: str
    slots: list[SlotJson]


class ProbeJson(TypedDict):
    """:meth:`PriceService.probe`: what the plugin's ``health_check`` said (``health`` with
    ``probe``)."""

    state: str
    message: str | None
    latency_ms: float | None


class SettingsReply(TypedDict):
    """:meth:`PriceService.settings_view`: the ``settings/get`` reply, one key per section
    of :class:`energyd.config.Settings` (secrets redacted) and the keys overridden at run
    time."""

    instance: str
    config_dir: str
    energy: SectionJson
    mqtt: SectionJson
    storage: SectionJson
    refresh: SectionJson
    log: SectionJson
    prices: SectionJson
    homeassistant: SectionJson
    http: SectionJson
    overrides: list[str]


class SettingsChangeReply(TypedDict):
    """:meth:`PriceService.change_settings`: the ``settings/set`` reply, the ``energy``
    section as it is now and the fetches the change triggered."""

    energy: SectionJson
    runs: list[FetchRunJson]


class SettingsResetReply(TypedDict):
    """:meth:`PriceService.reset_settings`: the overrides dropped, those still in force, the
    ``energy`` section as it is now and the fetches the reset triggered."""

    reset: list[str]
    overrides: list[str]
    energy: SectionJson
    runs: list[FetchRunJson]
