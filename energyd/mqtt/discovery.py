"""Home Assistant MQTT discovery: the retained device configs (pure; no I/O).

One *device-based* discovery payload per device, at ``<prefix>/device/<object_id>/config``:

- the daemon, object id ``energyd_<instance>``: what is daemon-wide -- the *Active
  provider* select and the *Update provider plugins* button -- exists once, not once per
  provider;
- each running provider, object id ``energyd_<instance>_<provider key>``, linked to the daemon
  device (``via_device``) and named from its plugin and region ("Octopus Energy
  (London)"): its prices, level, rank, standing windows, Predbat rates, health and controls.

Every entity reads a retained topic the daemon already publishes (no state of its own) and
goes unavailable with ``<base>/status``. Unique ids are ``<device object id>_<component id>``:
built from the instance (so two daemons on one broker never share one), the provider key and
the entity only -- never from a region or a time -- so history survives a region change and a
restart. A provider's topics and its device name do contain its region, so its config must be
rebuilt (and re-published) when the region changes.

Templates are null-safe: a JSON ``null`` (or a missing key) renders ``None``, which Home
Assistant takes as *unknown* -- never ``0``. Prices are published in the major unit of the
provider's currency per kWh (``GBP/kWh``, ``EUR/kWh``: what the Energy dashboard wants),
``monetary`` without a state class; a provider whose currency is not known (its plugin is not
loaded) has no price sensors until it is. Templates name payload keys through
:func:`energyd.api.shapes.payload_key`, so they follow the payload shapes.

Attributes: the ``current`` and ``next`` price sensors have a ``json_attributes_topic``
(``<base>/prices/<p>/<r>/current`` and ``.../next``): fixed keys, well under a kilobyte. The
*Predbat rates* sensor takes ``<base>/prices/<p>/<r>/predbat`` as its attributes
(``raw_today`` / ``raw_tomorrow``, what Predbat reads; compact and kept under Home Assistant's
16 KiB by :func:`energyd.api.derived.derive`). Other series stay on their own topics
(``upcoming``, ``today``, ``tomorrow``).

The *Region* select shows the plugin's region names (``C: London``) where it has them and
sends the bare code (``C``) in ``settings/set``; regions without a name stay bare codes.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from energyd.api.shapes import (
    DayPayload,
    LevelPayload,
    PredbatPayload,
    PricePayload,
    ProviderSettingsPayload,
    ProvidersPayload,
    ProviderStatePayload,
    SettingsPayload,
    SharedHealthJson,
    StatsPayload,
    WindowPayload,
    payload_key,
)
from energyd.domain.units import major_digits, major_display_digits, major_per_kwh, minor_per_major
from energyd.mqtt.payloads import dumps
from energyd.mqtt.topics import PriceKind, Topics

__all__ = [
    "HEALTH_STATES",
    "ORIGIN_NAME",
    "RETIRED_COMPONENTS",
    "DeviceEntities",
    "component_removal",
    "daemon_discovery_topic",
    "device_name_of",
    "discovery_messages",
    "discovery_topic",
    "legacy_topics",
    "provider_key_of",
    "region_options",
    "removal_messages",
    "with_removed_components",
    "with_retired_components",
]

ORIGIN_NAME: Final = "energyd"
HEALTH_STATES: Final = ("ok", "waiting", "degraded", "stale", "error", "unknown")
QOS: Final = 1

# The payload keys the templates read (KeyError at import when a shape loses one).
_PRICE_MAJOR: Final = payload_key(PricePayload, "price_major")
_CURRENT_RANK: Final = payload_key(LevelPayload, "rank")
_LEVEL: Final = payload_key(LevelPayload, "level")
_DAY_AVAILABLE: Final = payload_key(DayPayload, "available")
_WINDOW_ACTIVE: Final = payload_key(WindowPayload, "active")
#: Component figure -> key of ``stats/<period>`` (minor units) and of ``windows/<name>``.
_STATS_FIGURES: Final = {name: payload_key(StatsPayload, name) for name in ("min", "max", "mean")}
_WINDOW_EDGES: Final = {name: payload_key(WindowPayload, name) for name in ("start", "end")}
#: ``<base>/providers``: its list, a provider's entry in it and that entry's health.
_PROVIDERS: Final = payload_key(ProvidersPayload, "providers")
_ENTRY_ID: Final = payload_key(ProviderStatePayload, "id")
_ENTRY_HEALTH: Final = payload_key(ProviderStatePayload, "health")
_ENTRY_VERSION: Final = payload_key(ProviderStatePayload, "version")
_HEALTH_STATE: Final = payload_key(SharedHealthJson, "state")
_HEALTH_COVERED: Final = payload_key(SharedHealthJson, "covered_until")
#: Components of earlier versions, by id, with their platform (removed once at start,
#: :func:`with_retired_components`). *Last successful fetch* read a time only one daemon
#: knows (the retained ``providers`` topic no longer carries it); *Prices known until* took
#: its place.
RETIRED_COMPONENTS: Final = {"last_success": "sensor"}
#: ``<base>/settings``: the selected provider, and each provider's region.
_SELECTED: Final = payload_key(SettingsPayload, "provider_id")
_SETTINGS_PROVIDERS: Final = payload_key(SettingsPayload, "providers")
_SETTINGS_REGION: Final = payload_key(ProviderSettingsPayload, "region")
#: ``predbat``: today's and tomorrow's rates (the attributes of the *Predbat rates* sensor).
_PREDBAT_TODAY: Final = payload_key(PredbatPayload, "raw_today")
_PREDBAT_TOMORROW: Final = payload_key(PredbatPayload, "raw_tomorrow")

_OBJECT_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
_ID_PART = re.compile(r"^[a-zA-Z0-9_]+$")  # keys and windows: no '-'
_INSTANCE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$")  # Settings.instance: a host name
# A select option goes into its command template inside a JSON string: no quote, backslash
# or control character can be allowed there.
_SAFE_OPTION = re.compile(r'^[^"\\\x00-\x1f]+$')


@dataclass(frozen=True, slots=True)
class DeviceEntities:
    """What one running provider's device shows: names, units, choices, windows."""

    provider_key: str
    region: str
    plugin_display_name: str
    plugin_version: str | None = None
    #: The plugin's id; a provider key other than it is named in the device name, so two
    #: providers of one plugin (Agile import and export) get two device names.
    plugin_id: str | None = None
    #: The provider's currency (ISO 4217); ``None``: not known (no plugin), no price sensors.
    currency: str | None = None
    #: The plugin's supported regions (options of the *Region* select; none: no select).
    regions: tuple[str, ...] = ()
    #: The plugin's names of its regions (``{"C": "London"}``), for the device name and the
    #: *Region* select; a region without one is shown as its code.
    region_names: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: The configured level band names (options of the *Price level* enum sensor).
    levels: tuple[str, ...] = ()
    #: Names of the standing windows computed for this provider.
    windows: tuple[str, ...] = ()


def _id_part(value: str, what: str) -> str:
    if not _ID_PART.match(value):
        raise ValueError(f"{what} {value!r}: only letters, digits and '_' can go in an id")
    return value


def _object_id(value: str) -> str:
    if not _OBJECT_ID.match(value):
        raise ValueError(f"object id {value!r}: only [a-zA-Z0-9_-]")
    return value


def _device_topic(prefix: str, object_id: str) -> str:
    if not prefix or any(char in prefix for char in "+#\x00") or prefix != prefix.strip("/"):
        raise ValueError(f"discovery prefix {prefix!r}: non-empty, no wildcards, no edge '/'")
    return f"{prefix}/device/{_object_id(object_id)}/config"


def _daemon_id(instance: str) -> str:
    if not _INSTANCE.match(instance):
        raise ValueError(f"instance {instance!r}: only letters, digits, '_' and '-'")
    return f"energyd_{instance}"


def _provider_id(provider_key: str, instance: str) -> str:
    return f"{_daemon_id(instance)}_{_id_part(provider_key, 'provider key')}"


def daemon_discovery_topic(prefix: str, *, instance: str) -> str:
    """``<prefix>/device/energyd_<instance>/config``: the daemon's own device."""
    return _device_topic(prefix, _daemon_id(instance))


def discovery_topic(prefix: str, provider_key: str, *, instance: str) -> str:
    """``<prefix>/device/energyd_<instance>_<provider_key>/config``: one provider's device."""
    return _device_topic(prefix, _provider_id(provider_key, instance))


def provider_key_of(prefix: str, topic: str, *, instance: str) -> str | None:
    """The provider key a discovery topic of ours names, or ``None`` (any other topic).

    For a start-up sweep: subscribe to ``<prefix>/device/+/config`` and empty the retained
    configs of providers that no longer run.
    """
    head, tail = f"{prefix}/device/{_daemon_id(instance)}_", "/config"
    if not (topic.startswith(head) and topic.endswith(tail)):
        return None
    key = topic[len(head) : -len(tail)]
    return key if _ID_PART.match(key) else None


# -- templates ---------------------------------------------------------------------------


def _value(key: str) -> str:
    """The JSON value of ``key``; ``null`` or missing renders ``None`` (unknown)."""
    return f"{{{{ value_json.get('{key}') }}}}"


def _minor_to_major(key: str, currency: str) -> str:
    """A minor-unit figure (p/kWh) in major units (GBP/kWh); anything but a number: unknown."""
    return (
        f"{{% set v = value_json.get('{key}') %}}"
        f"{{{{ (v / {minor_per_major(currency)}) | round({major_digits(currency)})"
        " if v is number else None }}"
    )


def _on_off(key: str) -> str:
    return f"{{{{ 'ON' if value_json.get('{key}') else 'OFF' }}}}"


def _provider_entry(provider_key: str, expression: str) -> str:
    """``expression`` (over ``p``, this provider's entry in ``<base>/providers``), or ``None``."""
    return (
        f"{{% for p in value_json.get('{_PROVIDERS}') or [] "
        f"if p.get('{_ENTRY_ID}') == '{provider_key}' %}}"
        f"{expression}{{% else %}}None{{% endfor %}}"
    )


def _health_of_entry(key: str) -> str:
    """``key`` of the health of ``p`` (a provider's entry in ``<base>/providers``)."""
    return f"(p.get('{_ENTRY_HEALTH}') or {{}}).get('{key}')"


def _settings_region(provider_key: str, labels: Mapping[str, str]) -> str:
    """This provider's region in ``<base>/settings``, as its option (``C: London``)."""
    region = (
        f"((value_json.get('{_SETTINGS_PROVIDERS}') or {{}}).get('"
        + provider_key
        + f"') or {{}}).get('{_SETTINGS_REGION}')"
    )
    if all(code == label for code, label in labels.items()):
        return f"{{{{ {region} }}}}"
    return f"{{% set m = {_literal(labels)} %}}{{% set r = {region} %}}{{{{ m.get(r, r) }}}}"


def _literal(mapping: Mapping[str, str]) -> str:
    """``mapping`` as a Jinja dict literal (JSON's syntax is Jinja's; the strings are safe
    options: no quote, backslash or control character)."""
    return json.dumps(dict(mapping), ensure_ascii=False)


def _set_command(key: str, labels: Mapping[str, str] | None = None) -> str:
    """The ``settings/set`` request a select sends: ``{"key": ..., "value": "<option>"}``;
    with ``labels`` (value -> option), the value its option stands for."""
    if labels is None or all(value == label for value, label in labels.items()):
        return f'{{"key": "{key}", "value": "{{{{ value }}}}"}}'
    values = {label: value for value, label in labels.items()}
    return (
        f"{{% set m = {_literal(values)} %}}"
        f'{{"key": "{key}", "value": "{{{{ m.get(value, value) }}}}"}}'
    )


def _safe_options(values: Iterable[str]) -> list[str]:
    return [value for value in dict.fromkeys(values) if _SAFE_OPTION.match(value)]


def _region_name(entities: DeviceEntities, code: str) -> str | None:
    name = entities.region_names.get(code)
    return name.strip() if isinstance(name, str) and name.strip() else None


def region_options(entities: DeviceEntities) -> dict[str, str]:
    """Region code -> its option in the *Region* select: ``C: London`` where the plugin names
    the region, the bare code otherwise (and where the name cannot be an option)."""
    options: dict[str, str] = {}
    for code in _safe_options(entities.regions):
        name = _region_name(entities, code)
        label = f"{code}: {name}" if name else code
        options[code] = label if _SAFE_OPTION.match(label) else code
    if len(set(options.values())) != len(options):  # two names alike: codes tell them apart
        return {code: code for code in options}
    return options


def device_name_of(entities: DeviceEntities) -> str:
    """The provider's device name: its plugin and region (``Octopus Energy (London)``);
    a provider key other than the plugin's id is named too (``... agile_export (London)``)."""
    name = entities.plugin_display_name.strip() or entities.provider_key
    if entities.plugin_id is not None and entities.provider_key != entities.plugin_id:
        name = f"{name} {entities.provider_key}"
    return f"{name} ({_region_name(entities, entities.region) or entities.region})"


# -- components ----------------------------------------------------------------------------


def _monetary(
    name: str, unique_id: str, topic: str, template: str, currency: str
) -> dict[str, Any]:
    """A price sensor in major units of ``currency`` per kWh."""
    return {
        "p": "sensor",
        "name": name,
        "unique_id": unique_id,
        "state_topic": topic,
        "value_template": template,
        "device_class": "monetary",
        "unit_of_measurement": major_per_kwh(currency),
        "suggested_display_precision": major_display_digits(currency),
    }


def _timestamp(name: str, unique_id: str, topic: str, template: str) -> dict[str, Any]:
    return {
        "p": "sensor",
        "name": name,
        "unique_id": unique_id,
        "state_topic": topic,
        "value_template": template,
        "device_class": "timestamp",
    }


def _price_components(
    entities: DeviceEntities, topics: Topics, uid: str
) -> dict[str, dict[str, Any]]:
    key, region = entities.provider_key, entities.region
    components: dict[str, dict[str, Any]] = {}
    currency = entities.currency
    if currency is not None:
        components.update(_money_components(entities, currency, topics, uid))
    components["current_rank"] = {
        "p": "sensor",
        "name": "Current rank today",
        "unique_id": f"{uid}_current_rank",
        "state_topic": topics.figure(key, region, "level"),
        "value_template": _value(_CURRENT_RANK),
        "state_class": "measurement",
        "icon": "mdi:podium",
    }
    if entities.levels:
        components["price_level"] = {
            "p": "sensor",
            "name": "Price level",
            "unique_id": f"{uid}_price_level",
            "state_topic": topics.figure(key, region, "level"),
            "value_template": _value(_LEVEL),
            "device_class": "enum",
            "options": list(dict.fromkeys(entities.levels)),
            "icon": "mdi:gauge",
        }
    components["tomorrow_available"] = {
        "p": "binary_sensor",
        "name": "Tomorrow available",
        "unique_id": f"{uid}_tomorrow_available",
        "state_topic": topics.figure(key, region, "tomorrow"),
        "value_template": _on_off(_DAY_AVAILABLE),
        "icon": "mdi:calendar-check",
    }
    return components


def _money_components(
    entities: DeviceEntities, currency: str, topics: Topics, uid: str
) -> dict[str, dict[str, Any]]:
    """The price sensors: current and next, today's and tomorrow's min / max / mean."""
    key, region = entities.provider_key, entities.region
    components: dict[str, dict[str, Any]] = {}
    kinds: tuple[tuple[PriceKind, str], ...] = (
        ("current", "Current price"),
        ("next", "Next price"),
    )
    for kind, name in kinds:
        topic = topics.price(key, region, kind)
        component = _monetary(name, f"{uid}_{kind}_price", topic, _value(_PRICE_MAJOR), currency)
        component["json_attributes_topic"] = topic
        components[f"{kind}_price"] = component
    predbat = topics.figure(key, region, "predbat")
    components["predbat_rates"] = {
        "p": "sensor",
        "name": "Predbat rates",
        "unique_id": f"{uid}_predbat_rates",
        "state_topic": predbat,
        # The state: how many rates are known; the rates are the attributes.
        "value_template": (
            f"{{{{ (value_json.get('{_PREDBAT_TODAY}') or []) | count"
            f" + (value_json.get('{_PREDBAT_TOMORROW}') or []) | count }}}}"
        ),
        "json_attributes_topic": predbat,
        "icon": "mdi:battery-clock",
    }
    for period in ("today", "tomorrow"):
        topic = topics.figure(key, region, f"stats/{period}")
        for figure, field in _STATS_FIGURES.items():
            component_id = f"{period}_{figure}_price"
            name = f"{period.capitalize()} {figure} price"
            template = _minor_to_major(field, currency)
            components[component_id] = _monetary(
                name, f"{uid}_{component_id}", topic, template, currency
            )
    return components


def _window_components(
    entities: DeviceEntities, topics: Topics, uid: str
) -> dict[str, dict[str, Any]]:
    components: dict[str, dict[str, Any]] = {}
    for window in dict.fromkeys(entities.windows):
        _id_part(window, "window name")
        topic = topics.figure(entities.provider_key, entities.region, f"windows/{window}")
        label = window.replace("_", " ").capitalize()
        base_id = f"window_{window}"
        for edge, field in _WINDOW_EDGES.items():
            components[f"{base_id}_{edge}"] = _timestamp(
                f"{label} window {edge}", f"{uid}_{base_id}_{edge}", topic, _value(field)
            )
        components[f"{base_id}_active"] = {
            "p": "binary_sensor",
            "name": f"In {label.lower()} window",
            "unique_id": f"{uid}_{base_id}_active",
            "state_topic": topic,
            "value_template": _on_off(_WINDOW_ACTIVE),
            "icon": "mdi:timer-sand",
        }
    return components


def _health_components(
    entities: DeviceEntities, topics: Topics, uid: str
) -> dict[str, dict[str, Any]]:
    key = entities.provider_key
    topic = topics.providers()
    problem = (
        f"{{% set s = {_health_of_entry(_HEALTH_STATE)} %}}"
        "{{ 'None' if s in (none, 'unknown') else ('OFF' if s in ('ok', 'waiting') else 'ON') }}"
    )
    diagnostic = {"entity_category": "diagnostic", "state_topic": topic}
    return {
        "health": {
            "p": "sensor",
            "name": "Health",
            "unique_id": f"{uid}_health",
            "value_template": _provider_entry(key, f"{{{{ {_health_of_entry(_HEALTH_STATE)} }}}}"),
            "device_class": "enum",
            "options": list(HEALTH_STATES),
            "icon": "mdi:heart-pulse",
            **diagnostic,
        },
        "problem": {
            "p": "binary_sensor",
            "name": "Problem",
            "unique_id": f"{uid}_problem",
            "value_template": _provider_entry(key, problem),
            "device_class": "problem",
            **diagnostic,
        },
        "prices_until": {
            "p": "sensor",
            "name": "Prices known until",
            "unique_id": f"{uid}_prices_until",
            "value_template": _provider_entry(
                key, f"{{{{ {_health_of_entry(_HEALTH_COVERED)} }}}}"
            ),
            "device_class": "timestamp",
            "icon": "mdi:calendar-clock",
            **diagnostic,
        },
        "plugin_version": {
            "p": "sensor",
            "name": "Plugin version",
            "unique_id": f"{uid}_plugin_version",
            "value_template": _provider_entry(key, f"{{{{ p.get('{_ENTRY_VERSION}') }}}}"),
            "icon": "mdi:puzzle",
            **diagnostic,
        },
    }


def _control_components(
    entities: DeviceEntities, topics: Topics, uid: str
) -> dict[str, dict[str, Any]]:
    key = entities.provider_key
    components: dict[str, dict[str, Any]] = {
        "refresh": {
            "p": "button",
            "name": "Refresh prices",
            "unique_id": f"{uid}_refresh",
            "command_topic": topics.request("refresh"),
            "payload_press": dumps({"provider": key}).decode(),
            "icon": "mdi:refresh",
        }
    }
    regions = region_options(entities)
    if regions:
        components["region"] = {
            "p": "select",
            "name": "Region",
            "unique_id": f"{uid}_region",
            "options": list(regions.values()),
            "command_topic": topics.request("settings/set"),
            "command_template": _set_command(f"energy.providers.{key}.region", regions),
            "state_topic": topics.settings(),
            "value_template": _settings_region(key, regions),
            "entity_category": "config",
            "icon": "mdi:map-marker",
        }
    return components


def _daemon_components(
    topics: Topics, uid: str, provider_keys: Sequence[str]
) -> dict[str, dict[str, Any]]:
    components: dict[str, dict[str, Any]] = {}
    options = _safe_options(provider_keys)
    if options:
        components["active_provider"] = {
            "p": "select",
            "name": "Active provider",
            "unique_id": f"{uid}_active_provider",
            "options": options,
            "command_topic": topics.request("settings/set"),
            "command_template": _set_command("energy.provider_id"),
            "state_topic": topics.settings(),
            "value_template": _value(_SELECTED),
            "entity_category": "config",
            "icon": "mdi:swap-horizontal",
        }
    components["update_providers"] = {
        "p": "button",
        "name": "Update provider plugins",
        "unique_id": f"{uid}_update_providers",
        "command_topic": topics.request("providers/update-all"),
        "payload_press": "{}",
        "device_class": "update",
        "entity_category": "config",
    }
    return components


# -- devices -------------------------------------------------------------------------------


def _device_payload(
    device: dict[str, Any],
    components: dict[str, dict[str, Any]],
    topics: Topics,
    origin: dict[str, Any],
) -> bytes:
    payload = {
        "dev": device,
        "o": origin,
        "avty": [{"t": topics.status(), "pl_avail": "online", "pl_not_avail": "offline"}],
        "qos": QOS,
        "cmps": components,
    }
    return dumps(payload)


def discovery_messages(
    prefix: str,
    topics: Topics,
    *,
    providers: Sequence[DeviceEntities],
    provider_keys: Sequence[str] | None = None,
    sw_version: str,
    instance: str,
    device_name: str = "energyd",
    origin_url: str | None = None,
    configuration_url: str | None = None,
) -> dict[str, bytes]:
    """Topic -> retained payload: the daemon's device, then one device per provider.

    ``provider_keys`` are the options of the *Active provider* select (default: the keys of
    ``providers``). ``instance`` (``Settings.instance``) goes into every object and unique
    id, so two daemons never share one. ``configuration_url`` (the status page, when HTTP is
    on) is each device's *Visit* link.
    """
    if not device_name.strip():
        raise ValueError("device_name must not be empty (Home Assistant names entities by it)")
    daemon_uid = _daemon_id(instance)
    origin: dict[str, Any] = {"name": ORIGIN_NAME, "sw": sw_version}
    if origin_url:
        origin["url"] = origin_url
    keys = [p.provider_key for p in providers] if provider_keys is None else list(provider_keys)
    link = {"cu": configuration_url} if configuration_url else {}
    messages = {
        daemon_discovery_topic(prefix, instance=instance): _device_payload(
            {
                "ids": [daemon_uid],
                "name": device_name,
                "mf": ORIGIN_NAME,
                "mdl": "Energy price daemon",
                "sw": sw_version,
                **link,
            },
            _daemon_components(topics, daemon_uid, keys),
            topics,
            origin,
        )
    }
    for entities in providers:
        uid = _provider_id(entities.provider_key, instance)
        device: dict[str, Any] = {
            "ids": [uid],
            "name": device_name_of(entities),
            "mf": ORIGIN_NAME,
            "mdl": entities.plugin_display_name,
            "via_device": daemon_uid,
            **link,
        }
        if entities.plugin_version:
            device["sw"] = entities.plugin_version
        components = {
            **_price_components(entities, topics, uid),
            **_window_components(entities, topics, uid),
            **_health_components(entities, topics, uid),
            **_control_components(entities, topics, uid),
        }
        topic = discovery_topic(prefix, entities.provider_key, instance=instance)
        if topic in messages:
            raise ValueError(f"provider {entities.provider_key!r} given twice")
        messages[topic] = _device_payload(device, components, topics, origin)
    return messages


def removal_messages(
    prefix: str, provider_keys: Iterable[str], *, instance: str
) -> dict[str, bytes]:
    """Topic -> ``b""``: empty retained configs that remove these providers' devices."""
    return {discovery_topic(prefix, key, instance=instance): b"" for key in provider_keys}


def legacy_topics(prefix: str, provider_keys: Iterable[str]) -> list[str]:
    """The device configs of versions before the instance went into the ids
    (``<prefix>/device/energyd/config``, ``.../energyd_<key>/config``): emptied once at start,
    so an upgrade leaves no duplicate devices behind."""
    object_ids = ["energyd", *(f"energyd_{_id_part(key, 'provider key')}" for key in provider_keys)]
    return [_device_topic(prefix, object_id) for object_id in object_ids]


def component_removal(platform: str) -> dict[str, str]:
    """The ``cmps`` entry that removes one component from a device: its platform alone."""
    return {"p": platform}


def _components(payload: bytes) -> dict[str, dict[str, Any]]:
    if not payload:
        return {}
    components = json.loads(payload).get("cmps") or {}
    return {k: v for k, v in components.items() if isinstance(v, dict)}


def with_removed_components(
    previous: Mapping[str, bytes], current: Mapping[str, bytes]
) -> dict[str, bytes]:
    """``current``, plus what retires the rest of ``previous`` (both from discovery_messages).

    A device no longer in ``current`` gets ``b""``; a device that lost components (a window
    removed, a provider without regions) keeps them as ``{"p": ...}`` entries, which is how
    Home Assistant is told to remove them. Feed the plain ``current`` back as the next
    ``previous``: removal entries are sent once.
    """
    messages = dict(current)
    for topic, old in previous.items():
        if topic not in current:
            if old:
                messages[topic] = b""
            continue
        gone = {
            component_id: component_removal(config["p"])
            for component_id, config in _components(old).items()
            if component_id not in _components(current[topic]) and set(config) != {"p"}
        }
        if gone:
            payload = json.loads(current[topic])
            payload["cmps"] = {**payload["cmps"], **gone}
            messages[topic] = dumps(payload)
    return messages


def with_retired_components(messages: Mapping[str, bytes]) -> dict[str, bytes]:
    """The provider devices of ``messages`` (from :func:`discovery_messages`) with removal
    entries for the :data:`RETIRED_COMPONENTS` of earlier versions: sent once at start, just
    before ``messages`` themselves, so a device upgraded in place loses them in Home Assistant
    and the configs retained stay the plain ones."""
    retired: dict[str, bytes] = {}
    for topic, message in messages.items():
        payload = json.loads(message)
        if "via_device" not in payload["dev"]:  # the daemon's own device had none of them
            continue
        gone = {cid: component_removal(p) for cid, p in RETIRED_COMPONENTS.items()}
        payload["cmps"] = {**payload["cmps"], **gone}
        retired[topic] = dumps(payload)
    return retired
