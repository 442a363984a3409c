"""Command line: argument parsing and output formatting only; the work is done elsewhere.

Exit codes: 0 success, 1 the operation failed (fetch error, plugin update refused),
2 invalid configuration or usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from energyd import __version__
from energyd.app import build, run_daemon
from energyd.config import Settings, load_settings
from energyd.domain.records import FetchOutcome
from energyd.domain.time import iso_utc
from energyd.exceptions import ConfigError, EnergydError
from energyd.log import configure_logging
from energyd.providers.base import EnergyPriceSlot

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


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
    prices.add_argument("--hours", type=float, default=24.0, help="window from now (24)")
    prices.add_argument("--json", action="store_true", help="JSON instead of a table")
    providers = sub.add_parser("providers", help="plugin management")
    actions = providers.add_subparsers(dest="action", required=True)
    actions.add_parser("status", help="status of every plugin file and provider")
    update = actions.add_parser("update", help="update one deployed plugin from the bundle")
    update.add_argument("name", help="plugin file name, e.g. octopus_agile_provider.py")
    actions.add_parser("update-all", help="update every outdated plugin")
    return parser


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
    except EnergydError as exc:
        print(f"energyd: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "run":
        await run_daemon(settings)
        return EXIT_OK
    async with build(settings) as parts:
        service = parts.service
        if args.command == "check-config":
            problems = {spec.key: service.problem(spec) for spec in service.specs()}
            print(
                json.dumps(
                    {"ok": True, "settings": service.settings_view(), "providers": problems},
                    indent=2,
                )
            )
            return EXIT_OK
        if args.command == "fetch":
            runs = await service.refresh(args.provider)
            for run in runs:
                spec = service.spec(run.provider_id)
                print(
                    f"{run.provider_id} {run.region}: {run.outcome.value}, {run.slots} slots"
                    + (f" ({run.error_type}: {run.error})" if run.error else "")
                )
                if run.outcome is FetchOutcome.OK and run.window_start and run.window_end:
                    slots = await service.slots(spec, run.window_start, run.window_end)
                    print(_table(slots, service.calendar(spec).zone.key))
            return EXIT_OK if all(r.outcome is FetchOutcome.OK for r in runs) else EXIT_FAILED
        if args.command == "prices":
            spec = service.spec(args.provider)
            now = datetime.now(UTC)
            slots = await service.slots(spec, now, now + timedelta(hours=args.hours))
            if args.json:
                print(json.dumps([_slot_row(s) for s in slots], indent=2))
            else:
                print(_table(slots, service.calendar(spec).zone.key))
            return EXIT_OK
        if args.command == "providers":
            return await _providers(args, parts.manager, service)
    return EXIT_CONFIG


async def _providers(args: argparse.Namespace, manager: Any, service: Any) -> int:
    if args.action == "status":
        print(json.dumps(await service.overview(), indent=2))
        return EXIT_OK
    if args.action == "update":
        record = await manager.update(args.name, "cli")
        print(json.dumps(record.as_json(), indent=2))
        return EXIT_OK if record.ok else EXIT_FAILED
    records = await manager.update_all("cli")
    print(json.dumps([r.as_json() for r in records], indent=2))
    return EXIT_OK if all(r.ok for r in records) else EXIT_FAILED


def _slot_row(slot: EnergyPriceSlot) -> dict[str, Any]:
    return {
        "valid_from": iso_utc(slot.valid_from),
        "valid_to": iso_utc(slot.valid_to),
        "price": slot.price_pence,
        "currency": slot.currency,
    }


def _table(slots: Sequence[EnergyPriceSlot], zone: str) -> str:
    """A plain table: UTC start, local start (market zone), price in minor units per kWh."""
    local = ZoneInfo(zone)
    lines = [f"{'start (UTC)':<17}  {'start (' + zone + ')':<26}  {'price':>9}"]
    for slot in slots:
        lines.append(
            f"{slot.valid_from:%Y-%m-%d %H:%M}  "
            f"{slot.valid_from.astimezone(local):%Y-%m-%d %H:%M %Z}".ljust(45)
            + f"  {slot.price_pence:>9.3f}"
        )
    if not slots:
        lines.append("(no prices stored for this window)")
    return "\n".join(lines)
