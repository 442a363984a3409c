"""The commands served on ``<base>/request/<command>``: a table of name -> (argument model,
operation).

Every command is an operation of :class:`~energyd.api.operations.Operations` (the same ones the
HTTP routes and the command line call); :class:`~energyd.mqtt.commands.CommandRouter` parses
the request, validates it with the model and turns the result or the error into the reply.
Adding a command is one line here.
"""

from __future__ import annotations

from functools import partial

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
from energyd.api.operations import Operations
from energyd.mqtt.commands import CommandRouter

__all__ = [
    "ACTOR",
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


def register_commands(router: CommandRouter, ops: Operations) -> None:
    """Add every command to ``router``."""
    add = router.add
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
