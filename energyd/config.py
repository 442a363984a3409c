"""Configuration: a TOML file plus ``ENERGYD_*`` environment variables (nested with ``__``).

Precedence, highest first: keyword arguments (tests), environment, the TOML file, defaults.
(Run-time overrides of ``energy.*`` made with ``settings/set`` lie over all of these; the daemon
applies them, logs them at start and drops them on ``settings/reset``.)
A relative ``config_dir`` is taken from the config file's folder when the file sets it, else
from the working directory; a relative ``storage.path`` from ``config_dir``.
The file comes from ``--config PATH`` or ``ENERGYD_CONFIG``. Every key can be set from the
environment, e.g. ``ENERGYD_MQTT__HOST=broker`` or
``ENERGYD_ENERGY__PROVIDERS__OCTOPUS_AGILE__REGION=C``.

Provider entries (``energy.providers.<id>``) are free-form beyond a few common keys; the plugin
validates them with ``validate_config``. ``<id>`` is the id used in topics and the store. It is
the plugin's provider id unless ``plugin = "..."`` names another plugin, which is how one
plugin runs twice (Agile import and Agile Outgoing export side by side).
"""

from __future__ import annotations

import math
import os
import re
import socket
import tomllib
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from energyd.domain.suggest import did_you_mean
from energyd.domain.tariff import FeeZone, Tariff, clock_of, months_of, weekdays_of
from energyd.exceptions import ConfigError

__all__ = [
    "CONFIG_ENV",
    "DAEMON_KEYS",
    "EnergySettings",
    "FeeZoneSettings",
    "HomeAssistantSettings",
    "HttpSettings",
    "LevelBand",
    "LogSettings",
    "MqttSettings",
    "PricesSettings",
    "ProviderSettings",
    "RefreshSettings",
    "Settings",
    "StorageSettings",
    "TariffSettings",
    "WindowSettings",
    "check_levels",
    "client_id_of",
    "default_instance",
    "load_settings",
    "redact",
    "unknown_env_vars",
]

CONFIG_ENV = "ENERGYD_CONFIG"
_ID = re.compile(r"^[a-z0-9_]+$")
_TOPIC_PART = re.compile(r"^[^#+\x00]+$")


#: The keys of a provider entry that are the daemon's, not the plugin's.
DAEMON_KEYS: tuple[str, ...] = (
    "enabled",
    "plugin",
    "levels",
    "tariff",
    "hourly",
    "fallbacks",
    "cross_check",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LevelBand(_Section):
    """A price level: prices below ``below`` (minor units per kWh) and above the previous band.
    The last band has no ``below`` and takes everything above."""

    name: str
    below: float | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("must be lower-case letters, digits and underscores")
        return value


def check_levels(levels: tuple[LevelBand, ...] | None) -> tuple[LevelBand, ...] | None:
    """``levels`` when they make a ladder: every band but the last bounded, bounds rising."""
    if levels is None:
        return None
    if not levels:
        raise ValueError("at least one band")
    bounds = [band.below for band in levels[:-1]]
    if any(bound is None for bound in bounds) or levels[-1].below is not None:
        raise ValueError("every band but the last needs `below`; the last has none")
    numbers = [b for b in bounds if b is not None]
    if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
        raise ValueError("`below` must increase from band to band")
    names = [band.name for band in levels]
    if len(set(names)) != len(names):
        raise ValueError("band names must be unique")
    return levels


class FeeZoneSettings(_Section):
    """A time-of-use fee (``[[energy.providers.<id>.tariff.fees]]``): ``amount`` per kWh in
    minor units for local times ``from`` .. ``to`` on ``days`` in ``months``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    amount: float = Field(allow_inf_nan=False, description="minor currency units per kWh")
    name: str = ""
    start: str = Field(default="00:00", alias="from", description="HH:MM, local wall clock")
    to: str = Field(default="24:00", description="HH:MM (24:00 = midnight); before from: wraps")
    days: str = Field(default="mon-sun", description="mon-fri, sat,sun, fri-mon ...")
    months: str = Field(default="jan-dec", description="oct-mar, jun-aug, jan,dec ...")

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        if clock_of(value) is None:
            raise ValueError("a zone cannot start at 24:00 (use 00:00)")
        return value

    @field_validator("to")
    @classmethod
    def _to(cls, value: str) -> str:
        clock_of(value)
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: str) -> str:
        weekdays_of(value)
        return value

    @field_validator("months")
    @classmethod
    def _months(cls, value: str) -> str:
        months_of(value)
        return value

    def build(self) -> FeeZone:
        start = clock_of(self.start)
        assert start is not None  # checked above
        return FeeZone(
            self.amount,
            start,
            clock_of(self.to),
            weekdays_of(self.days),
            months_of(self.months),
            self.name,
        )


class TariffSettings(_Section):
    """The price formula of one provider (``[energy.providers.<id>.tariff]``); amounts in
    minor currency units per kWh (ct/kWh, øre/kWh, p/kWh). See :mod:`energyd.domain.tariff`."""

    multiplier: float = Field(default=1.0, allow_inf_nan=False)
    adders: dict[str, float] = Field(
        default_factory=dict, description="fixed amounts per kWh by name (grid, tax, margin)"
    )
    fees: tuple[FeeZoneSettings, ...] = ()
    vat_percent: float = Field(default=0.0, ge=0, lt=100, description="19 means 19 %")
    vat_on: Literal["all", "positive"] = "all"
    floor: float | None = Field(default=None, allow_inf_nan=False)
    cap: float | None = Field(default=None, allow_inf_nan=False)
    timezone: str | None = Field(
        default=None, description="zone of the fee times; default: the market's"
    )

    @field_validator("adders")
    @classmethod
    def _adders(cls, value: dict[str, float]) -> dict[str, float]:
        for name, amount in value.items():
            if not math.isfinite(amount):
                raise ValueError(f"{name}: must be a finite number")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{value!r} is not an IANA time zone") from None
        return value

    @model_validator(mode="after")
    def _bounds(self) -> TariffSettings:
        if self.floor is not None and self.cap is not None and self.floor > self.cap:
            raise ValueError("floor must not be above cap")
        return self

    def build(self, market_zone: ZoneInfo) -> Tariff:
        """The formula, its fee times read in ``timezone`` (default ``market_zone``)."""
        return Tariff(
            zone=ZoneInfo(self.timezone) if self.timezone else market_zone,
            multiplier=self.multiplier,
            adders=dict(self.adders),
            fees=tuple(zone.build() for zone in self.fees),
            vat_percent=self.vat_percent,
            vat_on=self.vat_on,
            floor=self.floor,
            cap=self.cap,
        )


class FallbackSettings(_Section):
    """One fallback of a provider: another configured provider (its key) whose prices fill
    the periods this one has none for; ``cross_check`` compares the two where both have one."""

    provider: str
    cross_check: bool = True

    @field_validator("provider")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"provider key {value!r}: lower-case letters, digits, underscores")
        return value


class CrossCheckSettings(_Section):
    """How far a provider's prices and a fallback's may differ (where both price the same
    period) before health says so: more than ``percent`` of the larger price *and* more than
    ``minimum`` (minor units per kWh, so prices near zero do not alarm)."""

    percent: float = Field(default=5.0, gt=0, le=1000, allow_inf_nan=False)
    minimum: float = Field(default=0.5, ge=0, allow_inf_nan=False)


def _fallback_entry(value: Any) -> Any:
    """``"de_entsoe"`` is short for ``{provider = "de_entsoe"}``."""
    return {"provider": value} if isinstance(value, str) else value


class ProviderSettings(BaseModel):
    """One configured provider. Unknown keys are kept and handed to the plugin."""

    model_config = ConfigDict(extra="allow", frozen=True)

    enabled: bool = True
    plugin: str | None = Field(default=None, description="plugin provider id; default: the key")
    region: str | None = None
    levels: tuple[LevelBand, ...] | None = Field(
        default=None, description="this provider's level bands; default: prices.levels"
    )
    tariff: TariffSettings | None = Field(
        default=None, description="the price formula: market price -> the price paid"
    )
    hourly: bool = Field(default=False, description="publish an hourly-average series too")
    fallbacks: tuple[FallbackSettings, ...] = Field(
        default=(), description="providers whose prices fill this one's gaps, in order"
    )
    cross_check: CrossCheckSettings = Field(
        default_factory=CrossCheckSettings,
        description="tolerance of a disagreement with a fallback",
    )

    _levels = field_validator("levels")(check_levels)

    @field_validator("fallbacks", mode="before")
    @classmethod
    def _fallbacks(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(_fallback_entry(item) for item in value)
        return value

    def plugin_config(self) -> dict[str, Any]:
        """Everything the plugin sees (all keys but the daemon's: :data:`DAEMON_KEYS`)."""
        data = self.model_dump(exclude=set(DAEMON_KEYS))
        return {k: v for k, v in data.items() if v is not None}


class EnergySettings(_Section):
    # ``providers`` comes first so that ``provider_id`` can be checked against it.
    # No default region: the plugin asks for one (there is no "most users' region").
    providers: dict[str, ProviderSettings] = Field(
        default_factory=lambda: {"octopus_agile": ProviderSettings()}
    )
    provider_id: str = "octopus_agile"

    @field_validator("providers")
    @classmethod
    def _keys_shape(cls, value: dict[str, ProviderSettings]) -> dict[str, ProviderSettings]:
        for key in value:
            if not _ID.match(key):
                raise ValueError(f"provider key {key!r}: lower-case letters, digits, underscores")
        return value

    @field_validator("provider_id")
    @classmethod
    def _selected_is_configured(cls, value: str, info: ValidationInfo) -> str:
        if not _ID.match(value):
            raise ValueError("must be lower-case letters, digits and underscores")
        providers = info.data.get("providers")
        if providers is not None and value not in providers:
            raise ValueError(f"{value!r} has no [energy.providers.{value}] section")
        return value

    @model_validator(mode="after")
    def _fallbacks_run(self) -> EnergySettings:
        for key, entry in self.providers.items():
            seen: set[str] = set()
            for fallback in entry.fallbacks:
                name = fallback.provider
                where = f"providers.{key}.fallbacks"
                if name == key:
                    raise ValueError(f"{where}: a provider cannot be its own fallback")
                if name in seen:
                    raise ValueError(f"{where}: {name!r} is named twice")
                seen.add(name)
                other = self.providers.get(name)
                if other is None:
                    raise ValueError(f"{where}: {name!r} has no [energy.providers.{name}] section")
                if not other.enabled and name != self.provider_id:
                    raise ValueError(f"{where}: {name!r} is not enabled (a fallback must run)")
        return self

    def active(self) -> dict[str, ProviderSettings]:
        """Providers that run: the selected one always, the others when enabled."""
        return {
            key: entry
            for key, entry in self.providers.items()
            if key == self.provider_id or entry.enabled
        }


#: A share group is one topic level (no ``/``, ``+``, ``#``) and part of Home Assistant ids.
_SHARE_GROUP = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class MqttSettings(_Section):
    host: str = "localhost"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    tls: bool = False
    ca_file: Path | None = None
    tls_insecure: bool = False
    #: ``None``: ``energyd-<instance>`` (see :attr:`Settings.client_id`), so two daemons on one
    #: broker never take each other's session over.
    client_id: str | None = None
    base_topic: str = "energyd"
    discovery_prefix: str = "homeassistant"
    keepalive: int = Field(default=60, ge=5, le=3600)
    reconnect_min_seconds: float = Field(default=1.0, gt=0)
    reconnect_max_seconds: float = Field(default=60.0, gt=0)
    #: Active-active: energyd instances with the same configuration and this group take
    #: commands through the MQTT v5 shared subscription ``$share/<group>/<base>/request/#``
    #: (each request answered by one of them) and announce one Home Assistant device, named
    #: by the group instead of the instance. ``None``: off.
    share_group: str | None = Field(
        default=None, description="MQTT v5 shared subscription group of active-active instances"
    )

    @field_validator("share_group")
    @classmethod
    def _share_group(cls, value: str | None) -> str | None:
        if value is not None and not _SHARE_GROUP.match(value):
            raise ValueError(
                "1 to 32 lower-case letters, digits, '-' or '_', starting with a letter or digit"
            )
        return value

    @field_validator("base_topic", "discovery_prefix")
    @classmethod
    def _topic(cls, value: str) -> str:
        value = value.strip("/")
        if not value or not _TOPIC_PART.match(value):
            raise ValueError("must be a non-empty topic without wildcards")
        return value

    @model_validator(mode="after")
    def _reconnect_ordered(self) -> MqttSettings:
        if self.reconnect_max_seconds < self.reconnect_min_seconds:
            raise ValueError("reconnect_max_seconds must be >= reconnect_min_seconds")
        return self

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str | None) -> str | None:
        if value is not None and (not value or len(value) > 64):
            raise ValueError("must be 1 to 64 characters")
        return value


class StorageSettings(_Section):
    path: Path = Path("energyd.db")
    retention_days: int = Field(default=400, ge=1)


class RefreshSettings(_Section):
    # Day-ahead prices do not change once published: the publication time (and the short
    # cadence after it while the source is late) bring new prices; this refresh only catches
    # a rare correction, and the daily publication fetch re-reads today anyway. Twelve hours
    # keeps a day-ahead feed at 4 calls a day on time, Octopus Agile 5 (bench/bench_calls.py;
    # 6 hours: 5-7, the old 60 minutes: 26-28).
    interval_minutes: float = Field(
        default=720.0, gt=0, description="low-frequency refresh catching late corrections"
    )
    retry_min_seconds: float = Field(default=60.0, gt=0)
    retry_max_seconds: float = Field(default=1800.0, gt=0)
    # While tomorrow is late (the source answers, without it), it is asked about every this
    # many seconds (jittered +-15 %, within retry_min/max) for 3 hours after the usual time,
    # so a publication is stored within 5 minutes; source failures keep the backoff.
    publication_retry_seconds: float = Field(
        default=210.0, gt=0, description="cadence while a publication is late"
    )
    fetch_timeout_seconds: float = Field(
        default=120.0, gt=0, description="bound on one whole fetch, retries included"
    )
    http_timeout_seconds: float = Field(default=30.0, gt=0, description="one HTTP request")
    history_days: int = Field(default=1, ge=0, description="past days fetched when missing")

    @model_validator(mode="after")
    def _ordered(self) -> RefreshSettings:
        if self.retry_max_seconds < self.retry_min_seconds:
            raise ValueError("retry_max_seconds must be >= retry_min_seconds")
        return self


class LogSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "console", "json"] = "auto"


_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class WindowSettings(_Section):
    """A standing window, re-computed whenever prices change and published retained.

    ``earliest`` / ``latest`` are local times of the provider's market ("HH:MM"); a ``latest``
    at or before ``earliest`` means the next day. Without them the window is any time in the
    next 24 hours.
    """

    name: str
    provider: str | None = Field(default=None, description="default: energy.provider_id")
    minutes: int = Field(gt=0, le=24 * 60)
    earliest: str | None = None
    latest: str | None = None
    contiguous: bool = True
    mode: Literal["cheapest", "most_expensive"] = "cheapest"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("must be lower-case letters, digits and underscores")
        return value

    @field_validator("earliest", "latest")
    @classmethod
    def _clock(cls, value: str | None) -> str | None:
        if value is not None and not _HHMM.match(value):
            raise ValueError('must be a local time "HH:MM"')
        return value


class PricesSettings(_Section):
    #: Level bands for every provider without ``levels`` of its own; ``None``: the defaults
    #: of each provider's currency (:func:`energyd.domain.levels.default_bands`).
    levels: tuple[LevelBand, ...] | None = None
    windows: tuple[WindowSettings, ...] = ()

    _levels = field_validator("levels")(check_levels)

    @model_validator(mode="after")
    def _consistent(self) -> PricesSettings:
        names = [w.name for w in self.windows]
        if len(set(names)) != len(names):
            raise ValueError("windows: names must be unique")
        return self


class HomeAssistantSettings(_Section):
    """MQTT discovery for Home Assistant (prefix: ``mqtt.discovery_prefix``)."""

    discovery: bool = True
    device_name: str = "energyd"


class HttpSettings(_Section):
    """The HTTP server (health, metrics, management API, status page)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    token: SecretStr | None = None


_INSTANCE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def default_instance() -> str:
    """The host name, made fit for client ids and unique ids (``My-Pi.lan`` -> ``my-pi``)."""
    name = socket.gethostname().split(".")[0].lower()
    name = re.sub(r"[^a-z0-9_-]+", "-", name).strip("-_")[:32]
    return name or "energyd"


def client_id_of(mqtt: MqttSettings, instance: str) -> str:
    """``mqtt.client_id``, default ``energyd-<instance>`` (never a random one: the broker
    would not keep the session)."""
    return mqtt.client_id or f"energyd-{instance}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ENERGYD_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    _toml_file: ClassVar[Path | None] = None

    #: This daemon's name among others on one broker: part of the MQTT client id and of every
    #: Home Assistant unique id (default: the host name).
    instance: str = Field(default_factory=default_instance)
    config_dir: Path = Path("/var/lib/energyd")
    energy: EnergySettings = EnergySettings()
    mqtt: MqttSettings = MqttSettings()
    storage: StorageSettings = StorageSettings()
    refresh: RefreshSettings = RefreshSettings()
    log: LogSettings = LogSettings()
    prices: PricesSettings = PricesSettings()
    homeassistant: HomeAssistantSettings = HomeAssistantSettings()
    http: HttpSettings = HttpSettings()

    @model_validator(mode="after")
    def _windows_name_running_providers(self) -> Settings:
        """A standing window must name a provider that runs (``None``: the selected one)."""
        running = self.energy.active()
        errors: list[str] = []
        for index, window in enumerate(self.prices.windows):
            name = window.provider
            if name is None or name in running:
                continue
            where = f"prices.windows.{index}.provider ({window.name!r})"
            if name in self.energy.providers:
                errors.append(f"{where}: {name!r} is disabled (enabled = false)")
                continue
            hint = did_you_mean(name, running) or "running: " + ", ".join(running)
            errors.append(f"{where}: no provider {name!r}; {hint}")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    @field_validator("instance")
    @classmethod
    def _instance(cls, value: str) -> str:
        if not _INSTANCE.match(value):
            raise ValueError(
                "1 to 32 lower-case letters, digits, '-' or '_', starting with a letter or digit"
            )
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls._toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls._toml_file))
        return tuple(sources)

    @property
    def db_path(self) -> Path:
        """``storage.path``, relative paths taken from ``config_dir``."""
        path = self.storage.path.expanduser()
        return path if path.is_absolute() else self.config_dir / path

    @property
    def client_id(self) -> str:
        """The MQTT client id: ``mqtt.client_id``, default ``energyd-<instance>``."""
        return client_id_of(self.mqtt, self.instance)

    @property
    def plugin_dir(self) -> Path:
        return self.config_dir / "providers" / "energy"

    def redacted(self) -> dict[str, Any]:
        """The settings as plain JSON data, secrets replaced by ``"**********"``."""
        data: dict[str, Any] = redact(self.model_dump(mode="json"))
        return data


_SECRET_KEYS = re.compile(r"(password|token|api_key|apikey|secret)", re.IGNORECASE)


def redact(value: Any, key: str = "") -> Any:
    """Replace the values of secret-looking keys (password, token, api_key, ...) in JSON data."""
    if isinstance(value, dict):
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if value is not None and value != "" and _SECRET_KEYS.search(key):
        return "**********"
    return value


def _format_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or "(root)"
        errors[key] = err["msg"]
    return errors


#: ``ENERGYD_*`` variables that are not settings: the config file, the container's user and
#: example config (docker/).
_OTHER_ENV = frozenset({CONFIG_ENV, "ENERGYD_UID", "ENERGYD_EXAMPLE_CONFIG"})
_ENV_PREFIX = "ENERGYD_"


def _env_path_ok(parts: Sequence[str]) -> bool:
    """Whether ``("mqtt", "host")`` names a setting (anything under ``energy.providers.<id>``
    is the plugin's to judge)."""
    model: type[BaseModel] = Settings
    for index, part in enumerate(parts):
        info = model.model_fields.get(part)
        if info is None:
            return False
        annotation = info.annotation
        if typing.get_origin(annotation) is dict:
            return len(parts) > index + 1
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
            continue
        return index == len(parts) - 1
    return False


def _env_suggestion(words: Sequence[str]) -> str | None:
    """The first ``__``-nesting of ``words`` (``mqtt``, ``host``) that names a setting."""
    if len(words) > 12:
        return None
    for mask in range(1 << (len(words) - 1)):
        parts: list[str] = []
        current = [words[0]]
        for index, word in enumerate(words[1:]):
            if mask >> index & 1:
                parts.append("_".join(current))
                current = [word]
            else:
                current.append(word)
        parts.append("_".join(current))
        if parts[:2] == ["energy", "providers"] and len(parts) == 3 and "_" in parts[2]:
            provider, _, key = parts[2].rpartition("_")  # ..._OCTOPUS_AGILE_REGION
            parts[2:] = [provider, key]
        if _env_path_ok(parts):
            return _ENV_PREFIX + "__".join(parts).upper()
    return None


def unknown_env_vars(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``ENERGYD_*`` variables that name no setting, each with what it may have meant
    (``ENERGYD_MQTT_HOST``: ``did you mean ENERGYD_MQTT__HOST?``). They are ignored."""
    found: dict[str, str] = {}
    for name in sorted(os.environ if environ is None else environ):
        upper = name.upper()
        if not upper.startswith(_ENV_PREFIX) or upper in _OTHER_ENV:
            continue
        rest = upper[len(_ENV_PREFIX) :].lower()
        if _env_path_ok(rest.split("__")):
            continue
        guess = _env_suggestion([word for word in rest.replace("__", "_").split("_") if word])
        found[name] = (
            f"names no setting; did you mean {guess}?"
            if guess
            else "names no setting (nest with a double underscore: ENERGYD_MQTT__HOST)"
        )
    return found


def _anchored(settings: Settings, toml_file: Path | None, overrides: Mapping[str, Any]) -> Settings:
    """``settings`` with a relative ``config_dir`` made absolute: from the config file's folder
    when the file set it, else from the working directory."""
    if settings.config_dir.expanduser().is_absolute():
        return settings.model_copy(update={"config_dir": settings.config_dir.expanduser()})
    from_env = any(name.upper() == "ENERGYD_CONFIG_DIR" for name in os.environ)
    base = Path.cwd()
    if toml_file is not None and not from_env and "config_dir" not in overrides:
        base = toml_file.resolve().parent
    return settings.model_copy(update={"config_dir": base / settings.config_dir})


def load_settings(
    path: Path | str | None = None,
    **overrides: Any,
) -> Settings:
    """Load and validate settings; raise :class:`ConfigError` naming each bad key.

    ``path`` falls back to ``$ENERGYD_CONFIG``; no file at all is allowed (env and defaults).
    """
    chosen = path if path is not None else os.environ.get(CONFIG_ENV)
    toml_file: Path | None = None
    if chosen:
        toml_file = Path(chosen).expanduser()
        if not toml_file.is_file():
            raise ConfigError(f"config file {toml_file} does not exist", {"config": "not found"})
        try:
            with toml_file.open("rb") as handle:
                tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{toml_file}: not valid TOML: {exc}", {"config": str(exc)}) from exc
        except OSError as exc:
            raise ConfigError(f"{toml_file}: cannot read: {exc}", {"config": str(exc)}) from exc

    bound = type("Settings", (Settings,), {"_toml_file": toml_file})
    try:
        settings: Settings = bound(**overrides)
    except ValidationError as exc:
        errors = _format_errors(exc)
        lines = "; ".join(f"{k}: {v}" for k, v in errors.items())
        raise ConfigError(f"invalid configuration: {lines}", errors) from exc
    return _anchored(settings, toml_file, overrides)
