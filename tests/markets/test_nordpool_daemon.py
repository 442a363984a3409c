"""Nord Pool (SE3, SEK) through the whole daemon, as a Swedish household in Stockholm sets it
up: the ``nordpool`` provider in öre/kWh with a price formula, the loopback stand-in
(:mod:`tests.support.fake_nordpool`), a real mosquitto (scenarios: :mod:`.support`); and beside
it, in one daemon, Energy-Charts DE-LU in EUR: two markets, each in its own currency and unit.

The plugin asks one CET day per request, at most one a second, and keeps the answer of a day
whose prices are final for hours: the scenarios move the plugin's pacer clock on where a user
would have waited that out."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.markets.support import (
    QUARTER,
    Market,
    VirtualClock,
    check_current,
    daemon,
    faults_scenario,
    garbage_recovery_scenario,
    publication_scenario,
)
from tests.markets.test_energy_charts_daemon import ENERGY_CHARTS
from tests.support import fake_nordpool
from tests.support.broker import MosquittoBroker

#: A Swedish household in SE3, in öre/kWh: the grid company's transfer fee, energy tax, the
#: supplier's margin and certificates; 25 % VAT on everything.
SWEDISH_HOUSEHOLD: dict[str, Any] = {
    "multiplier": 1.0,
    "adders": {"transfer": 28.0, "energy_tax": 43.9, "supplier": 6.0, "certificates": 1.5},
    "vat_percent": 25,
    "vat_on": "all",
}


@contextlib.asynccontextmanager
async def stand_in(clock: VirtualClock) -> AsyncIterator[fake_nordpool.RunningFake]:
    """The Nord Pool stand-in (no rate limit of its own; hung answers end with the test)."""
    async with fake_nordpool.serve() as running:
        yield running


def ore(start: datetime) -> Decimal:
    """The stand-in's SE3 price of the quarter hour at ``start`` in SEK (its fixed rate,
    2 decimals per MWh): SEK/MWh / 10 = öre/kWh."""
    sek = fake_nordpool.price_in(fake_nordpool.default_price("SE3", start), "SEK")
    return Decimal(str(sek)) / 10


NORDPOOL = Market(
    key="nordpool",
    region="SE3",
    currency="SEK",
    unit="öre/kWh",
    slot=QUARTER,
    zone=ZoneInfo("Europe/Berlin"),  # CET delivery days, results around 13:00 CET
    tariff=SWEDISH_HOUSEHOLD,
    price=ore,
    stand_in=stand_in,
    config=lambda fake: {"base_url": fake.url, "currency": "SEK"},
    publish_at=time(13),
)


async def test_end_price_today_and_tomorrow(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """Current end price through the formula; ok / waiting before tomorrow; tomorrow whole."""
    await publication_scenario(tmp_path, mosquitto, base_topic, NORDPOOL)


async def test_faults_keep_the_known_price(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """5xx, 429, no answer, garbage: fetch_failed, the price stays, degraded; then ok."""
    await faults_scenario(tmp_path, mosquitto, base_topic, NORDPOOL)


async def test_a_garbage_answer_is_not_kept(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """After a garbage body, the next refresh asks again and gets the prices."""
    await garbage_recovery_scenario(tmp_path, mosquitto, base_topic, NORDPOOL)


async def test_two_markets_side_by_side(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """Nord Pool SE3 in SEK and Energy-Charts DE-LU in EUR in one daemon: each current price
    through its own formula, in its own currency and unit (öre/kWh, c/kWh), and so is each
    provider's series."""
    clock = VirtualClock()
    async with (
        NORDPOOL.stand_in(clock) as nordpool,
        ENERGY_CHARTS.stand_in(clock) as energy_charts,
        daemon(
            tmp_path,
            mosquitto,
            base_topic,
            clock,
            (NORDPOOL, nordpool),
            (ENERGY_CHARTS, energy_charts),
        ) as runs,
    ):
        currents = [await check_current(run) for run in runs]
        assert [("nordpool", "SE3"), ("energy_charts", "DE-LU")] == [
            (c["provider"], c["region"]) for c in currents
        ]
        assert [("SEK", "öre/kWh", "SEK/kWh"), ("EUR", "c/kWh", "EUR/kWh")] == [
            (c["currency"], c["unit"], c["unit_major"]) for c in currents
        ]
        for run in runs:
            upcoming = await run.retained("upcoming")
            assert (run.market.currency, run.market.unit) == (
                upcoming["currency"],
                upcoming["unit"],
            )
            assert upcoming["count"] > 0
