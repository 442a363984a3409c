"""Start-up: process start to the first retained ``current`` price, and memory, vs importing
the dependencies.

The baseline is a child process that only imports energyd's five dependencies
(``python -c "import aiomqtt, aiohttp, aiosqlite, pydantic_settings, structlog"``, then it
prints its ``/proc/self/status``): its wall time from spawn to exit, and its peak RSS (the
``VmHWM`` it printed: the high-water mark of the interpreter it became, not ``ru_maxrss``,
which also counts the copy of this process the child was forked from -- 124 MiB after the
ingest benchmark).

energyd's round is ``python -m energyd --config <file> run``, as systemd starts it, against a
real mosquitto on loopback, with a store that already holds today's and tomorrow's prices (so
the first retained ``current`` comes from the store, no fetch needed; the plugin's
``base_url`` is a closed loopback port, the address the prices were fetched from before).
Its time runs from spawn to the arrival of the first ``<base>/prices/.../current`` at a
subscriber connected before the spawn; its memory is the daemon's ``VmHWM`` (peak RSS, from
``/proc/<pid>/status``) at that moment. Each round has its own base topic, so no retained
message of an earlier round answers it.

Both children run the same interpreter with the same environment, with bytecode caches
(``PYTHONPYCACHEPREFIX`` in the run's temporary folder, written by a warm-up round of each,
not counted): an installed energyd has its ``.pyc`` files, as the installed dependencies do.
Rounds are interleaved (baseline, energyd, baseline, ...); the figures are medians.

Run: ``.venv/bin/python -m bench.bench_startup [--quick] [--rounds 7]``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import Figure, format_table
from tests.support.broker import MosquittoBroker, collect, find_mosquitto
from tests.support.fake_octopus import serve
from tests.support.process import ROOT, energyd_env

__all__ = ["figures", "main"]

ROUNDS = 7
QUICK_ROUNDS = 2
TIME_LIMIT = 1.2  # the goals, as ratios to the baseline
RSS_LIMIT = 1.25
DEPENDENCIES = (
    "import aiomqtt, aiohttp, aiosqlite, pydantic_settings, structlog, sys;"
    " sys.stdout.write(open('/proc/self/status').read())"
)
PROVIDER, REGION = "octopus_agile", "C"
WITHIN = 30.0  # seconds a daemon may take before the round is abandoned (a hang, not a figure)


@dataclass(frozen=True, slots=True)
class _Round:
    seconds: float
    rss_kib: int


def _environment(folder: Path) -> dict[str, str]:
    """The children's environment: no energyd or systemd variables of ours, bytecode caches
    written to (and read from) the run's own folder."""
    env = energyd_env(PYTHONPYCACHEPREFIX=str(folder / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _config(folder: Path, base_url: str, port: int, base_topic: str) -> Path:
    """A user's config for Agile region C on the bench's broker, one base topic per round."""
    path = folder / f"{base_topic}.toml"
    path.write_text(
        "\n".join(
            [
                f'config_dir = "{folder / "config"}"',
                "[energy.providers.octopus_agile]",
                f'region = "{REGION}"',
                f'base_url = "{base_url}"',
                "[mqtt]",
                'host = "127.0.0.1"',
                f"port = {port}",
                f'base_topic = "{base_topic}"',
                f'client_id = "{base_topic}"',
                "",
            ]
        )
    )
    return path


def _spawn(
    args: list[str], env: dict[str, str], *, output: bool = False
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if output else subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _baseline_round(env: dict[str, str]) -> _Round:
    began = time.perf_counter()
    child = _spawn(["-c", DEPENDENCIES], env, output=True)
    status, _ = child.communicate()
    seconds = time.perf_counter() - began
    if child.returncode != 0:
        raise SystemExit(f"importing the dependencies failed ({child.returncode})")
    return _Round(seconds, _vm_hwm_kib(status.decode(), "the baseline"))


def _vm_hwm_kib(status: str, whose: str) -> int:
    """``VmHWM`` (peak RSS, KiB) from the text of a ``/proc/<pid>/status``."""
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise SystemExit(f"no VmHWM for {whose}")


def _peak_rss_kib(pid: int) -> int:
    """``VmHWM`` of a running process, in KiB."""
    return _vm_hwm_kib(Path(f"/proc/{pid}/status").read_text(), f"process {pid}")


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(10)


async def _energyd_round(
    folder: Path, env: dict[str, str], base_url: str, port: int, base_topic: str
) -> _Round:
    config = _config(folder, base_url, port, base_topic)
    topic = f"{base_topic}/prices/{PROVIDER}/{REGION}/current"
    async with collect(port, topic) as subscriber:
        began = time.perf_counter()
        child = _spawn(["-m", "energyd", "--config", str(config), "run"], env)
        try:
            arrived = asyncio.create_task(subscriber.wait_for(topic, within=WITHIN))
            exited = asyncio.create_task(asyncio.to_thread(child.wait))
            await asyncio.wait({arrived, exited}, return_when=asyncio.FIRST_COMPLETED)
            if not arrived.done():
                arrived.cancel()
                raise SystemExit(f"energyd exited with {child.returncode} before publishing")
            arrived.result()  # a timeout: the daemon hung
            seconds = time.perf_counter() - began
            rss = _peak_rss_kib(child.pid)
        finally:
            await asyncio.to_thread(_stop, child)
            await exited
    return _Round(seconds, rss)


async def _prefill(folder: Path, env: dict[str, str], port: int) -> str:
    """Fill the store as a daemon does: run one against the Octopus stand-in until it has
    published the current price, then stop it and the stand-in (its port is then closed)."""
    async with serve() as api:
        await _energyd_round(folder, env, api.url, port, "bench-prefill")
        return api.url


async def _measure(rounds: int) -> tuple[list[Figure], list[str]]:
    binary = find_mosquitto()
    if binary is None:
        raise SystemExit("mosquitto is needed: apt-get install mosquitto")
    ours: list[_Round] = []
    bare: list[_Round] = []
    with tempfile.TemporaryDirectory(prefix="energyd-bench-startup-") as tmp:
        folder = Path(tmp)
        env = _environment(folder)
        broker = MosquittoBroker(binary, folder / "mosquitto")
        broker.start()
        try:
            base_url = await _prefill(folder, env, broker.port)
            _baseline_round(env)  # warm-up of each: bytecode caches, the OS's file cache
            await _energyd_round(folder, env, base_url, broker.port, "bench-warmup")
            for index in range(rounds):
                bare.append(await asyncio.to_thread(_baseline_round, env))
                ours.append(
                    await _energyd_round(folder, env, base_url, broker.port, f"bench-{index}")
                )
        finally:
            broker.stop()
    ours_s = statistics.median(r.seconds for r in ours)
    bare_s = statistics.median(r.seconds for r in bare)
    ours_mib = statistics.median(r.rss_kib for r in ours) / 1024
    bare_mib = statistics.median(r.rss_kib for r in bare) / 1024
    baseline = "importing the five dependencies"
    measured = [
        Figure(
            name="start to first retained price (from the store)",
            value=ours_s * 1000,
            unit="ms",
            baseline=bare_s * 1000,
            baseline_name=baseline,
            limit=TIME_LIMIT,
        ),
        Figure(
            name="peak RSS at the first retained price",
            value=ours_mib,
            unit="MiB",
            baseline=bare_mib,
            baseline_name=baseline,
            limit=RSS_LIMIT,
        ),
    ]
    details = [
        f"# start-up: median of {rounds} rounds each, interleaved",
        "#   energyd  ms  " + " ".join(f"{r.seconds * 1000:.0f}" for r in ours),
        "#   baseline ms  " + " ".join(f"{r.seconds * 1000:.0f}" for r in bare),
        "#   energyd  MiB " + " ".join(f"{r.rss_kib / 1024:.1f}" for r in ours),
        "#   baseline MiB " + " ".join(f"{r.rss_kib / 1024:.1f}" for r in bare),
    ]
    return measured, details


def figures(quick: bool = False) -> list[Figure]:
    """The start-up figures (see the module doc); ``quick``: 2 rounds each."""
    return asyncio.run(_measure(QUICK_ROUNDS if quick else ROUNDS))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds each")
    parser.add_argument("--rounds", type=int, help="rounds of each side (interleaved)")
    args = parser.parse_args()
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS)
    measured, details = asyncio.run(_measure(max(1, min(rounds, 30))))
    print(format_table(measured))
    for line in details:
        print(line)


if __name__ == "__main__":
    main()
