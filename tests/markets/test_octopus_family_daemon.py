"""The Octopus family through the whole daemon: a London household with four providers on the
one ``octopus_agile`` plugin (``family`` go, cosy, flux, tracker; each product discovered),
the loopback stand-in (:mod:`tests.support.fake_octopus`: blocks on the UK wall clock, Tracker's
one row per UK day, direct-debit / non-direct-debit duplicates), a real mosquitto.

Each provider's retained ``current`` equals the stand-in's direct-debit ``value_inc_vat`` of the
UK half-hour holding now; the same on both clock-change days of 2026, the daemon's wall clock
moved there with ``time_machine`` (``tick=True``: datetime moves, asyncio's monotonic timers
are untouched), where the ``prices`` command for the day also gives 46 / 50 half-hours.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine

from tests.markets.support import REFRESH, RETRIES, MarketRun, VirtualClock, moment
from tests.support import fake_octopus
from tests.support.broker import MosquittoBroker, collect
from tests.support.daemon import daemon_settings, running
from tests.support.octopus_data import (
    FAMILY_RATES,
    LONDON,
    SLOT,
    current_price,
    family_products,
    tracker_price,
)

REGION = "C"
#: provider key -> (family, the product the stand-in's list makes current)
FEEDS: dict[str, tuple[str, str]] = {
    "octopus_go": ("go", "GO-VAR-22-10-14"),
    "octopus_cosy": ("cosy", "COSY-22-12-08"),
    "octopus_flux": ("flux", "FLUX-IMPORT-23-02-14"),
    "octopus_tracker": ("tracker", "SILVER-25-09-02"),
}


def providers(base_url: str) -> dict[str, Any]:
    """What a user writes: one provider per family, the plugin named, the region."""
    return {
        key: {
            "plugin": "octopus_agile",
            "family": family,
            "region": REGION,
            "base_url": base_url,
            **RETRIES,
        }
        for key, (family, _) in FEEDS.items()
    }


@contextlib.asynccontextmanager
async def family_daemon(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> AsyncIterator[tuple[fake_octopus.RunningFake, list[MarketRun]]]:
    """The stand-in (every family's product listed) and the daemon with the four providers,
    from the first available ``current`` of each on."""
    app = fake_octopus.make_app(products=family_products())
    async with fake_octopus.serve(app) as fake:
        settings = daemon_settings(
            tmp_path,
            mosquitto.port,
            base_topic,
            fake.url,
            energy={"provider_id": "octopus_go", "providers": providers(fake.url)},
            refresh=REFRESH,
        )
        async with (
            running(settings) as task,
            collect(mosquitto.port, f"{base_topic}/#") as client,
        ):
            runs = [
                MarketRun(_market(key), fake, client, base_topic, mosquitto.port, VirtualClock())
                for key in FEEDS
            ]
            for run in runs:
                await run.wait("current", lambda body: body["available"], within=15)
            yield fake, runs
            assert not task.done(), "the daemon stopped"


class _Market:
    """The little of :class:`tests.markets.support.Market` that :class:`MarketRun` reads."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.region = REGION


def _market(key: str) -> Any:
    return _Market(key)


async def check_current(run: MarketRun) -> None:
    """``current`` is the UK half-hour holding its ``updated_at`` (now), priced as the
    stand-in's direct-debit row for it."""
    current = await run.retained("current")
    start, end = moment(current["valid_from"]), moment(current["valid_to"])
    now = datetime.now(UTC)
    _, code = FEEDS[run.key]
    expected = current_price(FAMILY_RATES[code], REGION, start)
    assert SLOT == end - start, current
    assert start <= now < end + SLOT, (current, now)  # a boundary may pass while we look
    assert (True, "GBP", "p/kWh") == (current["available"], current["currency"], current["unit"])
    assert round(expected, 4) == current["price"], (run.key, current)  # published: 4 decimals
    assert round(expected, 4) == current["market_price"], (run.key, current)


async def test_current_price_of_every_family(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """Go, Cosy, Flux and Tracker: each ``current`` is the stand-in's value_inc_vat now."""
    async with family_daemon(tmp_path, mosquitto, base_topic) as (fake, runs):
        for run in runs:
            await check_current(run)
        assert not [r for r in fake.state.requests if "NON_DIRECT" in r]


@pytest.mark.parametrize(
    ("moment_utc", "half_hours"),
    [
        # 02:15 BST, just after the spring change: Go's cheap block (00:30 GMT - 04:30 BST)
        (datetime(2026, 3, 29, 1, 15, tzinfo=UTC), 46),
        # the second 01:15 (GMT) of the autumn change: still Go's cheap block (to 04:30 GMT)
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
    """On both clock-change days ``current`` is right for every family, and the ``prices``
    of the UK day are its 46 / 50 half-hours: Tracker's all the day's price."""
    with time_machine.travel(moment_utc, tick=True):
        async with family_daemon(tmp_path, mosquitto, base_topic) as (_, runs):
            for run in runs:
                await check_current(run)
            day = moment_utc.astimezone(LONDON).date()
            for run in runs:
                reply = await run.ask("prices", {"provider": run.key, "day": "today"})
                slots = reply["data"]["slots"]
                assert (day.isoformat(), half_hours) == (reply["data"]["date"], len(slots))
                _, code = FEEDS[run.key]
                expected = [
                    round(current_price(FAMILY_RATES[code], REGION, moment(s["start"])), 4)
                    for s in slots
                ]
                assert expected == [s["price"] for s in slots], run.key
            tracker = next(run for run in runs if run.key == "octopus_tracker")
            reply = await tracker.ask("prices", {"provider": tracker.key, "day": "today"})
            assert {tracker_price(REGION, day)} == {s["price"] for s in reply["data"]["slots"]}
