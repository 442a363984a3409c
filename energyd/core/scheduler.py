"""The timer loops: fetch when the market has published something we lack, and announce slot
boundaries (:meth:`energyd.core.events.Events.boundary`) for the publisher to follow. The
decisions are the pure functions of :mod:`energyd.domain.planning`; this module only sleeps,
wakes and calls.

A source that throttled us (HTTP 429 with ``Retry-After``) is asked again when it said, not on
energyd's own backoff: the fetch run carries ``retry_after`` and the plan waits for it.

Sleeping is done in short chunks against the wall clock, so a suspended machine or a clock
jump is noticed within :data:`MAX_SLEEP` seconds and boundaries never drift; the last
milliseconds before a boundary are waited out on the event loop, so it is announced the moment
it passes (no grace: consumers read ``valid_from`` / ``valid_to``). Boundaries are planned again
whenever prices change, so slot edges a fetch brings (off the ``slot_minutes`` grid, or the
first prices of an empty store) are announced from the first fetch on.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from energyd.config import RefreshSettings
from energyd.core.events import ChangeFeed
from energyd.core.selection import ProviderSpec
from energyd.core.service import PriceService
from energyd.domain.calendar import MarketCalendar
from energyd.domain.figures import current_and_next
from energyd.domain.planning import FetchPlan, plan_fetch
from energyd.domain.records import FetchOutcome
from energyd.domain.time import next_boundary
from energyd.exceptions import StoreError

__all__ = ["MAX_SLEEP", "Scheduler"]

log = structlog.get_logger(__name__)

MAX_SLEEP = 30.0
#: The last stretch before a deadline (seconds) is waited out by yielding to the event loop,
#: not in epoll, whose 1 ms resolution would make every boundary up to 1 ms late. No more
#: than that resolution: each boundary spends it on the CPU.
_SPIN = 0.001
#: A sleep ends this share of its length early and is finished with a short one: the loop's
#: monotonic clock and the wall clock may run apart while NTP slews (up to 0.05 %).
_SLEW = 0.001


@dataclass(slots=True)
class _Attempts:
    #: Attempts in a row that came up short (an error, or the prices still missing).
    failures: int = 0
    #: The last of them in a row that failed on the source's side (an ``error`` run): these
    #: back off exponentially; "not published yet" is asked on the short cadence instead.
    errors: int = 0
    last_attempt: datetime | None = None
    #: The source said not to ask before this (``Retry-After`` of its last answer).
    not_before: datetime | None = None


class Scheduler:
    """Fetches each running provider when its plan says so, and announces slot boundaries.

    It follows the service's events in its own task: a settings or plugin change forgets the
    backoff and re-plans at once.
    """

    def __init__(self, service: PriceService, refresh: RefreshSettings) -> None:
        self._service = service
        self._refresh = refresh
        self._changes: ChangeFeed = service.events.feed("scheduler")
        self._attempts: dict[str, _Attempts] = {}
        self._wake_fetch = asyncio.Event()
        self._wake_publish = asyncio.Event()

    def wake(self) -> None:
        """Re-plan now (settings changed, plugins reloaded, a refresh asked for)."""
        self._wake_fetch.set()
        self._wake_publish.set()

    def on_change(self, everything: bool) -> None:
        """On a settings/plugin change, forget backoff and re-plan; after any other change
        (a fetch, say one a ``refresh`` command made) re-plan the fetches, so the next
        attempt health shows is the plan's."""
        if everything:
            self._attempts.clear()
            self.wake()
        else:
            self._wake_fetch.set()

    async def follow_changes(self) -> None:
        while True:
            changes = await self._changes.take()
            self.on_change(changes.everything)
            if changes.prices:  # new slot edges (off the grid, or the first ones): re-plan
                self._wake_publish.set()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self.follow_changes(), name="energyd.scheduler.changes")
            group.create_task(self.fetch_loop(), name="energyd.scheduler.fetch")
            group.create_task(self.boundary_loop(), name="energyd.scheduler.boundary")

    # -- fetching --------------------------------------------------------------------------

    async def fetch_loop(self) -> None:
        while True:
            now = _now()
            due: list[ProviderSpec] = []
            next_due: datetime | None = None
            for spec in self._service.specs():
                try:
                    plan = await self._plan(spec, now)
                except StoreError as exc:
                    log.error("scheduler.plan_failed", provider=spec.key, error=str(exc))
                    plan = FetchPlan(now + timedelta(seconds=MAX_SLEEP), "store-error")
                if plan.due_at <= now:
                    log.debug("scheduler.fetch_due", provider=spec.key, reason=plan.reason)
                    due.append(spec)
                    continue
                self._service.planned(spec.key, plan.due_at)
                if next_due is None or plan.due_at < next_due:
                    next_due = plan.due_at
            if due:
                await asyncio.gather(*(self._fetch(spec) for spec in due))
                continue
            await _sleep_until(next_due, self._wake_fetch)

    async def _plan(self, spec: ProviderSpec, now: datetime) -> FetchPlan:
        attempts = self._attempts.setdefault(spec.key, _Attempts())
        store = self._service.store
        last_ok = await store.last_fetch(spec.key, spec.region, FetchOutcome.OK)
        return plan_fetch(
            now,
            calendar=self._service.calendar(spec),
            # provisional prices (EXAA before SDAC, not final yet) are asked for again
            coverage_end=await self._service.coverage_end(spec, now, final=True),
            last_attempt=attempts.last_attempt,
            last_success=None if last_ok is None else last_ok.started_at,
            failures=attempts.failures,
            refresh_interval=timedelta(minutes=self._refresh.interval_minutes),
            retry_min=self._refresh.retry_min_seconds,
            retry_max=self._refresh.retry_max_seconds,
            not_before=attempts.not_before,
            estimate_from=await self._service.first_estimate(spec, now),
            errors=attempts.errors,
            publication_retry=self._refresh.publication_retry_seconds,
        )

    async def _fetch(self, spec: ProviderSpec) -> None:
        attempts = self._attempts.setdefault(spec.key, _Attempts())
        ok = False
        failed = True  # on the source's side (or the store's), not "not published yet"
        covered: datetime | None = None
        attempts.not_before = None
        try:
            run = await self._service.fetch(spec, "schedule")
            ok = run.outcome is FetchOutcome.OK
            failed = run.outcome is FetchOutcome.ERROR
            if run.retry_after is not None:
                attempts.not_before = run.started_at + timedelta(seconds=run.retry_after)
            covered = await self._service.coverage_end(spec, _now(), final=True)
        except StoreError as exc:  # disk full, locked: keep serving, try again later
            log.error("scheduler.store_failed", provider=spec.key, error=str(exc))
        now = _now()
        attempts.last_attempt = now
        expected = self._service.calendar(spec).expected_coverage_end(now)
        attempts.errors = attempts.errors + 1 if failed else 0
        if ok and covered is not None and covered >= expected:
            attempts.failures = 0
        else:
            attempts.failures += 1
            log.info(
                "scheduler.retry_planned",
                provider=spec.key,
                failures=attempts.failures,
                errors=attempts.errors,
                covered_until=None if covered is None else covered.isoformat(),
                expected_until=expected.isoformat(),
                not_before=None if attempts.not_before is None else attempts.not_before.isoformat(),
            )

    # -- slot boundaries -------------------------------------------------------------------

    async def boundary_loop(self) -> None:
        """Announce every slot boundary of every running provider (and once at start) as it
        passes; when prices or settings change, plan again from the last one announced, so an
        edge that a fetch brings is not missed (one already passed is announced at once)."""
        since = _now()
        self._service.events.boundary()
        while True:
            try:
                boundary = await self._next_boundary(since)
            except StoreError as exc:  # what was published stays retained; try again soon
                log.error("scheduler.boundary_failed", error=str(exc))
                boundary = _now() + timedelta(seconds=MAX_SLEEP)
            if await _sleep_until(boundary, self._wake_publish):
                self._service.events.boundary()
                since = _now()
                await asyncio.sleep(0)  # the publisher first: planning the next one can wait

    async def _next_boundary(self, since: datetime) -> datetime:
        """The first boundary strictly after ``since`` of any running provider: of its
        ``slot_minutes`` grid, of its stored slots (off the grid too), and the market's local
        midnight (today and tomorrow roll over) for a provider with either."""
        candidates: set[datetime] = set()
        rhythms: set[tuple[int | None, MarketCalendar]] = set()
        for runtime in self._service.runtimes():
            slots = await self._service.slots(runtime, since, since + timedelta(days=1))
            current, following = current_and_next(slots, since)
            if current is not None:
                candidates.add(current.valid_to)
            elif following is not None:
                candidates.add(following.valid_from)
            # a provider without a plugin has only its stored slots (its minutes are None)
            if runtime.slot_minutes is not None or current is not None or following is not None:
                rhythms.add((runtime.slot_minutes, runtime.calendar))
        for minutes, calendar in rhythms:  # checked by the loader
            if minutes is not None:
                candidates.add(next_boundary(since, minutes))
            candidates.add(calendar.day_bounds(calendar.local_date(since))[1])
        # Nothing with a rhythm (no plugin loaded, nothing stored): look again shortly.
        return min(candidates, default=since + timedelta(seconds=MAX_SLEEP))


def _now() -> datetime:
    return datetime.now(UTC)


async def _sleep_until(deadline: datetime | None, wake: asyncio.Event) -> bool:
    """Sleep until the wall clock reaches ``deadline`` (True) or ``wake`` is set (False; it
    is cleared). Chunks of at most :data:`MAX_SLEEP` seconds on the loop's clock, each ended
    a little early and the last :data:`_SPIN` seconds yielded away, so the wall clock is
    checked often enough for a clock jump and the deadline is met within a fraction of a
    millisecond."""
    while not wake.is_set():
        remaining = MAX_SLEEP if deadline is None else (deadline - _now()).total_seconds()
        if remaining <= 0:
            return True
        if remaining <= _SPIN:
            await asyncio.sleep(0)
            continue
        pause = min(remaining - _SPIN - remaining * _SLEW, MAX_SLEEP)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(pause):
                await wake.wait()
    wake.clear()
    return False
