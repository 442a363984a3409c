"""Declarative plugin config: one list of fields gives validation, parsing and the JSON schema.

::

    FIELDS = ConfigFields(
        region=Choice(("A", "B", "C"), required=True, normalise=lambda v: v.upper()),
        base_url=Url(default="https://api.example.com"),
        page_size=Integer(1, 1500, default=1500),
    )
    FIELDS.validate(config)   # {"region": "unknown value 'Z'; expected one of A B C"}
    FIELDS.parse(config)      # Settings: every field, defaults filled in, values normalised
    FIELDS.schema()           # JSON schema for EnergyProviderMetadata.config_schema

Missing keys, ``None`` and blank strings mean "not set" (the default applies, or a required
field is reported). Strings are stripped, then the field's ``normalise`` (strings only) runs,
then the type and range check. The schema describes the *normalised* value; a field with a
normaliser says so with ``"x-normalised": true``. Keys no field declares are reported with a
"did you mean" suggestion, except the ones the daemon itself puts into a provider's config
(:data:`DAEMON_KEYS`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from energyd.domain.suggest import did_you_mean
from energyd.exceptions import ProviderConfigError

__all__ = [
    "DAEMON_KEYS",
    "Choice",
    "ConfigFields",
    "Field",
    "Flag",
    "Integer",
    "InvalidValue",
    "Number",
    "Settings",
    "Text",
    "Url",
    "normalise_base_url",
]

#: Keys the daemon passes to every plugin (``energy.providers.<id>.region``).
DAEMON_KEYS: frozenset[str] = frozenset({"region"})

Check = Callable[["Settings"], Mapping[str, str]]


class InvalidValue(Exception):
    """A value a field refuses; the message is the reason. A plugin's own :class:`Field`
    raises it from ``convert`` (kit 4)."""


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True, kw_only=True)
class Field:
    """One config key. Subclasses implement :meth:`convert` and :meth:`type_schema`."""

    default: Any = None
    required: bool = False
    description: str = ""
    normalise: Callable[[str], Any] | None = None
    secret: bool = False
    #: Whether the value decides *which* prices are fetched (a region, a tariff, an API base),
    #: so that stored prices of another value are not this config's (``source_identity``).
    #: Knobs of how they are fetched (page sizes, retries) say ``identity=False``.
    identity: bool = True
    #: Said after "required: ..." when the key is missing: how to find the value.
    hint: str = ""

    def convert(self, value: Any) -> Any:
        """The checked value, or raise :class:`InvalidValue` with the reason."""
        raise NotImplementedError

    def type_schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def expected(self) -> str:
        """What a valid value looks like, for "required" messages."""
        return self.description or "a value"

    def shown(self, value: object) -> str:
        return "***" if self.secret else _shown(value)

    def schema(self) -> dict[str, Any]:
        out = self.type_schema()
        if self.default is not None:
            out["default"] = self.default
        if self.description:
            out["description"] = self.description
        if self.normalise is not None:
            out["x-normalised"] = True
        if self.secret:
            out["writeOnly"] = True
        return out


@dataclass(frozen=True, kw_only=True)
class Choice(Field):
    """One of a fixed set of strings; a near miss gets a "did you mean". ``names`` gives
    choices a human name (``{"C": "London"}``), shown in messages beside the code."""

    choices: tuple[str, ...]
    names: Mapping[str, str]

    def __init__(
        self, choices: Sequence[str], *, names: Mapping[str, str] | None = None, **options: Any
    ) -> None:
        object.__setattr__(self, "choices", tuple(choices))
        object.__setattr__(self, "names", dict(names or {}))
        super().__init__(**options)

    def convert(self, value: Any) -> Any:
        if value in self.choices:
            return value
        hint = did_you_mean(str(value), self.choices)
        maybe = f" ({hint})" if hint else ""
        raise InvalidValue(f"unknown value {self.shown(value)}{maybe}; expected {self.expected()}")

    def expected(self) -> str:
        if not self.names:
            return "one of " + " ".join(self.choices)
        named = (f"{c} ({self.names[c]})" if c in self.names else c for c in self.choices)
        return "one of " + ", ".join(named)

    def type_schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string", "enum": list(self.choices)}
        if self.names:
            out["x-names"] = {c: self.names[c] for c in self.choices if c in self.names}
        return out


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise InvalidValue("is a boolean, not a number")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise InvalidValue(f"{_shown(value)} is not a number") from None
    else:
        raise InvalidValue(f"{_shown(value)} is not a number")
    if not math.isfinite(number):
        raise InvalidValue(f"{_shown(value)} is not a finite number")
    return number


def _range(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f" from {lo:g} to {hi:g}"
    if lo is not None:
        return f" of at least {lo:g}"
    return f" of at most {hi:g}" if hi is not None else ""


def _bounds(out: dict[str, Any], lo: float | None, hi: float | None) -> dict[str, Any]:
    if lo is not None:
        out["minimum"] = lo
    if hi is not None:
        out["maximum"] = hi
    return out


@dataclass(frozen=True, kw_only=True)
class Number(Field):
    """A finite number in ``[lo, hi]`` (either bound optional); numeric strings accepted."""

    lo: float | None = None
    hi: float | None = None

    #: The JSON schema type, and how :meth:`expected` says it.
    kind = "number"
    words = "a number"

    def __init__(self, lo: float | None = None, hi: float | None = None, **options: Any) -> None:
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)
        super().__init__(**options)

    def accepts(self, number: float) -> bool:
        """Whether ``number`` (finite, in range) is of this kind."""
        return True

    def cast(self, number: float) -> Any:
        return number

    def convert(self, value: Any) -> Any:
        number = _number(value)
        low = -math.inf if self.lo is None else self.lo
        high = math.inf if self.hi is None else self.hi
        if not self.accepts(number) or not low <= number <= high:
            raise InvalidValue(f"must be {self.expected()}, got {self.shown(value)}")
        return self.cast(number)

    def expected(self) -> str:
        return self.words + _range(self.lo, self.hi)

    def type_schema(self) -> dict[str, Any]:
        return _bounds({"type": self.kind}, self.lo, self.hi)


@dataclass(frozen=True, kw_only=True, init=False)  # Number.__init__ takes lo, hi first
class Integer(Number):
    """A whole number in ``[lo, hi]`` (either bound optional); numeric strings accepted."""

    lo: int | None = None  # narrower than Number's
    hi: int | None = None

    kind = "integer"
    words = "a whole number"

    def accepts(self, number: float) -> bool:
        return number.is_integer()

    def cast(self, number: float) -> Any:
        return int(number)


@dataclass(frozen=True, kw_only=True)
class Text(Field):
    """A string, optionally matching ``pattern`` (whole string); ``example`` shows one."""

    pattern: str | None = None
    max_length: int = 1000
    example: str = ""

    def __init__(
        self,
        pattern: str | None = None,
        *,
        max_length: int = 1000,
        example: str = "",
        **options: Any,
    ) -> None:
        object.__setattr__(self, "pattern", pattern)
        object.__setattr__(self, "max_length", max_length)
        object.__setattr__(self, "example", example)
        super().__init__(**options)
        if pattern is not None:
            re.compile(pattern)  # a bad pattern fails when the plugin is loaded

    def convert(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise InvalidValue(f"{self.shown(value)} is not a string")
        if len(value) > self.max_length:
            raise InvalidValue(f"longer than {self.max_length} characters")
        if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            like = f" like {self.example}" if self.example else f" matching {self.pattern}"
            raise InvalidValue(f"{self.shown(value)} is not a value{like}")
        return value

    def expected(self) -> str:
        if self.example:
            return f"a value like {self.example}"
        return self.description or "a string"

    def type_schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string", "maxLength": self.max_length}
        if self.pattern is not None:
            out["pattern"] = self.pattern
        return out


def normalise_base_url(value: object) -> str | None:
    """An http(s) URL without query, fragment or trailing slash, or ``None`` when invalid."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parts = urlsplit(value.strip())
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or not port_ok:
        return None
    if parts.query or parts.fragment:
        return None
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


@dataclass(frozen=True, kw_only=True)
class Url(Field):
    """An http(s) base URL, normalised: lower-case scheme, no trailing slash, no query."""

    def convert(self, value: Any) -> Any:
        url = normalise_base_url(value)
        if url is None:
            example = f", e.g. {self.default}" if self.default else ""
            raise InvalidValue(f"must be an http:// or https:// URL without query{example}")
        return url

    def expected(self) -> str:
        return "an http(s) URL"

    def type_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "uri"}


_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


@dataclass(frozen=True, kw_only=True)
class Flag(Field):
    """A boolean; ``true/false``, ``yes/no``, ``on/off``, ``1/0`` strings accepted."""

    def convert(self, value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise InvalidValue(f"{self.shown(value)} is not true or false")

    def expected(self) -> str:
        return "true or false"

    def type_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


class Settings(Mapping[str, Any]):
    """A parsed config: every declared field (defaults filled in), read-only, typed getters."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Settings({self._values!r})"

    def text(self, key: str) -> str:
        value = self._values[key]
        if not isinstance(value, str):
            raise TypeError(f"{key} is {type(value).__name__}, not str")
        return value

    def optional_text(self, key: str) -> str | None:
        value = self._values.get(key)
        return None if value is None else self.text(key)

    def integer(self, key: str) -> int:
        value = self._values[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{key} is {type(value).__name__}, not int")
        return value

    def number(self, key: str) -> float:
        value = self._values[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{key} is {type(value).__name__}, not a number")
        return float(value)

    def flag(self, key: str) -> bool:
        value = self._values[key]
        if not isinstance(value, bool):
            raise TypeError(f"{key} is {type(value).__name__}, not bool")
        return value


@dataclass(frozen=True, init=False)
class ConfigFields:
    """The fields of one plugin's config; the one source of its validation and schema.

    ``checks`` run on the parsed settings once every field is valid and return
    ``{field: reason}`` for rules across fields. ``unknown="ignore"`` stops reporting keys
    that no field declares.
    """

    fields: Mapping[str, Field]
    checks: tuple[Check, ...]
    known_keys: frozenset[str]
    unknown: Literal["error", "ignore"]

    def __init__(
        self,
        fields: Mapping[str, Field] | None = None,
        /,
        *,
        checks: Sequence[Check] = (),
        known_keys: Collection[str] = DAEMON_KEYS,
        unknown: Literal["error", "ignore"] = "error",
        **named: Field,
    ) -> None:
        merged = {**(fields or {}), **named}
        for name, item in merged.items():
            if not isinstance(item, Field):
                raise TypeError(f"config field {name!r} is {type(item).__name__}, not a Field")
        object.__setattr__(self, "fields", dict(merged))
        object.__setattr__(self, "checks", tuple(checks))
        object.__setattr__(self, "known_keys", frozenset(known_keys))
        object.__setattr__(self, "unknown", unknown)

    def __contains__(self, name: object) -> bool:
        return name in self.fields

    def _one(self, name: str, spec: Field, raw: Any) -> Any:
        if isinstance(raw, str):
            raw = raw.strip()
        if raw is None or raw == "":
            if spec.required:
                hint = f"; {spec.hint}" if spec.hint else ""
                raise InvalidValue(f"required: {spec.expected()}{hint}")
            return spec.default
        if spec.normalise is not None and isinstance(raw, str):
            try:
                raw = spec.normalise(raw)
            except (TypeError, ValueError, AttributeError) as exc:
                raise InvalidValue(f"{spec.shown(raw)} cannot be read: {exc}") from exc
        return spec.convert(raw)

    def _run(self, config: Mapping[str, Any]) -> tuple[Settings, dict[str, str]]:
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        for name, spec in self.fields.items():
            try:
                values[name] = self._one(name, spec, config.get(name))
            except InvalidValue as exc:
                errors[name] = str(exc)
        if self.unknown == "error":
            known = [*self.fields, *sorted(self.known_keys - set(self.fields))]
            for key in config:
                if key in self.fields or key in self.known_keys:
                    continue
                hint = did_you_mean(str(key), known) or "known: " + ", ".join(known)
                errors[str(key)] = f"unknown key; {hint}"
        settings = Settings(values)
        if not errors:
            for check in self.checks:
                errors.update(check(settings))
        return settings, errors

    def validate(self, config: Mapping[str, Any]) -> dict[str, str]:
        """``{field: reason}`` for everything wrong with ``config``; empty when valid."""
        return self._run(config)[1]

    def parse(self, config: Mapping[str, Any]) -> Settings:
        """The normalised settings; :class:`ProviderConfigError` (with ``errors``) if invalid."""
        settings, errors = self._run(config)
        if errors:
            detail = "; ".join(f"{key}: {reason}" for key, reason in errors.items())
            raise ProviderConfigError(f"invalid config: {detail}", errors)
        return settings

    def normalise(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` with each declared key's value in its normalised form (``"c"`` ->
        ``"C"``); keys given stay given (no defaults added), others are kept as they are.
        :class:`ProviderConfigError` if invalid."""
        settings = self.parse(config)
        return {
            key: settings[key] if key in self.fields else value for key, value in config.items()
        }

    def identity(self, config: Mapping[str, Any]) -> str:
        """``key=value;...`` of the fields that decide which prices are fetched (defaults
        filled in, values normalised): what ``source_identity`` of a kit plugin is made of."""
        settings = self.parse(config)
        return ";".join(
            f"{name}={settings[name]}"
            for name in sorted(self.fields)
            if self.fields[name].identity and settings[name] is not None
        )

    def schema(self) -> dict[str, Any]:
        """The JSON schema (draft 2020-12 vocabulary) for ``config_schema``."""
        required = [name for name, spec in self.fields.items() if spec.required]
        out: dict[str, Any] = {
            "type": "object",
            "properties": {name: spec.schema() for name, spec in self.fields.items()},
        }
        if required:
            out["required"] = required
        return out

    def __or__(self, other: Mapping[str, Field]) -> ConfigFields:
        """These fields plus ``other`` (which wins on a clash), same checks and options."""
        return ConfigFields(
            {**self.fields, **other},
            checks=self.checks,
            known_keys=self.known_keys,
            unknown=self.unknown,
        )
