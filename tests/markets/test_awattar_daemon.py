"""aWATTar (DE) through the whole daemon, as a German household on aWATTar HOURLY sets it up:
the ``awattar`` provider (``base_url`` the stand-in's ``/de`` root) with a price formula, the
loopback stand-in (:mod:`tests.support.fake_awattar`), a real mosquitto (scenarios:
:mod:`.support`). aWATTar's slots are hours (23 / 25 on clock-change days), and the plugin
reuses an answer for a while and spaces requests 5 s apart (fair use: about 100 requests a
day): the scenarios move the plugin's pacer clock on where a user would wait that out."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.markets.support import (
    HOUR,
    Market,
    VirtualClock,
    faults_scenario,
    garbage_recovery_scenario,
    publication_scenario,
)
from tests.support import fake_awattar
from tests.support.broker import MosquittoBroker

#: A German household on aWATTar HOURLY: the exchange price plus aWATTar's 3 %, then grid
#: fee, levies, electricity tax and aWATTar's fixed margin in ct/kWh, 19 % VAT on everything.
AWATTAR_HOURLY: dict[str, Any] = {
    "multiplier": 1.03,
    "adders": {"grid": 9.5, "levies": 4.2, "electricity_tax": 2.05, "awattar": 1.5},
    "vat_percent": 19,
    "vat_on": "all",
    "fees": [{"name": "peak", "amount": 3.0, "from": "17:00", "to": "20:00", "days": "mon-fri"}],
}


@contextlib.asynccontextmanager
async def stand_in(clock: VirtualClock) -> AsyncIterator[fake_awattar.RunningFake]:
    """The aWATTar stand-in (both countries; the DE feed asks ``/de``). No rate limit of its
    own: the plugin's pacer, on ``clock``, keeps aWATTar's."""
    async with fake_awattar.serve() as running:
        yield running


def cents(start: datetime) -> Decimal:
    """The stand-in's DE price of the hour at ``start``: EUR/MWh / 10 = ct/kWh."""
    return Decimal(str(fake_awattar.default_price("DE", start))) / 10


AWATTAR = Market(
    key="awattar",
    region="DE",
    currency="EUR",
    unit="c/kWh",
    slot=HOUR,
    zone=ZoneInfo("Europe/Berlin"),
    tariff=AWATTAR_HOURLY,
    price=cents,
    stand_in=stand_in,
    config=lambda fake: {"base_url": fake.base_url("DE")},
    publish_at=time(13),
)


async def test_end_price_today_and_tomorrow(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """Current end price through the formula; ok / waiting before tomorrow; tomorrow whole."""
    await publication_scenario(tmp_path, mosquitto, base_topic, AWATTAR)


async def test_faults_keep_the_known_price(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """5xx, 429, no answer, garbage: fetch_failed, the price stays, degraded; then ok."""
    await faults_scenario(tmp_path, mosquitto, base_topic, AWATTAR)


async def test_a_garbage_answer_is_not_kept(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """After a garbage body, the next refresh asks again and gets the prices."""
    await garbage_recovery_scenario(tmp_path, mosquitto, base_topic, AWATTAR)
