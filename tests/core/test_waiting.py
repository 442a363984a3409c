"""'Not published yet' through the daemon's own parts (real loader, store and scheduler), at any
time of day: a market that publishes tomorrow at 00:00 local time always "should" have it, so a
source with only today is waiting -- never an error, never a warning -- until it publishes."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from energyd.app import wire
from energyd.config import load_settings
from energyd.domain.health import HealthState
from energyd.domain.records import FetchOutcome
from tests.support.rig import daemon_parts, running

#: Prices up to the end of the local today (tomorrow "not published"), up to the end of
#: tomorrow once PUBLISHED.
SOURCE = textwrap.dedent(
    """\
    from datetime import datetime, time, timedelta
    from zoneinfo import ZoneInfo

    from providers.energy.base import (
        EnergyPriceProvider,
        EnergyPriceSlot,
        EnergyProviderMetadata,
        ProviderNotPublishedError,
    )

    __version__ = "1.0.0"
    ZONE = ZoneInfo("Europe/Berlin")
    STEP = timedelta(minutes=15)
    PUBLISHED = {"tomorrow": False, "final": True}


    class DayAhead(EnergyPriceProvider):
        def get_metadata(self):
            return EnergyProviderMetadata(
                provider_id="dayahead",
                display_name="day-ahead",
                version=__version__,
                currency="EUR",
                slot_minutes=15,
                market_timezone="Europe/Berlin",
                publish_time_local="00:00",
            )

        def validate_config(self, config):
            return {}

        async def fetch_prices(self, region, start_utc, end_utc, config):
            today = datetime.now(ZONE).date()
            last = today + timedelta(days=1 if PUBLISHED["tomorrow"] else 0)
            limit = datetime.combine(last + timedelta(days=1), time(0), tzinfo=ZONE)
            tomorrow = datetime.combine(today + timedelta(days=1), time(0), tzinfo=ZONE)
            slots, moment = [], start_utc
            while moment < min(end_utc, limit):
                provisional = moment >= tomorrow and not PUBLISHED["final"]
                slots.append(
                    EnergyPriceSlot(moment, moment + STEP, 7.5, "EUR", provisional=provisional)
                )
                moment += STEP
            if not slots:
                raise ProviderNotPublishedError("nothing yet")
            return slots
    """
)


async def wait_until(predicate: Callable[[], Awaitable[bool]], within: float) -> None:
    async with asyncio.timeout(within):
        while not await predicate():  # noqa: ASYNC110 - health has no change event to wait on
            await asyncio.sleep(0.02)


@pytest.fixture
def settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_settings(
        None,
        config_dir=tmp_path / "config",
        energy={"provider_id": "dayahead", "providers": {"dayahead": {"region": "DE"}}},
        refresh={"retry_min_seconds": 30, "retry_max_seconds": 60},
    )


class TestWaiting:
    async def test_tomorrow_not_out_is_waiting_with_the_next_try(
        self, settings: object, capsys: pytest.CaptureFixture[str]
    ) -> None:
        async with (
            daemon_parts(settings, {"dayahead_provider.py": SOURCE}) as parts,  # type: ignore[arg-type]
            running(wire(parts), "scheduler"),
        ):
            spec = parts.service.spec()

            async def waiting_with_a_plan() -> bool:
                report = await parts.service.health(spec)
                return report.state is HealthState.WAITING and report.next_attempt is not None

            await wait_until(waiting_with_a_plan, within=5)
            report = await parts.service.health(spec)
            assert report.last_error is None
            assert report.message.startswith("waiting for the prices of ")
            assert "(usually out at 00:00 Europe/Berlin): not published yet; next try " in (
                report.message
            )
            assert report.next_attempt is not None
            run = await parts.store.last_fetch("dayahead", "DE")
            assert run is not None
            assert FetchOutcome.OK == run.outcome  # today's prices stored, tomorrow missing
            assert (await parts.service.slot_at(spec, run.started_at)) is not None

            # the source publishes; the next fetch (a refresh here) completes tomorrow
            loaded = parts.service.plugin(spec)
            assert loaded is not None
            sys.modules[type(loaded).__module__].PUBLISHED["tomorrow"] = True
            (done,) = await parts.service.refresh()
            assert FetchOutcome.OK == done.outcome
            assert HealthState.OK == (await parts.service.health(spec)).state
        out = capsys.readouterr().out
        assert "[warning" not in out
        assert "[error" not in out


class TestProvisional:
    async def test_provisional_prices_keep_the_scheduler_asking_until_final(
        self, tmp_path: Path
    ) -> None:
        """Tomorrow known only provisionally (EXAA before SDAC, prices not final): health
        waits for the final ones and the scheduler keeps asking; the final answer ends it."""
        settings = load_settings(
            None,
            config_dir=tmp_path / "config",
            energy={"provider_id": "dayahead", "providers": {"dayahead": {"region": "DE"}}},
            refresh={"retry_min_seconds": 0.05, "retry_max_seconds": 0.1},
        )
        async with (
            daemon_parts(settings, {"dayahead_provider.py": SOURCE}) as parts,
            running(wire(parts), "scheduler"),
        ):
            spec = parts.service.spec()
            plugin = parts.service.plugin(spec)
            assert plugin is not None
            published = sys.modules[type(plugin).__module__].PUBLISHED
            published.update(tomorrow=True, final=False)
            await parts.service.refresh()

            async def asked_again() -> bool:
                return len(await parts.store.fetch_runs(provider_id="dayahead")) >= 4

            await wait_until(asked_again, within=5)
            report = await parts.service.health(spec)
            assert HealthState.WAITING == report.state
            assert "provisional" in report.message
            published["final"] = True

            async def settled() -> bool:
                return (await parts.service.health(spec)).state is HealthState.OK

            await wait_until(settled, within=5)
            count = len(await parts.store.fetch_runs(provider_id="dayahead"))
            await asyncio.sleep(0.3)  # final: no more retries
            assert count == len(await parts.store.fetch_runs(provider_id="dayahead"))
