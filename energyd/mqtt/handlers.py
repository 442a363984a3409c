"""The commands served on ``<base>/request/<command>``: a table of name -> (argument model,
operation).

Every command is an operation of :class:`~energyd.api.operations.Operations` (the same ones the
HTTP routes and the command line call); :class:`~energyd.mqtt.commands.CommandRouter` parses
the request, validates it with the model and turns the result or the error into the reply.
Adding a command is one line here.

In a share group (``mqtt.share_group``: instances taking requests through one MQTT v5 shared
subscription) a request reaches one instance only. The commands that change what one instance
runs -- its run-time settings, kept in its own store, and its plugin files -- would make the
instances part ways, so there they are refused (``not_available``, naming the group):
:data:`CHANGES_ONE_INSTANCE`.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NoReturn

from energyd.api.arguments import (
    AuditArgs,
    CheapestArgs,
    FiguresArgs,
    HealthArgs,
    NoArgs,
    PricesArgs,
    RefreshArgs,
    SettingsResetArgs,
    SettingsSetArgs,
    UpdateArgs,
)
from energyd.api.errors import ErrorCode
from energyd.api.operations import Operations
from energyd.exceptions import CommandError
from energyd.mqtt.commands import CommandRouter, Handler

__all__ = [
    "ACTOR",
    "CHANGES_ONE_INSTANCE",
    "AuditArgs",
    "CheapestArgs",
    "FiguresArgs",
    "HealthArgs",
    "NoArgs",
    "PricesArgs",
    "RefreshArgs",
    "SettingsResetArgs",
    "SettingsSetArgs",
    "UpdateArgs",
    "register_commands",
]

#: Who audit records name for plugin actions asked over MQTT.
ACTOR = "mqtt"


#: What a request changes on the one instance that takes it (refused in a share group).
CHANGES_ONE_INSTANCE = frozenset(
    {
        "settings/set",
        "settings/reset",
        "providers/update",
        "providers/update-all",
        "providers/reload",
    }
)


async def _refused(command: str, group: str, _: Any) -> NoReturn:
    raise CommandError(
        ErrorCode.NOT_AVAILABLE,
        f"{command} is not taken over MQTT in share group {group!r}: a request reaches one "
        "instance of the group, which would then part ways with the others; change each "
        "instance's configuration file, or use each instance's HTTP API",
        {"share_group": group},
    )


def register_commands(
    router: CommandRouter, ops: Operations, *, share_group: str | None = None
) -> None:
    """Add every command to ``router``; with ``share_group``, those of
    :data:`CHANGES_ONE_INSTANCE` as a refusal."""

    def add(name: str, handler: Handler, args_model: type[Any]) -> None:
        if share_group is not None and name in CHANGES_ONE_INSTANCE:
            router.add(name, partial(_refused, name, share_group))
        else:
            router.add(name, handler, args_model)

    add("refresh", ops.refresh, RefreshArgs)
    add("providers/status", ops.providers_status, NoArgs)
    add("providers/update", partial(ops.providers_update, actor=ACTOR), UpdateArgs)
    add("providers/update-all", partial(ops.providers_update_all, actor=ACTOR), NoArgs)
    add("providers/reload", partial(ops.providers_reload, actor=ACTOR), NoArgs)
    add("prices", ops.prices, PricesArgs)
    add("cheapest", ops.cheapest, CheapestArgs)
    add("figures", ops.figures, FiguresArgs)
    add("settings/get", ops.settings_get, NoArgs)
    add("settings/set", ops.settings_set, SettingsSetArgs)
    add("settings/reset", ops.settings_reset, SettingsResetArgs)
    add("audit", ops.audit, AuditArgs)
    add("health", ops.health, HealthArgs)
