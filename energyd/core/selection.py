"""Provider selection: which configured providers run, with which plugin, region and config.

Also the runtime overrides that ``settings/set`` persists: a flat mapping of dotted keys
(``energy.provider_id``, ``energy.providers.<id>.<key>``) laid over the file/env settings.
Pure functions; the store persists the overrides, the daemon applies them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from energyd.config import DAEMON_KEYS, EnergySettings, ProviderSettings
from energyd.exceptions import ConfigError
from energyd.providers.base import EnergyPriceProvider

__all__ = [
    "ProviderSpec",
    "apply_overrides",
    "check_setting_key",
    "configure_providers",
    "resolve",
]

_PROVIDER_KEY = re.compile(r"^energy\.providers\.([a-z0-9_]+)(?:\.([a-z0-9_]+))?$")


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """One provider that runs: ``key`` is the id in topics and the store."""

    key: str
    plugin_id: str
    region: str
    config: Mapping[str, Any] = field(default_factory=dict)
    selected: bool = False


def resolve(energy: EnergySettings) -> list[ProviderSpec]:
    """The providers that run, selected one first, then by key."""
    specs: list[ProviderSpec] = []
    for key, entry in energy.active().items():
        config = entry.plugin_config()
        specs.append(
            ProviderSpec(
                key=key,
                plugin_id=entry.plugin or key,
                region=str(config.get("region") or ""),
                config=config,
                selected=key == energy.provider_id,
            )
        )
    specs.sort(key=lambda spec: (not spec.selected, spec.key))
    return specs


def configure_providers(
    energy: EnergySettings, plugins: Mapping[str, EnergyPriceProvider]
) -> tuple[EnergySettings, dict[str, str]]:
    """Each provider's config as its plugin checks and normalises it.

    Returns ``energy`` with every config a plugin accepts in that plugin's canonical form
    (``region = "c"`` -> ``"C"``: topics, the store and replies all use it), and the errors of
    the running providers as ``{"energy.providers.<id>.<key>": reason}``. A provider whose
    plugin is not loaded is left as it is (a missing plugin is reported, not a config error).
    """
    errors: dict[str, str] = {}
    running = energy.active()
    providers: dict[str, ProviderSettings] = {}
    for key, entry in energy.providers.items():
        providers[key] = entry
        plugin = plugins.get(entry.plugin or key)
        if plugin is None:
            continue
        config = entry.plugin_config()
        try:
            found = dict(plugin.validate_config(dict(config)))
            if not found:
                config = dict(plugin.normalise_config(dict(config)))
        except Exception:  # a crashing validator is its provider's problem (health says so),
            continue  # not a configuration error
        if found:
            if key in running:
                errors.update({f"energy.providers.{key}.{k}": v for k, v in found.items()})
            continue
        daemon = entry.model_dump(include=set(DAEMON_KEYS), exclude_none=True)
        providers[key] = ProviderSettings.model_validate({**daemon, **config})
    return energy.model_copy(update={"providers": providers}), errors


def check_setting_key(key: str) -> None:
    """Raise :class:`ConfigError` unless ``key`` is a setting that may be changed at run time."""
    if key == "energy.provider_id" or _PROVIDER_KEY.match(key):
        return
    raise ConfigError(
        f"{key!r} cannot be changed at run time "
        "(allowed: energy.provider_id, energy.providers.<id>, energy.providers.<id>.<key>)",
        {key: "not settable"},
    )


def apply_overrides(energy: EnergySettings, overrides: Mapping[str, Any]) -> EnergySettings:
    """Lay ``overrides`` over ``energy`` and validate the result as a whole.

    A ``None`` value under ``energy.providers.<id>.<key>`` removes that key; an object under
    ``energy.providers.<id>`` replaces keys one by one (merge, not replace).
    """
    data = energy.model_dump(mode="python")
    providers: dict[str, dict[str, Any]] = {
        key: dict(value) for key, value in data["providers"].items()
    }
    for key in sorted(overrides):
        value = overrides[key]
        check_setting_key(key)
        if key == "energy.provider_id":
            data["provider_id"] = value
            continue
        match = _PROVIDER_KEY.match(key)
        assert match is not None  # checked above
        provider, field_name = match.group(1), match.group(2)
        entry = providers.setdefault(provider, {})
        if field_name is None:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{key}: expected an object", {key: "expected an object"})
            for sub_key, sub_value in value.items():
                _set(entry, str(sub_key), sub_value)
        else:
            _set(entry, field_name, value)
    data["providers"] = providers
    try:
        return EnergySettings.model_validate(data)
    except ValidationError as exc:
        errors = {
            ".".join(["energy", *(str(p) for p in err["loc"])]): err["msg"] for err in exc.errors()
        }
        raise ConfigError("; ".join(f"{k}: {v}" for k, v in errors.items()), errors) from exc


def _set(entry: dict[str, Any], key: str, value: Any) -> None:
    if value is None:
        entry.pop(key, None)
    else:
        entry[key] = value
