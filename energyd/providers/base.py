"""What plugins import: the v1 provider contract and the plugin kit, in one module.

Plugins import this module as ``providers.energy.base`` (the path the contract documents) or
as ``energyd.providers.base``; both are the same module object.

- **The v1 contract** (:mod:`energyd.providers.contract`): subclass
  :class:`EnergyPriceProvider` and implement ``get_metadata``, ``validate_config`` and
  ``fetch_prices``; return :class:`EnergyPriceSlot` lists; raise the errors below. A plugin
  written against the contract alone keeps working unchanged.
- **The kit** (:mod:`energyd.providers.kit`, version :data:`KIT_VERSION`): HTTP with the
  status -> error mapping, retries, declarative config fields, time parsing and
  :class:`KitProvider`, so a market plugin holds only its market knowledge. A plugin that
  needs a newer kit than this energyd has declares ``REQUIRES_KIT = <n>``; the loader then
  reports it instead of loading it.
"""

from __future__ import annotations

from energyd.providers.contract import (
    DEFAULT_HTTP_TIMEOUT,
    EnergyPriceProvider,
    EnergyPriceSlot,
    EnergyProviderMetadata,
    HealthState,
    ProviderAuthError,
    ProviderConfigError,
    ProviderConnectionError,
    ProviderDataError,
    ProviderEmptyError,
    ProviderError,
    ProviderFetchError,
    ProviderHealth,
    ProviderNotFoundError,
    ProviderRateLimitError,
    ProviderServerError,
)
from energyd.providers.kit import (
    DAEMON_KEYS,
    KIT_VERSION,
    NO_RETRY,
    RETRY_FIELDS,
    Choice,
    ConfigFields,
    Field,
    Flag,
    HttpApi,
    HttpResponse,
    Integer,
    KitProvider,
    Number,
    Retrier,
    RetryPolicy,
    Settings,
    Text,
    Url,
    error_for_status,
    format_local,
    format_utc,
    from_epoch,
    infer_step,
    is_transient,
    local_day_window,
    local_days,
    normalise_base_url,
    parse_json,
    parse_retry_after,
    parse_utc,
    parse_xml,
    per_kwh_major_to_minor,
    per_mwh_to_minor_per_kwh,
    rebase_url,
    retry_after_from_headers,
    scrub_url,
    slot_floor,
    slots_from_starts,
    split_into_slots,
    utc_window,
)

# -- v1 contract ---------------------------------------------------------------------------
__all__ = [
    "DEFAULT_HTTP_TIMEOUT",
    "EnergyPriceProvider",
    "EnergyPriceSlot",
    "EnergyProviderMetadata",
    "HealthState",
    "ProviderAuthError",
    "ProviderConfigError",
    "ProviderConnectionError",
    "ProviderDataError",
    "ProviderEmptyError",
    "ProviderError",
    "ProviderFetchError",
    "ProviderHealth",
    "ProviderNotFoundError",
    "ProviderRateLimitError",
    "ProviderServerError",
]

#: The names of the v1 contract (behaviour unchanged since the first plugin).
CONTRACT_V1: tuple[str, ...] = tuple(__all__)

# -- kit (version KIT_VERSION) ---------------------------------------------------------------
__all__ += [
    "DAEMON_KEYS",
    "KIT_VERSION",
    "NO_RETRY",
    "RETRY_FIELDS",
    "Choice",
    "ConfigFields",
    "Field",
    "Flag",
    "HttpApi",
    "HttpResponse",
    "Integer",
    "KitProvider",
    "Number",
    "Retrier",
    "RetryPolicy",
    "Settings",
    "Text",
    "Url",
    "error_for_status",
    "format_local",
    "format_utc",
    "from_epoch",
    "infer_step",
    "is_transient",
    "local_day_window",
    "local_days",
    "normalise_base_url",
    "parse_json",
    "parse_retry_after",
    "parse_utc",
    "parse_xml",
    "per_kwh_major_to_minor",
    "per_mwh_to_minor_per_kwh",
    "rebase_url",
    "retry_after_from_headers",
    "scrub_url",
    "slot_floor",
    "slots_from_starts",
    "split_into_slots",
    "utc_window",
]

#: The names of the plugin kit.
KIT: tuple[str, ...] = tuple(name for name in __all__ if name not in CONTRACT_V1)
