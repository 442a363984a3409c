"""Energy-Charts (DE-LU) through the whole daemon, as a German household sets it up: the
``energy_charts`` provider with a price formula, its loopback stand-in
(:mod:`tests.support.fake_energy_charts`), a real mosquitto (scenarios: :mod:`.support`)."""

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
from tests.support import fake_energy_charts
from tests.support.broker import MosquittoBroker

#: A German household on a dynamic tariff, in ct/kWh: grid fee, levies and electricity tax,
#: the supplier's margin, a §14a-style dearer grid fee in the weekday evening peak and a
#: cheaper one at night, 19 % VAT on everything.
GERMAN_HOUSEHOLD: dict[str, Any] = {
    "multiplier": 1.0,
    "adders": {"grid": 9.0, "levies": 4.2, "electricity_tax": 2.05, "margin": 1.5},
    "vat_percent": 19,
    "vat_on": "all",
    "fees": [
        {"name": "peak", "amount": 3.0, "from": "17:00", "to": "20:00", "days": "mon-fri"},
        {"name": "night", "amount": -2.5, "from": "00:00", "to": "06:00"},
    ],
}


@contextlib.asynccontextmanager
async def stand_in(clock: VirtualClock) -> AsyncIterator[fake_energy_charts.RunningFake]:
    """The Energy-Charts stand-in (``clock`` is not needed: the stand-in has no rate limit of
    its own; the plugin's pacer is put on it)."""
    async with fake_energy_charts.serve() as running:
        yield running


def cents(start: datetime) -> Decimal:
    """The stand-in's DE-LU price of the slot at ``start``: EUR/MWh / 10 = ct/kWh."""
    return Decimal(str(fake_energy_charts.default_price("DE-LU", start))) / 10


ENERGY_CHARTS = Market(
    key="energy_charts",
    region="DE-LU",
    currency="EUR",
    unit="c/kWh",
    slot=QUARTER,
    zone=ZoneInfo("Europe/Berlin"),
    tariff=GERMAN_HOUSEHOLD,
    price=cents,
    stand_in=stand_in,
    config=lambda fake: {"base_url": fake.url},
    publish_at=time(13),
)


async def test_end_price_today_and_tomorrow(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """Current end price through the formula; ok / waiting before tomorrow; tomorrow whole."""
    await publication_scenario(tmp_path, mosquitto, base_topic, ENERGY_CHARTS)


async def test_faults_keep_the_known_price(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """5xx, 429, no answer, garbage: fetch_failed, the price stays, degraded; then ok."""
    await faults_scenario(tmp_path, mosquitto, base_topic, ENERGY_CHARTS)


async def test_a_garbage_answer_is_not_kept(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """After a garbage body, the next refresh asks again and gets the prices."""
    await garbage_recovery_scenario(tmp_path, mosquitto, base_topic, ENERGY_CHARTS)
