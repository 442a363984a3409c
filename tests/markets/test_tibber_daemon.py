"""Tibber (DE) through the whole daemon, as a German Tibber customer sets it up: the ``tibber``
provider (``base_url`` the stand-in, the token) with a price formula, the loopback GraphQL
stand-in (:mod:`tests.support.fake_tibber`), a real mosquitto (scenarios: :mod:`.support`).

Tibber's ``total`` already holds tax and VAT; with a formula configured the daemon starts from
``energy`` (the plugin's ``energy_pence``), so the market price these tests expect is the
stand-in's ``energy`` and the end price the formula of it. The plugin reuses an answer for a
minute and spaces requests 1 s apart: the scenarios move its pacer clock on where a user would
wait that out."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from tests.markets.support import (
    HOUR,
    QUARTER,
    Market,
    VirtualClock,
    check_current,
    check_series,
    daemon,
    faults_scenario,
    moment,
    publication_scenario,
)
from tests.support import fake_tibber
from tests.support.broker import MosquittoBroker

BERLIN = ZoneInfo("Europe/Berlin")

#: A German household on Tibber: the energy price plus grid fee, electricity tax and levies in
#: ct/kWh, 19 % VAT on everything, a dearer evening on weekdays.
TIBBER_DE: dict[str, Any] = {
    "adders": {"grid": 9.5, "electricity_tax": 2.05, "levies": 1.2},
    "vat_percent": 19,
    "fees": [{"name": "peak", "amount": 2.0, "from": "17:00", "to": "20:00", "days": "mon-fri"}],
}


@contextlib.asynccontextmanager
async def stand_in(clock: VirtualClock) -> AsyncIterator[fake_tibber.RunningFake]:
    """The Tibber stand-in; no rate limit of its own (the plugin's pacer keeps one)."""
    async with fake_tibber.serve() as running:
        yield running


def energy_cents(resolution: str) -> Any:
    """The stand-in's ``energy`` of the slot at a UTC moment, in ct/kWh (x 100)."""

    def cents(start: datetime) -> Decimal:
        energy = fake_tibber.price_of(resolution, start, BERLIN)["energy"]
        return Decimal(str(energy)) * 100

    return cents


TIBBER = Market(
    key="tibber",
    region="DE",
    currency="EUR",
    unit="c/kWh",
    slot=QUARTER,
    zone=BERLIN,
    tariff=TIBBER_DE,
    price=energy_cents("QUARTER_HOURLY"),
    stand_in=stand_in,
    config=lambda fake: fake.config(),
    publish_at=time(13),
)
#: The same feed while QUARTER_HOURLY answers nothing: hours, at the hourly prices.
TIBBER_HOURLY = dataclasses.replace(TIBBER, slot=HOUR, price=energy_cents("HOURLY"))


async def test_end_price_today_and_tomorrow(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """Current end price through the formula from energy; ok / waiting; tomorrow whole."""
    await publication_scenario(tmp_path, mosquitto, base_topic, TIBBER)


async def test_faults_keep_the_known_price(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """5xx, 429, no answer, garbage: fetch_failed, the price stays, degraded; then ok."""
    await faults_scenario(tmp_path, mosquitto, base_topic, TIBBER)


async def test_an_empty_quarter_hourly_answer_publishes_hours(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """QUARTER_HOURLY answers today [] (May 2026): the daemon publishes Tibber's hourly prices
    as hours (today 23 / 24 / 25 of them), the formula applied to their ``energy``; the
    fallback is logged once and shown in the provider's notes."""
    clock = VirtualClock()
    async with TIBBER_HOURLY.stand_in(clock) as fake:
        fake.state.quarter_hourly_empty = True
        with structlog.testing.capture_logs() as logs:
            async with daemon(
                tmp_path, mosquitto, base_topic, clock, (TIBBER_HOURLY, fake)
            ) as runs:
                (run,) = runs
                current = await check_current(run)
                start = moment(current["valid_from"])
                assert HOUR == moment(current["valid_to"]) - start
                total = fake_tibber.price_of("HOURLY", start, BERLIN)["total"]
                assert round(total * 100, 4) != current["market_price"], current  # not total
                today = TIBBER_HOURLY.today()
                check_series(run, await run.wait("today", lambda b: b["complete"]), today)

                def noted(body: dict[str, Any]) -> bool:
                    entry = next(p for p in body["providers"] if p["id"] == run.key)
                    return "quarter-hourly answered nothing" in entry["notes"].get("resolution", "")

                await run.wait(f"{base_topic}/providers", noted)
                assert {"QUARTER_HOURLY", "HOURLY"} <= set(fake.state.requests)
        fallbacks = [e for e in logs if e.get("event") == "tibber.hourly_fallback"]
        assert 1 == len(fallbacks), fallbacks


async def test_without_a_formula_the_total_is_published(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """No tariff: the current price is Tibber's ``total`` (VAT included) as it is."""
    clock = VirtualClock()
    plain = dataclasses.replace(TIBBER, tariff={})
    async with (
        plain.stand_in(clock) as fake,
        daemon(tmp_path, mosquitto, base_topic, clock, (plain, fake)) as runs,
    ):
        (run,) = runs
        current = await run.retained("current")
        start = moment(current["valid_from"])
        assert start <= datetime.now(UTC) + timedelta(seconds=1)
        total = fake_tibber.price_of("QUARTER_HOURLY", start, BERLIN)["total"]
        assert (round(total * 100, 4),) * 2 == (current["price"], current["market_price"])
