"""Tests for energyd.core.store against real SQLite files in tmp_path."""

from __future__ import annotations

import asyncio
import itertools
import math
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from energyd.core.store import MIGRATIONS, SCHEMA_VERSION, PriceStore
from energyd.domain.records import AuditRecord, FetchOutcome, FetchRun
from energyd.exceptions import StoreError
from energyd.providers.base import EnergyPriceSlot

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2026, 3, 1, tzinfo=UTC)
HALF_HOUR = timedelta(minutes=30)


def make_slots(
    start: datetime, count: int, *, price: float = 10.0, minutes: int = 30
) -> list[EnergyPriceSlot]:
    """``count`` contiguous slots from ``start``, priced ``price``, ``price + 1``, ..."""
    step = timedelta(minutes=minutes)
    return [
        EnergyPriceSlot(
            valid_from=start + i * step,
            valid_to=start + (i + 1) * step,
            price_pence=price + i,
            currency="GBP",
            price_pence_exc_vat=round((price + i) / 1.05, 4),
        )
        for i in range(count)
    ]


def make_run(
    started_at: datetime = T0,
    outcome: FetchOutcome = FetchOutcome.OK,
    *,
    provider_id: str = "octopus",
    region: str = "C",
    slots: int = 0,
    error: str | None = None,
) -> FetchRun:
    return FetchRun(
        provider_id=provider_id,
        region=region,
        started_at=started_at,
        outcome=outcome,
        slots=slots,
        duration_ms=12.5,
        error=error,
        error_type=None if error is None else "ProviderServerError",
        window_start=started_at,
        window_end=started_at + timedelta(days=2),
    )


def raw_query(path: Path, sql: str) -> list[Any]:
    """Run ``sql`` through a separate stdlib connection (what another process would see)."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(sql).fetchall()
    conn.close()
    return rows


def files_in(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "energyd.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[PriceStore]:
    async with PriceStore(db_path) as opened:
        yield opened


class TestLifecycle:
    async def test_open_creates_parent_directory_and_file(self, db_path: Path) -> None:
        """Opening creates the missing parent directory and the database file."""
        async with PriceStore(db_path) as store:
            assert db_path == store.path
            assert ["energyd.db", "energyd.db-shm", "energyd.db-wal"] == files_in(db_path.parent)

    async def test_wal_mode_is_on(self, store: PriceStore) -> None:
        """The file is switched to WAL journal mode (persistent, seen by other connections)."""
        assert [("wal",)] == raw_query(store.path, "PRAGMA journal_mode")

    async def test_entering_twice_is_rejected(self, store: PriceStore) -> None:
        """Entering an open store again raises RuntimeError and leaves it usable."""
        with pytest.raises(RuntimeError, match="already open"):
            async with store:
                pass
        assert {} == await store.counts()

    async def test_closed_store_is_rejected(self, db_path: Path) -> None:
        """Using a store after leaving its context raises RuntimeError."""
        async with PriceStore(db_path) as store:
            pass
        with pytest.raises(RuntimeError, match="not open"):
            await store.counts()

    async def test_garbage_file_is_refused(self, tmp_path: Path) -> None:
        """A file that is not a SQLite database raises StoreError on open."""
        path = tmp_path / "garbage.db"
        path.write_bytes(b"this is not a database, just some text\n" * 200)
        with pytest.raises(StoreError, match="file is not a database"):
            async with PriceStore(path):
                pass


class TestMigrations:
    async def test_fresh_file_reaches_latest_version(self, db_path: Path) -> None:
        """A new file is migrated to SCHEMA_VERSION, with the index of step 2."""
        async with PriceStore(db_path):
            pass
        assert [(SCHEMA_VERSION,)] == raw_query(db_path, "PRAGMA user_version")
        assert len(MIGRATIONS) == SCHEMA_VERSION
        indexes = raw_query(db_path, "SELECT name FROM sqlite_master WHERE type = 'index'")
        assert ("fetch_runs_by_series",) in indexes

    async def test_reopen_is_idempotent(self, db_path: Path) -> None:
        """Reopening a current file changes nothing and keeps the data."""
        async with PriceStore(db_path) as store:
            await store.save_fetch("octopus", "C", make_slots(T0, 4), make_run(slots=4))
        schema = raw_query(db_path, "SELECT sql FROM sqlite_master ORDER BY name")
        async with PriceStore(db_path) as store:
            assert {("octopus", "C"): 4} == await store.counts()
        assert schema == raw_query(db_path, "SELECT sql FROM sqlite_master ORDER BY name")
        assert [(SCHEMA_VERSION,)] == raw_query(db_path, "PRAGMA user_version")

    async def test_newer_version_is_refused_untouched(self, tmp_path: Path) -> None:
        """A file from a newer energyd is refused with a clear message and left as it was."""
        path = tmp_path / "future.db"
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA user_version = 7")
        conn.close()
        expected = f"schema version 7 is newer than this energyd supports \\({SCHEMA_VERSION}\\)"
        with pytest.raises(StoreError, match=expected):
            async with PriceStore(path):
                pass
        assert [(7,)] == raw_query(path, "PRAGMA user_version")
        assert [("delete",)] == raw_query(path, "PRAGMA journal_mode")

    async def test_v1_file_is_migrated_keeping_data(self, tmp_path: Path) -> None:
        """A file at schema version 1 gets step 2 and keeps its rows."""
        path = tmp_path / "v1.db"
        with sqlite3.connect(path) as conn:
            for statement in MIGRATIONS[0]:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO fetch_runs (provider_id, region, started_at_ms, outcome, slots,"
                " duration_ms) VALUES ('octopus', 'C', ?, 'ok', 48, 3.5)",
                (int(T0.timestamp() * 1000),),
            )
            conn.execute("PRAGMA user_version = 1")
        conn.close()
        async with PriceStore(path) as store:
            run = await store.last_fetch("octopus", "C")
        assert [(SCHEMA_VERSION,)] == raw_query(path, "PRAGMA user_version")
        assert ("fetch_runs_by_series",) in raw_query(
            path, "SELECT name FROM sqlite_master WHERE type = 'index'"
        )
        assert run is not None
        assert (T0, 48, FetchOutcome.OK) == (run.started_at, run.slots, run.outcome)

    async def test_v2_slots_belong_to_no_source(self, tmp_path: Path) -> None:
        """Step 3 gives every slot a source; slots stored before it have none (''), so a read
        for a configured source does not serve them, and a read for any source still does."""
        path = tmp_path / "v2.db"
        with sqlite3.connect(path) as conn:
            for step in MIGRATIONS[:2]:
                for statement in step:
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO price_slots VALUES ('octopus', 'C', ?, ?, 12.5, NULL, 'GBP', ?)",
                (int(T0.timestamp()), int(T0.timestamp()) + 1800, int(T0.timestamp())),
            )
            conn.execute("INSERT INTO slot_series VALUES ('octopus', 'C', 1800)")
            conn.execute("PRAGMA user_version = 2")
        conn.close()
        async with PriceStore(path) as store:
            anyone = await store.slot_at("octopus", "C", T0)
            configured = await store.slot_at("octopus", "C", T0, source="octopus|E-1R-X-C")
        assert [(SCHEMA_VERSION,)] == raw_query(path, "PRAGMA user_version")
        assert (12.5, None) == (anyone.price_pence if anyone else None, configured)


class TestSources:
    async def test_reads_see_only_the_source_asked_for(self, store: PriceStore) -> None:
        """Slots of a stand-in and of the real API under one provider and region: each read
        for a source sees its own; a refetch by the new source replaces the old in place."""
        stand_in = [replace(slot, price_pence=1.0) for slot in make_slots(T0, 4)]
        real = [replace(slot, price_pence=20.0) for slot in make_slots(T0 + HALF_HOUR * 2, 4)]
        await store.save_fetch("octopus", "C", stand_in, make_run(), source="stand-in")
        await store.save_fetch("octopus", "C", real, make_run(), source="real")

        mine = await store.slots("octopus", "C", T0, T0 + timedelta(hours=3), source="real")
        theirs = await store.slots("octopus", "C", T0, T0 + timedelta(hours=3), source="stand-in")
        assert [20.0] * 4 == [slot.price_pence for slot in mine]
        assert [1.0] * 2 == [slot.price_pence for slot in theirs]
        assert None is await store.slot_at("octopus", "C", T0, source="real")
        assert T0 + timedelta(hours=3) == await store.coverage_end(
            "octopus", "C", T0 + timedelta(hours=1), source="real"
        )
        assert T0 + timedelta(hours=1) == await store.coverage_end(
            "octopus", "C", T0, source="stand-in"
        )

    async def test_provisional_prices_are_kept_and_are_a_gap_for_final_coverage(
        self, store: PriceStore
    ) -> None:
        """A provisional slot reads back as such; ``final`` coverage stops before it, plain
        coverage goes on; a final price stored over it makes it final (upsert)."""
        slots = make_slots(T0, 4)
        slots[2:] = [replace(slot, provisional=True) for slot in slots[2:]]
        await store.save_fetch("octopus", "C", slots, make_run(), source="x")
        read = await store.slots("octopus", "C", T0, T0 + timedelta(hours=2), source="x")
        assert [False, False, True, True] == [slot.provisional for slot in read]
        ends = [
            await store.coverage_end("octopus", "C", T0, source="x", final=final)
            for final in (False, True)
        ]
        assert [T0 + timedelta(hours=2), T0 + timedelta(hours=1)] == ends
        assert None is await store.coverage_end(
            "octopus", "C", T0 + timedelta(hours=1), source="x", final=True
        )
        await store.save_fetch("octopus", "C", make_slots(T0, 4), make_run(), source="x")
        assert T0 + timedelta(hours=2) == await store.coverage_end(
            "octopus", "C", T0, source="x", final=True
        )

    async def test_forecasts_and_the_energy_alone_are_kept(self, store: PriceStore) -> None:
        """Step 5: a forecast keeps its flag and band, an all-in price its energy part; a
        forecast is no gap for final coverage, and the first one still to come is found."""
        slots = make_slots(T0, 4)
        slots[0] = replace(slots[0], energy_pence=4.25)
        slots[2:] = [
            replace(s, estimate=True, estimate_low_pence=1.0, estimate_high_pence=9.0)
            for s in slots[2:]
        ]
        await store.save_fetch("octopus", "C", slots, make_run(), source="x")
        read = await store.slots("octopus", "C", T0, T0 + timedelta(hours=2), source="x")
        assert [(4.25, False, None), (None, False, None), (None, True, 1.0), (None, True, 1.0)] == [
            (s.energy_pence, s.estimate, s.estimate_low_pence) for s in read
        ]
        assert T0 + timedelta(hours=2) == await store.coverage_end(
            "octopus", "C", T0, source="x", final=True
        )
        assert slots[2].valid_from == await store.first_estimate("octopus", "C", T0, source="x")
        assert None is await store.first_estimate("octopus", "C", T0, source="other")

    async def test_v3_slots_are_final(self, tmp_path: Path) -> None:
        """Step 4 adds ``provisional``; every slot stored before it was final."""
        path = tmp_path / "v3.db"
        with sqlite3.connect(path) as conn:
            for step in MIGRATIONS[:3]:
                for statement in step:
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO price_slots VALUES ('octopus', 'C', ?, ?, 12.5, NULL, 'GBP', ?, 's')",
                (int(T0.timestamp()), int(T0.timestamp()) + 1800, int(T0.timestamp())),
            )
            conn.execute("INSERT INTO slot_series VALUES ('octopus', 'C', 1800)")
            conn.execute("PRAGMA user_version = 3")
        conn.close()
        async with PriceStore(path) as store:
            slot = await store.slot_at("octopus", "C", T0, source="s")
        assert slot is not None
        assert (12.5, False) == (slot.price_pence, slot.provisional)

    async def test_failed_step_is_rolled_back(self, tmp_path: Path) -> None:
        """A step that fails leaves the file at the previous version, and says which step."""
        path = tmp_path / "clash.db"
        with sqlite3.connect(path) as conn:
            for statement in MIGRATIONS[0]:
                conn.execute(statement)
            conn.execute("CREATE TABLE fetch_runs_by_series (x)")  # step 2's index name
            conn.execute("PRAGMA user_version = 1")
        conn.close()
        with pytest.raises(StoreError, match="migration to schema version 2 failed"):
            async with PriceStore(path):
                pass
        assert [(1,)] == raw_query(path, "PRAGMA user_version")


class TestSaveFetch:
    async def test_returns_slots_written_and_records_run(self, store: PriceStore) -> None:
        """save_fetch stores the slots and the run, and returns the number of slots."""
        slots = make_slots(T0, 48)
        written = await store.save_fetch("octopus", "C", slots, make_run(slots=48))
        assert 48 == written
        assert slots == await store.slots("octopus", "C", T0, T0 + timedelta(days=1))
        assert make_run(slots=48) == await store.last_fetch("octopus", "C")

    async def test_refetch_updates_and_never_duplicates(self, store: PriceStore) -> None:
        """A refetch of the same periods updates price, VAT and currency in place."""
        await store.save_fetch("octopus", "C", make_slots(T0, 48), make_run())
        later = make_slots(T0 + 24 * HALF_HOUR, 48, price=-5.0)
        later[0] = EnergyPriceSlot(later[0].valid_from, later[0].valid_to, 99.0, "EUR", None)
        written = await store.save_fetch("octopus", "C", later, make_run(T0 + timedelta(hours=1)))
        assert 48 == written
        assert {("octopus", "C"): 72} == await store.counts()
        stored = await store.slots("octopus", "C", T0, T0 + timedelta(days=2))
        assert make_slots(T0, 24) + later == stored

    async def test_series_are_kept_apart(self, store: PriceStore) -> None:
        """Slots of other regions and providers are neither overwritten nor returned."""
        await store.save_fetch("octopus", "C", make_slots(T0, 4), make_run())
        await store.save_fetch("octopus", "A", make_slots(T0, 2, price=1), make_run(region="A"))
        await store.save_fetch(
            "other", "C", make_slots(T0, 3, price=2), make_run(provider_id="other")
        )
        expected = {("octopus", "C"): 4, ("octopus", "A"): 2, ("other", "C"): 3}
        assert expected == await store.counts()
        assert make_slots(T0, 2, price=1) == await store.slots(
            "octopus", "A", T0, T0 + timedelta(days=1)
        )

    async def test_run_for_another_series_is_rejected(self, store: PriceStore) -> None:
        """A run whose provider/region differ from the slots' is a ValueError."""
        with pytest.raises(ValueError, match="run is for octopus/A"):
            await store.save_fetch("octopus", "C", make_slots(T0, 1), make_run(region="A"))

    async def test_empty_fetch_records_run(self, store: PriceStore) -> None:
        """Saving no slots still records the run and returns 0."""
        assert 0 == await store.save_fetch("octopus", "C", [], make_run())
        assert make_run() == await store.last_fetch("octopus", "C")

    async def test_clock_change_day_has_50_slots(self, store: PriceStore) -> None:
        """2026-10-25 in the UK is 25 hours: 50 half-hour slots stored and returned."""
        day_start = datetime(2026, 10, 25, tzinfo=LONDON).astimezone(UTC)
        day_end = datetime(2026, 10, 26, tzinfo=LONDON).astimezone(UTC)
        count = int((day_end - day_start) / HALF_HOUR)  # UTC arithmetic: real elapsed time
        slots = make_slots(day_start, count)
        await store.save_fetch("octopus", "C", slots, make_run(slots=count))
        stored = await store.slots("octopus", "C", day_start, day_end)
        assert 50 == count
        assert slots == stored
        assert datetime(2026, 10, 24, 23, tzinfo=UTC) == stored[0].valid_from
        assert datetime(2026, 10, 26, 0, tzinfo=UTC) == stored[-1].valid_to


class TestAtomicity:
    async def test_invalid_slot_mid_batch_writes_nothing(self, store: PriceStore) -> None:
        """A slot violating a CHECK rolls back the earlier slots of the batch and the run."""
        await store.save_fetch("octopus", "C", make_slots(T0, 4), make_run())
        batch = make_slots(T0 + timedelta(days=1), 10)
        empty = EnergyPriceSlot(batch[5].valid_from, batch[5].valid_from, 1.0)  # zero length
        batch[5] = empty
        with pytest.raises(StoreError, match="save_fetch failed: CHECK constraint failed"):
            await store.save_fetch("octopus", "C", batch, make_run(T0 + timedelta(hours=5)))
        assert {("octopus", "C"): 4} == await store.counts()
        assert [make_run()] == await store.fetch_runs()

    async def test_concurrent_saves_do_not_interleave(self, store: PriceStore) -> None:
        """A save failing while others run concurrently rolls back only its own work."""
        bad = make_slots(T0 + timedelta(days=9), 5)
        bad[3] = EnergyPriceSlot(bad[3].valid_to, bad[3].valid_from, 1.0)  # ends before it starts
        results = await asyncio.gather(
            *(
                store.save_fetch(
                    "octopus", region, make_slots(T0, 48), make_run(region=region, slots=48)
                )
                for region in "ABCDE"
            ),
            store.save_fetch("octopus", "F", bad, make_run(region="F")),
            return_exceptions=True,
        )
        assert [48] * 5 == results[:5]
        assert isinstance(results[5], StoreError)
        assert {("octopus", region): 48 for region in "ABCDE"} == await store.counts()
        assert 5 == len(await store.fetch_runs())

    async def test_nan_price_writes_nothing(self, store: PriceStore) -> None:
        """A NaN price (bound as NULL) is refused by NOT NULL and nothing is written."""
        batch = make_slots(T0, 3)
        batch[2] = EnergyPriceSlot(batch[2].valid_from, batch[2].valid_to, math.nan)
        with pytest.raises(StoreError, match=r"NOT NULL constraint failed: price_slots\.price"):
            await store.save_fetch("octopus", "C", batch, make_run())
        assert {} == await store.counts()
        assert [] == await store.fetch_runs()

    async def test_full_disk_writes_nothing_and_store_recovers(self, store: PriceStore) -> None:
        """A full disk fails save_fetch cleanly; old data stays and later writes succeed.

        A full disk is simulated with PRAGMA max_page_count, which only binds the connection
        it is set on, so it is set on the store's own connection (a private attribute, used
        here only): no test-only knob in the store, and SQLite's real SQLITE_FULL path runs.
        """
        await store.save_fetch("octopus", "C", make_slots(T0, 48), make_run())
        conn = store._db
        assert conn is not None
        rows = await conn.execute_fetchall("PRAGMA page_count")
        pages = next(iter(rows))[0]
        await conn.execute(f"PRAGMA max_page_count = {pages}")
        big = make_slots(T0 + timedelta(days=1), 2000)
        later = make_run(T0 + timedelta(hours=1))
        with pytest.raises(StoreError, match="save_fetch failed: database or disk is full"):
            await store.save_fetch("octopus", "C", big, later)
        assert {("octopus", "C"): 48} == await store.counts()
        assert [make_run()] == await store.fetch_runs()

        await conn.execute("PRAGMA max_page_count = 1073741823")
        assert 2000 == await store.save_fetch("octopus", "C", big, later)
        assert {("octopus", "C"): 2048} == await store.counts()


class TestQueries:
    @pytest.fixture
    async def filled(self, store: PriceStore) -> PriceStore:
        """04:00-06:00 in half hours, a gap, 07:00-08:00 in one hour, 08:00-09:00 in halves."""
        base = T0 + timedelta(hours=4)
        slots = [
            *make_slots(base, 4),
            *make_slots(base + timedelta(hours=3), 1, price=50, minutes=60),
            *make_slots(base + timedelta(hours=4), 2, price=60),
        ]
        await store.save_fetch("octopus", "C", list(reversed(slots)), make_run())
        return store

    @staticmethod
    def starts(slots: list[EnergyPriceSlot]) -> list[str]:
        return [slot.valid_from.strftime("%H:%M") for slot in slots]

    async def test_slots_overlap_and_ascend(self, filled: PriceStore) -> None:
        """slots() returns every slot overlapping [start, end), ascending, end exclusive."""
        at = T0.replace
        got = await filled.slots("octopus", "C", at(hour=4, minute=15), at(hour=5, minute=15))
        assert ["04:00", "04:30", "05:00"] == self.starts(got)
        got = await filled.slots("octopus", "C", at(hour=5), at(hour=7))
        assert ["05:00", "05:30"] == self.starts(got)
        got = await filled.slots("octopus", "C", at(hour=7, minute=45), at(hour=8, minute=1))
        assert ["07:00", "08:00"] == self.starts(got)
        assert [] == await filled.slots("octopus", "C", at(hour=6), at(hour=7))
        assert [] == await filled.slots("octopus", "A", at(hour=0), at(hour=23))

    async def test_slots_returns_aware_utc(self, filled: PriceStore) -> None:
        """Bounds in another zone are accepted; results are in UTC."""
        start = datetime(2026, 3, 1, 4, tzinfo=LONDON)  # GMT in March: same instant as UTC
        got = await filled.slots("octopus", "C", start, start + HALF_HOUR)
        assert [UTC] == [slot.valid_from.tzinfo for slot in got]

    async def test_reversed_window_is_rejected(self, filled: PriceStore) -> None:
        """An end before the start is a ValueError."""
        with pytest.raises(ValueError, match="before start"):
            await filled.slots("octopus", "C", T0 + HALF_HOUR, T0)

    async def test_slot_at(self, filled: PriceStore) -> None:
        """slot_at() finds the slot with valid_from <= moment < valid_to, else None."""
        at = T0.replace
        found = await filled.slot_at("octopus", "C", at(hour=4, minute=30))
        assert found is not None
        assert (at(hour=4, minute=30), 11.0) == (found.valid_from, found.price_pence)
        found = await filled.slot_at("octopus", "C", at(hour=7, minute=59, second=59))
        assert found is not None
        assert (at(hour=7), at(hour=8)) == (found.valid_from, found.valid_to)
        found = await filled.slot_at("octopus", "C", at(hour=5, minute=59, microsecond=999))
        assert found is not None
        assert at(hour=5, minute=30) == found.valid_from
        assert await filled.slot_at("octopus", "C", at(hour=6)) is None
        assert await filled.slot_at("octopus", "C", at(hour=3, minute=59)) is None

    async def test_coverage_end(self, filled: PriceStore) -> None:
        """coverage_end() is the end of the gap-free run containing start, None outside."""
        at = T0.replace
        assert at(hour=6) == await filled.coverage_end("octopus", "C", at(hour=4))
        assert at(hour=6) == await filled.coverage_end("octopus", "C", at(hour=5, minute=59))
        assert at(hour=9) == await filled.coverage_end("octopus", "C", at(hour=7, minute=10))
        assert await filled.coverage_end("octopus", "C", at(hour=6)) is None
        assert await filled.coverage_end("octopus", "C", at(hour=9)) is None
        assert await filled.coverage_end("octopus", "A", at(hour=4)) is None

    async def test_naive_datetimes_are_rejected(self, store: PriceStore) -> None:
        """Naive datetimes in slots or queries raise ValueError and store nothing."""
        naive = datetime(2026, 3, 1, 4)
        slot = EnergyPriceSlot(naive, naive + HALF_HOUR, 1.0)
        with pytest.raises(ValueError, match="timezone-aware"):
            await store.save_fetch("octopus", "C", [slot], make_run())
        with pytest.raises(ValueError, match="timezone-aware"):
            await store.slots("octopus", "C", naive, naive + HALF_HOUR)
        with pytest.raises(ValueError, match="timezone-aware"):
            await store.slot_at("octopus", "C", naive)
        with pytest.raises(ValueError, match="timezone-aware"):
            await store.record_fetch(make_run(naive))
        assert [] == await store.fetch_runs()

    async def test_fractional_slot_boundary_is_rejected(self, store: PriceStore) -> None:
        """Slot boundaries are whole seconds; anything finer is a ValueError."""
        start = T0.replace(microsecond=500)
        with pytest.raises(ValueError, match="whole second"):
            await store.save_fetch("octopus", "C", make_slots(start, 1), make_run())


class TestRowConversion:
    """save_fetch turns boundaries into epoch seconds by integer arithmetic (a slot starting
    where the one before ended, as long as it, is not converted again): whatever the zones,
    the seconds stored are the instants given."""

    @staticmethod
    def stored_edges(path: Path) -> list[tuple[int, int]]:
        return raw_query(path, "SELECT valid_from, valid_to FROM price_slots ORDER BY valid_from")

    async def test_local_times_across_a_clock_change_are_stored_as_instants(
        self, store: PriceStore, db_path: Path
    ) -> None:
        """Half hours in Europe/London wall-clock datetimes (one tzinfo) over the October
        change: 50 slots, each 1800 s, the same instants as in UTC."""
        day_start = datetime(2026, 10, 25, tzinfo=LONDON)
        utc = [
            day_start.astimezone(UTC) + i * HALF_HOUR for i in range(51)
        ]  # 25 hours of half hours
        local = [moment.astimezone(LONDON) for moment in utc]
        slots = [
            EnergyPriceSlot(a, b, 10.0 + i) for i, (a, b) in enumerate(itertools.pairwise(local))
        ]
        assert 50 == await store.save_fetch("octopus", "C", slots, make_run())
        expected = [(int(a.timestamp()), int(b.timestamp())) for a, b in itertools.pairwise(utc)]
        assert expected == self.stored_edges(db_path)
        stored = await store.slots("octopus", "C", utc[0], utc[-1])
        assert [(a, b) for a, b in itertools.pairwise(utc)] == [
            (s.valid_from, s.valid_to) for s in stored
        ]

    async def test_mixed_zones_and_lengths(self, store: PriceStore, db_path: Path) -> None:
        """Contiguous slots in UTC, +01:00 and UTC again, 30 then 15 then 60 minutes."""
        plus_one = timezone(timedelta(hours=1))
        edges = [T0 + timedelta(minutes=m) for m in (0, 30, 60, 75, 90, 150, 210)]
        zones = [UTC, UTC, plus_one, plus_one, UTC, UTC, UTC]
        moments = [edge.astimezone(zone) for edge, zone in zip(edges, zones, strict=True)]
        slots = [EnergyPriceSlot(a, b, 1.0) for a, b in itertools.pairwise(moments)]
        await store.save_fetch("octopus", "C", slots, make_run())
        expected = [(int(a.timestamp()), int(b.timestamp())) for a, b in itertools.pairwise(edges)]
        assert expected == self.stored_edges(db_path)
        assert [(3600,)] == raw_query(db_path, "SELECT max_span FROM slot_series")

    @pytest.mark.parametrize("edge", ["valid_from", "valid_to"])
    async def test_fraction_mid_run_writes_nothing(self, store: PriceStore, edge: str) -> None:
        """A boundary half a second off in the middle of a contiguous run is refused, and
        the slots before it in the batch are not written."""
        slots = make_slots(T0, 10)
        off = getattr(slots[6], edge) + timedelta(milliseconds=500)
        slots[6] = replace(slots[6], **{edge: off})
        with pytest.raises(ValueError, match=rf"slot\.{edge} must be a whole second"):
            await store.save_fetch("octopus", "C", slots, make_run())
        assert {} == await store.counts()
        assert [] == await store.fetch_runs()

    async def test_naive_mid_run_writes_nothing(self, store: PriceStore) -> None:
        """A naive valid_to in the middle of a run is refused; nothing is written."""
        slots = make_slots(T0, 10)
        slots[4] = replace(slots[4], valid_to=slots[4].valid_to.replace(tzinfo=None))
        with pytest.raises(ValueError, match=r"slot\.valid_to must be timezone-aware"):
            await store.save_fetch("octopus", "C", slots, make_run())
        assert {} == await store.counts()

    async def test_flags_are_zero_or_one(self, store: PriceStore, db_path: Path) -> None:
        """Flags are stored as 0 / 1; a flag that is no bool is refused by the CHECK."""
        slots = make_slots(T0, 3)
        slots[1] = replace(slots[1], provisional=True, estimate=True)
        await store.save_fetch("octopus", "C", slots, make_run())
        flags = raw_query(db_path, "SELECT provisional, estimate FROM price_slots ORDER BY 1")
        assert [(0, 0), (0, 0), (1, 1)] == sorted(flags)
        later = make_slots(T0 + timedelta(days=1), 1)[0]
        bad = [replace(later, estimate=2)]  # type: ignore[arg-type]
        with pytest.raises(StoreError, match="CHECK constraint failed"):
            await store.save_fetch("octopus", "C", bad, make_run(T0 + timedelta(hours=1)))
        assert {("octopus", "C"): 3} == await store.counts()


class TestFetchRuns:
    async def test_last_fetch_by_outcome(self, store: PriceStore) -> None:
        """last_fetch() returns the newest run, or the newest of one outcome."""
        ok = make_run(T0, slots=48)
        failed = make_run(T0 + timedelta(hours=1), FetchOutcome.ERROR, error="HTTP 503")
        await store.save_fetch("octopus", "C", make_slots(T0, 48), ok)
        await store.record_fetch(failed)
        assert failed == await store.last_fetch("octopus", "C")
        assert failed == await store.last_fetch("octopus", "C", FetchOutcome.ERROR)
        assert ok == await store.last_fetch("octopus", "C", FetchOutcome.OK)
        assert await store.last_fetch("octopus", "A") is None

    async def test_fetch_runs_newest_first(self, store: PriceStore) -> None:
        """fetch_runs() lists newest first, honours limit and the provider filter."""
        runs = [
            make_run(T0 + timedelta(minutes=i), provider_id=provider)
            for i, provider in enumerate(["octopus", "other", "octopus", "other"])
        ]
        for run in runs:
            await store.record_fetch(run)
        assert runs[::-1] == await store.fetch_runs()
        assert runs[::-1][:2] == await store.fetch_runs(limit=2)
        assert [runs[2], runs[0]] == await store.fetch_runs(provider_id="octopus")

    async def test_error_with_a_lone_surrogate(self, store: PriceStore) -> None:
        """A plugin's error text that UTF-8 cannot encode is stored with a visible escape."""
        await store.record_fetch(make_run(T0, FetchOutcome.ERROR, error="bad \udc80 body"))
        run = await store.last_fetch("octopus", "C")
        assert run is not None
        assert "bad \\udc80 body" == run.error

    async def test_started_at_keeps_milliseconds(self, store: PriceStore) -> None:
        """started_at is stored in epoch milliseconds; finer digits are dropped."""
        started = T0.replace(microsecond=123_456)
        await store.record_fetch(make_run(started))
        run = await store.last_fetch("octopus", "C")
        assert run is not None
        assert T0.replace(microsecond=123_000) == run.started_at


class TestAuditLog:
    async def test_newest_first_with_limit(self, store: PriceStore) -> None:
        """audit_log() returns records newest first, fields intact, at most ``limit``."""
        records = [
            AuditRecord(
                action="update",
                file=f"p{i}_provider.py",
                version_before="1.0" if i else None,
                version_after="1.1",
                actor="mqtt",
                ok=i != 1,
                message=f"message {i}",
                at=T0 + timedelta(seconds=i),
            )
            for i in range(3)
        ]
        for record in records:
            await store.add_audit(record)
        assert records[::-1] == await store.audit_log()
        assert records[::-1][:1] == await store.audit_log(limit=1)


class TestPrune:
    async def test_prune_deletes_ended_slots_and_old_runs(self, store: PriceStore) -> None:
        """Slots ending at or before the cut go, a slot spanning it stays; old runs go too."""
        await store.save_fetch("octopus", "C", make_slots(T0, 6), make_run(T0))
        newer = make_run(T0 + timedelta(hours=2))
        await store.record_fetch(newer)
        cut = T0 + timedelta(hours=1, minutes=15)
        assert 2 == await store.prune(cut)
        remaining = await store.slots("octopus", "C", T0, T0 + timedelta(days=1))
        assert ["01:00", "01:30", "02:00", "02:30"] == [
            slot.valid_from.strftime("%H:%M") for slot in remaining
        ]
        assert [newer] == await store.fetch_runs()

    async def test_prune_everything(self, store: PriceStore) -> None:
        """Pruning past all slots empties the series and later saves work as before."""
        await store.save_fetch("octopus", "C", make_slots(T0, 4), make_run())
        assert 4 == await store.prune(T0 + timedelta(days=1))
        assert {} == await store.counts()
        await store.save_fetch("octopus", "C", make_slots(T0, 1), make_run())
        assert make_slots(T0, 1) == await store.slots("octopus", "C", T0, T0 + HALF_HOUR)


class TestOverrides:
    async def test_round_trip_json(self, store: PriceStore) -> None:
        """Overrides of every JSON type survive set, get, update and delete."""
        values: dict[str, Any] = {
            "refresh.interval_minutes": 15.5,
            "energy.active": ["octopus", "other"],
            "mqtt.retain": True,
            "log.level": "debug",
            "providers.octopus": {"product": "AGILE-24-10-01", "regions": ["C"], "n": 3},
            "nothing": None,
        }
        for key, value in values.items():
            await store.set_override(key, value)
        assert values == await store.get_overrides()
        await store.set_override("log.level", "warning")
        await store.delete_override("nothing")
        await store.delete_override("never.set")
        expected = {**values, "log.level": "warning"}
        del expected["nothing"]
        assert expected == await store.get_overrides()

    async def test_persist_across_reopen(self, db_path: Path) -> None:
        """Overrides are still there after closing and reopening the file."""
        async with PriceStore(db_path) as store:
            await store.set_override("log.level", "debug")
        async with PriceStore(db_path) as store:
            assert {"log.level": "debug"} == await store.get_overrides()

    async def test_unserialisable_value_is_rejected(self, store: PriceStore) -> None:
        """A value JSON cannot encode raises before anything is written."""
        with pytest.raises(TypeError):
            await store.set_override("bad", object())
        with pytest.raises(ValueError, match="JSON compliant"):
            await store.set_override("bad", math.inf)
        assert {} == await store.get_overrides()
