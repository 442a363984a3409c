"""What Home Assistant should show of energyd, as the README promises it, and the comparison.

The check's energyd (instance ``hacheck``, HTTP on) has two providers of the Octopus Agile
plugin (octopus_agile with two standing windows, and octopus_agile_export); every device,
entity, state and attribute Home Assistant shows is compared with what energyd publishes on its
retained topics.
"""

import re
from collections.abc import Mapping
from datetime import date, datetime
from datetime import time as dt_time
from typing import Any
from zoneinfo import ZoneInfo

from .sources import Sources
from .values import instant, major, number, when

Result = tuple[bool, str]  # (passed, what was checked and what was seen)

INSTANCE = "hacheck"  # energyd.toml's `instance` (scripts/check-home-assistant writes it)
DAEMON = f"energyd_{INSTANCE}"  # the daemon device's identifier, and every unique id's start
PROVIDER_WINDOWS = {"octopus_agile": ("overnight_3h", "next_2h"), "octopus_agile_export": ()}
PLUGIN = "octopus_agile"  # both providers run it
PLUGIN_NAME = "Octopus Energy"  # its display name: the devices' model and name
REGION_NAMES = {  # its region names (README "Octopus Agile"): device names, Region options
    "A": "Eastern England",
    "B": "East Midlands",
    "C": "London",
    "D": "Merseyside and North Wales",
    "E": "West Midlands",
    "F": "North Eastern England",
    "G": "North Western England",
    "H": "Southern England",
    "J": "South Eastern England",
    "K": "South Wales",
    "L": "South Western England",
    "M": "Yorkshire",
    "N": "Southern Scotland",
    "P": "Northern Scotland",
}
FIGURES = [
    f"{period}_{figure}_price"
    for period in ("today", "tomorrow")
    for figure in ("min", "max", "mean")
]
PLATFORM = {  # unique id suffix (after energyd_<instance>_<provider>_) -> platform
    "current_price": "sensor",
    "next_price": "sensor",
    "predbat_rates": "sensor",
    **dict.fromkeys(FIGURES, "sensor"),
    "current_rank": "sensor",
    "price_level": "sensor",
    "tomorrow_available": "binary_sensor",
    "health": "sensor",
    "problem": "binary_sensor",
    "prices_until": "sensor",
    "plugin_version": "sensor",
    "refresh": "button",
    "region": "select",
}
#: The entities the README names by entity id (unique id suffix -> entity name); Home
#: Assistant makes those ids from the device's and the entity's name when they first appear.
NAMED = {"current_price": "Current price", "predbat_rates": "Predbat rates"}
LONDON = ZoneInfo("Europe/London")


def device_of(key: str) -> str:
    """The identifier (and unique id start) of provider ``key``'s device."""
    return f"{DAEMON}_{key}"


def device_name(key: str, region: str) -> str:
    """Provider ``key``'s device name on ``region``: the plugin's display name, the key when it
    is not the plugin's id, the region's name (``Octopus Energy (London)``)."""
    name = PLUGIN_NAME if key == PLUGIN else f"{PLUGIN_NAME} {key}"
    return f"{name} ({REGION_NAMES.get(region, region)})"


def region_option(code: str) -> str:
    """Region ``code`` as the Region select shows it: ``C: London`` (a code without a name:
    the code)."""
    name = REGION_NAMES.get(code)
    return f"{code}: {name}" if name else code


def entity_id(platform: str, device: str, name: str) -> str:
    """The entity id Home Assistant makes for entity ``name`` of device ``device``
    (``sensor.octopus_energy_agile_london_current_price``)."""
    return f"{platform}." + re.sub(r"[^a-z0-9]+", "_", f"{device} {name}".lower()).strip("_")


def named_entity_ids(regions: Mapping[str, str]) -> dict[str, str]:
    """Unique id -> the entity id the README names it by, for providers that first appeared
    on ``regions`` (provider -> region; the ids stay when the region changes)."""
    return {
        f"{device_of(key)}_{suffix}": entity_id(PLATFORM[suffix], device_name(key, region), name)
        for key, region in regions.items()
        for suffix, name in NAMED.items()
    }


def expected_entities() -> dict[str, tuple[str, str]]:
    """Unique id -> (platform, the identifier of its device), as the README promises them."""
    ids = {
        f"{DAEMON}_active_provider": ("select", DAEMON),
        f"{DAEMON}_update_providers": ("button", DAEMON),
    }
    for key, windows in PROVIDER_WINDOWS.items():
        device = device_of(key)
        ids.update({f"{device}_{suffix}": (p, device) for suffix, p in PLATFORM.items()})
        for window in windows:
            for part, platform in (
                ("start", "sensor"),
                ("end", "sensor"),
                ("active", "binary_sensor"),
            ):
                ids[f"{device}_window_{window}_{part}"] = (platform, device)
    return ids


def compare(
    sources: Sources, regions: Mapping[str, str], selected: str = "octopus_agile"
) -> list[Result]:
    """Registries, states and attributes against energyd's retained topics.

    ``regions``: provider -> the region it should be on; ``selected``: the active provider.
    """
    results: list[Result] = []

    def check(ok: object, what: str) -> None:
        results.append((bool(ok), what))

    mqtt, states = sources.retained(), sources.ha_states()
    entities = [
        e
        for e in sources.registry("core.entity_registry").get("entities", [])
        if e["platform"] == "mqtt"
    ]
    by_uid = {e["unique_id"]: e for e in entities}
    devices = {
        tuple(d["identifiers"][0]): d
        for d in sources.registry("core.device_registry").get("devices", [])
    }

    # devices: the daemon, one per provider linked to it, each linking to the status page
    def described(device: Any) -> dict[str, Any] | None:
        keys = ("name", "manufacturer", "model", "configuration_url")
        return None if device is None else {k: device.get(k) for k in keys}

    link = sources.status_page
    daemon = devices.get(("mqtt", DAEMON))
    wanted: dict[str, Any] = {
        "name": "energyd",
        "manufacturer": "energyd",
        "model": "Energy price daemon",
        "configuration_url": link,
    }
    check(described(daemon) == wanted, f"device {DAEMON}: HA {described(daemon)}")
    for key in PROVIDER_WINDOWS:
        device = devices.get(("mqtt", device_of(key)))
        wanted = {
            "name": device_name(key, regions.get(key, "")),
            "manufacturer": "energyd",
            "model": PLUGIN_NAME,
            "configuration_url": link,
        }
        check(
            described(device) == wanted
            and daemon is not None
            and device is not None
            and device["via_device_id"] == daemon["id"],
            f"device {device_of(key)}, via the daemon's device: HA {described(device)}, "
            f"energyd {wanted}",
        )

    # entities: each expected unique id registered, on the right platform and device
    expected = expected_entities()
    entity_of: dict[str, str] = {}
    for uid, (platform, device_id) in expected.items():
        entry, device = by_uid.get(uid), devices.get(("mqtt", device_id))
        ok = (
            entry is not None
            and entry["entity_id"].startswith(platform + ".")
            and device is not None
            and entry["device_id"] == device["id"]
            and entry["entity_id"] in states
        )
        check(ok, f"entity {uid} ({entry['entity_id'] if entry else 'not registered'})")
        if entry:
            entity_of[uid] = entry["entity_id"]
    extra = sorted(set(by_uid) - set(expected))
    check(not extra, f"no unexpected energyd entities {extra or ''}")

    def state(uid: str) -> Any:
        return states.get(entity_of.get(uid, ""), {"state": None, "attributes": {}})

    def same(
        uid: str,
        actual: object,
        wanted: object,
        what: str | None = None,
        *,
        may_be_unknown: bool = False,
    ) -> None:
        """HA shows what energyd published; ``None`` (unknown) only where energyd can say so."""
        check(
            actual == wanted and (wanted is not None or may_be_unknown),
            f"{entity_of.get(uid, uid)}{' ' + what if what else ''}: "
            f"HA {actual!r}, energyd {wanted!r}",
        )

    # daemon device
    settings = mqtt.get("energyd/settings") or {}
    active = f"{DAEMON}_active_provider"
    same(active, state(active)["state"], selected)
    same(
        active,
        state(active)["attributes"].get("options"),
        list(settings.get("providers") or {}),
        "options",
    )

    providers = {p["id"]: p for p in (mqtt.get("energyd/providers") or {}).get("providers", [])}
    for key, region in regions.items():
        base, uid = f"energyd/prices/{key}/{region}", device_of(key)
        for kind in ("current", "next"):
            payload = mqtt.get(f"{base}/{kind}") or {}
            s = state(f"{uid}_{kind}_price")
            same(f"{uid}_{kind}_price", number(s["state"]), payload.get("price_major"))
            attrs = s["attributes"]
            same(
                f"{uid}_{kind}_price",
                attrs.get("unit_of_measurement"),
                payload.get("unit_major"),
                "unit",
            )
            same(f"{uid}_{kind}_price", attrs.get("device_class"), "monetary", "device_class")
            same(f"{uid}_{kind}_price", attrs.get("region"), region, "region attribute")
            same(
                f"{uid}_{kind}_price",
                attrs.get("valid_from"),
                payload.get("valid_from"),
                "valid_from attribute",
            )
        # Predbat rates: the predbat topic as attributes (each value in GBP/kWh, the
        # price_major of its slot), the number of rates as the state, no unit
        u, predbat = f"{uid}_predbat_rates", mqtt.get(f"{base}/predbat") or {}
        attrs = state(u)["attributes"]
        for day in ("raw_today", "raw_tomorrow"):
            shown, published = attrs.get(day), predbat.get(day)
            check(
                shown == published and published is not None,
                f"{entity_of.get(u, u)} {day} attribute: HA {_rates(shown)}, "
                f"energyd {_rates(published)}{'' if shown == published else ' (not the same)'}",
            )
        count = sum(len(predbat.get(day) or []) for day in ("raw_today", "raw_tomorrow"))
        same(u, number(state(u)["state"]), float(count) if predbat else None)
        same(u, attrs.get("unit_of_measurement"), None, "unit", may_be_unknown=True)
        current = mqtt.get(f"{base}/current") or {}
        rates = [*(attrs.get("raw_today") or []), *(attrs.get("raw_tomorrow") or [])]
        same(
            u,
            [rate.get("value") for rate in rates if rate.get("start") == current.get("valid_from")],
            [current.get("price_major")],
            "rate of the current slot (GBP/kWh: its price_major)",
        )
        for period in ("today", "tomorrow"):
            stats = mqtt.get(f"{base}/stats/{period}") or {}
            for figure in ("min", "max", "mean"):
                u = f"{uid}_{period}_{figure}_price"
                # tomorrow's figures are null until its prices are published (~16:00 UK)
                same(
                    u,
                    number(state(u)["state"]),
                    major(stats.get(figure)),
                    may_be_unknown=period == "tomorrow",
                )
                same(u, state(u)["attributes"].get("unit_of_measurement"), "GBP/kWh", "unit")
        level = mqtt.get(f"{base}/level") or {}  # the rank of now is level's (each boundary)
        rank = number(state(f"{uid}_current_rank")["state"])
        same(f"{uid}_current_rank", rank, level.get("rank"))
        s = state(f"{uid}_price_level")
        same(f"{uid}_price_level", s["state"], level.get("level"))
        same(
            f"{uid}_price_level",
            s["attributes"].get("options"),
            [band["name"] for band in level.get("bands", [])],
            "options",
        )
        tomorrow = mqtt.get(f"{base}/tomorrow") or {}
        same(
            f"{uid}_tomorrow_available",
            state(f"{uid}_tomorrow_available")["state"],
            "on" if tomorrow.get("available") else "off",
        )
        # Agile publishes (~16:00 UK) the prices up to 23:00 UK tomorrow, never to midnight:
        # once they are all known, "Tomorrow available" must say so.
        ends = [instant(slot["end"]) for slot in tomorrow.get("slots", [])]
        horizon = datetime.combine(
            date.fromisoformat(tomorrow.get("date", "1970-01-01")), dt_time(23), tzinfo=LONDON
        )
        if ends and max(ends) >= horizon:
            shown = state(f"{uid}_tomorrow_available")["state"]
            check(
                shown == "on",
                f"{entity_of.get(f'{uid}_tomorrow_available')}: HA {shown!r} although "
                f"tomorrow is published up to {max(ends):%H:%M} UTC, all Agile ever publishes "
                f"(energyd: tomorrow.available={tomorrow.get('available')})",
            )
        for window in PROVIDER_WINDOWS[key]:
            payload = mqtt.get(f"{base}/windows/{window}") or {}
            for edge in ("start", "end"):
                u = f"{uid}_window_{window}_{edge}"
                same(
                    u,
                    when(state(u)["state"]),
                    when(payload.get(edge)),
                    may_be_unknown=not payload.get("available"),
                )
            u = f"{uid}_window_{window}_active"
            same(u, state(u)["state"], "on" if payload.get("active") else "off")
        health = providers.get(key, {}).get("health") or {}
        same(f"{uid}_health", state(f"{uid}_health")["state"], health.get("state"))
        same(f"{uid}_health", state(f"{uid}_health")["state"], "ok", "is ok")
        same(f"{uid}_problem", state(f"{uid}_problem")["state"], "off")
        same(
            f"{uid}_prices_until",
            when(state(f"{uid}_prices_until")["state"]),
            when(health.get("covered_until")),
        )
        same(
            f"{uid}_plugin_version",
            state(f"{uid}_plugin_version")["state"],
            providers.get(key, {}).get("version"),
        )
        # the Region select shows "C: London" (and sends the bare code, see check.py)
        entry = (settings.get("providers") or {}).get(key) or {}
        codes = entry.get("regions")
        name = providers.get(key, {}).get("region_name")
        check(
            entry.get("region") == region and name == REGION_NAMES.get(region),
            f"energyd: {key} on {entry.get('region')!r} ({name!r}), expected {region!r} "
            f"({REGION_NAMES.get(region)!r})",
        )
        same(f"{uid}_region", state(f"{uid}_region")["state"], region_option(region))
        same(
            f"{uid}_region",
            state(f"{uid}_region")["attributes"].get("options"),
            None if codes is None else [region_option(code) for code in codes],
            "options",
        )
    return results


def _rates(rates: object) -> str:
    """A list of Predbat rates, short: how many."""
    return f"{len(rates)} rates" if isinstance(rates, list) else repr(rates)
