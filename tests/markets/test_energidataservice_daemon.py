"""Energi Data Service (DK1, DKK) through the whole daemon, as a Danish household in West
Denmark sets it up: the ``energidataservice`` provider in øre/kWh with a price formula whose
grid tariff is dearer from 17:00 to 21:00, the loopback stand-in
(:mod:`tests.support.fake_energidataservice`), a real mosquitto (scenarios: :mod:`.support`).

Energi Data Service allows one request a minute: the plugin spaces its requests 60 s and
reuses an answer for most of that minute, and the stand-in answers 429 to a second request
within the minute. Both run on the test's :class:`~tests.markets.support.VirtualClock`, moved on a
minute where a user would have waited (a refresh within the minute is, by design, refused
before any request or answered from the last answer)."""

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
    faults_scenario,
    garbage_recovery_scenario,
    publication_scenario,
)
from tests.support import fake_energidataservice
from tests.support.broker import MosquittoBroker

#: A Danish household in DK1, in øre/kWh: the grid company's tariff (low all day, a peak
#: surcharge 17:00-21:00, dearer in winter), Energinet's net and system tariffs, electricity
#: tax, the supplier's margin; 25 % VAT on everything. Fee times on Danish wall clock.
DANISH_HOUSEHOLD: dict[str, Any] = {
    "multiplier": 1.0,
    "adders": {"grid_low": 13.0, "energinet": 14.6, "elafgift": 0.8, "supplier": 4.0},
    "vat_percent": 25,
    "vat_on": "all",
    "timezone": "Europe/Copenhagen",
    "fees": [
        {
            "name": "peak_winter",
            "amount": 39.0,
            "from": "17:00",
            "to": "21:00",
            "months": "oct-mar",
        },
        {
            "name": "peak_summer",
            "amount": 20.0,
            "from": "17:00",
            "to": "21:00",
            "months": "apr-sep",
        },
    ],
}


@contextlib.asynccontextmanager
async def stand_in(clock: VirtualClock) -> AsyncIterator[fake_energidataservice.RunningFake]:
    """The Energi Data Service stand-in, its "1 request a minute" on ``clock``."""
    async with fake_energidataservice.serve() as running:
        running.state.clock = clock
        yield running


def ore(start: datetime) -> Decimal:
    """The stand-in's DK1 price of the slot at ``start``: DKK/MWh / 10 = øre/kWh."""
    eur = fake_energidataservice.default_price("DK1", start)
    return Decimal(str(fake_energidataservice.dkk(eur))) / 10


ENERGIDATASERVICE = Market(
    key="energidataservice",
    region="DK1",
    currency="DKK",
    unit="øre/kWh",
    slot=QUARTER,
    zone=ZoneInfo("Europe/Copenhagen"),
    tariff=DANISH_HOUSEHOLD,
    price=ore,
    stand_in=stand_in,
    config=lambda fake: {"base_url": fake.url, "currency": "DKK"},
    publish_at=time(13),
)


async def test_end_price_today_and_tomorrow(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """Current end price through the formula; ok / waiting before tomorrow; tomorrow whole."""
    await publication_scenario(tmp_path, mosquitto, base_topic, ENERGIDATASERVICE)


async def test_faults_keep_the_known_price(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """5xx, 429, no answer, garbage: fetch_failed, the price stays, degraded; then ok."""
    await faults_scenario(tmp_path, mosquitto, base_topic, ENERGIDATASERVICE)


async def test_a_garbage_answer_is_not_kept(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """After a garbage body, the next refresh a minute later asks again and gets the prices."""
    await garbage_recovery_scenario(tmp_path, mosquitto, base_topic, ENERGIDATASERVICE)
