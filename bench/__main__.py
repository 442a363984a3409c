"""Every benchmark in one run, one table: ``.venv/bin/python -m bench [--quick] [--only NAME]``.

Each module measures its figures against a baseline in the same run (see
:mod:`bench.common`); this runner only calls them in turn and prints them together, with the
machine they were measured on. Loopback only; each module starts and stops its own broker,
stand-ins and temporary folders. The full run takes a few minutes; ``--quick`` is a smoke run.
The exit code is 0 even when a goal is missed: the table says ``MISSED``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time

from bench.common import Figure, format_table

#: The modules, in the order the issue lists their figures.
MODULES = (
    "bench_boundary",
    "bench_commands",
    "bench_calls",
    "bench_ingest",
    "bench_startup",
)


def machine() -> str:
    """One line naming the machine: CPU model, cores, Python, SQLite, load at the start."""
    import sqlite3

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, load {load}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smaller run (a smoke test)")
    parser.add_argument(
        "--only", action="append", choices=MODULES, help="run only this module (repeatable)"
    )
    args = parser.parse_args()
    chosen = args.only or list(MODULES)
    print(f"# machine: {machine()}", flush=True)
    figures: list[Figure] = []
    for name in chosen:
        began = time.monotonic()
        module = importlib.import_module(f"bench.{name}")
        measured = module.figures(quick=args.quick)
        figures.extend(measured)
        print(f"# {name}: {len(measured)} figures in {time.monotonic() - began:.0f} s", flush=True)
        print(format_table(measured), flush=True)
        print(flush=True)
    print("# all figures")
    print(format_table(figures))
    missed = [figure.name for figure in figures if figure.ok is False]
    detail = f": {', '.join(missed)}" if missed else ""
    print(f"# {len(figures)} figures, {len(missed)} goals missed{detail}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
