"""API calls per feed per day in steady state, and how soon tomorrow's prices are stored.

Run: ``.venv/bin/python -m bench.bench_calls [--start 2026-10-24] [--trace nordpool]
[--quick]`` (some seconds; loopback only, bounded). ``figures(quick)`` gives the figures of
the default refresh settings for ``python -m bench``.

For each day-ahead plugin (energy_charts, entsoe, nordpool, awattar, energidataservice, and
octopus_agile: Agile, 16:00 UK, days 23:00 -> 23:00, its product discovered) three market
days are simulated (default 2026-10-24 .. 26, so the steady state holds the 25-hour
clock-change day 2026-10-25) with a simulated UTC clock (``time_machine``:
``datetime.now()`` everywhere, the plugin's pacer and caches and the Energi Data Service
stand-in's rate limit follow it; it jumps to each planned fetch and runs at real speed in
between), from an empty SQLite store in a temporary folder.
The plugin is loaded standalone like the daemon does and fetches over real HTTP from its
loopback stand-in (``tests/support/fake_<id>.py``), which "publishes" tomorrow at a set time:
scenario A on time (the plugin's ``publish_time_local`` + 5 min), scenario B an hour later.

The loop is the scheduler's: plan with ``plan_fetch`` (the arguments of ``Scheduler._plan``),
jump the clock to ``due_at``, fetch the window ``fetch_window(now, history_days)`` through
``fetch_into_store``, then update failures / errors / ``not_before`` / ``last_attempt`` as
``Scheduler._fetch`` does. Printed per plugin and scenario, for the default refresh settings
and for ``interval_minutes = 60`` (the old default):

- fetches/day: scheduler fetch runs per day; calls/day: HTTP requests the stand-in saw per
  day (Octopus: product discovery included); both over the last two simulated days (the
  first day's start-up left out) / 2;
- the calls/day against a fixed 30-minute poller, 48 calls a day (computed, not measured);
- not ok: steady-state fetch runs that failed or waited (a rate limit, say);
- the minutes from the stand-in publishing tomorrow to the end of the first fetch that
  stored it, for the publication of each simulated day. **Stored**, not "on MQTT": in the
  daemon the publisher follows the store's change event and publishes at once (no broker
  here); the figure is when the prices are in SQLite.

The figures (the defaults): calls/feed/day as a ratio of the poller's 48, goal <= 6/48 on
time (an hour late has no call goal: the short cadence is bounded to 3 hours); the worst
publication -> stored of the three days, goal <= 5 minutes on time and an hour late.

Figures depend on the seed (the retry jitter), hardly on the machine (a fetch's real
milliseconds pass on the simulated clock too). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
import tempfile
from collections.abc import Callable, Sized
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import aiohttp
import time_machine

from bench.common import Figure, format_table
from energyd import __version__
from energyd.config import RefreshSettings
from energyd.core.faults import RuntimeFaults
from energyd.core.fetching import fetch_into_store
from energyd.core.registry import source_identity
from energyd.core.selection import ProviderSpec
from energyd.core.store import PriceStore
from energyd.domain.calendar import MarketCalendar
from energyd.domain.planning import FetchPlan, plan_fetch
from energyd.domain.records import FetchOutcome, FetchRun
from energyd.exceptions import StoreError
from energyd.log import configure_logging
from energyd.providers.kit.provider import KitProvider
from tests.support import (
    fake_awattar,
    fake_energidataservice,
    fake_energy_charts,
    fake_entsoe,
    fake_nordpool,
    fake_octopus,
)
from tests.support.plugins import load_bundled_plugin

DAYS = 3
#: The first day holds the start-up; calls are counted over the days after it.
STEADY_FROM = 1
#: A fixed 30-minute poller: 24 h / 30 min, computed (not measured).
BASELINE_CALLS_PER_DAY = 24 * 60 // 30
#: Bounds: scheduler fetches per simulated run, and real seconds per run.
MAX_FETCHES = 2000
RUN_TIMEOUT = 120.0


class _FakeState(Protocol):
    published_until: datetime | None

    @property
    def requests(self) -> Sized: ...


class _RunningFake(Protocol):
    @property
    def url(self) -> str: ...

    @property
    def state(self) -> _FakeState: ...


@dataclass(frozen=True)
class Market:
    """One bundled plugin, the feed it runs and its loopback stand-in."""

    plugin_id: str
    class_name: str
    region: str
    serve: Callable[[], AbstractAsyncContextManager[_RunningFake]]
    config: Callable[[str], dict[str, Any]]  # the stand-in's URL -> the feed's config


MARKETS = (
    Market(
        "energy_charts",
        "EnergyChartsProvider",
        "DE-LU",
        fake_energy_charts.serve,
        lambda url: {"base_url": url},
    ),
    Market(
        "entsoe",
        "EntsoeProvider",
        "DE-LU",
        fake_entsoe.serve,
        lambda url: {"base_url": url, "security_token": fake_entsoe.TOKEN},
    ),
    Market(
        "nordpool", "NordPoolProvider", "SE3", fake_nordpool.serve, lambda url: {"base_url": url}
    ),
    Market(
        "awattar",
        "AwattarProvider",
        "DE",
        fake_awattar.serve,
        lambda url: {"base_url": url + "/de"},
    ),
    Market(
        "energidataservice",
        "EnergiDataServiceProvider",
        "DK1",
        fake_energidataservice.serve,
        lambda url: {"base_url": url},
    ),
    Market(  # Agile (the default family): 16:00 UK, days 23:00 -> 23:00; product discovered
        "octopus_agile",
        "OctopusAgileProvider",
        "C",
        fake_octopus.serve,
        lambda url: {"base_url": url},
    ),
)


@dataclass(frozen=True)
class Scenario:
    name: str
    #: When the stand-in publishes tomorrow, after the plugin's ``publish_time_local``.
    after: timedelta


SCENARIOS = (
    Scenario("A on time", timedelta(minutes=5)),
    Scenario("B 1 h late", timedelta(minutes=65)),
)


class SimClock:
    """The simulated UTC clock: ``datetime.now()`` everywhere (time_machine), also the
    monotonic clock of the pacer and of the stand-in; tells ``on_move`` each new time.

    It runs at real speed between jumps, so a fetch takes the milliseconds it really takes:
    a retry planned 60 s after a fetch then finds a 60 s answer cache just expired, as in the
    daemon (a frozen clock would land exactly on the cache's inclusive limit instead).
    """

    def __init__(self, traveller: time_machine.Traveller) -> None:
        self._traveller = traveller
        self.on_move: Callable[[datetime], None] = lambda _: None

    @property
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return self.now.timestamp()

    def advance_to(self, moment: datetime) -> None:
        if moment > self.now:
            self._traveller.move_to(moment)
        self.on_move(self.now)

    async def sleep(self, seconds: float) -> None:
        """The pacer's sleep: simulated time passes, the event loop turns once."""
        self.advance_to(self.now + timedelta(seconds=max(seconds, 0.0)))
        await asyncio.sleep(0)


@dataclass
class Attempts:
    """``energyd.core.scheduler._Attempts``: the scheduler's bookkeeping of one feed."""

    failures: int = 0
    errors: int = 0
    last_attempt: datetime | None = None
    not_before: datetime | None = None


@dataclass(frozen=True)
class Fetch:
    """One scheduler fetch as it happened."""

    at: datetime
    done: datetime
    why: str
    outcome: FetchOutcome
    requests: int
    covered: datetime | None
    failures: int


@dataclass
class Result:
    market: Market
    scenario: Scenario
    refresh: RefreshSettings
    published_at: str
    zone: ZoneInfo
    fetches: list[Fetch] = field(default_factory=list)
    steady_fetches: int = 0
    steady_calls: int = 0
    #: Steady-state fetch runs that were not ``ok`` (waiting, error: a rate limit, say).
    steady_not_ok: int = 0
    #: Minutes from each simulated day's publication to the fetch that stored it (None: never).
    delays: list[float | None] = field(default_factory=list)
    problem: str = ""


class Feed:
    """One feed run as the daemon runs it: plugin, store, calendar, the scheduler's rules."""

    def __init__(
        self,
        plugin: KitProvider,
        store: PriceStore,
        spec: ProviderSpec,
        refresh: RefreshSettings,
        rng: random.Random,
    ) -> None:
        meta = plugin.metadata_for(spec.region, dict(spec.config))  # as the registry asks
        self.plugin = plugin
        self.store = store
        self.spec = spec
        self.refresh = refresh
        self.rng = rng
        self.calendar = MarketCalendar.of(
            meta.market_timezone, meta.day_start_local, meta.publish_time_local
        )
        self.identity = source_identity(plugin, spec)
        self.currency = plugin.currency_for(spec.region, dict(spec.config))
        self.faults = RuntimeFaults()
        self.attempts = Attempts()

    async def coverage_end(self, moment: datetime) -> datetime | None:
        """``PriceService.coverage_end(final=True)``, as the scheduler asks it: the configured
        source's gap-free final prices from then."""
        return await self.store.coverage_end(
            self.spec.key, self.spec.region, moment, source=self.identity, final=True
        )

    async def plan(self, now: datetime) -> FetchPlan:
        """``Scheduler._plan``'s call, argument for argument, plus a seeded ``rng`` (the
        backoff jitter) so that a run repeats."""
        attempts = self.attempts
        last_ok = await self.store.last_fetch(self.spec.key, self.spec.region, FetchOutcome.OK)
        return plan_fetch(
            now,
            calendar=self.calendar,
            coverage_end=await self.coverage_end(now),
            last_attempt=attempts.last_attempt,
            last_success=None if last_ok is None else last_ok.started_at,
            failures=attempts.failures,
            refresh_interval=timedelta(minutes=self.refresh.interval_minutes),
            retry_min=self.refresh.retry_min_seconds,
            retry_max=self.refresh.retry_max_seconds,
            not_before=attempts.not_before,
            rng=self.rng,
            errors=attempts.errors,
            publication_retry=self.refresh.publication_retry_seconds,
        )

    async def fetch(self) -> tuple[FetchOutcome, datetime | None, datetime]:
        """One scheduled fetch: ``PriceService.fetch`` (window, ``fetch_into_store``), then
        the bookkeeping of ``Scheduler._fetch``. Returns (outcome, covered, when done)."""
        # -- copied from energyd.core.scheduler.Scheduler._fetch (keep in step with it) ------
        attempts = self.attempts
        ok = False
        failed = True
        covered: datetime | None = None
        outcome = FetchOutcome.ERROR
        attempts.not_before = None
        try:
            run = await self._service_fetch()
            outcome = run.outcome
            ok = run.outcome is FetchOutcome.OK
            failed = run.outcome is FetchOutcome.ERROR
            if run.retry_after is not None:
                attempts.not_before = run.started_at + timedelta(seconds=run.retry_after)
            covered = await self.coverage_end(_now())
        except StoreError as exc:  # the scheduler logs it and tries again later
            print(f"  {self.spec.key}: store failed: {exc}", file=sys.stderr)
        now = _now()
        attempts.last_attempt = now
        expected = self.calendar.expected_coverage_end(now)
        attempts.errors = attempts.errors + 1 if failed else 0
        if ok and covered is not None and covered >= expected:
            attempts.failures = 0
        else:
            attempts.failures += 1
        # -- end of the copy ------------------------------------------------------------------
        return outcome, covered, now

    async def _service_fetch(self) -> FetchRun:
        """The part of ``PriceService.fetch`` that runs for a loaded, valid provider."""
        start, end = self.calendar.fetch_window(_now(), self.refresh.history_days)
        return await fetch_into_store(
            self.store,
            self.plugin,
            key=self.spec.key,
            region=self.spec.region,
            currency=self.currency,
            config=self.spec.config,
            source=self.identity,
            start=start,
            end=end,
            timeout=self.refresh.fetch_timeout_seconds,
            faults=self.faults,
        )


def _now() -> datetime:
    """``energyd.core.scheduler._now``: the (simulated) wall clock."""
    return datetime.now(UTC)


def _load(market: Market) -> KitProvider:
    module = load_bundled_plugin(f"{market.plugin_id}_provider.py")
    plugin = getattr(module, market.class_name)()
    if not isinstance(plugin, KitProvider):
        raise TypeError(f"{market.plugin_id}: {market.class_name} is not a kit provider")
    return plugin


async def simulate(
    market: Market, scenario: Scenario, refresh: RefreshSettings, first_day: date, seed: int
) -> Result:
    """Three market days of one feed from an empty store; see the module docstring."""
    plugin = _load(market)
    plugin.rng = random.Random(seed)  # the kit's retry jitter (only on transient errors)
    meta = plugin.get_metadata()
    calendar = MarketCalendar.of(
        meta.market_timezone, meta.day_start_local, meta.publish_time_local
    )
    publish_time = calendar.publish_time
    if publish_time is None:
        raise ValueError(f"{market.plugin_id} has no publish_time_local")

    def published_at(day: date) -> datetime:
        """When the stand-in publishes the prices of the day after ``day`` (UTC)."""
        return calendar.at_local(day, publish_time) + scenario.after

    def horizon(moment: datetime) -> datetime:
        """How far the stand-in serves at ``moment``: tomorrow once today's result is out."""
        today = calendar.local_date(moment)
        out = moment >= published_at(today)
        return calendar.published_until(today if out else today - timedelta(days=1))

    days = [first_day + timedelta(days=n) for n in range(DAYS)]
    bounds = [calendar.market_day_bounds(day)[0] for day in days]
    bounds.append(calendar.market_day_bounds(days[-1])[1])
    publications = {day: published_at(day) for day in days}
    shown = f"{published_at(first_day).astimezone(calendar.zone):%H:%M} {calendar.zone.key}"
    result = Result(market, scenario, refresh, shown, calendar.zone)

    with (
        tempfile.TemporaryDirectory(prefix="bench_calls_") as tmp,
        time_machine.travel(bounds[0], tick=True) as traveller,
    ):
        clock = SimClock(traveller)
        async with (
            PriceStore(Path(tmp) / "energyd.db") as store,
            aiohttp.ClientSession(
                headers={"User-Agent": f"energyd/{__version__}"},
                timeout=aiohttp.ClientTimeout(total=refresh.http_timeout_seconds),
            ) as session,
            market.serve() as fake,
        ):
            state = fake.state

            def publish(moment: datetime) -> None:
                state.published_until = horizon(moment)

            clock.on_move = publish
            publish(clock.now)
            if isinstance(state, fake_energidataservice.FakeEnergiDataServiceState):
                state.clock = clock.monotonic  # its "1 request a minute" in simulated time
            plugin.attach(session, refresh.http_timeout_seconds)
            plugin.pacer.clock = clock.monotonic
            plugin.pacer.sleep = clock.sleep
            config = plugin.normalise_config({"region": market.region, **market.config(fake.url)})
            spec = ProviderSpec(market.plugin_id, market.plugin_id, market.region, config, True)
            feed = Feed(plugin, store, spec, refresh, random.Random(seed))
            try:
                async with asyncio.timeout(RUN_TIMEOUT):
                    await _run(feed, clock, bounds[-1], result, lambda: len(state.requests))
            except TimeoutError:
                result.problem = f"stopped after {RUN_TIMEOUT:g} s of real time"
    steady = [f for f in result.fetches if bounds[STEADY_FROM] <= f.at < bounds[-1]]
    result.steady_fetches = len(steady)
    result.steady_calls = sum(f.requests for f in steady)
    result.steady_not_ok = sum(f.outcome is not FetchOutcome.OK for f in steady)
    for day, published in publications.items():
        wanted = calendar.published_until(day)
        stored = next(
            (
                f
                for f in result.fetches
                if f.at >= published and f.covered is not None and f.covered >= wanted
            ),
            None,
        )
        result.delays.append(
            None if stored is None else (stored.done - published).total_seconds() / 60
        )
    return result


async def _run(
    feed: Feed, clock: SimClock, end: datetime, result: Result, requests: Callable[[], int]
) -> None:
    """``Scheduler.fetch_loop`` for one feed: plan; due: fetch, else sleep until due."""
    planned: str | None = None  # the reason of the plan slept on, if any
    while clock.now < end:
        now = clock.now
        plan = await feed.plan(now)
        if plan.due_at > now:
            planned = plan.reason
            clock.advance_to(min(plan.due_at, end))
            continue
        if len(result.fetches) >= MAX_FETCHES:
            result.problem = f"stopped after {MAX_FETCHES} fetches"
            return
        clock.advance_to(now)  # the stand-in publishes what is due by now
        before = requests()
        outcome, covered, done = await feed.fetch()
        result.fetches.append(
            Fetch(
                now,
                done,
                planned or plan.reason,
                outcome,
                requests() - before,
                covered,
                feed.attempts.failures,
            )
        )
        planned = None


def _delays(values: list[float | None]) -> str:
    return " / ".join("never" if v is None else f"{v:5.1f}" for v in values)


def _table(results: list[Result], steady_days: int) -> None:
    print(
        f"{'plugin':<18} {'scenario':<11} {'tomorrow out at':<22} {'fetches/day':>11} "
        f"{'calls/day':>9} {'vs 48/day':>9} {'not ok':>6}   publication -> stored, min "
        "(day 1 / 2 / 3)"
    )
    for r in results:
        calls = r.steady_calls / steady_days
        print(
            f"{r.market.plugin_id:<18} {r.scenario.name:<11} {r.published_at:<22} "
            f"{r.steady_fetches / steady_days:>11.1f} {calls:>9.1f} "
            f"{calls / BASELINE_CALLS_PER_DAY:>8.2f}x {r.steady_not_ok:>6}   {_delays(r.delays)}"
            + (f"   ({r.problem})" if r.problem else "")
        )


def _trace(result: Result) -> None:
    zone = result.zone
    print(
        f"\n{result.market.plugin_id}, {result.scenario.name}, "
        f"interval {result.refresh.interval_minutes:g} min:"
    )
    for f in result.fetches:
        covered = "-" if f.covered is None else f.covered.astimezone(zone).strftime("%m-%d %H:%M")
        print(
            f"  {f.at.astimezone(zone):%m-%d %H:%M:%S %Z}  {f.why:<18} {f.outcome.value:<8} "
            f"requests {f.requests}  covered to {covered}  failures {f.failures}"
        )


def _settings(refresh: RefreshSettings) -> str:
    return (
        f"refresh: interval_minutes={refresh.interval_minutes:g} "
        f"retry_min_seconds={refresh.retry_min_seconds:g} "
        f"retry_max_seconds={refresh.retry_max_seconds:g} history_days={refresh.history_days} "
        f"fetch_timeout_seconds={refresh.fetch_timeout_seconds:g}"
    )


#: The default first day: 2026-10-25, a 25-hour day, is in the steady state.
FIRST_DAY = date(2026, 10, 24)
#: The markets of a quick run (``figures(quick=True)``): one request per day, and discovery.
QUICK = ("nordpool", "octopus_agile")
#: The goal: at most 6 calls a feed a day on time, against the poller's 48.
CALLS_LIMIT = 6 / BASELINE_CALLS_PER_DAY
#: The goal: tomorrow stored within 5 minutes of its publication, on time or an hour late.
DELAY_LIMIT = 5.0


async def run_all(
    markets: tuple[Market, ...], refresh: RefreshSettings, first_day: date, seed: int
) -> list[Result]:
    """Every market in every scenario, one after the other (each its own stand-in, store)."""
    return [
        await simulate(market, scenario, refresh, first_day, seed)
        for market in markets
        for scenario in SCENARIOS
    ]


def _worst(delays: list[float | None]) -> float:
    """The longest publication -> stored of the days (never stored: infinite)."""
    return max(math.inf if d is None else d for d in delays)


def figures_of(results: list[Result]) -> list[Figure]:
    """Per plugin and scenario: calls/feed/day against the 30-minute poller (the goal on the
    on-time steady state), and the worst minutes from publication to stored (goal 5)."""
    steady_days = DAYS - STEADY_FROM
    found: list[Figure] = []
    for r in results:
        on_time = r.scenario is SCENARIOS[0]
        when = "on time" if on_time else "1 h late"
        found.append(
            Figure(
                f"calls/feed/day {r.market.plugin_id}, {when}",
                r.steady_calls / steady_days,
                "calls",
                baseline=float(BASELINE_CALLS_PER_DAY),
                baseline_name="30-min poller, computed",
                limit=CALLS_LIMIT if on_time else None,
                note=r.problem,
            )
        )
    for r in results:
        when = "on time" if r.scenario is SCENARIOS[0] else "1 h late"
        found.append(
            Figure(
                f"publication -> stored {r.market.plugin_id}, {when} (worst of {DAYS} days)",
                _worst(r.delays),
                "min",
                limit=DELAY_LIMIT,
                note="until stored; MQTT follows the store's change",
            )
        )
    return found


def figures(quick: bool = False) -> list[Figure]:
    """The figures with the default refresh settings (``quick``: Nord Pool and Octopus
    only, some seconds); each run starts and stops its own stand-in and temporary store."""
    configure_logging("error", "json")
    markets = tuple(m for m in MARKETS if not quick or m.plugin_id in QUICK)
    return figures_of(asyncio.run(run_all(markets, RefreshSettings(), FIRST_DAY, seed=1)))


async def bench(first_day: date, seed: int, trace: str | None) -> list[Result]:
    """The detailed printout (the defaults and the old hourly refresh); returns the runs of
    the defaults, for the figures."""
    configure_logging("error", "json")
    steady_days = DAYS - STEADY_FROM
    last = first_day + timedelta(days=DAYS - 1)
    print(
        f"{DAYS} simulated market days {first_day} .. {last} per run, from an empty store; "
        f"calls counted over the last {steady_days} days (start-up day left out), / {steady_days}"
    )
    print(
        f"baseline: a fixed 30-minute poller = {BASELINE_CALLS_PER_DAY} calls/day per feed "
        "(computed, not measured); retry jitter seed "
        f"{seed}"
    )
    traced: list[Result] = []
    defaults: list[Result] = []
    for refresh in (RefreshSettings(), RefreshSettings(interval_minutes=60)):
        default = (
            " (the defaults)" if refresh == RefreshSettings() else " (the old default interval)"
        )
        print(f"\n{_settings(refresh)}{default}")
        results = await run_all(MARKETS, refresh, first_day, seed)
        if refresh == RefreshSettings():
            defaults = results
        traced += [r for r in results if r.market.plugin_id == trace]
        _table(results, steady_days)
    for result in traced:
        _trace(result)
    return defaults


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--start",
        type=date.fromisoformat,
        default=FIRST_DAY,
        help="first simulated day (default 2026-10-24: 10-25 is a 25-hour day)",
    )
    parser.add_argument("--seed", type=int, default=1, help="retry jitter seed (default 1)")
    parser.add_argument(
        "--trace",
        choices=[m.plugin_id for m in MARKETS],
        help="also list every fetch of this plugin's runs",
    )
    parser.add_argument(
        "--quick", action="store_true", help="only the figures, Nord Pool and Octopus"
    )
    args = parser.parse_args()
    if args.quick:
        print(format_table(figures(quick=True)))
        return
    defaults = asyncio.run(bench(args.start, args.seed, args.trace))
    print()
    print(format_table(figures_of(defaults)))


if __name__ == "__main__":
    main()
