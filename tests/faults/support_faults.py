"""Helpers shared by the fault tests: requests over MQTT, the broker killed, the store read.

The store is read with the standard ``sqlite3`` module (read-only URI), never through
energyd's own code, so a test sees exactly what is on disk.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from energyd.providers.loader import bundled_plugin_dir
from tests.support.broker import Collector, MosquittoBroker, collect
from tests.support.octopus_data import default_price
from tests.support.process import start_energyd

__all__ = [
    "OCTOPUS_FILE",
    "ask",
    "deploy_octopus",
    "integrity",
    "kill_broker",
    "payload",
    "plugin_dir",
    "price_at",
    "price_rows",
    "read_only",
    "retained",
    "settled",
    "subprocess_daemon",
    "utc_from",
    "utc_now",
]

OCTOPUS_FILE = "octopus_agile_provider.py"


def payload(message: Any) -> Any:
    """The JSON body of an MQTT message."""
    return json.loads(bytes(message.payload))


def utc_now() -> str:
    """Now as the daemon writes it (ISO 8601 UTC with ``Z``), for ``>=`` comparisons."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def utc_from(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def price_at(start: str, region: str = "C") -> float:
    """What the fake API charges for the slot starting at ``start`` (ISO, as published)."""
    return default_price(region, utc_from(start))


async def ask(
    client: Collector, base: str, command: str, body: dict[str, Any], *, within: float = 10.0
) -> dict[str, Any]:
    """Send ``body`` to ``command`` with a fresh transaction; the reply that echoes it."""
    marker = os.urandom(4).hex()
    await client.publish(f"{base}/request/{command}", json.dumps({**body, "transaction": marker}))
    message = await client.wait_for(
        f"{base}/response/{command}",
        lambda m: payload(m).get("transaction") == marker,
        within=within,
    )
    reply: dict[str, Any] = payload(message)
    return reply


def kill_broker(broker: MosquittoBroker) -> None:
    """SIGKILL the broker (no clean shutdown, nothing saved), then reap it."""
    process = broker._process  # the support class stops, it has no kill of its own
    assert process is not None, "the broker is not running"
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    broker.stop()  # reaps nothing more, closes its pipes and forgets the process


def plugin_dir(config_dir: Path) -> Path:
    """Where the daemon loads plugin files from."""
    return config_dir / "providers" / "energy"


def deploy_octopus(config_dir: Path) -> Path:
    """Put the bundled Octopus plugin into the deployed folder (a folder that has any plugin
    is not filled from the bundle, so tests that add their own must add this one too)."""
    target = plugin_dir(config_dir)
    target.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(bundled_plugin_dir() / OCTOPUS_FILE, target / OCTOPUS_FILE))


@contextmanager
def read_only(db: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the daemon's SQLite file."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as connection:
        yield connection


def price_rows(db: Path, provider: str | None = None) -> list[tuple[Any, ...]]:
    """Every price slot row (optionally of one provider), in key order."""
    with read_only(db) as connection:
        query = "SELECT * FROM price_slots"
        if provider is None:
            return connection.execute(query + " ORDER BY 1, 2, 3").fetchall()
        return connection.execute(
            query + " WHERE provider_id = ? ORDER BY 1, 2, 3", (provider,)
        ).fetchall()


def integrity(db: Path) -> str:
    """``PRAGMA integrity_check`` of the file (``"ok"`` when sound)."""
    with read_only(db) as connection:
        rows = connection.execute("PRAGMA integrity_check").fetchall()
    return "\n".join(str(row[0]) for row in rows)


async def settled(client: Collector, *, quiet: float = 0.3, within: float = 10.0) -> None:
    """Wait until ``client`` has received nothing for ``quiet`` seconds (the daemon's publish
    burst after a connect or a fetch is over)."""
    async with asyncio.timeout(within):
        while True:
            count = len(client.messages)
            await asyncio.sleep(quiet)
            if len(client.messages) == count:
                return


async def retained(port: int, topic: str) -> tuple[bytes, bool]:
    """What a new subscriber gets first on ``topic``: (payload, whether it was retained)."""
    async with collect(port, topic) as fresh:
        message = await fresh.wait_for(topic)
    return bytes(message.payload), message.retain


@asynccontextmanager
async def subprocess_daemon(config: Path, log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """``energyd --config CONFIG run`` as a subprocess, its log appended to ``log``; killed
    at the end of the block if still running."""
    with log.open("ab") as stderr:
        process = await start_energyd(
            config, "run", stdout=asyncio.subprocess.DEVNULL, stderr=stderr
        )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
