"""Shared parts of the end-to-end market tests: the whole daemon in-process
(:mod:`tests.support.daemon`), a real mosquitto, and a market's loopback stand-in, met the way a
new user meets them: a provider entry with a price formula, then MQTT topics and commands.

A test module names its market (:class:`Market`: the stand-in, the plugin keys, the stand-in's
own price function, a realistic household tariff) and runs the scenarios here:

- :func:`publication_scenario`: the current end price through the formula, today's series,
  ``ok`` or ``waiting`` before tomorrow is published (whichever the wall clock makes right),
  then tomorrow published, ``refresh``, ``tomorrow`` complete and ``ok``;
- :func:`faults_scenario`: 5xx, 429 with ``Retry-After``, no answer and a garbage body, each
  a ``fetch_failed`` refresh that keeps the known price and leaves health ``degraded``;
- :func:`garbage_recovery_scenario`: after a garbage answer, the next refresh the plugin's
  request spacing allows gets the prices again.

The expected prices are computed here, from the stand-in's price function and the tariff as
configured, with :class:`decimal.Decimal` arithmetic of our own: never with energyd's
``Tariff``, so a mistake there cannot hide in the expectation.

**Pacing.** The plugins keep their source's rate limit with a :class:`Pacer` per plugin
instance (``request_spacing_seconds`` / ``cache_seconds``: Energi Data Service 60 s / 50 s,
aWATTar 5 s / 30 s, Energy-Charts 0.5 s / 30 s, ENTSO-E 0.2 s / 30 s, Nord Pool 1 s / 6 h for
a day whose prices are final). A refresh inside the cache time is answered from the cache and
never reaches the stand-in, and one inside the spacing waits or is refused. The tests do not
switch that off: they give the daemon's own plugin instance (reached through the process-wide
loader the daemon built) a :class:`VirtualClock` and move it on where a user would have waited
(:meth:`MarketRun.time_passes`), so the pacer still sees every request and decides as it
would; its sleeps move the same clock instead of waiting. Energi Data Service's stand-in
enforces its "1 request a minute" on that clock too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time as monotonic_time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt
import structlog

from energyd.providers.loader import get_energy_provider_loader
from tests.support.broker import Collector, MosquittoBroker, collect
from tests.support.daemon import daemon_settings, running

__all__ = [
    "HOUR",
    "QUARTER",
    "RETRIES",
    "Market",
    "MarketRun",
    "VirtualClock",
    "check_current",
    "daemon",
    "end_price",
    "faults_scenario",
    "garbage_recovery_scenario",
    "publication_scenario",
]

QUARTER = timedelta(minutes=15)
HOUR = timedelta(hours=1)

#: The daemon's timings, small enough for a test: a fetch is bounded by 2.5 s and one HTTP
#: request by 1 s (so a stand-in that never answers fails a fetch in about a second), and a
#: market that has not published yet is asked again after half a second (backing off to 5 s).
REFRESH: dict[str, float] = {
    "retry_min_seconds": 0.5,
    "retry_max_seconds": 5,
    "fetch_timeout_seconds": 2.5,
    "http_timeout_seconds": 1,
}
#: A plugin's own retries within one fetch: quick, and at most half a second of them.
RETRIES: dict[str, float] = {"retry_base_seconds": 0.01, "retry_budget_seconds": 0.5}
#: The ``Retry-After`` of the stand-ins' 429 (longer than the retry budget: never waited out).
RETRY_AFTER = 30
#: Every fault is queued this often: more than all retries of one fetch ask.
FAULT_REPEAT = 20


def body_of(message: aiomqtt.Message) -> dict[str, Any] | None:
    """The JSON object of a message; ``None`` for an emptied (retired) topic."""
    raw = bytes(message.payload)
    if not raw:
        return None
    decoded: dict[str, Any] = json.loads(raw)
    return decoded


def moment(text: str) -> datetime:
    """An ISO 8601 time as energyd publishes it (``...Z``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- the price formula, computed independently -------------------------------------------------

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _picked(text: str, names: Sequence[str]) -> set[int]:
    """``"mon-fri"``, ``"sat,sun"``, ``"oct-mar"`` (wrapping) -> indexes into ``names``."""
    picked: set[int] = set()
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        a, b = names.index(first), names.index(last or first)
        picked.update(range(a, b + 1) if a <= b else [*range(a, len(names)), *range(b + 1)])
    return picked


def _clock(text: str) -> time | None:
    """``"17:00"`` -> 17:00; ``"24:00"`` -> ``None`` (the end of the day)."""
    return None if text == "24:00" else time.fromisoformat(text)


def fee_applies(fee: Mapping[str, Any], local: datetime) -> bool:
    """Whether a ``[[tariff.fees]]`` zone covers the local wall-clock ``local`` (the zones in
    these tests stay within one day, so no wrapping past midnight is needed here)."""
    start = _clock(fee.get("from", "00:00")) or time(0)
    end = _clock(fee.get("to", "24:00"))
    assert end is None or start < end, "these tests use fee zones within one day"
    clock = local.time()
    inside = start <= clock and (end is None or clock < end)
    return (
        inside
        and local.weekday() in _picked(fee.get("days", "mon-sun"), _DAYS)
        and local.month - 1 in _picked(fee.get("months", "jan-dec"), _MONTHS)
    )


def _dec(value: object) -> Decimal:
    return Decimal(str(value))


def end_price(
    tariff: Mapping[str, Any], market: Decimal, start: datetime, zone: ZoneInfo
) -> tuple[Decimal, Decimal]:
    """(end price, end price without its VAT) of the slot starting at ``start`` whose market
    price is ``market`` (minor units per kWh), as the README states the formula:
    clamp((market x multiplier + adders + fees at the slot's local start) x (1 + VAT), floor,
    cap), VAT only on a positive pre-VAT sum with ``vat_on = "positive"``; fee times on the
    wall clock of ``tariff.timezone`` (default the market's ``zone``)."""
    local = start.astimezone(ZoneInfo(tariff["timezone"]) if "timezone" in tariff else zone)
    adders = sum((_dec(v) for v in tariff.get("adders", {}).values()), Decimal(0))
    fees = sum(
        (_dec(f["amount"]) for f in tariff.get("fees", ()) if fee_applies(f, local)), Decimal(0)
    )
    before = market * _dec(tariff.get("multiplier", 1)) + adders + fees
    taxed = tariff.get("vat_on", "all") == "all" or before > 0
    vat = before * _dec(tariff.get("vat_percent", 0)) / 100 if taxed else Decimal(0)
    end = before + vat
    if "floor" in tariff:
        end = max(end, _dec(tariff["floor"]))
    if "cap" in tariff:
        end = min(end, _dec(tariff["cap"]))
    exc_vat = end if vat == 0 or before + vat == 0 else end * before / (before + vat)
    return end, exc_vat


#: A published price is the exact one rounded to 4 decimals. energyd computes in binary
#: floats (and the plugins keep 6 decimals of EUR/MWh / 10), so where the exact value has a 5
#: in its fifth decimal it may round either way: "within half a unit of the fourth decimal",
#: plus a millionth for the plugins' own rounding, is what "rounded to 4 decimals" means here.
ROUNDING = Decimal("0.00005") + Decimal("0.000001")


def assert_rounded(published: object, exact: Decimal, what: str) -> None:
    """``published`` is ``exact`` rounded to 4 decimals (a number, never null)."""
    assert isinstance(published, int | float), f"{what}: {published!r} is not a price"
    assert not isinstance(published, bool), f"{what}: {published!r} is not a price"
    assert round(published, 4) == published, f"{what}: {published} has more than 4 decimals"
    assert abs(_dec(published) - exact) <= ROUNDING, (
        f"{what}: published {published}, expected {exact:.6f} rounded to 4 decimals"
    )


# -- a market and its stand-in -------------------------------------------------------------------


class VirtualClock:
    """Monotonic seconds a test can move on (:meth:`skip`); :meth:`sleep` moves it instead of
    waiting. For a plugin's :class:`Pacer` (and Energi Data Service's stand-in)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return monotonic_time.monotonic() + self.offset

    def skip(self, seconds: float) -> None:
        self.offset += seconds

    async def sleep(self, seconds: float) -> None:
        self.offset += max(0.0, seconds)
        await asyncio.sleep(0)


#: A market's stand-in, served while the block runs: ``.url``, ``.state`` (``faults``,
#: ``published_until``, ``retry_after``, ``requests``), on the test's clock where it has one.
StandIn = Callable[[VirtualClock], contextlib.AbstractAsyncContextManager[Any]]


@dataclass(frozen=True)
class Market:
    """One bundled plugin against its stand-in, as a provider entry of the same id."""

    key: str
    region: str
    currency: str
    #: ``c/kWh``, ``øre/kWh``, ``öre/kWh``: what energyd must publish as ``unit``.
    unit: str
    #: The market's native slot length (15 minutes; aWATTar an hour).
    slot: timedelta
    #: The market's day and publication clock.
    zone: ZoneInfo
    #: ``[energy.providers.<key>.tariff]``: amounts in minor units per kWh.
    tariff: Mapping[str, Any]
    #: The stand-in's own price of the slot starting at a UTC moment, in minor units per kWh
    #: (its EUR/MWh, DKK/MWh or SEK/MWh / 10), exactly.
    price: Callable[[datetime], Decimal]
    stand_in: StandIn
    #: The plugin keys for a running stand-in (``base_url``, token, currency ...).
    config: Callable[[Any], dict[str, Any]]
    #: When the next day's prices usually appear, market time.
    publish_at: time = time(13)

    def provider(self, fake: Any) -> dict[str, Any]:
        """The provider entry a user writes: region, plugin keys, quick retries, the tariff."""
        return {"region": self.region, **RETRIES, **self.config(fake), "tariff": dict(self.tariff)}

    def expected(self, start: datetime) -> tuple[Decimal, Decimal, Decimal]:
        """(market price, end price, end price without VAT) of the slot at ``start``."""
        market = self.price(start)
        end, exc_vat = end_price(self.tariff, market, start, self.zone)
        return market, end, exc_vat

    def today(self) -> date:
        return datetime.now(self.zone).date()

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """Market-local ``day`` in UTC (23, 24 or 25 hours)."""
        following = day + timedelta(days=1)
        return (
            datetime.combine(day, time(0), self.zone).astimezone(UTC),
            datetime.combine(following, time(0), self.zone).astimezone(UTC),
        )

    def day_slots(self, day: date) -> int:
        """Slots of market day ``day``: 96 quarter hours (92 / 100 on clock-change days), or
        24 hours (23 / 25)."""
        start, end = self.day_bounds(day)
        return (end - start) // self.slot

    def tomorrow_is_due(self, now: datetime) -> bool:
        """Whether the market usually has tomorrow's prices out by ``now``."""
        return now.astimezone(self.zone).time() >= self.publish_at


@dataclass
class MarketRun:
    """One running provider of a daemon under test, and the test's MQTT client."""

    market: Market
    fake: Any
    client: Collector
    base: str
    port: int
    clock: VirtualClock
    plugin: Any = None

    @property
    def key(self) -> str:
        return self.market.key

    def topic(self, suffix: str) -> str:
        return f"{self.base}/prices/{self.market.key}/{self.market.region}/{suffix}"

    def adopt(self, plugin: Any) -> None:
        """Put the daemon's own instance of the plugin on the test's clock (module doc)."""
        self.plugin = plugin
        plugin.pacer.clock = self.clock
        plugin.pacer.sleep = self.clock.sleep

    def time_passes(self) -> None:
        """As if a user waited until the plugin's cache and spacing allow a fresh request (the
        daemon's own retry comes after ``retry_min_seconds``, a minute by default; Energi Data
        Service allows one request a minute): the next fetch reaches the stand-in."""
        pacer = self.plugin.pacer
        self.clock.skip(max(pacer.cache_seconds, pacer.spacing) + 1)

    def seen(self) -> set[int]:
        """The messages received so far (for :meth:`wait` ``after``)."""
        return {id(m) for m in self.client.messages}

    async def wait(
        self,
        topic: str,
        test: Callable[[dict[str, Any]], bool] = lambda _: True,
        *,
        after: set[int] | None = None,
        within: float = 10.0,
    ) -> dict[str, Any]:
        """The first message on ``topic`` (a suffix of this provider's price topics, or a
        whole topic under the base) passing ``test``, not one of ``after``."""
        name = topic if topic.startswith(self.base + "/") else self.topic(topic)
        old = after or set()

        def passes(message: aiomqtt.Message) -> bool:
            body = body_of(message)
            return id(message) not in old and body is not None and test(body)

        found = body_of(await self.client.wait_for(name, passes, within=within))
        assert found is not None
        return found

    def health_in(self, providers: dict[str, Any]) -> dict[str, Any] | None:
        """This provider's health in a ``<base>/providers`` payload."""
        for entry in providers.get("providers", ()):
            if entry.get("id") == self.key:
                health: dict[str, Any] = entry["health"]
                return health
        return None

    async def wait_health(
        self,
        test: Callable[[dict[str, Any]], bool],
        *,
        after: set[int] | None = None,
        within: float = 10.0,
    ) -> dict[str, Any]:
        """This provider's health from the first retained ``<base>/providers`` passing ``test``."""

        def passes(body: dict[str, Any]) -> bool:
            health = self.health_in(body)
            return health is not None and test(health)

        health = self.health_in(
            await self.wait(f"{self.base}/providers", passes, after=after, within=within)
        )
        assert health is not None
        return health

    def health_history(self) -> list[str]:
        """Every health state of this provider the ``providers`` topic has shown so far."""
        states = []
        for message in self.client.on(f"{self.base}/providers"):
            body = body_of(message)
            health = None if body is None else self.health_in(body)
            if health is not None:
                states.append(health["state"])
        return states

    async def ask(
        self, command: str, body: Mapping[str, Any] | None = None, *, within: float = 10.0
    ) -> dict[str, Any]:
        """Publish ``body`` on ``<base>/request/<command>`` with a fresh transaction; the reply
        on ``<base>/response/<command>`` that echoes it."""
        marker = os.urandom(4).hex()
        request = {**(body or {}), "transaction": marker}
        await self.client.publish(f"{self.base}/request/{command}", json.dumps(request))
        return await self.wait(
            f"{self.base}/response/{command}",
            lambda reply: reply.get("transaction") == marker,
            within=within,
        )

    async def health(self) -> dict[str, Any]:
        """The ``health`` command's report of this provider."""
        reply = await self.ask("health")
        assert "ok" == reply["status"], reply
        report: dict[str, Any] = reply["data"]["providers"][self.key]
        return report

    async def retained(self, suffix: str) -> dict[str, Any]:
        """What a fresh subscriber of this provider's ``suffix`` topic gets (the retained
        message) now."""
        name = self.topic(suffix)
        async with collect(self.port, name) as fresh:
            found = body_of(await fresh.wait_for(name))
        assert found is not None, f"{name} is empty"
        return found


@contextlib.asynccontextmanager
async def daemon(
    tmp_path: Path,
    mosquitto: MosquittoBroker,
    base_topic: str,
    clock: VirtualClock,
    *feeds: tuple[Market, Any],
) -> AsyncIterator[list[MarketRun]]:
    """The daemon with one provider per ``(market, stand-in)`` (the first selected), from its
    first current price of each on; each plugin instance put on ``clock``."""
    providers = {market.key: market.provider(fake) for market, fake in feeds}
    settings = daemon_settings(
        tmp_path,
        mosquitto.port,
        base_topic,
        "http://127.0.0.1:9",  # the Octopus default's, replaced by the energy section below
        energy={"provider_id": feeds[0][0].key, "providers": providers},
        refresh=REFRESH,
    )
    async with running(settings) as task, collect(mosquitto.port, f"{base_topic}/#") as client:
        runs = [
            MarketRun(market, fake, client, base_topic, mosquitto.port, clock)
            for market, fake in feeds
        ]
        for run in runs:
            await run.wait("current", lambda body: body["available"], within=15)
        loader = get_energy_provider_loader()
        assert loader.deployed_dir.is_relative_to(tmp_path), "not this daemon's plugins"
        for run in runs:
            run.adopt(loader.get(run.key))
        yield runs
        assert not task.done(), "the daemon stopped"


# -- what a user sees ----------------------------------------------------------------------------


async def check_current(run: MarketRun) -> dict[str, Any]:
    """The retained ``current``: the stand-in's price of the slot now, through the formula, in
    the market's currency and unit, one native slot long."""
    market = run.market
    current = await run.retained("current")
    start, end = moment(current["valid_from"]), moment(current["valid_to"])
    # the slot of now (a boundary may pass between its publication and this check)
    assert start <= datetime.now(UTC) < end + timedelta(seconds=5), current
    assert market.slot == end - start, current
    price, end_exc, exc_vat = market.expected(start)
    where = f"{market.key} {current['valid_from']}"
    assert current["available"] is True, current
    assert current["price"] != 0, current
    assert_rounded(current["market_price"], price, f"{where} market_price")
    assert_rounded(current["price"], end_exc, f"{where} price")
    assert_rounded(current["price_exc_vat"], exc_vat, f"{where} price_exc_vat")
    for minor, major in (("price", "price_major"), ("market_price", "market_price_major")):
        # both rounded from the same unrounded price: 4 decimals of minor, 6 of major units
        difference = abs(_dec(current[major]) - _dec(current[minor]) / 100)
        assert difference <= Decimal("0.00000101"), (major, current)
    assert (market.currency, market.unit, f"{market.currency}/kWh") == (
        current["currency"],
        current["unit"],
        current["unit_major"],
    )
    return current


def check_series(run: MarketRun, day_body: dict[str, Any], day: date) -> None:
    """A ``today`` / ``tomorrow`` payload: the whole market day, every slot's ``price``
    through the formula with the stand-in's price as ``market``."""
    market = run.market
    assert (day.isoformat(), True) == (day_body["date"], day_body["complete"]), day_body
    assert (market.currency, market.unit) == (day_body["currency"], day_body["unit"])
    assert market.day_slots(day) == day_body["count"] == len(day_body["slots"])
    for slot in day_body["slots"]:
        start = moment(slot["start"])
        assert market.slot == moment(slot["end"]) - start, slot
        price, end, _ = market.expected(start)
        assert_rounded(slot["market"], price, f"{market.key} {slot['start']} market")
        assert_rounded(slot["price"], end, f"{market.key} {slot['start']} price")


def fetch_warnings(logs: Sequence[Mapping[str, Any]], key: str) -> list[Mapping[str, Any]]:
    """Log events at warning level or above about fetching ``key``'s prices."""
    return [
        event
        for event in logs
        if event.get("log_level") in ("warning", "error", "critical")
        and (
            str(event.get("event", "")).startswith(("prices.", "provider.", "scheduler."))
            or event.get("provider") == key
        )
    ]


async def publication_scenario(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, market: Market
) -> None:
    """The stand-in has published today only: the current end price and today's series are
    right; before the usual publication time the provider is ``ok`` (today is all the market
    has) with tomorrow not complete, after it ``waiting`` (healthy, with a next try), never a
    fault, and nothing about the fetch is logged as a warning. Once tomorrow is published, a
    ``refresh`` brings it in whole and the provider is ``ok``."""
    clock = VirtualClock()
    async with market.stand_in(clock) as fake:
        today = market.today()
        tomorrow = today + timedelta(days=1)
        fake.state.published_until = market.day_bounds(today)[1]
        with structlog.testing.capture_logs() as logs:
            async with daemon(tmp_path, mosquitto, base_topic, clock, (market, fake)) as runs:
                (run,) = runs
                await check_current(run)
                check_series(run, await run.wait("today", lambda b: b["complete"]), today)

                due_before = market.tomorrow_is_due(datetime.now(UTC))
                reply = await run.ask("health")
                due_after = market.tomorrow_is_due(datetime.now(UTC))
                health = reply["data"]["providers"][run.key]
                # 13:00 market time may pass while the daemon answers: either state is right then
                expected = {due_before, due_after}
                assert health["state"] in {"waiting" if due else "ok" for due in expected}, health
                assert reply["data"]["ok"] is True, reply  # waiting is healthy, not a fault
                if health["state"] == "waiting":
                    assert health["next_attempt"] is not None, health
                    assert tomorrow.isoformat() in health["message"], health
                    assert "next try" in health["message"], health
                    # the retained topic says so too, without this daemon's own next try
                    await run.wait_health(
                        lambda h: h["state"] == "waiting" and "next try" not in h["message"]
                    )
                else:  # before 13:00 the market has published today only: all there is
                    assert market.day_bounds(today)[1] == moment(health["covered_until"]), health
                    assert (await run.retained("tomorrow"))["complete"] is False
                    asked = await run.ask("prices", {"day": "tomorrow"})
                    assert [] == asked["data"]["slots"], asked
                assert set(run.health_history()) <= {"unknown", "ok", "waiting"}, (
                    run.health_history()
                )
                assert [] == fetch_warnings(logs, run.key)

                fake.state.published_until = market.day_bounds(tomorrow)[1]
                run.time_passes()  # past the plugin's cache: the refresh reaches the stand-in
                seen = run.seen()
                refreshed = await run.ask("refresh", {"provider": run.key})
                assert ("ok", ["ok"]) == (
                    refreshed["status"],
                    [r["outcome"] for r in refreshed["data"]["runs"]],
                ), refreshed
                whole = await run.wait("tomorrow", lambda b: b["complete"], after=seen)
                check_series(run, whole, tomorrow)
                assert whole["available"] is True, whole
                assert "ok" == (await run.health())["state"]
                await run.wait_health(lambda h: h["state"] == "ok", after=seen)
                await check_current(run)
                assert set(run.health_history()) <= {"unknown", "ok", "waiting"}


@dataclass(frozen=True)
class Fault:
    """One way a stand-in fails (a ``faults`` entry) and the error types it may surface as."""

    name: str
    answer: int | str
    error_types: frozenset[str]


FAULTS = (
    Fault("HTTP 503", 503, frozenset({"ProviderServerError"})),
    Fault("HTTP 429 with Retry-After", 429, frozenset({"ProviderRateLimitError"})),
    # one request runs into http_timeout_seconds, or the whole fetch into fetch_timeout_seconds
    Fault("no answer", "hang", frozenset({"ProviderConnectionError", "TimeoutError"})),
    Fault("garbage body", "garbage", frozenset({"ProviderDataError"})),
)


async def fail_once(run: MarketRun, fault: Fault) -> dict[str, Any]:
    """Queue ``fault`` (more often than every retry), ``refresh``, heal the stand-in; the one
    run of the ``fetch_failed`` reply."""
    fake = run.fake
    fake.state.retry_after = str(RETRY_AFTER)
    fake.state.faults.extend([fault.answer] * FAULT_REPEAT)
    try:
        reply = await run.ask(
            "refresh", {"provider": run.key}, within=REFRESH["fetch_timeout_seconds"] + 5
        )
    finally:
        fake.state.faults.clear()
    assert ("error", "fetch_failed") == (reply["status"], reply["error"]["code"]), reply
    (failed,) = reply["error"]["details"]["runs"]
    assert ("error", run.key) == (failed["outcome"], failed["provider"]), failed
    assert failed["error_type"] in fault.error_types, (fault.name, failed)
    return dict(failed)


async def faults_scenario(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, market: Market
) -> None:
    """Prices known, then each fault of :data:`FAULTS` in turn: the refresh is
    ``fetch_failed``, the retained current price stays (the same end price, never null or
    0), health is ``degraded`` naming the error (the 429's Retry-After in the reply); once the
    stand-in answers again a refresh is ``ok`` and so is health."""
    clock = VirtualClock()
    async with (
        market.stand_in(clock) as fake,
        daemon(tmp_path, mosquitto, base_topic, clock, (market, fake)) as runs,
    ):
        (run,) = runs
        known = await check_current(run)
        await run.wait_health(lambda h: h["state"] == "ok")
        for fault in FAULTS:
            run.time_passes()  # past the plugin's cache and spacing: the refresh is sent
            seen = run.seen()
            failed = await fail_once(run, fault)
            if fault.answer == 429:
                assert RETRY_AFTER == failed["retry_after"], failed
                assert f"retry after {RETRY_AFTER} s" in failed["error"], failed
            health = await run.health()
            assert ("degraded", failed["error"]) == (health["state"], health["last_error"]), (
                fault.name,
                health,
            )
            error = failed["error"]
            published = await run.wait_health(  # the retained health names it in its message
                lambda h: error in h["message"],  # noqa: B023 - awaited right here
                after=seen,
            )
            assert "degraded" == published["state"], (fault.name, published)
            current = await check_current(run)
            if current["valid_from"] == known["valid_from"]:  # no slot boundary meanwhile
                assert known["price"] == current["price"], (fault.name, current)
        run.time_passes()
        seen = run.seen()
        healed = await run.ask("refresh", {"provider": run.key})
        assert "ok" == healed["status"], healed
        assert "ok" == (await run.health())["state"]
        await run.wait_health(lambda h: h["state"] == "ok", after=seen)


async def garbage_recovery_scenario(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, market: Market
) -> None:
    """One garbage answer fails one fetch: once the stand-in answers properly again, the next
    refresh the plugin's request spacing lets through gets the prices (``ok``). Only the
    spacing is waited out here, not the answer cache: a garbage body is no answer to reuse."""
    clock = VirtualClock()
    async with (
        market.stand_in(clock) as fake,
        daemon(tmp_path, mosquitto, base_topic, clock, (market, fake)) as runs,
    ):
        (run,) = runs
        await check_current(run)
        run.time_passes()
        await fail_once(run, next(f for f in FAULTS if f.answer == "garbage"))
        requests = len(fake.state.requests)
        # Energi Data Service refuses a second request within its minute (by design, before
        # any request is sent): a user waits that out; plugins spaced by less wait by themselves
        pacer = run.plugin.pacer
        if pacer.spacing > pacer.max_wait:
            clock.skip(pacer.spacing + 0.5)
        again = await run.ask("refresh", {"provider": run.key})
        assert len(fake.state.requests) > requests, (
            "the refresh after the garbage answer sent no request: the garbage body was "
            "reused from the plugin's answer cache"
        )
        assert "ok" == again["status"], again
        assert "ok" == (await run.health())["state"]
