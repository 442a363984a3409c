"""Benchmark of energyd.core.store: `python bench/bench_store.py` (well under a minute).

One year of 30-minute slots for 14 regions (245,280 rows) is upserted into a temporary
database in fetch-sized batches (48-96 slots per ``save_fetch``, as the daemon does), and into
a fresh file in one big batch per region (``save_fetch`` takes one series). The same rows
through the stdlib sqlite3 module, one ``executemany``, are the baseline: it skips energyd's
datetime conversion and checks as well as aiosqlite's thread hop, and writes fewer columns
with a smaller upsert (for the like-for-like figure, the same statement and columns, with the
validation of a fetch, see ``bench/bench_ingest.py``). Then 1000 "48 h window"
queries, 1000 ``slot_at`` lookups at random moments and 1000 ``coverage_end`` calls from up
to 48 h before the end of the data (how the daemon asks) are timed. Prints rows/s, ms per
query (median, p95) and peak RSS. A shared machine varies by 20-30 %: compare within one run.
No timing is asserted.
"""

from __future__ import annotations

import asyncio
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from energyd.core.store import MIGRATIONS, PriceStore
from energyd.domain.records import FetchOutcome, FetchRun
from energyd.providers.base import EnergyPriceSlot

REGIONS = tuple("ABCDEFGHJKLMNP")  # the 14 Agile regions
START = datetime(2025, 1, 1, tzinfo=UTC)
SLOTS_PER_REGION = 365 * 48
STEP = timedelta(minutes=30)
QUERIES = 1000


def year_of_slots(seed: int) -> list[EnergyPriceSlot]:
    rng = random.Random(seed)
    return [
        EnergyPriceSlot(
            valid_from=START + i * STEP,
            valid_to=START + (i + 1) * STEP,
            price_pence=round(rng.uniform(-5, 45), 3),
            price_pence_exc_vat=None,
        )
        for i in range(SLOTS_PER_REGION)
    ]


def run_for(region: str, at: datetime, slots: int) -> FetchRun:
    return FetchRun("octopus", region, at, FetchOutcome.OK, slots=slots)


async def batched(path: Path, slots: list[EnergyPriceSlot]) -> tuple[int, int, float]:
    """Upsert in fetch-sized batches; returns (rows, save_fetch calls, seconds)."""
    rng = random.Random(1)
    rows = calls = 0
    began = time.perf_counter()
    async with PriceStore(path) as store:
        for region in REGIONS:
            i = 0
            while i < len(slots):
                batch = slots[i : i + rng.randint(48, 96)]
                rows += await store.save_fetch(
                    "octopus", region, batch, run_for(region, batch[0].valid_from, len(batch))
                )
                calls += 1
                i += len(batch)
    return rows, calls, time.perf_counter() - began


async def one_batch(path: Path, slots: list[EnergyPriceSlot]) -> tuple[int, float]:
    """Upsert the whole year in one save_fetch per region (save_fetch takes one series)."""
    async with PriceStore(path) as store:
        began = time.perf_counter()
        rows = 0
        for region in REGIONS:
            rows += await store.save_fetch("octopus", region, slots, run_for(region, START, 0))
        return rows, time.perf_counter() - began


def raw_baseline(path: Path, slots: list[EnergyPriceSlot]) -> tuple[int, float]:
    """The same rows through stdlib sqlite3, one executemany in one transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    for step in MIGRATIONS:
        for statement in step:
            conn.execute(statement)
    fetched = int(START.timestamp())
    rows = [
        (
            "octopus",
            region,
            int(s.valid_from.timestamp()),
            int(s.valid_to.timestamp()),
            s.price_pence,
            s.currency,
            None,
            fetched,
        )
        for region in REGIONS
        for s in slots
    ]
    began = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO price_slots (provider_id, region, valid_from, valid_to, price, currency,"
        " price_exc_vat, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT DO UPDATE SET price = excluded.price",
        rows,
    )
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - began
    conn.close()
    return len(rows), elapsed


async def timed(calls: list[Callable[[], Awaitable[object]]]) -> list[float]:
    """Milliseconds per call."""
    times = []
    for call in calls:
        began = time.perf_counter()
        await call()
        times.append((time.perf_counter() - began) * 1000)
    return times


def summary(name: str, times: list[float]) -> str:
    p95 = statistics.quantiles(times, n=20)[-1]
    return f"{name:<28} median {statistics.median(times):6.3f} ms   p95 {p95:6.3f} ms"


async def queries(path: Path) -> None:
    rng = random.Random(2)
    span = SLOTS_PER_REGION * 30 * 60 - 48 * 3600
    async with PriceStore(path) as store:

        def window() -> Callable[[], Awaitable[object]]:
            start = START + timedelta(seconds=rng.randrange(span))
            region = rng.choice(REGIONS)
            return lambda: store.slots("octopus", region, start, start + timedelta(hours=48))

        def moment() -> Callable[[], Awaitable[object]]:
            at = START + timedelta(seconds=rng.randrange(span))
            region = rng.choice(REGIONS)
            return lambda: store.slot_at("octopus", region, at)

        found = await store.slots("octopus", "C", START, START + timedelta(hours=48))
        if len(found) != 96:  # a check of the data, not of timing
            raise SystemExit(f"expected 96 slots in 48 h, got {len(found)}")

        def coverage() -> Callable[[], Awaitable[object]]:
            # as the daemon asks: from now to the end of the published prices, up to 48 h
            at = START + timedelta(seconds=span + rng.randrange(48 * 3600))
            region = rng.choice(REGIONS)
            return lambda: store.coverage_end("octopus", region, at)

        print(summary("slots(48 h window)", await timed([window() for _ in range(QUERIES)])))
        print(summary("slot_at", await timed([moment() for _ in range(QUERIES)])))
        print(
            summary("coverage_end (<= 48 h run)", await timed([coverage() for _ in range(QUERIES)]))
        )


async def main() -> None:
    print(f"python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}")
    slots = year_of_slots(0)
    with tempfile.TemporaryDirectory(prefix="energyd-bench-") as tmp:
        root = Path(tmp)
        rows, calls, seconds = await batched(root / "batched.db", slots)
        print(
            f"fetch-sized batches          {rows:,} rows in {calls:,} save_fetch calls:"
            f" {seconds:.2f} s = {rows / seconds:,.0f} rows/s"
        )
        rows, seconds = await one_batch(root / "big.db", slots)
        print(
            f"one batch per region         {rows:,} rows: {seconds:.2f} s"
            f" = {rows / seconds:,.0f} rows/s"
        )
        rows, seconds = raw_baseline(root / "raw.db", slots)
        print(
            f"stdlib sqlite3 baseline      {rows:,} rows: {seconds:.2f} s"
            f" = {rows / seconds:,.0f} rows/s"
        )
        size = (root / "batched.db").stat().st_size  # closed: the WAL is checkpointed
        print(f"database size (batched)      {size / 1e6:.1f} MB")
        await queries(root / "batched.db")
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"peak RSS                     {peak_kib / 1024:.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
