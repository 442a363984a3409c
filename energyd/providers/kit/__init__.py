"""The plugin kit: the plumbing every market plugin needs, so a plugin holds only its market.

Plugins reach it through ``providers.energy.base`` (the facade, :mod:`energyd.providers.base`),
never by importing ``energyd.providers.kit`` themselves. One concept per module:

- :mod:`.http`: :class:`HttpApi` (status -> error mapping, strict JSON, safe XML, pagination);
- :mod:`.pacing`: :class:`Pacer` (request spacing, a short answer cache per plugin);
- :mod:`.paths`: :func:`compile_path` (JMESPath expressions into JSON answers), :class:`JsonPath`;
- :mod:`.retry`: :class:`RetryPolicy`, :class:`Retrier` (backoff with full jitter, a budget);
- :mod:`.config`: declarative :class:`ConfigFields` -> ``validate_config`` and the JSON schema;
- :mod:`.time`: ISO 8601 / epoch parsing, market days, slot splitting;
- :mod:`.units`: per-MWh wholesale prices -> minor units per kWh;
- :mod:`.zones`: :func:`wall_clock_zones` (prices by local time of day, weekday and month),
  :func:`wall_clock_slots` (slots on the wall clock, exact on clock-change days);
- :mod:`.provider`: :class:`KitProvider`, the base class tying them together;
- :mod:`.testing`: a conformance suite for plugin tests (not re-exported: needs aioresponses).

The kit is contract surface: :data:`KIT_VERSION` grows by one with each release that adds
something a plugin may use (nothing is removed). A plugin says the lowest kit it needs with
``REQUIRES_KIT = <n>`` at module level; on an older kit the loader reports it instead of
loading it.
"""

from __future__ import annotations

from energyd.providers.kit.config import (
    DAEMON_KEYS,
    Choice,
    ConfigFields,
    Field,
    Flag,
    Integer,
    InvalidValue,
    Number,
    Settings,
    Text,
    Url,
    normalise_base_url,
)
from energyd.providers.kit.http import (
    HttpApi,
    HttpResponse,
    error_for_status,
    parse_json,
    parse_retry_after,
    parse_xml,
    rebase_url,
    retry_after_from_headers,
    scrub_url,
)
from energyd.providers.kit.pacing import Pacer
from energyd.providers.kit.paths import JsonPath, PathExpression, compile_path
from energyd.providers.kit.provider import KitProvider
from energyd.providers.kit.retry import NO_RETRY, RETRY_FIELDS, Retrier, RetryPolicy, is_transient
from energyd.providers.kit.time import (
    format_local,
    format_utc,
    from_epoch,
    infer_step,
    local_day_window,
    local_days,
    parse_utc,
    slot_floor,
    slots_from_starts,
    split_into_slots,
    utc_window,
)
from energyd.providers.kit.units import per_kwh_major_to_minor, per_mwh_to_minor_per_kwh
from energyd.providers.kit.version import KIT_VERSION
from energyd.providers.kit.zones import (
    Timezone,
    WallClockZones,
    Zones,
    parse_days,
    parse_local_clock,
    parse_months,
    wall_clock_slots,
    wall_clock_zones,
)

__all__ = [
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
    "InvalidValue",
    "JsonPath",
    "KitProvider",
    "Number",
    "Pacer",
    "PathExpression",
    "Retrier",
    "RetryPolicy",
    "Settings",
    "Text",
    "Timezone",
    "Url",
    "WallClockZones",
    "Zones",
    "compile_path",
    "error_for_status",
    "format_local",
    "format_utc",
    "from_epoch",
    "infer_step",
    "is_transient",
    "local_day_window",
    "local_days",
    "normalise_base_url",
    "parse_days",
    "parse_json",
    "parse_local_clock",
    "parse_months",
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
    "wall_clock_slots",
    "wall_clock_zones",
]
