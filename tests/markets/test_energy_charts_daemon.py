"""Energy-Charts (DE-LU) through the whole daemon, as a German household sets it up: the
``energy_charts`` provider with a price formula, its loopback stand-in
(:mod:`tests.support.fake_energy_charts`), a real mosquitto (scenarios: :mod:`.support`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.typedefs import Handler

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
#: The body of the ``"garbage"`` fault: the JSON cut off mid-array.
GARBAGE = b'{"license_info":"CC BY 4.0","unix_seconds":[1764543600,17645'


@contextlib.asynccontextmanager
async def stand_in(clock: VirtualClock) -> AsyncIterator[fake_energy_charts.RunningFake]:
    """The Energy-Charts stand-in; its ``faults`` also take ``"hang"`` and ``"garbage"``
    here (the stand-in itself injects HTTP statuses only): a middleware in front of the
    stand-in's own answers them, and leaves statuses to the stand-in. (``clock`` is not
    needed: the stand-in has no rate limit of its own; the plugin's pacer is put on it.)"""
    app = fake_energy_charts.make_app()
    state = app[fake_energy_charts.STATE]
    released = asyncio.Event()

    @web.middleware
    async def hang_or_garbage(request: web.Request, handler: Handler) -> web.StreamResponse:
        fault: object = state.faults[0] if state.faults else None
        if fault == "hang":
            state.faults.popleft()
            state.requests.append(request.path_qs)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(released.wait(), 30)
            return web.Response(status=504, text="hung")
        if fault == "garbage":
            state.faults.popleft()
            state.requests.append(request.path_qs)
            return web.Response(body=GARBAGE, content_type="application/json")
        return await handler(request)

    app.middlewares.insert(0, hang_or_garbage)  # before the stand-in's own injection
    async with fake_energy_charts.serve(app) as running:
        try:
            yield running
        finally:
            released.set()  # hung answers end, so the server stops at once


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
