"""Failover between sources and cross-checking them, through the whole daemon: a German
household's ``energy_charts`` provider (key ``de``, the selected one) with ENTSO-E (key
``de_entsoe``) as its fallback, each against its loopback stand-in
(:mod:`tests.support.fake_energy_charts`, :mod:`tests.support.fake_entsoe`), a real mosquitto,
and the daemon's HTTP API for the status page's JSON.

The scenarios: both sources up and agreeing (the primary's own prices, ``ok``); the fallback
10 % dearer (``degraded``, the disagreeing slots named with both prices, the primary's price
still served); the primary's stand-in down from the start, and stopped after it had answered
up to the current quarter hour (the fallback's prices through the *primary's* formula, named
``"source": "de_entsoe"``, ``degraded`` with the fallback named and since when).

Expected prices come from the stand-ins' own price functions and the formula as configured,
computed independently (:func:`tests.markets.support.end_price`); the tolerance of a
disagreement is the documented default (more than 5 % of the larger price and more than
0.5 minor units), computed here in :class:`~decimal.Decimal`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from energyd.providers.loader import get_energy_provider_loader
from tests.markets.support import (
    QUARTER,
    REFRESH,
    Market,
    MarketRun,
    VirtualClock,
    assert_rounded,
    check_current,
    end_price,
    moment,
)
from tests.support import fake_energy_charts, fake_entsoe
from tests.support.broker import MosquittoBroker, collect, free_port
from tests.support.daemon import daemon_settings, running

BERLIN = ZoneInfo("Europe/Berlin")
PRIMARY = "de"
FALLBACK = "de_entsoe"
ZONE = "DE-LU"
STATUS_PATH = "/api/drivers/energy-providers/status"

#: The primary's formula (ct/kWh): grid fee, levies, tax, margin, a weekday evening peak fee,
#: 19 % VAT. It applies to every price the primary serves, its fallback's included.
HOUSEHOLD: dict[str, Any] = {
    "adders": {"grid": 9.0, "levies": 4.2, "electricity_tax": 2.05, "margin": 1.5},
    "vat_percent": 19,
    "fees": [{"name": "peak", "amount": 3.0, "from": "17:00", "to": "20:00", "days": "mon-fri"}],
}
#: The fallback's own formula, deliberately another one: its own topics use it, the
#: primary's never do.
FALLBACK_TARIFF: dict[str, Any] = {"adders": {"margin": 1.0}, "vat_percent": 7}

#: The default cross-check tolerance, as documented: more than 5 % of the larger absolute
#: price and more than 0.5 minor units per kWh.
PERCENT, MINIMUM = Decimal(5), Decimal("0.5")


def ec_eur_mwh(zone: str, start: datetime) -> float:
    """The Energy-Charts stand-in's own price (EUR/MWh) of the slot at ``start``."""
    return fake_energy_charts.default_price(zone, start)


def ec_cents(start: datetime) -> Decimal:
    """The primary stand-in's DE-LU price of the slot at ``start`` in ct/kWh, exactly."""
    return Decimal(str(ec_eur_mwh(ZONE, start))) / 10


def equal_prices(zone: str, start: datetime, sequence: int) -> float:
    """ENTSO-E serving Energy-Charts' prices (SDAC); EXAA (sequence 2) 3.25 EUR/MWh above, as
    the real documents carry both auctions for DE-LU."""
    return ec_eur_mwh(zone, start) + (3.25 if sequence == 2 else 0.0)


def dearer_prices(zone: str, start: datetime, sequence: int) -> float:
    """ENTSO-E 10 % dearer than Energy-Charts (2 decimals, as ENTSO-E prints them)."""
    return round(equal_prices(zone, start, sequence) * 1.1, 2)


def entsoe_cents(prices: Callable[[str, datetime, int], float]) -> Callable[[datetime], Decimal]:
    """The ENTSO-E stand-in's SDAC price in ct/kWh under ``prices``, exactly."""
    return lambda start: Decimal(str(prices(ZONE, start, 1))) / 10


def disagree(first: Decimal, second: Decimal) -> bool:
    """Beyond the default tolerance (computed independently of energyd)."""
    limit = max(MINIMUM, PERCENT / 100 * max(abs(first), abs(second)))
    return abs(first - second) > limit


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def quarter_floor(when: datetime) -> datetime:
    """The start of the quarter hour ``when`` is in (UTC)."""
    when = when.astimezone(UTC).replace(second=0, microsecond=0)
    return when - timedelta(minutes=when.minute % 15)


@contextlib.asynccontextmanager
async def _unused_stand_in(_: VirtualClock) -> AsyncIterator[None]:
    yield None  # the stand-ins are started by each test (one is stopped on purpose)


def primary_market(
    price: Callable[[datetime], Decimal] = ec_cents,
    *,
    fallbacks: Sequence[str | Mapping[str, Any]] = (FALLBACK,),
    cross_check: Mapping[str, float] | None = None,
) -> Market:
    """The ``de`` provider: the energy_charts plugin, ENTSO-E as fallback, the household's
    formula; ``price``: the market price it should serve (the fallback's where that fills);
    ``fallbacks`` and ``cross_check`` as a user writes them (default tolerance: none given)."""
    extra: dict[str, Any] = {"fallbacks": list(fallbacks)}
    if cross_check is not None:
        extra["cross_check"] = dict(cross_check)
    return Market(
        key=PRIMARY,
        region=ZONE,
        currency="EUR",
        unit="c/kWh",
        slot=QUARTER,
        zone=BERLIN,
        tariff=HOUSEHOLD,
        price=price,
        stand_in=_unused_stand_in,
        config=lambda fake: {"plugin": "energy_charts", "base_url": fake.url, **extra},
        publish_at=time(13),
    )


def fallback_market(prices: Callable[[str, datetime, int], float]) -> Market:
    """The ``de_entsoe`` provider: the entsoe plugin with its token, its own formula."""
    return Market(
        key=FALLBACK,
        region=ZONE,
        currency="EUR",
        unit="c/kWh",
        slot=QUARTER,
        zone=BERLIN,
        tariff=FALLBACK_TARIFF,
        price=entsoe_cents(prices),
        stand_in=_unused_stand_in,
        config=lambda fake: {
            "plugin": "entsoe",
            "base_url": fake.url,
            "security_token": fake_entsoe.TOKEN,
        },
        publish_at=time(13),
    )


@dataclasses.dataclass
class Runs:
    """The two providers of one daemon under test, and its HTTP API."""

    primary: MarketRun
    fallback: MarketRun
    http_port: int

    async def status_page(self) -> dict[str, Any]:
        """What the status page reads: ``GET /api/drivers/energy-providers/status``."""
        async with (
            aiohttp.ClientSession(f"http://127.0.0.1:{self.http_port}") as http,
            http.get(STATUS_PATH) as response,
        ):
            assert 200 == response.status, await response.text()
            body: dict[str, Any] = await response.json()
        return body


@contextlib.asynccontextmanager
async def failover_daemon(
    tmp_path: Path,
    mosquitto: MosquittoBroker,
    base_topic: str,
    primary: tuple[Market, Any],
    fallback: tuple[Market, Any],
) -> AsyncIterator[Runs]:
    """The daemon with ``de`` (selected, falling back to ``de_entsoe``) and ``de_entsoe``, its
    HTTP API on a free loopback port; from the first available ``current`` of both on, each
    plugin instance on one :class:`VirtualClock`."""
    clock = VirtualClock()
    # each entry: region, plugin keys, quick retries (RETRIES), its formula
    providers = {market.key: market.provider(fake) for market, fake in (primary, fallback)}
    http_port = free_port()
    settings = daemon_settings(
        tmp_path,
        mosquitto.port,
        base_topic,
        "http://127.0.0.1:9",  # the Octopus default's, replaced by the energy section below
        energy={"provider_id": PRIMARY, "providers": providers},
        refresh=REFRESH,
        http={"enabled": True, "port": http_port},
    )
    async with running(settings) as task, collect(mosquitto.port, f"{base_topic}/#") as client:
        first, second = (
            MarketRun(market, fake, client, base_topic, mosquitto.port, clock)
            for market, fake in (primary, fallback)
        )
        runs = Runs(first, second, http_port)
        for run in (runs.primary, runs.fallback):
            await run.wait("current", lambda body: body["available"], within=15)
        loader = get_energy_provider_loader()
        assert loader.deployed_dir.is_relative_to(tmp_path), "not this daemon's plugins"
        runs.primary.adopt(loader.get("energy_charts"))
        runs.fallback.adopt(loader.get("entsoe"))
        yield runs
        assert not task.done(), "the daemon stopped"


async def current_from(run: MarketRun, source: str) -> dict[str, Any]:
    """The first available ``current`` of ``run`` served from ``source``."""
    return await run.wait("current", lambda b: b["available"] and b["source"] == source)


def check_served_slots(
    slots: list[dict[str, Any]], fallback_from: datetime | None, fallback: Market
) -> None:
    """Series slots of the primary (a ``prices`` reply, ``today``): those before
    ``fallback_from`` (all of them when ``None``) are its own (no ``source``, Energy-Charts'
    price), the others ``de_entsoe``'s (named), each through the primary's formula."""
    assert slots, "no slots"
    for slot in slots:
        start = moment(slot["start"])
        assert QUARTER == moment(slot["end"]) - start, slot
        own = fallback_from is None or start < fallback_from
        assert (None if own else FALLBACK) == slot.get("source"), slot
        market = ec_cents(start) if own else fallback.price(start)
        price, _ = end_price(HOUSEHOLD, market, start, BERLIN)
        assert_rounded(slot["market"], market, f"{slot['start']} market")
        assert_rounded(slot["price"], price, f"{slot['start']} price")


def health_of(overview: dict[str, Any], key: str) -> dict[str, Any]:
    """One provider's health in an overview (``providers/status``, the status page's JSON)."""
    (entry,) = [p for p in overview["providers"] if p["id"] == key]
    health: dict[str, Any] = entry["health"]
    return health


# -- both sources up -----------------------------------------------------------------------------


async def test_agreeing_sources_serve_the_primary(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """Both up, equal prices: ``current`` is the primary's (``source: de``), health ``ok``
    with no fallback serving and no disagreement; the fallback runs on its own topics."""
    async with (
        fake_energy_charts.serve() as primary_fake,
        fake_entsoe.serve(fake_entsoe.make_app(equal_prices)) as fallback_fake,
    ):
        fallback = fallback_market(equal_prices)
        async with failover_daemon(
            tmp_path,
            mosquitto,
            base_topic,
            (primary_market(), primary_fake),
            (fallback, fallback_fake),
        ) as runs:
            await current_from(runs.primary, PRIMARY)
            current = await check_current(runs.primary)
            assert PRIMARY == current["source"], current
            own = await check_current(runs.fallback)  # its own formula on its own topic
            assert FALLBACK == own["source"], own

            await runs.primary.wait_health(lambda h: h["state"] == "ok")
            health = await runs.primary.health()
            assert "ok" == health["state"], health
            assert {
                "serving": None,
                "since": None,
                "problems": [],
                "disagreement_count": 0,
                "disagreements": [],
            } == health["failover"]
            assert (await runs.fallback.health())["failover"] is None

            reply = await runs.primary.ask("prices", {"provider": PRIMARY, "hours": 2})
            assert "ok" == reply["status"], reply
            check_served_slots(reply["data"]["slots"], None, fallback)


async def test_a_dearer_fallback_is_named_in_health(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """The fallback 10 % dearer: the primary is ``degraded`` with the disagreeing slots and
    both prices named (counted within the compared days), its own price still served."""
    async with (
        fake_energy_charts.serve() as primary_fake,
        fake_entsoe.serve(fake_entsoe.make_app(dearer_prices)) as fallback_fake,
    ):
        fallback = fallback_market(dearer_prices)
        async with failover_daemon(
            tmp_path,
            mosquitto,
            base_topic,
            (primary_market(), primary_fake),
            (fallback, fallback_fake),
        ) as runs:
            await current_from(runs.primary, PRIMARY)
            published = await runs.primary.wait_health(
                lambda h: h["failover"] is not None and h["failover"]["disagreement_count"] > 0
            )
            assert "degraded" == published["state"], published

            before = datetime.now(UTC)
            health = await runs.primary.health()
            after = datetime.now(UTC)
            failover = health["failover"]
            assert ("degraded", None, []) == (
                health["state"],
                failover["serving"],
                failover["problems"],
            ), health
            assert f"disagree with {FALLBACK} beyond the tolerance" in health["message"], health

            shown = failover["disagreements"]
            assert 1 <= len(shown) <= min(10, failover["disagreement_count"]), failover
            assert sorted(shown, key=lambda d: d["start"]) == shown, shown
            for entry in shown:
                start = moment(entry["start"])
                assert (iso(start + QUARTER), FALLBACK) == (entry["end"], entry["source"]), entry
                assert_rounded(entry["price"], ec_cents(start), f"{entry['start']} price")
                assert_rounded(entry["other"], fallback.price(start), f"{entry['start']} other")
                assert disagree(ec_cents(start), fallback.price(start)), entry

            # Both sources hold yesterday to the end of tomorrow (market days); energyd
            # compares the slots from its "now" (which lies in [before, after]) two days ahead.
            today = primary_market().today()
            first = primary_market().day_bounds(today - timedelta(days=1))[0]
            last = primary_market().day_bounds(today + timedelta(days=1))[1]
            starts = [first + QUARTER * n for n in range((last - first) // QUARTER)]
            flagged = [t for t in starts if disagree(ec_cents(t), fallback.price(t))]

            def count_at(now: datetime) -> int:
                low, high = now, now + timedelta(days=2)
                return sum(1 for t in flagged if t + QUARTER > low and t < high)

            assert count_at(after) <= failover["disagreement_count"] <= count_at(before), (
                count_at(after),
                count_at(before),
                failover["disagreement_count"],
            )
            # the prices near zero are within the 0.5 ct minimum: not all slots disagree
            assert len(flagged) < len(starts)

            current = await check_current(runs.primary)  # the primary's price still wins
            assert PRIMARY == current["source"], current


@pytest.mark.parametrize(
    ("fallbacks", "cross_check"),
    [
        pytest.param([{"provider": FALLBACK, "cross_check": False}], None, id="unchecked"),
        pytest.param([FALLBACK], {"percent": 15}, id="within-15-percent"),
    ],
)
async def test_a_disagreement_unchecked_or_within_the_tolerance_is_not_flagged(
    tmp_path: Path,
    mosquitto: MosquittoBroker,
    base_topic: str,
    fallbacks: list[Any],
    cross_check: dict[str, float] | None,
) -> None:
    """The same 10 % dearer fallback, with ``cross_check = false`` on its entry or a 15 %
    tolerance: no disagreement, health ``ok``, the primary's price served."""
    async with (
        fake_energy_charts.serve() as primary_fake,
        fake_entsoe.serve(fake_entsoe.make_app(dearer_prices)) as fallback_fake,
    ):
        primary = primary_market(fallbacks=fallbacks, cross_check=cross_check)
        async with failover_daemon(
            tmp_path,
            mosquitto,
            base_topic,
            (primary, primary_fake),
            (fallback_market(dearer_prices), fallback_fake),
        ) as runs:
            await current_from(runs.primary, PRIMARY)
            await runs.primary.wait_health(lambda h: h["state"] == "ok")
            health = await runs.primary.health()
            assert ("ok", None, 0, []) == (
                health["state"],
                health["failover"]["serving"],
                health["failover"]["disagreement_count"],
                health["failover"]["problems"],
            ), health
            current = await check_current(runs.primary)
            assert PRIMARY == current["source"], current


# -- the primary's source down -------------------------------------------------------------------


async def test_a_primary_down_from_the_start_is_served_by_the_fallback(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """The primary's stand-in stopped before the daemon starts: ``current`` and the
    ``prices`` reply carry the fallback's prices through the primary's formula, named
    ``de_entsoe``; health and the status page say ``degraded``, from the fallback since its
    first price (nothing of the primary's own was ever known)."""
    async with fake_energy_charts.serve() as gone:
        pass  # its port is closed now: every request is refused
    async with fake_entsoe.serve(fake_entsoe.make_app(dearer_prices)) as fallback_fake:
        fallback = fallback_market(dearer_prices)
        served = primary_market(price=fallback.price)
        async with failover_daemon(
            tmp_path, mosquitto, base_topic, (served, gone), (fallback, fallback_fake)
        ) as runs:
            await current_from(runs.primary, FALLBACK)
            current = await check_current(runs.primary)  # the fallback's, the primary's formula
            assert (PRIMARY, FALLBACK) == (current["provider"], current["source"]), current
            own = await check_current(runs.fallback)  # the fallback's own formula on its topic
            assert FALLBACK == own["source"], own
            assert own["price"] != current["price"], (own, current)

            reply = await runs.primary.ask("prices", {"provider": PRIMARY, "hours": 2})
            assert ("ok", PRIMARY) == (reply["status"], reply["data"]["provider"]), reply
            check_served_slots(reply["data"]["slots"], datetime.min.replace(tzinfo=UTC), fallback)

            # its first price: the start of yesterday (market day), where its fetch began
            today = served.today()
            since = iso(served.day_bounds(today - timedelta(days=1))[0])
            await runs.primary.wait_health(  # the retained health: its fetch failed too
                lambda h: (
                    h["failover"]["serving"] == FALLBACK and "no prices fetched yet" in h["message"]
                )
            )
            health = await runs.primary.health()
            failover = health["failover"]
            assert ("degraded", FALLBACK, since) == (
                health["state"],
                failover["serving"],
                failover["since"],
            ), health
            assert f"prices from fallback {FALLBACK} since {since}" in health["message"], health
            assert health["last_error"] is not None, health
            assert health["last_success"] is None, health
            # no own prices: nothing to compare, so no disagreement however dear the fallback
            assert (0, []) == (failover["disagreement_count"], failover["problems"]), failover

            series = await runs.primary.retained("today")  # a whole day, every slot named
            assert (True, served.day_slots(today)) == (
                series["complete"],
                len(series["slots"]),
            ), series
            check_served_slots(series["slots"], datetime.min.replace(tzinfo=UTC), fallback)

            page = health_of(await runs.status_page(), PRIMARY)
            assert ("degraded", FALLBACK, since) == (
                page["state"],
                page["failover"]["serving"],
                page["failover"]["since"],
            ), page
            assert "ok" == health_of(await runs.status_page(), FALLBACK)["state"]


async def test_a_primary_stopped_after_answering_is_served_by_the_fallback(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """The primary's stand-in answered up to the current quarter hour, then stops: its own
    prices stay where it has them, the fallback's fill from there on (named, through the
    primary's formula); a refresh fails against the stopped server; health and the status
    page say ``degraded``, from the fallback since where the primary's prices end."""
    cut = quarter_floor(datetime.now(UTC))
    async with contextlib.AsyncExitStack() as primary_stack:
        primary_fake = await primary_stack.enter_async_context(fake_energy_charts.serve())
        primary_fake.state.published_until = cut
        async with fake_entsoe.serve(fake_entsoe.make_app(dearer_prices)) as fallback_fake:
            fallback = fallback_market(dearer_prices)
            async with failover_daemon(
                tmp_path,
                mosquitto,
                base_topic,
                (primary_market(price=fallback.price), primary_fake),
                (fallback, fallback_fake),
            ) as runs:
                primary = runs.primary
                await current_from(primary, FALLBACK)
                await primary.wait_health(lambda h: h["failover"]["serving"] == FALLBACK)

                await primary_stack.aclose()  # the primary's source goes away
                primary.time_passes()  # past the plugin's cache: the refresh is sent
                refused = await primary.ask("refresh", {"provider": PRIMARY})
                assert ("error", "fetch_failed") == (
                    refused["status"],
                    refused["error"]["code"],
                ), refused
                (failed,) = refused["error"]["details"]["runs"]
                assert ("error", PRIMARY, "ProviderConnectionError") == (
                    failed["outcome"],
                    failed["provider"],
                    failed["error_type"],
                ), failed

                current = await check_current(primary)  # the fallback's, the primary's formula
                assert FALLBACK == current["source"], current
                reply = await primary.ask(
                    "prices", {"provider": PRIMARY, "start": iso(cut - 2 * QUARTER), "hours": 1}
                )
                assert "ok" == reply["status"], reply
                slots = reply["data"]["slots"]
                assert [iso(cut - 2 * QUARTER + QUARTER * n) for n in range(4)] == [
                    s["start"] for s in slots
                ]
                check_served_slots(slots, cut, fallback)

                error = failed["error"]
                # The retained health has no last error (a time of this daemon's): it says
                # where the prices come from, as before the refresh (so it is not re-sent).
                published = await primary.wait_health(lambda h: h["state"] == "degraded")
                assert (FALLBACK, iso(cut)) == (
                    published["failover"]["serving"],
                    published["failover"]["since"],
                ), published
                health = await primary.health()
                for report in (health, health_of(await runs.status_page(), PRIMARY)):
                    assert ("degraded", FALLBACK, iso(cut), error) == (
                        report["state"],
                        report["failover"]["serving"],
                        report["failover"]["since"],
                        report["last_error"],
                    ), report
                    named = f"prices from fallback {FALLBACK} since {iso(cut)}"
                    assert named in report["message"], report
                series = await primary.retained("today")  # its own, then the fallback's
                market = primary.market
                assert (True, market.day_slots(market.today())) == (
                    series["complete"],
                    len(series["slots"]),
                ), series
                check_served_slots(series["slots"], cut, fallback)
                # both have prices only before the cut, which is past: nothing still to be
                # served is compared, so the 10 % dearer fallback is no disagreement now
                assert [] == health["failover"]["problems"], health
                assert 0 == health["failover"]["disagreement_count"], health
