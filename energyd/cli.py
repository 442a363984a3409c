"""Command line: argument parsing and output formatting only; the work is the operations'
(:class:`energyd.api.operations.Operations`, the same the MQTT commands and HTTP routes call).

Exit codes: 0 success, 1 the operation failed (fetch error, plugin update refused, not
healthy), 2 invalid configuration or usage (arguments an operation refuses included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from energyd import __version__
from energyd.api.arguments import (
    AuditArgs,
    CheapestArgs,
    FiguresArgs,
    HealthArgs,
    NoArgs,
    PricesArgs,
    UpdateArgs,
    parse_arguments,
)
from energyd.api.errors import ErrorCode
from energyd.api.operations import Operations
from energyd.api.replies import AuditRecordJson, FiguresReply, HealthReply, WindowReply
from energyd.app import Components, build, run_daemon
from energyd.config import Settings, load_settings
from energyd.domain.figures import SlotJson, slot_json
from energyd.domain.records import FetchOutcome
from energyd.exceptions import CommandError, ConfigError, EnergydError
from energyd.log import configure_logging

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
#: Who audit records name for plugin actions run from the command line.
ACTOR = "cli"


class PriceRow(TypedDict):
    """One row of ``energyd prices --json`` (the rows this command has always printed)."""

    valid_from: str
    valid_to: str
    price: float | None
    currency: str | None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="energyd", description="Energy price daemon")
    parser.add_argument("--version", action="version", version=f"energyd {__version__}")
    parser.add_argument(
        "-c", "--config", type=Path, help="TOML config file (default: $ENERGYD_CONFIG)"
    )
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the daemon")
    sub.add_parser("check-config", help="validate the configuration and exit")
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
    settings = sub.add_parser("settings", help="effective settings")
    settings.add_subparsers(dest="action", required=True).add_parser(
        "get", help="the effective settings, secrets redacted (JSON)"
    )
    providers = sub.add_parser("providers", help="plugin management")
    actions = providers.add_subparsers(dest="action", required=True)
    actions.add_parser("status", help="status of every plugin file and provider")
    update = actions.add_parser("update", help="update one deployed plugin from the bundle")
    update.add_argument("name", help="plugin file name, e.g. octopus_agile_provider.py")
    actions.add_parser("update-all", help="update every outdated plugin")
    actions.add_parser("reload", help="re-import the deployed plugin files")
    return parser


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="JSON instead of a table")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"energyd: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(args.log_level or settings.log.level, settings.log.format)
    try:
        return asyncio.run(_dispatch(args, settings))
    except ConfigError as exc:
        print(f"energyd: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except CommandError as exc:
        details = "".join(f"\n  {key}: {why}" for key, why in _details(exc.details).items())
        print(f"energyd: {exc.code}: {exc.message}{details}", file=sys.stderr)
        return EXIT_CONFIG if exc.code == ErrorCode.INVALID_ARGUMENT else EXIT_FAILED
    except EnergydError as exc:
        print(f"energyd: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK


def _details(details: object) -> dict[str, Any]:
    return {str(k): v for k, v in details.items()} if isinstance(details, Mapping) else {}


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2))


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "run":
        await run_daemon(settings)
        return EXIT_OK
    async with build(settings) as parts:
        ops = parts.operations()
        if args.command == "check-config":
            service = parts.service
            problems = {spec.key: service.problem(spec) for spec in service.specs()}
            _print_json({"ok": True, "settings": service.settings_view(), "providers": problems})
            return EXIT_OK
        if args.command == "fetch":
            return await _fetch(args, parts)
        if args.command == "providers":
            return await _providers(args, ops)
        if args.command == "settings":
            _print_json(await ops.settings_get(NoArgs()))
            return EXIT_OK
        return await _reads(args, parts, ops)
    return EXIT_CONFIG


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
            slots = await service.slots(spec, run.window_start, run.window_end)
            print(_table([slot_json(slot) for slot in slots], service.calendar(spec).zone.key))
    return EXIT_OK if all(r.outcome is FetchOutcome.OK for r in runs) else EXIT_FAILED


async def _providers(args: argparse.Namespace, ops: Operations) -> int:
    if args.action == "status":
        _print_json(await ops.providers_status(NoArgs()))
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
        if args.json:  # the rows this command has always printed
            _print_json([_price_row(slot, prices["currency"]) for slot in prices["slots"]])
        else:
            print(_table(prices["slots"], _zone(parts, args.provider)))
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


def _price_row(slot: SlotJson, currency: str | None) -> PriceRow:
    return {
        "valid_from": slot["start"],
        "valid_to": slot["end"],
        "price": slot["price"],
        "currency": currency,
    }


def _table(slots: Sequence[SlotJson], zone: str) -> str:
    """A plain table: UTC start, local start (market zone), price in minor units per kWh."""
    lines = [f"{'start (UTC)':<17}  {'start (' + zone + ')':<26}  {'price':>9}"]
    for slot in slots:
        start = _moment(slot["start"])
        lines.append(
            f"{start:%Y-%m-%d %H:%M}  {_local(slot['start'], zone)}".ljust(45)
            + f"  {slot['price']:>9.3f}"
        )
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
