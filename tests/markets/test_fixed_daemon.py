"""The fixed / time-of-use plugin through the whole daemon and a real mosquitto, as a household
writes it: an Economy 7-like tariff in the UK, and a TOU tariff with a 00:30-04:30 cheap zone
in London and in Berlin (one plugin, two providers). No stand-in: the plugin has no API.

``current`` is the tariff's price of the local slot now. On both clock-change days of 2026 (the
daemon's wall clock moved there with ``time_machine``, ``tick=True``: datetime moves, asyncio's
monotonic timers are untouched) ``current`` is the zone price in the small hours, and the
``prices`` command for the day gives its 46 / 50 half-hours, 01:30 and 03:30 local in the
zone, each slot priced by its local wall-clock start (computed here, not with the kit).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.markets.support import REFRESH, MarketRun, VirtualClock, moment
from tests.support.broker import MosquittoBroker, collect
from tests.support.daemon import daemon_settings, running

LONDON = ZoneInfo("Europe/London")
BERLIN = ZoneInfo("Europe/Berlin")
SLOT = timedelta(minutes=30)
REGION = "home"

#: Economy 7-like: 24.5 p/kWh, 9 p/kWh from 00:30 to 07:30 UK time.
ECONOMY_7: dict[str, Any] = {
    "region": REGION,
    "price": 24.5,
    "currency": "GBP",
    "timezone": "Europe/London",
    "zones": [{"name": "night", "price": 9.0, "from": "00:30", "to": "07:30"}],
}


def tou(zone: ZoneInfo, currency: str) -> dict[str, Any]:
    """20 a kWh, 5 from 00:30 to 04:30 on the wall clock of ``zone``."""
    return {
        "plugin": "fixed",
        "region": REGION,
        "price": 20.0,
        "currency": currency,
        "timezone": zone.key,
        "zones": [{"name": "cheap", "price": 5.0, "from": "00:30", "to": "04:30"}],
    }


#: provider key -> (its entry, its zone, (zone from, zone to), zone price, default price)
FEEDS: dict[str, tuple[dict[str, Any], ZoneInfo, tuple[time, time], float, float]] = {
    "economy7": ({**ECONOMY_7, "plugin": "fixed"}, LONDON, (time(0, 30), time(7, 30)), 9.0, 24.5),
    "tou_london": (tou(LONDON, "GBP"), LONDON, (time(0, 30), time(4, 30)), 5.0, 20.0),
    "tou_berlin": (tou(BERLIN, "EUR"), BERLIN, (time(0, 30), time(4, 30)), 5.0, 20.0),
}


def expected_price(key: str, start: datetime) -> float:
    """The tariff's price of the slot starting at ``start``: by its local wall-clock start."""
    _, zone, (low, high), cheap, default = FEEDS[key]
    local = start.astimezone(zone).time()
    return cheap if low <= local < high else default


class _Feed:
    """The little of :class:`tests.markets.support.Market` that :class:`MarketRun` reads."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.region = REGION


def feed(key: str) -> Any:
    return _Feed(key)


@contextlib.asynccontextmanager
async def fixed_daemon(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, keys: tuple[str, ...]
) -> AsyncIterator[list[MarketRun]]:
    """The daemon with one provider per key (the first selected), from the first available
    ``current`` of each on."""
    settings = daemon_settings(
        tmp_path,
        mosquitto.port,
        base_topic,
        "http://127.0.0.1:9",  # the Octopus default's, replaced by the energy section below
        energy={"provider_id": keys[0], "providers": {key: FEEDS[key][0] for key in keys}},
        refresh=REFRESH,
    )
    async with (
        running(settings) as task,
        collect(mosquitto.port, f"{base_topic}/#") as client,
    ):
        runs = [
            MarketRun(feed(key), None, client, base_topic, mosquitto.port, VirtualClock())
            for key in keys
        ]
        for run in runs:
            await run.wait("current", lambda body: body["available"], within=15)
        yield runs
        assert not task.done(), "the daemon stopped"


async def check_current(run: MarketRun) -> dict[str, Any]:
    """``current`` is the half-hour holding now, at the tariff's price for its local start."""
    current = await run.retained("current")
    start, end = moment(current["valid_from"]), moment(current["valid_to"])
    now = datetime.now(UTC)
    assert SLOT == end - start, current
    assert start <= now < end + SLOT, (current, now)  # a boundary may pass while we look
    currency = FEEDS[run.key][0]["currency"]
    unit = {"GBP": "p/kWh", "EUR": "c/kWh"}[currency]
    assert (True, currency, unit) == (current["available"], current["currency"], current["unit"])
    assert expected_price(run.key, start) == current["price"], (run.key, current)
    return current


async def test_economy_7_current_and_today(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """Now: ``current`` at the day or night rate of the UK half-hour, ``today`` the whole UK
    day priced by wall clock, health ``ok`` (nothing is ever waited for)."""
    async with fixed_daemon(tmp_path, mosquitto, base_topic, ("economy7",)) as (run,):
        await check_current(run)
        today = await run.wait("today", lambda body: body["complete"])
        day = date.fromisoformat(today["date"])
        start = datetime.combine(day, time(0), LONDON).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), LONDON).astimezone(UTC)
        assert (end - start) // SLOT == today["count"] == len(today["slots"])
        prices = [(s["start"], s["price"]) for s in today["slots"]]
        assert [
            (s["start"], expected_price("economy7", moment(s["start"]))) for s in today["slots"]
        ] == prices
        assert 14 == sum(1 for _, price in prices if price == 9.0)
        assert "ok" == (await run.health())["state"]
        tomorrow = await run.wait("tomorrow", lambda body: body["complete"])
        assert tomorrow["count"] in (46, 48, 50), tomorrow  # nothing to wait for


@pytest.mark.parametrize(
    ("moment_utc", "half_hours"),
    [
        # 02:15 BST / 03:15 CEST, after the spring change: inside 00:30-04:30 in both zones
        (datetime(2026, 3, 29, 1, 15, tzinfo=UTC), 46),
        # the second 01:15 (GMT) / the second 02:15 (CET) of the autumn change: inside too
        (datetime(2026, 10, 25, 1, 15, tzinfo=UTC), 50),
    ],
    ids=["2026-03-29", "2026-10-25"],
)
async def test_clock_change_days(
    tmp_path: Path,
    mosquitto: MosquittoBroker,
    base_topic: str,
    moment_utc: datetime,
    half_hours: int,
) -> None:
    """A 00:30-04:30 zone in London and Berlin: ``current`` is the zone price; the day's
    ``prices`` are its 46 / 50 half-hours, 01:30 and 03:30 local (each pass of them) in the
    zone, every slot priced by its wall-clock start."""
    keys = ("tou_london", "tou_berlin")
    with time_machine.travel(moment_utc, tick=True):
        async with fixed_daemon(tmp_path, mosquitto, base_topic, keys) as runs:
            for run in runs:
                current = await check_current(run)
                assert 5.0 == current["price"], current
            for run in runs:
                zone = FEEDS[run.key][1]
                day = moment_utc.astimezone(zone).date()
                reply = await run.ask("prices", {"provider": run.key, "day": "today"})
                slots = reply["data"]["slots"]
                assert (day.isoformat(), half_hours) == (reply["data"]["date"], len(slots))
                starts = [moment(s["start"]) for s in slots]
                assert [expected_price(run.key, s) for s in starts] == [s["price"] for s in slots]
                for clock in (time(1, 30), time(3, 30)):
                    for fold in (0, 1):  # London's spring 01:30 is zoneinfo's 02:30 BST
                        local = datetime.combine(day, clock, zone).replace(fold=fold)
                        (slot,) = [
                            s for s in slots if moment(s["start"]) <= local < moment(s["end"])
                        ]
                        assert 5.0 == slot["price"], (run.key, local, slot)
