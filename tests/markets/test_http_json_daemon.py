"""The generic HTTP / JSON plugin through the whole daemon, as a Dutch household sets up an
EnergyZero-shaped source: a provider entry of TOML-like settings (URL, query placeholders,
JMESPath expressions, unit), the loopback stand-in serving the recorded EnergyZero day moved to
today (:mod:`tests.support.fake_http_json`) and a real mosquitto (scenarios: :mod:`.support`).

One more test runs it the way a user names a feed (``[energy.providers.nl_energyzero]`` with
``plugin = "http_json"``), with an API key header from the environment: the stand-in gets the
key, and it appears in no log event, MQTT message or reply. And one reads smard.de in two steps
(``[energy.providers.smard_de]``: ``index_url``, ``index_items``, ``url`` with ``{index}``)
from the stand-in's weekly files, across the Monday 00:00 Europe/Berlin between two of them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import structlog

from tests.markets.support import (
    HOUR,
    QUARTER,
    REFRESH,
    RETRIES,
    Market,
    MarketRun,
    VirtualClock,
    assert_rounded,
    body_of,
    faults_scenario,
    garbage_recovery_scenario,
    moment,
    publication_scenario,
)
from tests.support import fake_http_json
from tests.support.broker import MosquittoBroker, collect
from tests.support.daemon import daemon_settings, running

SECRET = "nl-test-key-7f3a9c"


#: What a user writes under [energy.providers.<key>] for the EnergyZero-shaped API.
def energyzero_config(fake: fake_http_json.RunningFake) -> dict[str, Any]:
    return {
        "url": fake.prices_url,
        "query": {
            "fromDate": "{start}",
            "tillDate": "{end}",
            "interval": "4",
            "usageType": "1",
            "inclBtw": "false",
        },
        "items": "Prices",
        "start": "readingDate",
        "value": "price",
        "unit": "per_kwh",
        "timezone": "Europe/Amsterdam",
        "publish_time": "15:00",
        "vat_included": False,
    }


#: A Dutch household: energy tax and the supplier's margin in ct/kWh, then 21 % VAT.
DUTCH: dict[str, Any] = {
    "adders": {"energy_tax": 10.15, "supplier": 2.0},
    "vat_percent": 21,
    "vat_on": "all",
}


@contextlib.asynccontextmanager
async def stand_in(clock: VirtualClock) -> AsyncIterator[fake_http_json.RunningFake]:
    """The EnergyZero-shaped stand-in; the plugin's pacer, on ``clock``, keeps its pace."""
    async with fake_http_json.serve() as running_fake:
        yield running_fake


def cents(start: datetime) -> Decimal:
    """The stand-in's price of the hour at ``start``: EUR/kWh x 100 = ct/kWh."""
    return Decimal(str(fake_http_json.recorded_price(start))) * 100


ENERGYZERO = Market(
    key="http_json",
    region="NL",
    currency="EUR",
    unit="c/kWh",
    slot=HOUR,
    zone=ZoneInfo("Europe/Amsterdam"),
    tariff=DUTCH,
    price=cents,
    stand_in=stand_in,
    config=energyzero_config,
    publish_at=time(15),
)


async def test_end_price_today_and_tomorrow(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """Current end price through the formula; ok / waiting before tomorrow; tomorrow whole."""
    await publication_scenario(tmp_path, mosquitto, base_topic, ENERGYZERO)


async def test_faults_keep_the_known_price(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """5xx, 429, no answer, garbage: fetch_failed, the price stays, degraded; then ok."""
    await faults_scenario(tmp_path, mosquitto, base_topic, ENERGYZERO)


async def test_a_garbage_answer_is_not_kept(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """After a garbage body, the next refresh asks again and gets the prices."""
    await garbage_recovery_scenario(tmp_path, mosquitto, base_topic, ENERGYZERO)


async def test_a_named_feed_with_a_key_from_the_environment(
    tmp_path: Path,
    mosquitto: MosquittoBroker,
    base_topic: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """[energy.providers.nl_energyzero] plugin = "http_json", X-Api-Key = "${...}": the
    current price is the recorded one in ct/kWh; the key reaches the stand-in and nothing
    the daemon logs or publishes holds it."""
    monkeypatch.setenv("ENERGYZERO_TEST_KEY", SECRET)
    async with fake_http_json.serve() as fake:
        fake.state.required_headers = {"X-Api-Key": SECRET}
        entry = {
            "plugin": "http_json",
            "region": "NL",
            **RETRIES,
            **energyzero_config(fake),
            "headers": {"X-Api-Key": "${ENERGYZERO_TEST_KEY}"},
        }
        settings = daemon_settings(
            tmp_path,
            mosquitto.port,
            base_topic,
            "http://127.0.0.1:9",
            energy={"provider_id": "nl_energyzero", "providers": {"nl_energyzero": entry}},
            refresh=REFRESH,
        )
        topic = f"{base_topic}/prices/nl_energyzero/NL/current"
        with structlog.testing.capture_logs() as logs:
            async with running(settings), collect(mosquitto.port, f"{base_topic}/#") as client:
                run = MarketRun(
                    ENERGYZERO, fake, client, base_topic, mosquitto.port, VirtualClock()
                )
                found = await client.wait_for(
                    topic, lambda m: bool((body_of(m) or {}).get("available")), within=15
                )
                current = body_of(found)
                assert current is not None
                start = moment(current["valid_from"])
                assert HOUR == moment(current["valid_to"]) - start
                assert start <= datetime.now(UTC) < start + HOUR
                assert_rounded(current["price"], cents(start), "nl_energyzero price")
                assert ("EUR", "c/kWh") == (current["currency"], current["unit"])
                health = (await run.ask("health"))["data"]["providers"]["nl_energyzero"]
                assert "ok" == health["state"], health
                shown = await run.ask("settings/get")
                assert "${ENERGYZERO_TEST_KEY}" in json.dumps(shown)
                published = [bytes(m.payload) for m in client.messages]
        assert all(h.get("X-Api-Key") == SECRET for h in fake.state.headers)
        assert fake.state.headers, "the stand-in was never asked"
        assert not any(SECRET.encode() in payload for payload in published)
        assert logs, "no log events captured"
        assert SECRET not in repr(logs)


#: What a user writes under [energy.providers.smard_de] (README), against the stand-in.
def smard_config(fake: fake_http_json.RunningFake) -> dict[str, Any]:
    return {
        "plugin": "http_json",
        "region": "DE-LU",
        "index_url": fake.smard_index_url("quarterhour"),
        "index_items": "timestamps[-2:]",
        "url": fake.smard_url("quarterhour"),
        "items": "series",
        "start": "[0]",
        "value": "[1]",
        "time_format": "epoch_ms",
        "unit": "per_mwh",
        "timezone": "Europe/Berlin",
        "slot_minutes": 15,
        "request_spacing_seconds": 0.05,
        **RETRIES,
    }


async def test_smard_in_two_steps_across_the_week_boundary(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """smard_de: the index, then its last two weekly files; the current quarter-hour price is
    the stand-in's EUR/MWh / 10, and so are the stored quarter-hours on both sides of the
    Monday 00:00 Berlin where the newer file starts (a week of history is asked for)."""
    async with fake_http_json.serve() as fake:
        anchor = fake.state.anchor

        def cents_of(start: datetime) -> Decimal:
            return Decimal(str(fake_http_json.smard_price(start, anchor))) / 10

        smard = Market(
            key="smard_de",
            region="DE-LU",
            currency="EUR",
            unit="c/kWh",
            slot=QUARTER,
            zone=fake_http_json.SMARD_ZONE,
            tariff={},
            price=cents_of,
            stand_in=stand_in,
            config=smard_config,
        )
        settings = daemon_settings(
            tmp_path,
            mosquitto.port,
            base_topic,
            "http://127.0.0.1:9",
            energy={"provider_id": "smard_de", "providers": {"smard_de": smard_config(fake)}},
            refresh={**REFRESH, "history_days": 7},
        )
        async with running(settings), collect(mosquitto.port, f"{base_topic}/#") as client:
            run = MarketRun(smard, fake, client, base_topic, mosquitto.port, VirtualClock())
            current = await run.wait("current", lambda body: bool(body.get("available")), within=15)
            start = moment(current["valid_from"])
            assert QUARTER == moment(current["valid_to"]) - start
            assert start <= datetime.now(UTC) < start + QUARTER
            assert_rounded(current["price"], cents_of(start), "smard_de price")
            assert ("EUR", "c/kWh") == (current["currency"], current["unit"])
            weeks = fake_http_json.smard_weeks(fake.state.smard_until())
            older, newer = weeks[-2:]
            boundary = newer.astimezone(fake_http_json.SMARD_ZONE)
            assert (0, 0, 0) == (boundary.weekday(), boundary.hour, boundary.minute)
            around = {"provider": "smard_de", "start": utc_text(newer - HOUR), "hours": 2}
            reply = await run.ask("prices", around)
            assert "ok" == reply["status"], reply
            slots = reply["data"]["slots"]
            assert [newer + QUARTER * n for n in range(-4, 4)] == [
                moment(slot["start"]) for slot in slots
            ]
            for slot in slots:
                assert_rounded(slot["price"], cents_of(moment(slot["start"])), slot["start"])
        asked = {path.rsplit("/", 1)[-1] for path in fake.state.requests}
        files = {
            week: f"4169_DE-LU_quarterhour_{round(week.timestamp() * 1000)}.json" for week in weeks
        }
        assert "index_quarterhour.json" in asked
        assert {files[older], files[newer]} == asked & set(files.values())


def utc_text(at: datetime) -> str:
    """``at`` as the daemon's commands take it (ISO 8601 UTC)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
