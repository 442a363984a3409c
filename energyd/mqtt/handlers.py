"""The commands served on ``<base>/request/<command>``: argument models and handlers.

Each handler is a thin adapter from a validated request to :class:`PriceService` or
:class:`ProviderManager` (the same objects the CLI uses), so MQTT adds no logic of its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints, model_validator

from energyd.api.derived import series_head, window_payload
from energyd.core.service import PriceService
from energyd.domain.figures import find_window, window_period
from energyd.exceptions import (
    CommandError,
    ConfigError,
    PluginNameError,
    ProviderConfigError,
    UnknownProviderError,
)
from energyd.mqtt.commands import CommandArgs, CommandRouter
from energyd.providers.management import ProviderManager

__all__ = ["register_commands"]

ACTOR = "mqtt"
#: Longest window the ``prices`` command answers (keeps replies far below broker limits).
MAX_PRICES_WINDOW = timedelta(days=31)


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


class RefreshArgs(CommandArgs):
    provider: str | None = Field(default=None, description="provider id; default: all running")


class UpdateArgs(CommandArgs):
    name: str = Field(description="plugin file name, e.g. octopus_agile_provider.py")


class PricesArgs(CommandArgs):
    provider: str | None = None
    start: Moment | None = None
    end: Moment | None = None
    hours: float | None = Field(default=None, gt=0, le=MAX_PRICES_WINDOW.total_seconds() / 3600)

    @model_validator(mode="after")
    def _window(self) -> PricesArgs:
        if self.end is not None and self.hours is not None:
            raise ValueError("give end or hours, not both")
        return self


class SettingsSetArgs(CommandArgs):
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


class NoArgs(CommandArgs):
    pass


class HealthArgs(CommandArgs):
    probe: bool = Field(default=False, description="also run each plugin's health_check()")


_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class CheapestArgs(CommandArgs):
    provider: str | None = None
    minutes: int = Field(gt=0, le=24 * 60)
    earliest: Moment | Annotated[str, StringConstraints(pattern=_HHMM)] | None = None
    latest: Moment | Annotated[str, StringConstraints(pattern=_HHMM)] | None = None
    contiguous: bool = True
    mode: Literal["cheapest", "most_expensive"] = "cheapest"

    @model_validator(mode="after")
    def _same_kind(self) -> CheapestArgs:
        kinds = {type(v) for v in (self.earliest, self.latest) if v is not None}
        if len(kinds) > 1:
            raise ValueError('earliest and latest: both "HH:MM" or both ISO datetimes')
        return self


def register_commands(
    router: CommandRouter,
    service: PriceService,
    manager: ProviderManager,
    *,
    mqtt_connected: Callable[[], bool],
) -> None:
    """Add every command to ``router``."""

    async def refresh(args: RefreshArgs) -> dict[str, Any]:
        with _codes():
            runs = await service.refresh(args.provider)
        return {"runs": [run.as_json() for run in runs]}

    async def providers_status(_: NoArgs) -> dict[str, Any]:
        return await service.overview()

    async def providers_update(args: UpdateArgs) -> dict[str, Any]:
        with _codes():
            record = await manager.update(args.name, ACTOR)
        return record.as_json()

    async def providers_update_all(_: NoArgs) -> dict[str, Any]:
        records = await manager.update_all(ACTOR)
        return {"updates": [record.as_json() for record in records]}

    async def providers_reload(_: NoArgs) -> dict[str, Any]:
        record = await manager.reload(ACTOR)
        return record.as_json()

    async def prices(args: PricesArgs) -> dict[str, Any]:
        with _codes():
            spec = service.spec(args.provider)
        start = (args.start or datetime.now(UTC)).astimezone(UTC)
        if args.end is not None:
            end = args.end.astimezone(UTC)
        else:
            end = start + timedelta(hours=args.hours or 24)
        if end <= start:
            raise CommandError("invalid_argument", "end must be after start")
        if end - start > MAX_PRICES_WINDOW:
            raise CommandError(
                "invalid_argument", f"window longer than {MAX_PRICES_WINDOW.days} days"
            )
        return await service.price_window(spec, start, end)

    async def cheapest(args: CheapestArgs) -> dict[str, Any]:
        with _codes():
            spec = service.spec(args.provider)
        now = datetime.now(UTC)
        calendar = service.calendar(spec)
        if isinstance(args.earliest, datetime) or isinstance(args.latest, datetime):
            start = args.earliest if isinstance(args.earliest, datetime) else now
            end = args.latest if isinstance(args.latest, datetime) else start + timedelta(days=1)
            period = (start.astimezone(UTC), end.astimezone(UTC))
        else:
            period = window_period(now, calendar, args.earliest, args.latest)
        if period[1] <= period[0] or period[1] - period[0] > MAX_PRICES_WINDOW:
            raise CommandError("invalid_argument", "the period must be positive and under 31 days")
        slots = await service.slots(spec, *period)
        window = find_window(
            slots,
            args.minutes,
            *period,
            contiguous=args.contiguous,
            mode=args.mode,
            not_before=now,
        )
        meta = service.metadata(spec)
        currency = meta.currency if meta else "GBP"
        head = series_head(spec.key, spec.region, currency)
        return window_payload(
            head,
            name=None,
            window=window,
            mode=args.mode,
            minutes=args.minutes,
            contiguous=args.contiguous,
            period=period,
            now=None,
        )

    async def settings_get(_: NoArgs) -> dict[str, Any]:
        return service.settings_view()

    async def settings_set(args: SettingsSetArgs) -> dict[str, Any]:
        try:
            return await service.change_settings(args.changes())
        except ProviderConfigError as exc:
            raise CommandError("invalid_config", str(exc), exc.errors) from exc
        except ConfigError as exc:
            raise CommandError("invalid_setting", str(exc), exc.errors) from exc

    async def health(args: HealthArgs) -> dict[str, Any]:
        overview = await service.overview()
        states = [p["health"]["state"] for p in overview["providers"]]
        reply: dict[str, Any] = {
            "mqtt_connected": mqtt_connected(),
            "store": str(service.store.path),
            "providers": {p["id"]: p["health"] for p in overview["providers"]},
            "ok": bool(states) and all(state == "ok" for state in states),
            "event_loop": service.faults.event_loop_json(),
        }
        if args.probe:
            reply["probes"] = {spec.key: await service.probe(spec) for spec in service.specs()}
        return reply

    router.add("refresh", refresh, RefreshArgs)
    router.add("providers/status", providers_status, NoArgs)
    router.add("providers/update", providers_update, UpdateArgs)
    router.add("providers/update-all", providers_update_all, NoArgs)
    router.add("providers/reload", providers_reload, NoArgs)
    router.add("prices", prices, PricesArgs)
    router.add("cheapest", cheapest, CheapestArgs)
    router.add("settings/get", settings_get, NoArgs)
    router.add("settings/set", settings_set, SettingsSetArgs)
    router.add("health", health, HealthArgs)


@contextlib.contextmanager
def _codes() -> Iterator[None]:
    """Give the errors a client can act on their own stable codes."""
    try:
        yield
    except PluginNameError as exc:
        raise CommandError("invalid_name", str(exc)) from exc
    except UnknownProviderError as exc:
        raise CommandError("unknown_provider", str(exc)) from exc
