"""Home Assistant discovery payloads, checked against the topic/payload contract."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from energyd.api.shapes import PricePayload, payload_key
from energyd.core.selection import check_setting_key
from energyd.mqtt.commands import parse_request
from energyd.mqtt.discovery import (
    HEALTH_STATES,
    DeviceEntities,
    component_removal,
    daemon_discovery_topic,
    device_name_of,
    discovery_messages,
    discovery_topic,
    legacy_topics,
    provider_key_of,
    removal_messages,
    with_removed_components,
    with_retired_components,
)
from energyd.mqtt.handlers import NoArgs, RefreshArgs, SettingsSetArgs
from energyd.mqtt.payloads import dumps, price_payload
from energyd.mqtt.topics import Topics
from energyd.providers.base import EnergyPriceSlot

PREFIX = "homeassistant"
BASE = "energyd"
INSTANCE = "pi"
LEVELS = ("negative", "cheap", "normal", "expensive")
AGILE = DeviceEntities(
    provider_key="octopus_agile",
    region="C",
    plugin_display_name="Octopus Agile",
    plugin_version="1.2.0",
    plugin_id="octopus_agile",
    currency="GBP",
    regions=tuple("ABCDEFGHJKLMNP"),
    region_names={"C": "London", "J": "South Eastern", "D": "Merseyside & North Wales"},
    levels=LEVELS,
    windows=("overnight", "evening_peak", "cheap_3h"),
)
EXPORT = DeviceEntities(
    provider_key="octopus_agile_export",
    region="C",
    plugin_display_name="Octopus Agile",
    plugin_version="1.2.0",
    plugin_id="octopus_agile",
    currency="GBP",
)

# -- the contract (/tmp/shapes.md and README "MQTT topics"), as data -----------------------


def keys(names: str) -> set[str]:
    return set(names.split())


PRICE_KEYS = keys(
    "provider region available valid_from valid_to price unit currency price_major unit_major "
    "price_exc_vat"
)
DAY_KEYS = keys("provider region date start end complete available unit currency count slots")
STATS_KEYS = keys(
    "provider region period start end complete count unit currency min max mean median min_at "
    "max_at"
)
LEVEL_KEYS = keys("provider region level price valid_from valid_to rank percentile bands")
WINDOW_KEYS = keys(
    "name provider region mode minutes contiguous period_start period_end available start end "
    "mean active slots"
)
PREDBAT_KEYS = keys("raw_today raw_tomorrow")
UPCOMING_KEYS = keys("provider region unit currency count slots")
SETTINGS_KEYS = keys("provider_id providers plugin region regions enabled")
PROVIDERS_KEYS = keys(
    "selected providers plugins id plugin region display_name version health "
    "state message covered_until derived_errors failover"
)

_SEGMENT = r"[^/#+]+"
STATE_SHAPES: list[tuple[str, set[str]]] = [
    (r"status", set()),
    (r"providers", PROVIDERS_KEYS),
    (r"settings", SETTINGS_KEYS),
    (rf"prices/{_SEGMENT}/{_SEGMENT}/(current|next)", PRICE_KEYS),
    (rf"prices/{_SEGMENT}/{_SEGMENT}/upcoming", UPCOMING_KEYS),
    (rf"prices/{_SEGMENT}/{_SEGMENT}/(today|tomorrow)", DAY_KEYS),
    (rf"prices/{_SEGMENT}/{_SEGMENT}/stats/(today|tomorrow|next_24h)", STATS_KEYS),
    (rf"prices/{_SEGMENT}/{_SEGMENT}/level", LEVEL_KEYS),
    (rf"prices/{_SEGMENT}/{_SEGMENT}/windows/{_SEGMENT}", WINDOW_KEYS),
    (rf"prices/{_SEGMENT}/{_SEGMENT}/predbat", PREDBAT_KEYS),
]
COMMANDS = keys(
    "refresh providers/status providers/update providers/update-all providers/reload prices "
    "settings/get settings/set health cheapest"
)
#: The topics whose whole payload may become attributes: fixed keys, no series; and the
#: Predbat rates, bounded by their builder (tests/api/test_derived_predbat.py).
BOUNDED_TOPICS = rf"prices/{_SEGMENT}/{_SEGMENT}/(current|next|predbat)"


def state_shape(topic: str, base: str = BASE) -> set[str] | None:
    """The payload keys of a retained topic the daemon serves, or None if it serves none."""
    for pattern, keys in STATE_SHAPES:
        if re.fullmatch(f"{re.escape(base)}/{pattern}", topic):
            return keys
    return None


def served_command(topic: str, base: str = BASE) -> bool:
    prefix = f"{base}/request/"
    return topic.startswith(prefix) and topic[len(prefix) :] in COMMANDS


# -- helpers ------------------------------------------------------------------------------


def build(
    providers: Sequence[DeviceEntities] = (AGILE, EXPORT), **options: Any
) -> dict[str, bytes]:
    options.setdefault("sw_version", "0.1.0")
    options.setdefault("device_name", "energyd")
    options.setdefault("instance", INSTANCE)
    return discovery_messages(PREFIX, Topics(BASE), providers=providers, **options)


def decoded(messages: Mapping[str, bytes]) -> dict[str, dict[str, Any]]:
    return {topic: json.loads(payload) for topic, payload in messages.items()}


def components(messages: Mapping[str, bytes]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(discovery topic, component id, component config) for every component."""
    for topic, payload in decoded(messages).items():
        for component_id, config in payload["cmps"].items():
            yield topic, component_id, config


def component(messages: Mapping[str, bytes], provider_key: str, component_id: str) -> Any:
    return decoded(messages)[discovery_topic(PREFIX, provider_key, instance=INSTANCE)]["cmps"][
        component_id
    ]


def template_keys(template: str) -> set[str]:
    return set(re.findall(r"\.get\('([a-z0-9_]+)'", template))


_MAPPING = re.compile(r"\{% set m = (\{.*?\}) %\}(.*)", re.DOTALL)
_REGION = re.compile(
    r"\{% set r = \(\(value_json\.get\('providers'\) or \{\}\)\.get\('([a-z0-9_]+)'\) or \{\}\)"
    r"\.get\('region'\) %\}\{\{ m\.get\(r, r\) \}\}"
)


def _mapping(template: str) -> tuple[dict[str, str], str]:
    """A template's ``{% set m = {...} %}`` lookup table (JSON syntax) and the rest."""
    found = _MAPPING.fullmatch(template)
    return ({}, template) if found is None else (json.loads(found[1]), found[2])


def render_option(template: str, option: str) -> Any:
    """A select's command template as Home Assistant renders it for ``option`` (the two
    forms energyd writes: ``{{ value }}``, or a lookup ``{{ m.get(value, value) }}``)."""
    table, body = _mapping(template)
    value = table.get(option, option)
    assert 1 == body.count("{{ value }}") + body.count("{{ m.get(value, value) }}")
    return json.loads(
        body.replace("{{ value }}", value).replace("{{ m.get(value, value) }}", value)
    )


def render_region(template: str, settings: Mapping[str, Any]) -> str:
    """The Region select's value template over a ``settings`` payload, as HA renders it."""
    table, body = _mapping(template)
    found = _REGION.fullmatch(body)
    assert found is not None, body
    region = ((settings.get("providers") or {}).get(found[1]) or {}).get("region")
    return str(table.get(region, region))


# -- tests --------------------------------------------------------------------------------


class TestTopics:
    def test_one_device_config_each(self) -> None:
        """The daemon has one device config, and so has every running provider."""
        expected = [
            "homeassistant/device/energyd_pi/config",
            "homeassistant/device/energyd_pi_octopus_agile/config",
            "homeassistant/device/energyd_pi_octopus_agile_export/config",
        ]
        assert expected == list(build())

    def test_named_helpers(self) -> None:
        """discovery_topic and daemon_discovery_topic name the same topics as the builder."""
        expected = [
            daemon_discovery_topic(PREFIX, instance=INSTANCE),
            discovery_topic(PREFIX, "octopus_agile", instance=INSTANCE),
        ]
        assert expected == list(build([AGILE]))

    def test_ids_use_allowed_characters(self) -> None:
        """Object ids (in the topics) and component ids are only [a-zA-Z0-9_-]."""
        allowed = re.compile(r"[a-zA-Z0-9_-]+")
        object_ids = [topic.split("/")[2] for topic in build()]
        component_ids = [component_id for _, component_id, _ in components(build())]
        assert [] == [i for i in object_ids + component_ids if not allowed.fullmatch(i)]

    def test_prefix_and_instance(self) -> None:
        """Another prefix and instance change the topics; the instance is in every id."""
        messages = build([AGILE], instance="kitchen-pi")
        topics = list(
            discovery_messages(
                "ha", Topics(BASE), providers=[AGILE], sw_version="1", instance="kitchen-pi"
            )
        )
        unique_ids = [config["unique_id"] for _, _, config in components(messages)]
        assert [
            "ha/device/energyd_kitchen-pi/config",
            "ha/device/energyd_kitchen-pi_octopus_agile/config",
        ] == topics
        assert all(uid.startswith("energyd_kitchen-pi_") for uid in unique_ids)

    def test_two_instances_share_no_id(self) -> None:
        """Two daemons with the same providers but their own instance share no unique id, no
        device identifier and no discovery topic."""

        def ids(instance: str) -> set[str]:
            messages = build(instance=instance)
            devices = {i for p in decoded(messages).values() for i in p["dev"]["ids"]}
            return set(messages) | devices | {c["unique_id"] for _, _, c in components(messages)}

        assert set() == ids("kitchen") & ids("garage")

    def test_current_price_unique_id(self) -> None:
        """energyd_<instance>_<provider>_<entity>: instance and provider, no region or time."""
        config = component(build([AGILE]), "octopus_agile", "current_price")
        assert "energyd_pi_octopus_agile_current_price" == config["unique_id"]

    @pytest.mark.parametrize("instance", ["", "a b", "a/b", "-a"])
    def test_bad_instance_refused(self, instance: str) -> None:
        """An instance that cannot be part of an id or a topic is an error."""
        with pytest.raises(ValueError, match="instance"):
            build(instance=instance)

    @pytest.mark.parametrize(
        ("prefix", "key"),
        [("homeassistant", "a/b"), ("homeassistant", "a-b"), ("homeassistant", ""), ("ha/#", "a")],
    )
    def test_bad_ids_refused(self, prefix: str, key: str) -> None:
        """A provider key or prefix that cannot make a valid topic or id is an error."""
        with pytest.raises(ValueError, match=r"id|prefix|key"):
            discovery_topic(prefix, key, instance=INSTANCE)

    def test_provider_key_of(self) -> None:
        """Our provider discovery topics give their key back; anything else gives None."""
        topics = [
            "homeassistant/device/energyd_pi_octopus_agile/config",
            "homeassistant/device/energyd_pi/config",
            "homeassistant/device/energyd_octopus_agile/config",
            "homeassistant/sensor/energyd_pi_x/config",
        ]
        assert ["octopus_agile", None, None, None] == [
            provider_key_of(PREFIX, t, instance=INSTANCE) for t in topics
        ]


class TestDevices:
    def test_device_blocks(self) -> None:
        """Every device names itself, has stable identifiers and says it came from energyd."""
        devices = {topic: payload["dev"] for topic, payload in decoded(build()).items()}
        expected = {
            "homeassistant/device/energyd_pi/config": (["energyd_pi"], "energyd", "0.1.0"),
            "homeassistant/device/energyd_pi_octopus_agile/config": (
                ["energyd_pi_octopus_agile"],
                "Octopus Agile (London)",
                "1.2.0",
            ),
            "homeassistant/device/energyd_pi_octopus_agile_export/config": (
                ["energyd_pi_octopus_agile_export"],
                "Octopus Agile octopus_agile_export (C)",
                "1.2.0",
            ),
        }
        assert expected == {t: (d["ids"], d["name"], d["sw"]) for t, d in devices.items()}

    def test_device_named_from_plugin_and_region(self) -> None:
        """Display name and region name; a region the plugin does not name: its code; a
        provider key other than the plugin id: named too; no plugin loaded: the plugin id."""
        moved = DeviceEntities(**{**_fields(AGILE), "region": "J"})
        unnamed = DeviceEntities(**{**_fields(AGILE), "region": "K"})
        export = DeviceEntities(**{**_fields(AGILE), "provider_key": "agile_export"})
        missing = DeviceEntities("spot", "DE-LU", "spot", plugin_id="spot")
        names = [device_name_of(e) for e in (AGILE, moved, unnamed, export, missing)]
        assert [
            "Octopus Agile (London)",
            "Octopus Agile (South Eastern)",
            "Octopus Agile (K)",
            "Octopus Agile agile_export (London)",
            "spot (DE-LU)",
        ] == names

    def test_configuration_url(self) -> None:
        """With a configuration URL every device links to it; without, none has the key."""
        linked = decoded(build(configuration_url="http://pi:8765/")).values()
        plain = decoded(build()).values()
        assert {"http://pi:8765/"} == {p["dev"]["cu"] for p in linked}
        assert all("cu" not in p["dev"] for p in plain)

    def test_providers_hang_off_the_daemon(self) -> None:
        """Provider devices are connected via the daemon's device; the plugin is the model."""
        payload = decoded(build([AGILE]))[
            discovery_topic(PREFIX, "octopus_agile", instance=INSTANCE)
        ]
        assert ("energyd_pi", "Octopus Agile") == (
            payload["dev"]["via_device"],
            payload["dev"]["mdl"],
        )

    def test_origin_availability_qos(self) -> None:
        """Each payload has the origin, availability on <base>/status and QoS 1."""
        payloads = decoded(build(origin_url="https://example.invalid/energyd")).values()
        expected = {
            "o": {"name": "energyd", "sw": "0.1.0", "url": "https://example.invalid/energyd"},
            "avty": [{"t": "energyd/status", "pl_avail": "online", "pl_not_avail": "offline"}],
            "qos": 1,
        }
        assert all(expected == {k: p[k] for k in expected} for p in payloads)

    def test_no_origin_url_by_default(self) -> None:
        """Without a URL the origin carries name and version only."""
        payload = decoded(build([AGILE]))[daemon_discovery_topic(PREFIX, instance=INSTANCE)]
        assert {"name": "energyd", "sw": "0.1.0"} == payload["o"]

    def test_empty_device_name_refused(self) -> None:
        """An empty device name would give entity ids like sensor.none_...: refused."""
        with pytest.raises(ValueError, match="device_name"):
            build(device_name=" ")

    def test_provider_given_twice_refused(self) -> None:
        """The same provider key twice is a caller error, not a silently merged device."""
        with pytest.raises(ValueError, match="twice"):
            build([AGILE, AGILE])


class TestComponents:
    def test_platform_and_unique_id(self) -> None:
        """Every component has a platform and a unique_id no other component has."""
        configs = [config for _, _, config in components(build())]
        unique_ids = [config["unique_id"] for config in configs]
        assert all(config.get("p") for config in configs)
        assert len(unique_ids) == len(set(unique_ids))

    def test_stable_for_the_same_inputs(self) -> None:
        """The same inputs give the same bytes (no time, no randomness)."""
        assert build() == build()

    def test_unique_ids_ignore_region(self) -> None:
        """A region change moves the topics but keeps every unique_id (history survives)."""
        moved = DeviceEntities(**{**_fields(AGILE), "region": "J"})
        before = [c["unique_id"] for _, _, c in components(build([AGILE]))]
        after = [c["unique_id"] for _, _, c in components(build([moved]))]
        topics = {c.get("state_topic") for _, _, c in components(build([moved]))}
        assert before == after
        assert "energyd/prices/octopus_agile/J/current" in topics

    def test_unique_ids_unique_for_awkward_keys(self) -> None:
        """Keys and window names that look like each other's suffixes do not collide."""
        providers = [
            DeviceEntities("a", "C", "P", windows=("x", "x_start", "today")),
            DeviceEntities("a_window_x", "C", "P", windows=("start",)),
            DeviceEntities("a_today", "C", "P", levels=LEVELS, regions=("C",)),
            DeviceEntities("daemon", "C", "P"),
            DeviceEntities("active", "C", "P"),
            DeviceEntities("update", "C", "P"),
        ]
        unique_ids = [c["unique_id"] for _, _, c in components(build(providers))]
        assert len(unique_ids) == len(set(unique_ids))

    def test_prices_are_monetary_per_kwh(self) -> None:
        """Price sensors: monetary, <currency>/kWh, precision 4, never a state_class."""
        eur = DeviceEntities(**{**_fields(AGILE), "currency": "EUR", "provider_key": "eur"})
        monetary = [c for _, _, c in components(build([AGILE, eur])) if _is_monetary(c)]
        units = sorted({c["unit_of_measurement"] for c in monetary})
        assert 16 == len(monetary)  # current, next, 2 x (min, max, mean), per provider
        assert ["EUR/kWh", "GBP/kWh"] == units
        assert all("state_class" not in c for c in monetary)
        assert all(4 == c["suggested_display_precision"] for c in monetary)

    def test_price_templates(self) -> None:
        """current/next read price_major; day figures convert minor units, unknown if null."""
        messages = build([AGILE])
        current = component(messages, "octopus_agile", "current_price")
        today_min = component(messages, "octopus_agile", "today_min_price")
        assert "{{ value_json.get('price_major') }}" == current["value_template"]
        assert (
            "{% set v = value_json.get('min') %}{{ (v / 100) | round(6) if v is number else None }}"
        ) == today_min["value_template"]

    def test_no_zero_for_unknown(self) -> None:
        """No template falls back to a number: unknown renders None."""
        templates = [c.get("value_template", "") for _, _, c in components(build())]
        assert [] == [t for t in templates if re.search(r"default\(|\|\s*(float|int)", t)]

    def test_times_are_timestamps(self) -> None:
        """Window edges and where the known prices end are timestamp sensors."""
        messages = build([AGILE])
        times = [
            c
            for _, cid, c in components(messages)
            if cid.endswith(("_start", "_end")) or cid == "prices_until"
        ]
        assert 7 == len(times)  # 3 windows x 2 + prices_until
        assert all("timestamp" == c["device_class"] for c in times)

    def test_level_and_rank(self) -> None:
        """The level is an enum of the configured bands; the rank a unit-less measurement,
        both read from ``level`` (published at every slot boundary)."""
        messages = build([AGILE])
        level = component(messages, "octopus_agile", "price_level")
        rank = component(messages, "octopus_agile", "current_rank")
        assert ("enum", list(LEVELS)) == (level["device_class"], level["options"])
        assert ("measurement", None) == (rank["state_class"], rank.get("unit_of_measurement"))
        assert level["state_topic"] == rank["state_topic"]
        assert {"rank"} == template_keys(rank["value_template"])

    def test_no_levels_no_level_sensor(self) -> None:
        """Without band names there is no enum sensor (it would have no options)."""
        cmps = decoded(build([EXPORT]))[
            discovery_topic(PREFIX, EXPORT.provider_key, instance=INSTANCE)
        ]["cmps"]
        assert "price_level" not in cmps

    def test_tomorrow_available(self) -> None:
        """tomorrow_available is `available` (the market day is known) of the tomorrow topic."""
        config = component(build([AGILE]), "octopus_agile", "tomorrow_available")
        expected = (
            "binary_sensor",
            "energyd/prices/octopus_agile/C/tomorrow",
            "{{ 'ON' if value_json.get('available') else 'OFF' }}",
        )
        assert expected == (config["p"], config["state_topic"], config["value_template"])

    def test_windows(self) -> None:
        """Each standing window has a start, an end and an in-window binary sensor."""
        found = [
            (cid, c["p"], c["state_topic"])
            for _, cid, c in components(build([AGILE]))
            if cid.startswith("window_overnight")
        ]
        topic = "energyd/prices/octopus_agile/C/windows/overnight"
        expected = [
            ("window_overnight_start", "sensor", topic),
            ("window_overnight_end", "sensor", topic),
            ("window_overnight_active", "binary_sensor", topic),
        ]
        assert expected == found

    def test_predbat_rates_sensor(self) -> None:
        """One Predbat rates sensor per provider: the predbat payload (raw_today /
        raw_tomorrow) as its attributes, the number of rates as its state; no unit."""
        config = component(build([AGILE]), "octopus_agile", "predbat_rates")
        topic = "energyd/prices/octopus_agile/C/predbat"
        assert ("sensor", "Predbat rates", topic, topic) == (
            config["p"],
            config["name"],
            config["state_topic"],
            config["json_attributes_topic"],
        )
        assert "energyd_pi_octopus_agile_predbat_rates" == config["unique_id"]
        assert {"raw_today", "raw_tomorrow"} == template_keys(config["value_template"])
        assert "unit_of_measurement" not in config

    def test_diagnostics(self) -> None:
        """Health, problem, prices known until and plugin version are diagnostics on
        <base>/providers."""
        diagnostics = {
            cid: c
            for _, cid, c in components(build([AGILE]))
            if c.get("entity_category") == "diagnostic"
        }
        assert ["health", "problem", "prices_until", "plugin_version"] == list(diagnostics)
        assert {"energyd/providers"} == {c["state_topic"] for c in diagnostics.values()}
        assert list(HEALTH_STATES) == diagnostics["health"]["options"]
        assert "problem" == diagnostics["problem"]["device_class"]

    def test_diagnostics_select_this_provider(self) -> None:
        """The providers templates pick this provider's entry by its id."""
        templates = [
            c["value_template"]
            for _, _, c in components(build([EXPORT]))
            if c.get("state_topic") == "energyd/providers"
        ]
        assert all("p.get('id') == 'octopus_agile_export'" in t for t in templates)

    def test_region_select_needs_regions(self) -> None:
        """A provider whose plugin lists no regions gets no Region select."""
        cmps = decoded(build([EXPORT]))[
            discovery_topic(PREFIX, EXPORT.provider_key, instance=INSTANCE)
        ]["cmps"]
        assert "region" not in cmps

    def test_unsafe_options_dropped(self) -> None:
        """An option that would break the command template's JSON is not offered; a name
        that would is left out (the bare code stays)."""
        odd = DeviceEntities(
            "odd", "C", "P", regions=("C", 'D"', "E\\", "C", "F"), region_names={"F": 'x"y'}
        )
        assert ["C", "F"] == component(build([odd]), "odd", "region")["options"]

    def test_region_options_are_named(self) -> None:
        """Named regions read "C: London"; unnamed ones keep their code; no names at all:
        bare codes and the plain command template."""
        named = component(build([AGILE]), "octopus_agile", "region")
        bare = DeviceEntities("spot", "DE", "Spot", regions=("DE", "FR"))
        plain = component(build([bare]), "spot", "region")
        assert ["A", "B", "C: London", "D: Merseyside & North Wales"] == named["options"][:4]
        assert "J: South Eastern" in named["options"]
        assert (
            ["DE", "FR"],
            '{"key": "energy.providers.spot.region", "value": "{{ value }}"}',
        ) == (
            plain["options"],
            plain["command_template"],
        )

    @pytest.mark.parametrize(
        ("region", "shown"), [("C", "C: London"), ("A", "A"), ("X", "X"), (None, "None")]
    )
    def test_region_state_shows_the_option(self, region: str | None, shown: str) -> None:
        """The select's state is the option of the region in <base>/settings."""
        select = component(build([AGILE]), "octopus_agile", "region")
        settings = {"provider_id": "octopus_agile", "providers": {"octopus_agile": {}}}
        if region is not None:
            settings["providers"]["octopus_agile"]["region"] = region  # type: ignore[index]
        assert shown == render_region(select["value_template"], settings)

    def test_daemon_entities_once(self) -> None:
        """Active provider and Update plugins live on the daemon device only, once."""
        daemon = decoded(build())[daemon_discovery_topic(PREFIX, instance=INSTANCE)]["cmps"]
        everywhere = [cid for _, cid, _ in components(build())]
        assert ["active_provider", "update_providers"] == list(daemon)
        assert 1 == everywhere.count("active_provider")
        assert ["octopus_agile", "octopus_agile_export"] == daemon["active_provider"]["options"]

    def test_active_provider_options_given(self) -> None:
        """provider_keys, when given, are the Active provider options."""
        daemon = decoded(build([AGILE], provider_keys=["b", "a"]))[
            daemon_discovery_topic(PREFIX, instance=INSTANCE)
        ]
        assert ["b", "a"] == daemon["cmps"]["active_provider"]["options"]


class TestServedTopics:
    def test_state_topics_are_served(self) -> None:
        """Every state and attributes topic is one the daemon publishes."""
        topics = {
            value
            for _, _, c in components(build())
            for key, value in c.items()
            if key in ("state_topic", "json_attributes_topic")
        }
        availability = {a["t"] for p in decoded(build()).values() for a in p["avty"]}
        assert [] == sorted(t for t in topics | availability if state_shape(t) is None)

    def test_command_topics_are_served(self) -> None:
        """Every command topic is a request topic of a command the daemon answers."""
        topics = {c["command_topic"] for _, _, c in components(build()) if "command_topic" in c}
        assert {
            "energyd/request/refresh",
            "energyd/request/settings/set",
            "energyd/request/providers/update-all",
        } == topics
        assert all(served_command(t) for t in topics)

    def test_template_keys_exist(self) -> None:
        """Every key a value template reads is in its topic's payload shape."""
        provider_keys = {"octopus_agile", "octopus_agile_export"}
        unknown = []
        for _, cid, c in components(build()):
            shape = state_shape(c["state_topic"]) if "state_topic" in c else set()
            allowed = (shape or set()) | provider_keys
            missing = template_keys(c.get("value_template", "")) - allowed
            if missing:
                unknown.append((cid, sorted(missing)))
        assert [] == unknown

    def test_shape_helper(self) -> None:
        """The shape helper itself tells served topics from others."""
        topics = [
            "energyd/prices/p/C/stats/next_24h",
            "energyd/prices/p/C/windows/overnight",
            "energyd/prices/p/C/stats/yesterday",
            "energyd/prices/p/C/forecast",
            "other/providers",
        ]
        assert [True, True, False, False, False] == [state_shape(t) is not None for t in topics]

    def test_attributes_bounded(self) -> None:
        """Attributes come only from current/next, whose payload is small whatever the data,
        and from predbat (sized in tests/api/test_derived_predbat.py)."""
        attribute_topics = {
            c["json_attributes_topic"]
            for _, _, c in components(build())
            if "json_attributes_topic" in c
        }
        start = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)
        slot = EnergyPriceSlot(start, start + timedelta(minutes=30), -123456.123456, "GBP", 1e6)
        biggest = dumps(price_payload("p" * 200, "r" * 200, slot, currency="GBP"))
        assert all(re.fullmatch(f"{BASE}/{BOUNDED_TOPICS}", t) for t in attribute_topics)
        assert 6 == len(attribute_topics)
        assert len(biggest) < 16_384

    def test_payloads_reasonably_small(self) -> None:
        """A provider with three windows stays well under 16 KB of discovery config."""
        sizes = [len(payload) for payload in build().values()]
        assert max(sizes) < 16_384


class TestCommands:
    def test_active_provider_command(self) -> None:
        """Choosing a provider sends the settings/set request that selects it."""
        select = decoded(build())[daemon_discovery_topic(PREFIX, instance=INSTANCE)]["cmps"][
            "active_provider"
        ]
        for option in select["options"]:
            request = parse_request(dumps(render_option(select["command_template"], option)))
            args = SettingsSetArgs.model_validate(request.args)
            check_setting_key(str(args.key))
            assert {"energy.provider_id": option} == args.changes()

    def test_region_command(self) -> None:
        """Choosing a region sends the settings/set request for this provider's region."""
        select = component(build([AGILE]), "octopus_agile", "region")
        for option in select["options"]:
            request = parse_request(dumps(render_option(select["command_template"], option)))
            args = SettingsSetArgs.model_validate(request.args)
            check_setting_key(str(args.key))
            code = option.split(": ")[0]
            assert {"energy.providers.octopus_agile.region": code} == args.changes()
            assert code in AGILE.regions

    def test_selects_follow_settings(self) -> None:
        """Both selects read their state from <base>/settings."""
        region = component(build([AGILE]), "octopus_agile", "region")
        active = decoded(build([AGILE]))[daemon_discovery_topic(PREFIX, instance=INSTANCE)]["cmps"][
            "active_provider"
        ]
        assert {"energyd/settings"} == {region["state_topic"], active["state_topic"]}
        assert "{{ value_json.get('provider_id') }}" == active["value_template"]
        assert "get('octopus_agile')" in region["value_template"]

    def test_buttons(self) -> None:
        """Refresh asks for this provider; Update plugins sends the empty update-all request."""
        refresh = component(build([AGILE]), "octopus_agile", "refresh")
        update = decoded(build([AGILE]))[daemon_discovery_topic(PREFIX, instance=INSTANCE)]["cmps"][
            "update_providers"
        ]
        refresh_args = RefreshArgs.model_validate(
            parse_request(refresh["payload_press"].encode()).args
        )
        NoArgs.model_validate(parse_request(update["payload_press"].encode()).args)
        assert "octopus_agile" == refresh_args.provider
        assert ("button", "button") == (refresh["p"], update["p"])


class TestRemoval:
    def test_legacy_topics(self) -> None:
        """The topics of the devices before the instance was in the ids."""
        expected = [
            "homeassistant/device/energyd/config",
            "homeassistant/device/energyd_octopus_agile/config",
        ]
        assert expected == legacy_topics(PREFIX, ["octopus_agile"])

    def test_removal_messages(self) -> None:
        """Removing providers empties their retained device configs."""
        expected = {
            "homeassistant/device/energyd_pi_old/config": b"",
            "homeassistant/device/energyd_pi_older/config": b"",
        }
        assert expected == removal_messages(PREFIX, ["old", "older"], instance=INSTANCE)

    def test_component_removal(self) -> None:
        """A component is removed by its platform alone."""
        assert {"p": "sensor"} == component_removal("sensor")

    def test_lost_components_removed_once(self) -> None:
        """A window dropped from config is removed by {"p": ...}; a gone device by b""."""
        fewer = DeviceEntities(**{**_fields(AGILE), "windows": ("overnight",)})
        previous, current = build(), build([fewer])
        merged = with_removed_components(previous, current)
        agile = json.loads(merged[discovery_topic(PREFIX, "octopus_agile", instance=INSTANCE)])[
            "cmps"
        ]
        removed = {cid: c for cid, c in agile.items() if set(c) == {"p"}}
        assert {
            "window_evening_peak_start": {"p": "sensor"},
            "window_evening_peak_end": {"p": "sensor"},
            "window_evening_peak_active": {"p": "binary_sensor"},
            "window_cheap_3h_start": {"p": "sensor"},
            "window_cheap_3h_end": {"p": "sensor"},
            "window_cheap_3h_active": {"p": "binary_sensor"},
        } == removed
        assert b"" == merged[discovery_topic(PREFIX, "octopus_agile_export", instance=INSTANCE)]
        assert current == with_removed_components(merged, current)

    def test_nothing_lost_nothing_added(self) -> None:
        """With nothing removed, the messages are the current ones unchanged."""
        assert build() == with_removed_components(build(), build())

    def test_retired_components_removed(self) -> None:
        """Components of earlier versions (Last successful fetch) get a removal entry in every
        provider device, the daemon's device none; the rest of each config is unchanged."""
        messages = build()
        retired = with_retired_components(messages)
        daemon = daemon_discovery_topic(PREFIX, instance=INSTANCE)
        assert set(messages) - {daemon} == set(retired)
        for topic, payload in retired.items():
            cmps = json.loads(payload)["cmps"]
            assert {"p": "sensor"} == cmps.pop("last_success")
            assert json.loads(messages[topic])["cmps"] == cmps


def _fields(entities: DeviceEntities) -> dict[str, Any]:
    return {name: getattr(entities, name) for name in entities.__dataclass_fields__}


def _is_monetary(config: Mapping[str, Any]) -> bool:
    return config.get("device_class") == "monetary"


def _in(currency: str | None, key: str = "market") -> DeviceEntities:
    """AGILE's entities under another key and currency."""
    return DeviceEntities(**{**_fields(AGILE), "provider_key": key, "currency": currency})


class TestCurrencyUnits:
    @pytest.mark.parametrize(
        ("currency", "unit", "factor", "digits", "precision"),
        [
            ("GBP", "GBP/kWh", 100, 6, 4),
            ("EUR", "EUR/kWh", 100, 6, 4),
            ("SEK", "SEK/kWh", 100, 6, 4),
            ("KWD", "KWD/kWh", 1000, 7, 5),
            ("JPY", "JPY/kWh", 1, 4, 2),
        ],
    )
    def test_units_follow_the_provider(
        self, currency: str, unit: str, factor: int, digits: int, precision: int
    ) -> None:
        """Every price sensor is in the provider's major unit per kWh; the day figures are
        divided by that currency's minor units per major one."""
        messages = build([_in(currency)])
        monetary = [c for _, _, c in components(messages) if _is_monetary(c)]
        today_min = component(messages, "market", "today_min_price")
        expected = (
            "{% set v = value_json.get('min') %}"
            f"{{{{ (v / {factor}) | round({digits}) if v is number else None }}}}"
        )
        assert 8 == len(monetary)
        assert {unit} == {c["unit_of_measurement"] for c in monetary}
        assert {precision} == {c["suggested_display_precision"] for c in monetary}
        assert expected == today_min["value_template"]

    def test_gbp_bytes_unchanged(self) -> None:
        """A GBP provider's device config is what it was before currencies were followed."""
        gbp = component(build([AGILE]), "octopus_agile", "tomorrow_mean_price")
        expected = {
            "p": "sensor",
            "name": "Tomorrow mean price",
            "unique_id": "energyd_pi_octopus_agile_tomorrow_mean_price",
            "state_topic": "energyd/prices/octopus_agile/C/stats/tomorrow",
            "value_template": (
                "{% set v = value_json.get('mean') %}"
                "{{ (v / 100) | round(6) if v is number else None }}"
            ),
            "device_class": "monetary",
            "unit_of_measurement": "GBP/kWh",
            "suggested_display_precision": 4,
        }
        assert expected == gbp

    def test_unknown_currency_has_no_price_sensors(self) -> None:
        """A provider whose plugin is not loaded: no price sensors in a guessed currency; the
        level, rank, health and controls stay."""
        provider = decoded(build([_in(None)]))[
            discovery_topic(PREFIX, "market", instance=INSTANCE)
        ]["cmps"]
        assert [] == [cid for cid, c in provider.items() if _is_monetary(c)]
        assert {"price_level", "current_rank", "health", "refresh"} <= set(provider)

    def test_template_keys_come_from_the_shapes(self) -> None:
        """A key the templates would read but a payload shape lacks fails at once."""
        assert "price_major" == payload_key(PricePayload, "price_major")
        with pytest.raises(KeyError, match="PricePayload has no key 'price_majr'"):
            payload_key(PricePayload, "price_majr")
