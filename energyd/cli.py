"""Command line: argument parsing and output formatting only; the work is the operations'
(:class:`energyd.api.operations.Operations`, the same the MQTT commands and HTTP routes call).

Exit codes: 0 success, 1 the operation failed (fetch error, plugin update refused, not
healthy), 2 invalid configuration or usage (arguments an operation refuses included).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from energyd import __version__
from energyd.api.arguments import (
    AuditArgs,
    CheapestArgs,
    FiguresArgs,
    HealthArgs,
    NoArgs,
    PricesArgs,
    SettingsResetArgs,
    UpdateArgs,
    parse_arguments,
)
from energyd.api.errors import ErrorCode
from energyd.api.operations import Operations
from energyd.api.replies import (
    AuditRecordJson,
    FiguresReply,
    HealthReply,
    OverviewReply,
    PriceWindowReply,
    WindowReply,
)
from energyd.app import Components, build, inspect_config, lookup_region, run_daemon
from energyd.config import CONFIG_ENV, Settings, load_settings, unknown_env_vars
from energyd.domain.figures import SlotJson
from energyd.domain.records import FetchOutcome
from energyd.exceptions import CommandError, ConfigError, EnergydError
from energyd.log import configure_logging

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
#: Who audit records name for plugin actions run from the command line.
ACTOR = "cli"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="energyd", description="Energy price daemon")
    parser.add_argument("--version", action="version", version=f"energyd {__version__}")
    _global_options(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the daemon")
    sub.add_parser(
        "check-config", help="validate the configuration, print the paths it uses (writes nothing)"
    )
    region = sub.add_parser("region", help="find your region (Octopus: by postcode)")
    region.add_argument("--postcode", required=True, help='e.g. "SW1A 1AA"')
    region.add_argument("--provider", help="provider or plugin id (default: energy.provider_id)")
    _json_flag(region)
    fetch = sub.add_parser("fetch", help="fetch prices once and print them (no broker needed)")
    fetch.add_argument("--provider", help="provider id (default: all running)")
    prices = sub.add_parser("prices", help="print stored prices")
    prices.add_argument("--provider", help="provider id (default: energy.provider_id)")
    span = prices.add_mutually_exclusive_group()
    span.add_argument("--hours", type=float, help="window from now (default 24)")
    span.add_argument("--day", choices=["today", "tomorrow"], help="the market's local day")
    _json_flag(prices)
    cheapest = sub.add_parser("cheapest", help="the cheapest (or dearest) window of stored prices")
    cheapest.add_argument("--minutes", type=int, required=True, help="length of the window")
    cheapest.add_argument("--provider", help="provider id (default: energy.provider_id)")
    cheapest.add_argument("--earliest", help='start of the period, "HH:MM" market time or ISO')
    cheapest.add_argument("--latest", help='end of the period, "HH:MM" market time or ISO')
    cheapest.add_argument("--non-contiguous", action="store_true", help="any slots, not one block")
    cheapest.add_argument(
        "--most-expensive", action="store_true", help="the dearest window instead"
    )
    _json_flag(cheapest)
    figures = sub.add_parser("figures", help="level, statistics and standing windows")
    figures.add_argument("--provider", help="provider id (default: energy.provider_id)")
    _json_flag(figures)
    audit = sub.add_parser("audit", help="the audit log of plugin actions, newest first")
    audit.add_argument("--limit", type=int, default=20, help="records to show (20)")
    _json_flag(audit)
    health = sub.add_parser("health", help="store, plugins, each provider's health (exit 1: not)")
    health.add_argument("--probe", action="store_true", help="also run each plugin's check")
    _json_flag(health)
    settings = sub.add_parser("settings", help="effective settings, run-time overrides")
    changes = settings.add_subparsers(dest="action", required=True)
    changes.add_parser("get", help="the effective settings, secrets redacted (JSON)")
    reset = changes.add_parser(
        "reset",
        help="drop run-time overrides in the database (a running daemon: use MQTT or HTTP)",
    )
    reset.add_argument("keys", nargs="*", metavar="KEY", help="dotted key (or prefix) to reset")
    reset.add_argument("--all", action="store_true", help="reset every override")
    providers = sub.add_parser("providers", help="plugin management")
    actions = providers.add_subparsers(dest="action", required=True)
    _json_flag(actions.add_parser("status", help="status of every plugin file and provider"))
    update = actions.add_parser("update", help="update one deployed plugin from the bundle")
    update.add_argument(
        "name", help="provider id (octopus_agile) or plugin file (octopus_agile_provider.py)"
    )
    actions.add_parser("update-all", help="update every outdated plugin")
    actions.add_parser("reload", help="re-import the deployed plugin files")
    for commands in (sub, changes, actions):  # `energyd prices --config x.toml` too
        for command in dict.fromkeys(commands.choices.values()):
            _global_options(command, after_command=True)
    return parser


def _global_options(parser: argparse.ArgumentParser, *, after_command: bool = False) -> None:
    """``--config`` and ``--log-level``: before the command, and after it (``after_command``:
    not given there, the value before the command stands)."""
    default: Any = argparse.SUPPRESS if after_command else None
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=default,
        help="TOML config file (default: $ENERGYD_CONFIG)",
    )
    parser.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], default=default
    )


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="JSON instead of a table")


def main(argv: Sequence[str] | None = None) -> int:
    """The ``energyd`` command; returns the exit code.

    Start-up runs without the cyclic garbage collector: its passes over every object while
    the modules, settings and plugins load cost a tenth of the start-up and free next to
    nothing. ``run`` switches it on once the daemon has published what the store knows, any
    other command before its work (``python -m energyd`` turns it off before the imports
    already, see :mod:`energyd.__main__`).
    """
    gc.disable()
    try:
        return _main(argv)
    finally:
        gc.enable()


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"energyd: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(args.log_level or settings.log.level, settings.log.format)
    for name, why in unknown_env_vars().items():
        print(f"energyd: warning: {name} {why}", file=sys.stderr)
    try:
        return asyncio.run(_dispatch(args, settings))
    except ConfigError as exc:
        print(f"energyd: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except CommandError as exc:
        details = "".join(
            f"\n  {key}: {why}"
            for key, why in _details(exc.details).items()
            if f"{key}: {why}" not in exc.message  # the message names the first already
        )
        print(f"energyd: {exc.code}: {exc.message}{details}", file=sys.stderr)
        return EXIT_CONFIG if exc.code == ErrorCode.INVALID_ARGUMENT else EXIT_FAILED
    except EnergydError as exc:
        print(f"energyd: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK


def _started() -> None:
    """Start-up is over: what it built lives as long as the daemon (modules, plugins, the
    stored prices read), so it is moved out of the collector's reach (``gc.freeze``) before
    the collector goes on; a full pass over it would otherwise hold the loop for tens of ms
    now and then, at a slot boundary as likely as anywhere."""
    gc.collect()
    gc.freeze()
    gc.enable()


def _details(details: object) -> dict[str, Any]:
    return {str(k): v for k, v in details.items()} if isinstance(details, Mapping) else {}


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2))


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "run":
        await run_daemon(settings, on_started=_started)
        return EXIT_OK
    gc.enable()  # start-up is over
    if args.command == "check-config":
        _print_json(inspect_config(settings, _config_file(args)))
        return EXIT_OK
    if args.command == "region":
        return await _region(args, settings)
    async with build(settings) as parts:
        ops = parts.operations()
        if args.command == "fetch":
            return await _fetch(args, parts)
        if args.command == "providers":
            return await _providers(args, ops)
        if args.command == "settings":
            return await _settings(args, parts, ops)
        return await _reads(args, parts, ops)
    return EXIT_CONFIG


def _config_file(args: argparse.Namespace) -> Path | None:
    chosen = args.config or os.environ.get(CONFIG_ENV)
    return Path(chosen).expanduser() if chosen else None


async def _region(args: argparse.Namespace, settings: Settings) -> int:
    """``energyd region --postcode``: the region(s), their names, and the line to set."""
    found = await lookup_region(settings, args.postcode, args.provider)
    if args.json:
        _print_json(found)
    elif not found["regions"]:
        print(f"no region found for {found['query']!r} (check the postcode)")
    else:
        for code in found["regions"]:
            name = found["names"].get(code)
            print(f"{code}" + (f" ({name})" if name else ""))
        if len(found["regions"]) > 1:
            print("the postcode spans several regions: pick the one on your bill")
        section = f"[energy.providers.{found['provider']}]"
        print(f'set it in your config file: {section} region = "{found["regions"][0]}"')
    return EXIT_OK if found["regions"] else EXIT_FAILED


async def _fetch(args: argparse.Namespace, parts: Components) -> int:
    """The ``refresh`` operation, then each fetched window as stored (the runs themselves say
    which window they fetched, which the operation's JSON reply does not)."""
    service = parts.service
    runs = await service.refresh(args.provider)
    for run in runs:
        spec = service.spec(run.provider_id)
        print(
            f"{run.provider_id} {run.region}: {run.outcome.value}, {run.slots} slots"
            + (f" ({run.error_type}: {run.error})" if run.error else "")
        )
        if run.outcome is FetchOutcome.OK and run.window_start and run.window_end:
            stored = await service.price_window(spec, run.window_start, run.window_end)
            print(_prices_text(stored, service.calendar(spec).zone.key))
    return EXIT_FAILED if any(r.outcome is FetchOutcome.ERROR for r in runs) else EXIT_OK


#: What the command line says after changing overrides in the database.
RESET_NOTE = (
    "note: the overrides were reset in the database ({db}); a running daemon keeps the ones"
    " it read at start until it restarts. To reset a running daemon, use MQTT settings/reset"
    " or HTTP DELETE /api/settings instead."
)


async def _settings(args: argparse.Namespace, parts: Components, ops: Operations) -> int:
    if args.action == "get":
        _print_json(await ops.settings_get(NoArgs()))
        return EXIT_OK
    if bool(args.keys) == bool(args.all):
        raise CommandError(
            ErrorCode.INVALID_ARGUMENT, "settings reset: give the KEY(s) to reset, or --all"
        )
    given = {"all": True} if args.all else {"keys": args.keys}
    reply = await ops.settings_reset(parse_arguments(SettingsResetArgs, given))
    _print_json(reply)
    print(RESET_NOTE.format(db=parts.settings.db_path), file=sys.stderr)
    return EXIT_OK


async def _providers(args: argparse.Namespace, ops: Operations) -> int:
    if args.action == "status":
        overview = await ops.providers_status(NoArgs())
        _show(args, overview, lambda: _providers_table(overview))
        return EXIT_OK
    if args.action == "update":
        record = await ops.providers_update(
            parse_arguments(UpdateArgs, {"name": args.name}), actor=ACTOR
        )
        _print_json(record)
        return EXIT_OK if record["ok"] else EXIT_FAILED
    if args.action == "reload":
        record = await ops.providers_reload(NoArgs(), actor=ACTOR)
        _print_json(record)
        return EXIT_OK if record["ok"] else EXIT_FAILED
    updates = (await ops.providers_update_all(NoArgs(), actor=ACTOR))["updates"]
    _print_json(updates)
    return EXIT_OK if all(r["ok"] for r in updates) else EXIT_FAILED


async def _reads(args: argparse.Namespace, parts: Components, ops: Operations) -> int:
    """The read-only operations: a table, or with ``--json`` the reply itself."""
    if args.command == "prices":
        query = {"provider": args.provider, "hours": args.hours, "day": args.day}
        prices = await ops.prices(parse_arguments(PricesArgs, _given(query)))
        _show(args, prices, lambda: _prices_text(prices, _zone(parts, args.provider)))
    elif args.command == "cheapest":
        query = {
            "provider": args.provider,
            "minutes": args.minutes,
            "earliest": args.earliest,
            "latest": args.latest,
            "contiguous": not args.non_contiguous,
            "mode": "most_expensive" if args.most_expensive else "cheapest",
        }
        window = await ops.cheapest(parse_arguments(CheapestArgs, _given(query)))
        _show(args, window, lambda: _window_text(window, _zone(parts, args.provider)))
    elif args.command == "figures":
        query = {"provider": args.provider}
        figures = await ops.figures(parse_arguments(FiguresArgs, _given(query)))
        _show(args, figures, lambda: _figures_text(figures, _zone(parts, args.provider)))
    elif args.command == "audit":
        audit = await ops.audit(parse_arguments(AuditArgs, {"limit": args.limit}))
        _show(args, audit, lambda: _audit_table(audit["records"]))
    else:
        health = await ops.health(parse_arguments(HealthArgs, {"probe": args.probe}))
        _show(args, health, lambda: _health_text(health))
        return EXIT_OK if health["ok"] else EXIT_FAILED
    return EXIT_OK


def _show(args: argparse.Namespace, reply: object, table: Callable[[], str]) -> None:
    if args.json:
        _print_json(reply)
    else:
        print(table())


def _zone(parts: Components, provider: str | None) -> str:
    """The market's time zone of ``provider`` (local times in the tables)."""
    service = parts.service
    return service.calendar(service.spec(provider)).zone.key


def _given(values: Mapping[str, Any]) -> dict[str, Any]:
    """The options given (argparse's ``None`` is "not given": the model's default applies)."""
    return {key: value for key, value in values.items() if value is not None}


# -- output ------------------------------------------------------------------------------------


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _local(text: str | None, zone: str) -> str:
    if text is None:
        return "-"
    return f"{_moment(text).astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M %Z}"


def _number(value: object) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float | int) else "-"


def _prices_text(prices: PriceWindowReply, zone: str) -> str:
    """The ``prices`` reply: a header line (provider, region, unit, window), then the table."""
    day = f" ({prices['date']})" if "date" in prices else ""
    head = (
        f"provider {prices['provider']}, region {prices['region']}, prices in "
        f"{prices['unit'] or 'an unknown unit'}: {_local(prices['start'], zone)} to "
        f"{_local(prices['end'], zone)}{day}"
    )
    return f"{head}\n{_table(prices['slots'], zone)}"


def _providers_table(overview: OverviewReply) -> str:
    """``providers status``: one line per plugin file, then one per running provider."""
    plugins = overview["plugins"]
    rows = [("file", "provider id", "deployed / bundled", "state", "kit", "error")]
    for p in plugins:
        versions = f"{p['deployed_version'] or '-'} / {p['bundled_version'] or '-'}"
        kit = "-" if p["kit"] is None else str(p["kit"])
        rows.append(
            (p["file"], p["provider_id"] or "-", versions, p["status"], kit, p["error"] or "")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    if not plugins:
        lines.append("(no plugin files)")
    lines.append("")
    for provider in overview["providers"]:
        selected = " (selected)" if provider["selected"] else ""
        health = provider["health"]
        lines.append(
            f"provider {provider['id']} region {provider['region']}{selected}: "
            f"{health['state']}: {health['message']}"
        )
    return "\n".join(lines).rstrip()


def _table(slots: Sequence[SlotJson], zone: str) -> str:
    """A plain table: UTC start, local start (market zone), price in minor units per kWh
    (and the market price beside it where a price formula made the price)."""
    market = any("market" in slot for slot in slots)
    head = f"{'start (UTC)':<17}  {'start (' + zone + ')':<26}  {'price':>9}"
    lines = [head + (f"  {'market':>9}" if market else "")]
    for slot in slots:
        start = _moment(slot["start"])
        line = (
            f"{start:%Y-%m-%d %H:%M}  {_local(slot['start'], zone)}".ljust(45)
            + f"  {_number(slot['price']):>9}"
        )
        if market:
            line += f"  {_number(slot.get('market')):>9}"
        lines.append(line)
    if not slots:
        lines.append("(no prices stored for this window)")
    return "\n".join(lines)


def _window_text(window: WindowReply, zone: str) -> str:
    kind = "contiguous" if window["contiguous"] else "any slots"
    head = (
        f"{window['mode']} {window['minutes']} min ({kind}) between "
        f"{_local(window['period_start'], zone)} and {_local(window['period_end'], zone)}"
    )
    if not window["available"]:
        return f"{head}:\n(no window: the prices of the period are not all known yet)"
    found = (
        f"{head}:\n{_local(window['start'], zone)} to {_local(window['end'], zone)}, "
        f"mean {_number(window['mean'])} {window['unit']}"
    )
    return f"{found}\n{_table(window['slots'], zone)}"


def _figures_text(figures: FiguresReply, zone: str) -> str:
    level = figures.get("level")
    band, price = (None, None) if level is None else (level["level"], level["price"])
    lines = [f"level: {band or '-'} (price {_number(price)})"]
    lines.append(f"{'period':<10}  {'count':>5}  {'min':>9}  {'max':>9}  {'mean':>9}  complete")
    for name, stats in (figures.get("stats") or {}).items():
        if stats is None:
            lines.append(f"{name:<10}  (cannot be built)")
            continue
        lines.append(
            f"{name:<10}  {stats['count']:>5}  {_number(stats['min']):>9}  "
            f"{_number(stats['max']):>9}  {_number(stats['mean']):>9}  {stats['complete']}"
        )
    for window in figures.get("windows") or []:
        where = (
            f"{_local(window['start'], zone)} to {_local(window['end'], zone)}, "
            f"mean {_number(window['mean'])}"
            if window["available"]
            else "not known yet"
        )
        active = " (active)" if window.get("active") else ""
        lines.append(f"window {window['name']}: {where}{active}")
    return "\n".join(lines)


def _audit_table(records: Sequence[AuditRecordJson]) -> str:
    lines = [f"{'at':<20}  {'actor':<6}  {'action':<10}  {'ok':<5}  file / message"]
    for record in records:
        lines.append(
            f"{record['at']:<20}  {record['actor']:<6}  {record['action']:<10}  "
            f"{record['ok']!s:<5}  {record['file']}: {record['message']}"
        )
    if not records:
        lines.append("(no audit records)")
    return "\n".join(lines)


def _health_text(health: HealthReply) -> str:
    lines = [f"healthy: {'yes' if health['ok'] else 'no'}"]
    for name, check in health["checks"].items():
        lines.append(f"{name:<8}  {'ok' if check['ok'] else 'FAIL':<4}  {check['detail']}")
    for key, report in health["providers"].items():
        lines.append(f"provider {key}: {report['state']}: {report['message']}")
    for key, probe in (health.get("probes") or {}).items():
        lines.append(f"probe {key}: {probe['state']}: {probe['message']}")
    return "\n".join(lines)
