"""The SQLite store: price slots, fetch runs, the audit log and settings overrides.

One :class:`PriceStore` owns one aiosqlite connection to one file. It is an async context
manager: entering opens the file and brings its schema up to date, leaving closes it; entering
it while it is open is a :class:`RuntimeError`. Every SQLite failure surfaces as
:class:`~energyd.exceptions.StoreError` whose message names the operation
(``"save_fetch failed: database or disk is full"``); a failed write leaves nothing behind.

Storage conventions
-------------------
- Datetimes go in timezone-aware (naive ones raise :class:`ValueError`) and come out aware UTC.
- Slot boundaries and ``fetched_at`` are INTEGER epoch **seconds** (slot boundaries must be
  whole seconds). Fetch-run and audit times and ``updated_at`` are INTEGER epoch
  **milliseconds** (columns ending in ``_ms``): sub-millisecond digits are dropped.
- ``price_slots`` is ``WITHOUT ROWID`` with the primary key ``(provider_id, region,
  valid_from)``, which serves every slot query; a refetch updates a slot in place.
- ``slot_series`` keeps, per provider and region, the longest slot ever stored (``max_span``
  seconds). It bounds how far back an overlap query must look, so "slots overlapping
  ``[start, end)``" stays an index range scan even if a provider mixes slot lengths.
- ``fetched_at`` of a slot is the ``started_at`` of the fetch run that wrote it.
- ``source`` of a slot is the identity of the source that priced it (the plugin's
  ``source_identity`` of the config it was fetched with). Reads given a ``source`` see only
  that source's slots, so prices of another tariff, direction or API (or a test stand-in) are
  never served as the configured one's; a refetch by the new source overwrites them in place.

Schema migrations
-----------------
:data:`MIGRATIONS` is an ordered tuple of steps; step *n* (1-based) brings a file from
``PRAGMA user_version`` *n - 1* to *n*, in its own transaction. Add steps, never edit one
that has shipped. A file newer than :data:`SCHEMA_VERSION` is refused untouched.

All work on the connection is serialised by an :class:`asyncio.Lock`, so one coroutine's
transaction never interleaves with another's statements. Batches go through one
``executemany`` in one transaction: every aiosqlite call is a hop to its worker thread. The
rows of a fetch are made in that thread as SQLite reads them (:class:`_SlotRows`): a backfill
of 100k slots neither blocks the event loop for its conversion nor holds a list of rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import aiosqlite

from energyd.domain.records import AuditRecord, FetchOutcome, FetchRun
from energyd.exceptions import StoreError
from energyd.providers.base import EnergyPriceSlot

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PriceStore", "read_overrides"]

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the initial schema.
    (
        """CREATE TABLE price_slots (
            provider_id   TEXT    NOT NULL,
            region        TEXT    NOT NULL,
            valid_from    INTEGER NOT NULL,
            valid_to      INTEGER NOT NULL,
            price         REAL    NOT NULL,  -- NaN binds as NULL, so NOT NULL refuses it too
            price_exc_vat REAL,
            currency      TEXT    NOT NULL CHECK (currency <> ''),
            fetched_at    INTEGER NOT NULL,
            PRIMARY KEY (provider_id, region, valid_from),
            CHECK (valid_to > valid_from),
            CHECK (typeof(price) = 'real' AND abs(price) <= 1e300)
        ) WITHOUT ROWID""",
        """CREATE TABLE slot_series (
            provider_id TEXT    NOT NULL,
            region      TEXT    NOT NULL,
            max_span    INTEGER NOT NULL CHECK (max_span > 0),
            PRIMARY KEY (provider_id, region)
        ) WITHOUT ROWID""",
        """CREATE TABLE fetch_runs (
            id              INTEGER PRIMARY KEY,
            provider_id     TEXT    NOT NULL,
            region          TEXT    NOT NULL,
            started_at_ms   INTEGER NOT NULL,
            outcome         TEXT    NOT NULL,
            slots           INTEGER NOT NULL,
            duration_ms     REAL    NOT NULL,
            error           TEXT,
            error_type      TEXT,
            window_start_ms INTEGER,
            window_end_ms   INTEGER
        )""",
        """CREATE TABLE audit_log (
            id             INTEGER PRIMARY KEY,
            at_ms          INTEGER NOT NULL,
            action         TEXT    NOT NULL,
            file           TEXT    NOT NULL,
            version_before TEXT,
            version_after  TEXT,
            actor          TEXT    NOT NULL,
            ok             INTEGER NOT NULL CHECK (ok IN (0, 1)),
            message        TEXT    NOT NULL
        )""",
        """CREATE TABLE settings_overrides (
            key           TEXT PRIMARY KEY,
            value         TEXT    NOT NULL CHECK (json_valid(value)),
            updated_at_ms INTEGER NOT NULL
        )""",
    ),
    # 2: last_fetch() and per-provider fetch_runs() read the newest runs of one series.
    ("CREATE INDEX fetch_runs_by_series ON fetch_runs (provider_id, region, started_at_ms)",),
    # 3: every slot names its source. Slots stored before carry '' and are no source's: they
    # are not served until refetched (which source they came from is not known).
    ("ALTER TABLE price_slots ADD COLUMN source TEXT NOT NULL DEFAULT ''",),
    # 4: a price the source may still replace (EXAA before SDAC, a preliminary result).
    (
        "ALTER TABLE price_slots ADD COLUMN provisional INTEGER NOT NULL DEFAULT 0"
        " CHECK (provisional IN (0, 1))",
    ),
    # 5: a forecast (an estimate, provisional too) with its band, and the energy alone beside an
    # all-in retail price (the base of a price formula, Tibber's ``energy``).
    (
        "ALTER TABLE price_slots ADD COLUMN estimate INTEGER NOT NULL DEFAULT 0"
        " CHECK (estimate IN (0, 1))",
        "ALTER TABLE price_slots ADD COLUMN estimate_low REAL",
        "ALTER TABLE price_slots ADD COLUMN estimate_high REAL",
        "ALTER TABLE price_slots ADD COLUMN energy REAL",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_MILLISECOND = timedelta(milliseconds=1)

_SLOT_COLUMNS = (
    "valid_from, valid_to, price, currency, price_exc_vat, provisional,"
    " estimate, estimate_low, estimate_high, energy"
)
_RUN_COLUMNS = (
    "provider_id, region, started_at_ms, outcome, slots, duration_ms, error, error_type,"
    " window_start_ms, window_end_ms"
)
_AUDIT_COLUMNS = "at_ms, action, file, version_before, version_after, actor, ok, message"
# Lower bound of valid_from for a slot still reaching past :at (see slot_series above).
_SPAN = "(SELECT max_span FROM slot_series WHERE provider_id = :p AND region = :r)"

_UPSERT_SLOT = f"""
    INSERT INTO price_slots (provider_id, region, {_SLOT_COLUMNS}, fetched_at, source)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (provider_id, region, valid_from) DO UPDATE SET
        valid_to = excluded.valid_to, price = excluded.price, currency = excluded.currency,
        price_exc_vat = excluded.price_exc_vat, provisional = excluded.provisional,
        estimate = excluded.estimate, estimate_low = excluded.estimate_low,
        estimate_high = excluded.estimate_high, energy = excluded.energy,
        fetched_at = excluded.fetched_at, source = excluded.source"""
# Only the slots of source :s (every source when :s is NULL).
_OF_SOURCE = "(:s IS NULL OR source = :s)"
_UPSERT_SERIES = """
    INSERT INTO slot_series (provider_id, region, max_span) VALUES (?, ?, ?)
    ON CONFLICT (provider_id, region) DO UPDATE SET
        max_span = max(max_span, excluded.max_span)"""
_INSERT_RUN = f"INSERT INTO fetch_runs ({_RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_SELECT_OVERLAPPING = f"""
    SELECT {_SLOT_COLUMNS} FROM price_slots
    WHERE provider_id = :p AND region = :r
      AND valid_from < :end AND valid_from > :start - {_SPAN} AND valid_to > :start
      AND {_OF_SOURCE}
    ORDER BY valid_from"""
_SELECT_AT = f"""
    SELECT {_SLOT_COLUMNS} FROM price_slots
    WHERE provider_id = :p AND region = :r
      AND valid_from <= :at AND valid_from > :at - {_SPAN} AND valid_to > :at
      AND {_OF_SOURCE}
    ORDER BY valid_from DESC LIMIT 1"""
# Follow the slots from the one containing :at while each next one starts at or before the
# end reached so far; the largest end reached is where the gap-free run stops (with :f = 1,
# a provisional slot is a gap).
_COVERAGE_END = f"""
    WITH RECURSIVE reach(t) AS (
        SELECT valid_to FROM price_slots
        WHERE provider_id = :p AND region = :r
          AND valid_from <= :at AND valid_from > :at - {_SPAN} AND valid_to > :at
          AND {_OF_SOURCE} AND (:f = 0 OR provisional = 0)
        UNION
        SELECT s.valid_to FROM reach JOIN price_slots AS s
        WHERE s.provider_id = :p AND s.region = :r
          AND s.valid_from <= reach.t AND s.valid_from > reach.t - {_SPAN}
          AND s.valid_to > reach.t AND (:s IS NULL OR s.source = :s)
          AND (:f = 0 OR s.provisional = 0)
    )
    SELECT max(t) FROM reach"""
# The first forecast still to come or running at :at (it is replaced as its period comes).
_FIRST_ESTIMATE = f"""
    SELECT min(valid_from) FROM price_slots
    WHERE provider_id = :p AND region = :r AND estimate = 1
      AND valid_to > :at AND valid_from > :at - {_SPAN} AND {_OF_SOURCE}"""


def read_overrides(path: Path) -> dict[str, Any] | None:
    """The settings overrides persisted in the database at ``path``, read without writing
    anything (``None``: no database there). :class:`StoreError` when it cannot be read."""
    if not path.is_file():
        return None
    # Without a -wal file everything is in the main file: read it as immutable, which creates
    # no -shm / -wal beside it. With one (a daemon is running, or was killed), read-only mode
    # sees its commits and adds no file that is not there already.
    wal = path.with_name(path.name + "-wal").exists()
    uri = f"{path.absolute().as_uri()}?{'mode=ro' if wal else 'immutable=1'}"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            if "settings_overrides" not in tables:
                return {}
            rows = db.execute("SELECT key, value FROM settings_overrides").fetchall()
        return {key: json.loads(value) for key, value in rows}
    except (sqlite3.Error, ValueError) as exc:
        raise StoreError(f"reading overrides from {path} failed: {exc}") from exc


class _State(enum.Enum):
    CLOSED = "closed"
    OPENING = "opening"
    OPEN = "open"


class PriceStore:
    """The energyd SQLite database; use as ``async with PriceStore(path) as store:``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None
        self._state = _State.CLOSED
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"<PriceStore {str(self.path)!r} {self._state.value}>"

    # -- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> PriceStore:
        if self._state is not _State.CLOSED:
            raise RuntimeError(f"PriceStore({str(self.path)!r}) is already open")
        self._state = _State.OPENING
        try:
            self._db = await self._open()
        except BaseException:
            self._state = _State.CLOSED
            raise
        self._state = _State.OPEN
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        db, self._db, self._state = self._db, None, _State.CLOSED
        if db is None:
            return
        async with self._lock:
            with _translate("close failed"):
                await db.close()

    async def _open(self) -> aiosqlite.Connection:
        where = f"cannot open {self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{where}: {exc}") from exc
        with _translate(where):
            # isolation_level=None: no implicit transactions; this module says BEGIN itself.
            db = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            with _translate(where):
                await db.execute("PRAGMA busy_timeout = 5000")
                version = await _user_version(db)  # the first read: a non-database fails here
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{where}: database schema version {version} is newer than this"
                        f" energyd supports ({SCHEMA_VERSION})"
                    )
                rows = await db.execute_fetchall("PRAGMA journal_mode = WAL")
                mode = next(iter(rows))[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"{where}: journal_mode is {mode!r}, WAL could not be set")
                await db.execute("PRAGMA synchronous = NORMAL")
                await db.execute("PRAGMA foreign_keys = ON")
                await _migrate(db, where)
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                await db.close()
            raise
        return db

    # -- prices and fetch runs ----------------------------------------------------------------

    async def save_fetch(
        self,
        provider_id: str,
        region: str,
        slots: Sequence[EnergyPriceSlot],
        run: FetchRun,
        *,
        source: str = "",
    ) -> int:
        """Upsert ``slots`` (priced by ``source``) and record ``run`` in one transaction;
        return the slots written."""
        if (run.provider_id, run.region) != (provider_id, region):
            raise ValueError(
                f"run is for {run.provider_id}/{run.region}, slots for {provider_id}/{region}"
            )
        fetched_at = _seconds(run.started_at, "run.started_at")
        run_row = _run_row(run)
        rows = _SlotRows(provider_id, region, slots, fetched_at, source)
        async with self._transaction("save_fetch") as db:
            cursor = await db.executemany(_UPSERT_SLOT, rows)  # rows made in aiosqlite's thread
            written = max(cursor.rowcount, 0)
            if rows.longest:
                await db.execute(_UPSERT_SERIES, (provider_id, region, rows.longest))
            await db.execute(_INSERT_RUN, run_row)
        return written

    async def record_fetch(self, run: FetchRun) -> None:
        """Record a fetch run that stored no slots (typically a failed one)."""
        row = _run_row(run)
        async with self._transaction("record_fetch") as db:
            await db.execute(_INSERT_RUN, row)

    async def slots(
        self,
        provider_id: str,
        region: str,
        start: datetime,
        end: datetime,
        *,
        source: str | None = None,
    ) -> list[EnergyPriceSlot]:
        """The slots overlapping ``[start, end)``, ascending by ``valid_from`` (of ``source``
        only, when given)."""
        if end < start:
            raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
        params = {
            "p": provider_id,
            "r": region,
            "start": _seconds(start, "start"),
            "end": _seconds(end, "end", ceil=True),
            "s": source,
        }
        rows = await self._fetchall("slots", _SELECT_OVERLAPPING, params)
        return [_slot(row) for row in rows]

    async def slot_at(
        self, provider_id: str, region: str, moment: datetime, *, source: str | None = None
    ) -> EnergyPriceSlot | None:
        """The slot containing ``moment`` (``valid_from <= moment < valid_to``), or ``None``
        (of ``source`` only, when given)."""
        params = {"p": provider_id, "r": region, "at": _seconds(moment, "moment"), "s": source}
        rows = await self._fetchall("slot_at", _SELECT_AT, params)
        return _slot(rows[0]) if rows else None

    async def coverage_end(
        self,
        provider_id: str,
        region: str,
        start: datetime,
        *,
        source: str | None = None,
        final: bool = False,
    ) -> datetime | None:
        """End of the gap-free run of slots containing ``start``; ``None`` if none contains it
        (slots of ``source`` only, when given; ``final``: a provisional slot is a gap)."""
        params = {
            "p": provider_id,
            "r": region,
            "at": _seconds(start, "start"),
            "s": source,
            "f": int(final),
        }
        rows = await self._fetchall("coverage_end", _COVERAGE_END, params)
        end = rows[0][0] if rows else None
        return None if end is None else _from_seconds(end)

    async def first_estimate(
        self, provider_id: str, region: str, moment: datetime, *, source: str | None = None
    ) -> datetime | None:
        """Where the first stored forecast running at or after ``moment`` starts (``None``:
        none; slots of ``source`` only, when given)."""
        params = {"p": provider_id, "r": region, "at": _seconds(moment, "moment"), "s": source}
        rows = await self._fetchall("first_estimate", _FIRST_ESTIMATE, params)
        start = rows[0][0] if rows else None
        return None if start is None else _from_seconds(start)

    async def last_fetch(
        self, provider_id: str, region: str, outcome: FetchOutcome | None = None
    ) -> FetchRun | None:
        """The newest fetch run of ``provider_id``/``region``, optionally of one outcome."""
        sql = f"SELECT {_RUN_COLUMNS} FROM fetch_runs WHERE provider_id = ? AND region = ?"
        params: list[Any] = [provider_id, region]
        if outcome is not None:
            sql += " AND outcome = ?"
            params.append(outcome.value)
        sql += " ORDER BY started_at_ms DESC, id DESC LIMIT 1"
        rows = await self._fetchall("last_fetch", sql, params)
        return _run(rows[0]) if rows else None

    async def fetch_runs(self, limit: int = 50, provider_id: str | None = None) -> list[FetchRun]:
        """The newest ``limit`` fetch runs, newest first, optionally of one provider."""
        sql = f"SELECT {_RUN_COLUMNS} FROM fetch_runs"
        params: list[Any] = []
        if provider_id is not None:
            sql += " WHERE provider_id = ?"
            params.append(provider_id)
        sql += " ORDER BY started_at_ms DESC, id DESC LIMIT ?"
        params.append(limit)
        return [_run(row) for row in await self._fetchall("fetch_runs", sql, params)]

    async def prune(self, before: datetime) -> int:
        """Delete slots ending at or before ``before`` and runs started before it.

        Returns the number of slots deleted. ``valid_to`` has no index, so this scans the
        table; it is meant to run rarely (daily).
        """
        params = {"s": _seconds(before, "before"), "ms": _millis(before, "before")}
        async with self._transaction("prune") as db:
            cursor = await db.execute("DELETE FROM price_slots WHERE valid_to <= :s", params)
            deleted = cursor.rowcount
            await db.execute("DELETE FROM fetch_runs WHERE started_at_ms < :ms", params)
            await db.execute(
                """DELETE FROM slot_series WHERE NOT EXISTS (
                       SELECT 1 FROM price_slots AS s WHERE s.provider_id = slot_series.provider_id
                       AND s.region = slot_series.region)"""
            )
        return deleted

    async def counts(self) -> dict[tuple[str, str], int]:
        """The number of stored slots per ``(provider_id, region)``."""
        sql = "SELECT provider_id, region, count(*) FROM price_slots GROUP BY provider_id, region"
        return {(row[0], row[1]): row[2] for row in await self._fetchall("counts", sql, ())}

    # -- audit log ------------------------------------------------------------------------

    async def add_audit(self, record: AuditRecord) -> None:
        """Append one management action to the audit log."""
        row = (
            _millis(record.at, "record.at"),
            record.action,
            _text(record.file),
            _text(record.version_before),
            _text(record.version_after),
            record.actor,
            int(record.ok),
            _text(record.message),
        )
        async with self._transaction("add_audit") as db:
            await db.execute(
                f"INSERT INTO audit_log ({_AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row
            )

    async def audit_log(self, limit: int = 100) -> list[AuditRecord]:
        """The newest ``limit`` audit records, newest first."""
        sql = f"SELECT {_AUDIT_COLUMNS} FROM audit_log ORDER BY at_ms DESC, id DESC LIMIT ?"
        return [
            AuditRecord(
                at=_from_millis(row[0]),
                action=row[1],
                file=row[2],
                version_before=row[3],
                version_after=row[4],
                actor=row[5],
                ok=bool(row[6]),
                message=row[7],
            )
            for row in await self._fetchall("audit_log", sql, (limit,))
        ]

    # -- settings overrides -------------------------------------------------------------------

    async def get_overrides(self) -> dict[str, Any]:
        """All persisted settings overrides, values decoded from JSON."""
        rows = await self._fetchall(
            "get_overrides", "SELECT key, value FROM settings_overrides", ()
        )
        try:
            return {key: json.loads(value) for key, value in rows}
        except ValueError as exc:
            raise StoreError(f"get_overrides failed: stored value is not JSON: {exc}") from exc

    async def set_override(self, key: str, value: Any) -> None:
        """Persist one override; ``value`` must be JSON-serialisable (else TypeError/ValueError)."""
        text = json.dumps(value, allow_nan=False, separators=(",", ":"))
        now = _millis(datetime.now(UTC), "now")
        async with self._transaction("set_override") as db:
            await db.execute(
                """INSERT INTO settings_overrides (key, value, updated_at_ms) VALUES (?, ?, ?)
                   ON CONFLICT (key) DO UPDATE SET
                       value = excluded.value, updated_at_ms = excluded.updated_at_ms""",
                (key, text, now),
            )

    async def delete_override(self, key: str) -> None:
        """Forget one override; a key that is not set is ignored."""
        await self.change_overrides({}, [key])

    async def change_overrides(self, put: Mapping[str, Any], delete: Iterable[str] = ()) -> None:
        """Persist ``put`` and forget ``delete`` in one transaction: all of it or nothing.
        Values must be JSON-serialisable (else TypeError/ValueError, before anything is written)."""
        now = _millis(datetime.now(UTC), "now")
        rows = [
            (key, json.dumps(value, allow_nan=False, separators=(",", ":")), now)
            for key, value in put.items()
        ]
        gone = [(key,) for key in delete]
        async with self._transaction("change_overrides") as db:
            await db.executemany("DELETE FROM settings_overrides WHERE key = ?", gone)
            await db.executemany(
                """INSERT INTO settings_overrides (key, value, updated_at_ms) VALUES (?, ?, ?)
                   ON CONFLICT (key) DO UPDATE SET
                       value = excluded.value, updated_at_ms = excluded.updated_at_ms""",
                rows,
            )

    # -- plumbing -----------------------------------------------------------------------------

    def _connection(self) -> aiosqlite.Connection:
        if self._state is not _State.OPEN or self._db is None:
            raise RuntimeError(f"PriceStore({str(self.path)!r}) is not open")
        return self._db

    async def _fetchall(
        self, operation: str, sql: str, params: Sequence[Any] | dict[str, Any]
    ) -> list[sqlite3.Row]:
        db = self._connection()
        async with self._lock:
            with _translate(f"{operation} failed"):
                return list(await db.execute_fetchall(sql, params))

    @contextlib.asynccontextmanager
    async def _transaction(self, operation: str) -> AsyncIterator[aiosqlite.Connection]:
        """``BEGIN IMMEDIATE`` .. ``COMMIT``; any failure rolls back, SQLite's as StoreError."""
        db = self._connection()
        async with self._lock:
            try:
                with _translate(f"{operation} failed"):
                    await db.execute("BEGIN IMMEDIATE")
                    yield db
                    await db.execute("COMMIT")
            except BaseException:
                await _rollback(db)
                raise


# -- helpers ------------------------------------------------------------------------------------


@contextlib.contextmanager
def _translate(prefix: str) -> Iterator[None]:
    """Turn a sqlite3 error into ``StoreError("<prefix>: <sqlite message>")``."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"{prefix}: {exc}") from exc


async def _rollback(db: aiosqlite.Connection) -> None:
    # SQLite may already have rolled back by itself (e.g. after SQLITE_FULL): then this fails.
    with contextlib.suppress(sqlite3.Error):
        await db.execute("ROLLBACK")


async def _user_version(db: aiosqlite.Connection) -> int:
    rows = await db.execute_fetchall("PRAGMA user_version")
    return int(next(iter(rows))[0])


async def _migrate(db: aiosqlite.Connection, where: str) -> None:
    """Apply the steps of :data:`MIGRATIONS` the file lacks, each in its own transaction."""
    for version, statements in enumerate(MIGRATIONS, start=1):
        if await _user_version(db) >= version:
            continue
        with _translate(f"{where}: migration to schema version {version} failed"):
            await db.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have migrated while we waited for the write lock.
                if await _user_version(db) < version:
                    for statement in statements:
                        await db.execute(statement)
                    await db.execute(f"PRAGMA user_version = {version}")
                await db.execute("COMMIT")
            except BaseException:
                await _rollback(db)
                raise


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value


def _seconds(value: datetime, name: str, *, ceil: bool = False) -> int:
    """Epoch seconds, rounded down (or up): exact for comparisons with whole-second columns."""
    if ceil:
        return -((_EPOCH - _aware(value, name)) // _SECOND)
    return (_aware(value, name) - _EPOCH) // _SECOND


def _exact_seconds(value: datetime, name: str) -> int:
    seconds, rest = divmod(_aware(value, name) - _EPOCH, _SECOND)
    if rest:
        raise ValueError(f"{name} must be a whole second, got {value.isoformat()}")
    return int(seconds)


def _millis(value: datetime, name: str) -> int:
    return (_aware(value, name) - _EPOCH) // _MILLISECOND


def _optional_millis(value: datetime | None, name: str) -> int | None:
    return None if value is None else _millis(value, name)


def _from_seconds(value: int) -> datetime:
    return _EPOCH + timedelta(seconds=value)


def _from_millis(value: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=value)


class _SlotRows:
    """The rows of ``slots`` for :data:`_UPSERT_SLOT`, made while SQLite reads them.

    ``executemany`` iterates this in aiosqlite's thread: a backfill of 100k slots is converted
    off the event loop, in one pass, without a list of rows. ``longest`` is the longest slot
    (seconds, for ``slot_series``) once the iteration is done.

    Boundaries are epoch seconds by integer arithmetic, not per-slot datetime methods: a slot
    starting where the one before it ended starts at that second, and if it also lasts as
    long as the one before (the same ``timedelta``, between UTC datetimes, so real elapsed
    time) it ends that much later. Any other boundary is ``moment - epoch`` in whole seconds;
    what that cannot give (a naive datetime, a fraction of a second) :func:`_exact_seconds`
    refuses with ``ValueError``, and the transaction rolls back: nothing is written. The
    flags bind as 0 / 1 (a bool would go through sqlite3's adapter lookup); anything else is
    bound as it is, for the ``CHECK (... IN (0, 1))`` to refuse.
    """

    __slots__ = ("fetched_at", "longest", "provider_id", "region", "slots", "source")

    def __init__(
        self,
        provider_id: str,
        region: str,
        slots: Iterable[EnergyPriceSlot],
        fetched_at: int,
        source: str,
    ) -> None:
        self.provider_id, self.region, self.source = provider_id, region, source
        self.slots, self.fetched_at = slots, fetched_at
        self.longest = 0

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        provider_id, region, fetched_at, source = (
            self.provider_id,
            self.region,
            self.fetched_at,
            self.source,
        )
        utc, longest = UTC, 0
        end: datetime | None = None  # where the slot before ended, at second `end_second`
        end_second = 0
        length: timedelta | None = None  # the last length measured, `length_seconds` long
        length_seconds = 0
        for slot in self.slots:
            valid_from, valid_to = slot.valid_from, slot.valid_to
            if valid_from == end:
                start_second = end_second
                if valid_to.tzinfo is utc:  # so valid_to - valid_from is real elapsed time
                    span = valid_to - valid_from
                    if span == length:
                        end_second = start_second + length_seconds
                    else:
                        end_second = _epoch_second(valid_to, "slot.valid_to")
                        length, length_seconds = span, end_second - start_second
                else:
                    end_second = _epoch_second(valid_to, "slot.valid_to")
            else:
                start_second = _epoch_second(valid_from, "slot.valid_from")
                end_second = _epoch_second(valid_to, "slot.valid_to")
            end = valid_to
            if end_second - start_second > longest:
                longest = end_second - start_second
            provisional, estimate = slot.provisional, slot.estimate
            yield (
                provider_id,
                region,
                start_second,
                end_second,
                slot.price_pence,
                slot.currency,
                slot.price_pence_exc_vat,
                1 if provisional is True else 0 if provisional is False else provisional,
                1 if estimate is True else 0 if estimate is False else estimate,
                slot.estimate_low_pence,
                slot.estimate_high_pence,
                slot.energy_pence,
                fetched_at,
                source,
            )
        self.longest = longest


def _epoch_second(moment: datetime, name: str) -> int:
    """:func:`_exact_seconds` by integer arithmetic where it can."""
    try:
        delta = moment - _EPOCH
    except TypeError:  # naive (or no datetime at all): refused with the reason
        return _exact_seconds(moment, name)
    if delta.microseconds:
        return _exact_seconds(moment, name)
    return delta.days * 86400 + delta.seconds


def _slot(row: Iterable[Any]) -> EnergyPriceSlot:
    valid_from, valid_to, price, currency, exc_vat, provisional, estimate, low, high, energy = row
    return EnergyPriceSlot(
        valid_from=_from_seconds(valid_from),
        valid_to=_from_seconds(valid_to),
        price_pence=price,
        currency=currency,
        price_pence_exc_vat=exc_vat,
        provisional=bool(provisional),
        estimate=bool(estimate),
        estimate_low_pence=low,
        estimate_high_pence=high,
        energy_pence=energy,
    )


def _text(value: str | None) -> str | None:
    """Free text from a plugin (an error message, a version) as SQLite can store it: a lone
    surrogate, which UTF-8 cannot encode, becomes a visible ``\\udXXX`` escape."""
    if value is None:
        return None
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _run_row(run: FetchRun) -> tuple[Any, ...]:
    return (
        run.provider_id,
        run.region,
        _millis(run.started_at, "run.started_at"),
        FetchOutcome(run.outcome).value,
        run.slots,
        run.duration_ms,
        _text(run.error),
        _text(run.error_type),
        _optional_millis(run.window_start, "run.window_start"),
        _optional_millis(run.window_end, "run.window_end"),
    )


def _run(row: Iterable[Any]) -> FetchRun:
    provider_id, region, started, outcome, slots, duration, error, error_type, ws, we = row
    return FetchRun(
        provider_id=provider_id,
        region=region,
        started_at=_from_millis(started),
        outcome=FetchOutcome(outcome),
        slots=slots,
        duration_ms=duration,
        error=error,
        error_type=error_type,
        window_start=None if ws is None else _from_millis(ws),
        window_end=None if we is None else _from_millis(we),
    )
