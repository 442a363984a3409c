"""Amber Electric through the whole daemon, as a South Australian household with solar sets it
up: an ``amber`` provider (the general channel: what they pay) and an ``amber_feed_in`` one
(``plugin = "amber"``, ``channel = "feedIn"``: what they earn), both against the loopback
stand-in (:mod:`tests.support.fake_amber`, the recorded 5-minute answer shifted to now) and a
real mosquitto.

The stand-in always puts the recorded ``CurrentInterval`` at the interval holding now (general
23.22571 c, feedIn -9.10408 c: the user is paid 9.10408 c per kWh exported) and the recorded
forecasts after it; the expectations are those recorded numbers, not energyd's arithmetic.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from energyd.providers.loader import get_energy_provider_loader
from tests.markets.support import (
    RETRIES,
    Market,
    MarketRun,
    VirtualClock,
    assert_rounded,
    moment,
)
from tests.support import fake_amber
from tests.support.broker import MosquittoBroker, collect
from tests.support.daemon import daemon_settings, running

FIVE = timedelta(minutes=5)
#: The daemon's timings for a test (quick retries, short timeouts); no past day fetched.
REFRESH: dict[str, float] = {
    "retry_min_seconds": 0.5,
    "retry_max_seconds": 5,
    "fetch_timeout_seconds": 5,
    "http_timeout_seconds": 2,
    "history_days": 0,
}
#: The recorded current interval (5-minute answer, 2025-04-09T17:20Z) and first forecast.
GENERAL_NOW = 23.22571
FEED_IN_NOW = 9.10408  # Amber: perKwh -9.10408 (paid for exporting)
GENERAL_FORECAST = (22.59563, 21.76897, 23.43691)  # advancedPrice predicted, low, high
FEED_IN_FORECAST = (8.53128, 7.77977, 9.29608)  # -predicted, -low, -high


def market(key: str) -> Market:
    """A provider entry's topics and units (the price function is not used here)."""
    return Market(
        key=key,
        region="SA",
        currency="AUD",
        unit="c/kWh",
        slot=FIVE,
        zone=ZoneInfo("Australia/Brisbane"),
        tariff={},
        price=lambda _: Decimal(0),
        stand_in=lambda _: contextlib.nullcontext(),
        config=lambda _: {},
    )


@contextlib.asynccontextmanager
async def amber_daemon(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> AsyncIterator[tuple[MarketRun, MarketRun]]:
    """The daemon with the two providers of one Amber site, from their first current price."""
    clock = VirtualClock()
    async with fake_amber.serve(fake_amber.make_app(clock=clock)) as fake:
        common = {"region": "SA", "base_url": fake.url, "token": fake_amber.TOKEN, **RETRIES}
        providers: dict[str, Any] = {
            "amber": dict(common),
            "amber_feed_in": {**common, "plugin": "amber", "channel": "FeedIn"},
        }
        settings = daemon_settings(
            tmp_path,
            mosquitto.port,
            base_topic,
            "http://127.0.0.1:9",
            energy={"provider_id": "amber", "providers": providers},
            refresh=REFRESH,
        )
        async with running(settings) as task, collect(mosquitto.port, f"{base_topic}/#") as client:
            runs = tuple(
                MarketRun(market(key), fake, client, base_topic, mosquitto.port, clock)
                for key in providers
            )
            for run in runs:
                await run.wait("current", lambda body: body["available"], within=15)
            plugin = get_energy_provider_loader().get("amber")  # one instance, both feeds
            for run in runs:
                run.adopt(plugin)
            general, feed_in = runs
            yield general, feed_in
            assert not task.done(), "the daemon stopped"


async def final_current(run: MarketRun) -> dict[str, Any]:
    """The retained ``current`` once it is the stand-in's current interval (a final price):
    right after a 5-minute boundary it may for a moment still be the forecast of the
    interval that just began, until the daemon's fetch at that boundary lands."""
    return await run.wait("current", lambda b: b["available"] and not b["estimate"], within=15)


async def test_general_current_price(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """The general channel's current 5-minute price is Amber's, in AUD cents incl. GST."""
    async with amber_daemon(tmp_path, mosquitto, base_topic) as (general, _):
        current = await final_current(general)
        start, end = moment(current["valid_from"]), moment(current["valid_to"])
        assert FIVE == end - start, current
        assert start <= datetime.now(UTC) + timedelta(seconds=5)
        assert start.second == 0
        assert_rounded(current["price"], Decimal(str(GENERAL_NOW)), "general price")
        assert ("AUD", "c/kWh", False) == (
            current["currency"],
            current["unit"],
            current["estimate"],
        )
        assert current["estimate_low"] is None
        assert current["estimate_high"] is None
        # the site was found through /v1/sites (no site_id configured): one call for both feeds
        assert 1 == sum(r == "/v1/sites" for r in general.fake.state.requests)


async def test_feed_in_is_published_as_earnings(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """The feedIn provider publishes what the user earns per kWh exported: positive."""
    async with amber_daemon(tmp_path, mosquitto, base_topic) as (_, feed_in):
        current = await final_current(feed_in)
        assert current["price"] > 0, current
        assert_rounded(current["price"], Decimal(str(FEED_IN_NOW)), "feed-in price")
        assert "amber_feed_in" == current["provider"]
        upcoming = await feed_in.retained("next")
        assert upcoming["estimate"] is True, upcoming
        assert upcoming["price"] > 0, upcoming


@pytest.mark.parametrize(
    ("key", "forecast"), [("amber", GENERAL_FORECAST), ("amber_feed_in", FEED_IN_FORECAST)]
)
async def test_forecasts_are_marked(
    tmp_path: Path,
    mosquitto: MosquittoBroker,
    base_topic: str,
    key: str,
    forecast: tuple[float, float, float],
) -> None:
    """In the ``prices`` reply the final prices carry no mark and every forecast says
    ``"estimate": true`` with Amber's band (feed-in: as earnings, low <= high)."""
    async with amber_daemon(tmp_path, mosquitto, base_topic) as runs:
        run = runs[0] if key == "amber" else runs[1]
        current = await final_current(run)
        reply = await run.ask("prices", {"provider": key, "start": current["valid_from"]})
        assert "ok" == reply["status"], reply
        slots = reply["data"]["slots"]
        first, *rest = slots
        assert current["valid_from"] == first["start"], slots[:2]
        assert "estimate" not in first, first
        assert len(rest) >= 6, slots  # the stand-in's forecasts reach 24 h ahead
        assert all(slot.get("estimate") is True for slot in rest), rest[:3]
        assert all(slot["low"] <= slot["high"] for slot in rest), rest[:3]
        following = rest[0]
        assert moment(first["end"]) == moment(following["start"])  # no one-second gap
        for published, recorded, what in zip(
            (following["price"], following["low"], following["high"]),
            forecast,
            ("predicted", "low", "high"),
            strict=True,
        ):
            assert_rounded(published, Decimal(str(recorded)), f"{key} forecast {what}")
