"""The arguments of every operation, one pydantic model each, and the limits they share.

The same model checks an MQTT request's payload, an HTTP query or body and the command
line's options, so each limit and message is written once. Models refuse unknown keys and are
frozen. What depends on the moment of the call (a window "from now", a day of the market)
is resolved by the operation; the messages of those checks live here too
(:meth:`PricesArgs.window`, :func:`check_period`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

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
    "SettingsSetArgs",
    "UpdateArgs",
    "check_period",
    "parse_arguments",
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

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoArgs(Arguments):
    """An operation without arguments (``{}``)."""


class RefreshArgs(Arguments):
    provider: str | None = Field(default=None, description="provider id; default: all running")


class UpdateArgs(Arguments):
    name: str = Field(description="plugin file name, e.g. octopus_agile_provider.py")


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


class AuditArgs(Arguments):
    limit: int = Field(default=DEFAULT_AUDIT, ge=1, le=MAX_AUDIT)


class HealthArgs(Arguments):
    probe: bool = Field(default=False, description="also run each plugin's health_check()")


def validation_details(exc: ValidationError) -> dict[str, str]:
    """``{"field.path": "reason"}`` from a pydantic error; ``(root)`` for whole-object errors."""
    details: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        key = ".".join(str(part) for part in err["loc"]) or "(root)"
        details.setdefault(key, err["msg"])
    return details


ArgsT = TypeVar("ArgsT", bound=BaseModel)


def parse_arguments(
    model: type[ArgsT],
    data: Mapping[str, Any],
    code: str = ErrorCode.INVALID_ARGUMENT,
) -> ArgsT:
    """``data`` checked by ``model``; a refusal is a :class:`CommandError` (``code``, the
    message ``invalid arguments``, the reason per field in ``details``)."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise CommandError(code, "invalid arguments", validation_details(exc)) from exc
