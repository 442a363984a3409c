"""ENTSO-E (DE-LU, A44) through the whole daemon, as a German household with a capped tariff
sets it up: the ``entsoe`` provider with its security token and a price formula, the loopback
stand-in (:mod:`tests.support.fake_entsoe`), a real mosquitto (scenarios: :mod:`.support`)."""

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
from tests.support import fake_entsoe
from tests.support.broker import MosquittoBroker

#: A German household whose supplier caps the end price at 35 ct/kWh (the cap binds in the
#: stand-in's evening peak): grid fee, levies, electricity tax and margin in ct/kWh, a dearer
#: weekday evening grid fee, 19 % VAT on everything.
CAPPED_GERMAN_HOUSEHOLD: dict[str, Any] = {
    "multiplier": 1.0,
    "adders": {"grid": 9.0, "levies": 4.2, "electricity_tax": 2.05, "margin": 2.0},
    "vat_percent": 19,
    "vat_on": "all",
    "cap": 35.0,
    "fees": [{"name": "peak", "amount": 3.0, "from": "17:00", "to": "20:00", "days": "mon-fri"}],
}


@contextlib.asynccontextmanager
async def stand_in(clock: VirtualClock) -> AsyncIterator[fake_entsoe.RunningFake]:
    """The ENTSO-E stand-in (its token :data:`~tests.support.fake_entsoe.TOKEN`); a hung
    answer gives up after 5 s or when the test ends. (It has no rate limit of its own.)"""
    async with fake_entsoe.serve() as running:
        yield running


def cents(start: datetime) -> Decimal:
    """The stand-in's SDAC (sequence 1) DE-LU price of the slot at ``start``, in ct/kWh."""
    return Decimal(str(fake_entsoe.default_price("DE-LU", start, 1))) / 10


ENTSOE = Market(
    key="entsoe",
    region="DE-LU",
    currency="EUR",
    unit="c/kWh",
    slot=QUARTER,
    zone=ZoneInfo("Europe/Berlin"),
    tariff=CAPPED_GERMAN_HOUSEHOLD,
    price=cents,
    stand_in=stand_in,
    config=lambda fake: {"base_url": fake.url, "security_token": fake_entsoe.TOKEN},
    publish_at=time(13),
)


async def test_end_price_today_and_tomorrow(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """Current end price through the formula; ok / waiting before tomorrow; tomorrow whole."""
    await publication_scenario(tmp_path, mosquitto, base_topic, ENTSOE)


async def test_faults_keep_the_known_price(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """5xx, 429, no answer, garbage: fetch_failed, the price stays, degraded; then ok."""
    await faults_scenario(tmp_path, mosquitto, base_topic, ENTSOE)


async def test_a_garbage_answer_is_not_kept(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """After a garbage body, the next refresh asks again and gets the prices."""
    await garbage_recovery_scenario(tmp_path, mosquitto, base_topic, ENTSOE)
