"""The arguments of every operation, one pydantic model each, and the limits they share.

The same model checks an MQTT request's payload, an HTTP query or body and the command
line's options, so each limit and message is written once. Models refuse unknown keys and are
frozen. What depends on the moment of the call (a window "from now", a day of the market)
is resolved by the operation; the messages of those checks live here too
(:meth:`PricesArgs.window`, :func:`check_period`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from energyd.api.errors import ErrorCode
from energyd.domain.suggest import did_you_mean
from energyd.exceptions import CommandError

__all__ = [
    "DEFAULT_AUDIT",
    "DEFAULT_WINDOW",
    "EARLIEST",
    "LATEST",
    "MAX_AUDIT",
    "MAX_WINDOW",
    "Arguments",
    "AuditArgs",
    "CheapestArgs",
    "FiguresArgs",
    "HealthArgs",
    "Moment",
    "NoArgs",
    "PricesArgs",
    "RefreshArgs",
    "SettingsResetArgs",
    "SettingsSetArgs",
    "UpdateArgs",
    "check_period",
    "check_slot_multiple",
    "parse_arguments",
    "refusal_message",
    "validation_details",
]

#: The longest window of prices (or cheapest-window period) an operation answers; keeps
#: replies far below broker limits.
MAX_WINDOW = timedelta(days=31)
#: The window when neither ``end`` nor ``hours`` is given.
DEFAULT_WINDOW = timedelta(hours=24)
#: Audit records returned by default, and at most.
DEFAULT_AUDIT = 50
MAX_AUDIT = 1000

#: Moments a request may name: far beyond any price, and far from datetime's own limits, so
#: window arithmetic (a day or 31 days either way) can never overflow.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _in_range(value: datetime) -> datetime:
    try:
        moment = value.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+14:00 is before datetime.min in UTC
        raise ValueError("out of range") from exc
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"must be from {EARLIEST.year} to {LATEST.year - 1}")
    return moment


#: An aware datetime in range, as UTC.
Moment = Annotated[AwareDatetime, AfterValidator(_in_range)]

_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
#: A local time of the market, ``"HH:MM"``.
LocalTime = Annotated[str, StringConstraints(pattern=_HHMM)]


class Arguments(BaseModel):
    """Base of the argument models: unknown keys are an error, instances are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class NoArgs(Arguments):
    """An operation without arguments (``{}``)."""


class RefreshArgs(Arguments):
    provider: str | None = Field(default=None, description="provider id; default: all running")


class UpdateArgs(Arguments):
    name: str = Field(
        description="provider id (octopus_agile) or plugin file name (octopus_agile_provider.py)"
    )


class PricesArgs(Arguments):
    """A window of stored prices: ``start`` (default now) to ``end``, or for ``hours``
    (default 24); or ``day``, the market's local day today or tomorrow."""

    provider: str | None = None
    start: Moment | None = None
    end: Moment | None = None
    hours: float | None = Field(default=None, gt=0, le=MAX_WINDOW.total_seconds() / 3600)
    day: Literal["today", "tomorrow"] | None = None

    @model_validator(mode="after")
    def _window(self) -> PricesArgs:
        if self.end is not None and self.hours is not None:
            raise ValueError("give end or hours, not both")
        if self.day is not None and (self.start, self.end, self.hours) != (None, None, None):
            raise ValueError("give day, or start/end/hours, not both")
        return self

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """``[start, end)`` of a window request at ``now`` (not for ``day``)."""
        start = self.start or now
        end = self.end or start + (
            DEFAULT_WINDOW if self.hours is None else timedelta(hours=self.hours)
        )
        if end <= start:
            raise CommandError(ErrorCode.INVALID_ARGUMENT, "end must be after start")
        if end - start > MAX_WINDOW:
            raise CommandError(
                ErrorCode.INVALID_ARGUMENT, f"window longer than {MAX_WINDOW.days} days"
            )
        return start, end


class CheapestArgs(Arguments):
    """The cheapest (or dearest) ``minutes`` between ``earliest`` and ``latest``: both local
    ``"HH:MM"`` of the market, or both ISO 8601 datetimes."""

    provider: str | None = None
    minutes: int = Field(gt=0, le=24 * 60)
    earliest: Moment | LocalTime | None = None
    latest: Moment | LocalTime | None = None
    contiguous: bool = True
    mode: Literal["cheapest", "most_expensive"] = "cheapest"

    @model_validator(mode="after")
    def _same_kind(self) -> CheapestArgs:
        kinds = {type(v) for v in (self.earliest, self.latest) if v is not None}
        if len(kinds) > 1:
            raise ValueError('earliest and latest: both "HH:MM" or both ISO datetimes')
        return self


def check_period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """A cheapest-window period, refused unless positive and at most :data:`MAX_WINDOW`."""
    if end <= start or end - start > MAX_WINDOW:
        raise CommandError(
            ErrorCode.INVALID_ARGUMENT,
            f"the period must be positive and under {MAX_WINDOW.days} days",
        )
    return start, end


def check_slot_multiple(minutes: int, slot_minutes: int | None, provider: str) -> int:
    """``minutes`` of a cheapest window, refused unless a whole number of the provider's
    ``slot_minutes``-minute slots (None: the length is not known, anything goes)."""
    if slot_minutes is None or slot_minutes <= 0 or minutes % slot_minutes == 0:
        return minutes
    below = minutes // slot_minutes * slot_minutes
    above = below + slot_minutes
    options = f"{below} or {above}" if below else f"{above}"
    raise CommandError(
        ErrorCode.INVALID_ARGUMENT,
        f"invalid arguments: minutes: {minutes} is not a whole number of {provider}'s"
        f" {slot_minutes}-minute slots; give {options}",
        {"minutes": f"expected a multiple of {slot_minutes} (the slot length), got {minutes}"},
    )


class FiguresArgs(Arguments):
    provider: str | None = None


class SettingsSetArgs(Arguments):
    """``{"key": ..., "value": ...}`` or ``{"values": {key: value, ...}}``."""

    key: str | None = None
    value: Any = None
    values: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> SettingsSetArgs:
        if (self.key is None) == (self.values is None):
            raise ValueError('give either "key" and "value", or "values": {key: value}')
        return self

    def changes(self) -> dict[str, Any]:
        if self.values is not None:
            return dict(self.values)
        assert self.key is not None
        return {self.key: self.value}


class SettingsResetArgs(Arguments):
    """``{"keys": ["energy.providers.octopus_agile.region", ...]}`` (an override each, or a
    prefix of some) or ``{"all": true}``: the run-time overrides to drop."""

    keys: list[Annotated[str, StringConstraints(min_length=1)]] | None = Field(
        default=None, min_length=1
    )
    all: bool = False

    @model_validator(mode="after")
    def _one_form(self) -> SettingsResetArgs:
        if (self.keys is None) == (not self.all):
            raise ValueError('give either "keys": [dotted key, ...] or "all": true')
        return self

    def selected(self) -> list[str] | None:
        """The keys to reset, None for all of them."""
        return None if self.all else list(self.keys or [])


class AuditArgs(Arguments):
    limit: int = Field(default=DEFAULT_AUDIT, ge=1, le=MAX_AUDIT)


class HealthArgs(Arguments):
    probe: bool = Field(default=False, description="also run each plugin's health_check()")


#: The key of a refusal about the arguments together (a model validator's: "give end or
#: hours, not both").
WHOLE = "arguments"

#: What a field takes, in the words of the README; a refusal says "expected <this>". Fields
#: not listed are described by their type's error (a number, true or false, ...).
_EXPECTED: Final[Mapping[str, str]] = {
    "earliest": "HH:MM (market time) or an ISO 8601 datetime with an offset",
    "latest": "HH:MM (market time) or an ISO 8601 datetime with an offset",
    "start": "an ISO 8601 datetime with an offset, e.g. 2026-01-01T00:00:00Z",
    "end": "an ISO 8601 datetime with an offset, e.g. 2026-01-01T00:00:00Z",
}

#: Plain words per pydantic error type: "expected ..." (the limit, if any, from ``ctx``).
_PLAIN: Final[Mapping[str, str]] = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "finite_number": "a finite number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "an object",
    "list_type": "a list",
    "greater_than": "a number greater than {gt}",
    "greater_than_equal": "a number of at least {ge}",
    "less_than": "a number less than {lt}",
    "less_than_equal": "a number of at most {le}",
    "literal_error": "{expected}",
    "string_pattern_mismatch": "HH:MM",
    "too_short": "a list of at least {min_length}",
    "string_too_short": "a non-empty string",
    "timezone_aware": "a datetime with an offset (Z or +01:00)",
}


def _shown(value: object) -> str:
    """A value a request gave, as a message quotes it (JSON, at most 40 characters)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list" if value else "an empty list"
    try:
        text = json.dumps(value, ensure_ascii=False)
        text.encode("utf-8")  # a lone surrogate (a query string's) is shown escaped
    except UnicodeEncodeError:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _field_key(loc: tuple[int | str, ...]) -> str:
    """The field a pydantic ``loc`` names, without the validator's own tags (the members of a
    union, ``constrained-str``, ``function-after[...]``): its first part and any list index."""
    if not loc:
        return WHOLE
    return ".".join([str(loc[0]), *(str(part) for part in loc[1:] if isinstance(part, int))])


def _expected(err: Mapping[str, Any]) -> str | None:
    """``"expected ..."`` for a type or limit error, or None for a check's own message."""
    template = _PLAIN.get(err["type"])
    if template is None:
        return None
    ctx = err.get("ctx") or {}
    try:
        return template.format(**{k: _number(v) for k, v in ctx.items()})
    except (KeyError, IndexError):
        return template


def _number(value: object) -> object:
    return f"{value:g}" if isinstance(value, float) else value


def _unknown_key(key: str, model: type[BaseModel] | None) -> str:
    if model is None:
        return "unknown key"
    fields = sorted(model.model_fields)
    hint = did_you_mean(key, fields) or f"this takes {', '.join(fields) or 'no keys'}"
    return f"unknown key; {hint}"


def _reason(key: str, errors: list[Mapping[str, Any]], model: type[BaseModel] | None) -> str:
    """One plain reason for one field from its pydantic errors (a union gives several)."""
    first = errors[0]
    if first["type"] == "missing":
        return "required"
    if first["type"] == "extra_forbidden":
        return _unknown_key(key, model)
    for err in errors:  # the value had the right form but one of our checks refused it
        if err["type"] == "value_error":
            cause = (err.get("ctx") or {}).get("error")
            message = str(cause) if cause is not None else err["msg"]
            return f"{message}, got {_shown(err['input'])}" if key != WHOLE else message
    wanted = _EXPECTED.get(key.split(".")[0])
    if wanted is None:
        found = [e for e in (_expected(err) for err in errors) if e is not None]
        wanted = " or ".join(dict.fromkeys(found)) if found else None
    if wanted is None:
        return str(first["msg"])
    return f"expected {wanted}, got {_shown(first['input'])}"


def validation_details(
    exc: ValidationError, model: type[BaseModel] | None = None
) -> dict[str, str]:
    """``{"field": "reason"}`` from a pydantic error, in a user's words: ``earliest: expected
    HH:MM ..., got "25:00"``, ``minute: unknown key; did you mean 'minutes'?`` (``model``
    gives the keys a near miss is matched against); ``arguments`` for a refusal of the
    arguments together."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    errors = exc.errors(include_url=False)
    # unknown keys first: "minute: did you mean 'minutes'?" explains "minutes: required"
    for err in sorted(errors, key=lambda e: e["type"] != "extra_forbidden"):
        grouped.setdefault(_field_key(tuple(err["loc"])), []).append(err)
    return {key: _reason(key, found, model) for key, found in grouped.items()}


def refusal_message(details: Mapping[str, str]) -> str:
    """The message of a refusal: ``invalid arguments: <the first field>: <its reason>`` (and
    how many more there are)."""
    if not details:
        return "invalid arguments"
    key, reason = next(iter(details.items()))
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return f"invalid arguments: {key}: {reason}{more}"


ArgsT = TypeVar("ArgsT", bound=BaseModel)


def parse_arguments(
    model: type[ArgsT],
    data: Mapping[str, Any],
    code: str = ErrorCode.INVALID_ARGUMENT,
) -> ArgsT:
    """``data`` checked by ``model``; a refusal is a :class:`CommandError` (``code``, the
    message ``invalid arguments: ...`` of :func:`refusal_message`, the reason per field in
    ``details``)."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        details = validation_details(exc, model)
        raise CommandError(code, refusal_message(details), details) from exc
