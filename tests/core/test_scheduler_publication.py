"""The fetch loop around a late publication, with the daemon's own parts (real loader, store
and scheduler) and a day-ahead plugin publishing at 13:00 Europe/Berlin, the wall clock moved
to 13:30 CET (``time_machine``, ``tick=True``), today's prices stored by a refresh first: what
the loop plans is read from health's ``next_attempt`` and the store's fetch runs.

- The source answers without tomorrow: the next try is on the short cadence
  (``refresh.publication_retry_seconds``), not the backoff.
- The source fails (a 503): the exponential backoff, short here, not the cadence.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import time_machine

from energyd.app import Components, wire
from energyd.config import load_settings
from energyd.domain.records import FetchOutcome
from tests.support.rig import daemon_parts, running

#: 13:30 CET: half an hour after the usual publication time.
HALF_PAST = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)
#: The cadence the tests set, far from the backoff's 0.05 .. 0.1 s.
CADENCE = 20.0

#: Today's prices always; tomorrow never (``MODE["fail"]``: a 503 once today is stored).
SOURCE = textwrap.dedent(
    """\
    from datetime import datetime, time, timedelta
    from zoneinfo import ZoneInfo

    from providers.energy.base import (
        EnergyPriceProvider,
        EnergyPriceSlot,
        EnergyProviderMetadata,
        ProviderServerError,
    )

    __version__ = "1.0.0"
    ZONE = ZoneInfo("Europe/Berlin")
    STEP = timedelta(minutes=15)
    MODE = {"fail": False, "calls": 0}


    class Late(EnergyPriceProvider):
        def get_metadata(self):
            return EnergyProviderMetadata(
                provider_id="late",
                display_name="late day-ahead",
                version=__version__,
                currency="EUR",
                slot_minutes=15,
                market_timezone="Europe/Berlin",
                publish_time_local="13:00",
            )

        def validate_config(self, config):
            return {}

        async def fetch_prices(self, region, start_utc, end_utc, config):
            MODE["calls"] += 1
            if MODE["fail"] and MODE["calls"] > 1:
                raise ProviderServerError("HTTP 503 server error", 503)
            today = datetime.now(ZONE).date()
            limit = datetime.combine(today + timedelta(days=1), time(0), tzinfo=ZONE)
            slots, moment = [], start_utc
            while moment < min(end_utc, limit):
                slots.append(EnergyPriceSlot(moment, moment + STEP, 7.5, "EUR"))
                moment += STEP
            return slots
    """
)


async def wait_until(predicate: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not await predicate():  # noqa: ASYNC110 - the store has no change event
            await asyncio.sleep(0.02)


@asynccontextmanager
async def late_source(tmp_path: Path, *, fail: bool) -> AsyncIterator[Components]:
    """The scheduler over the plugin at 13:30 CET, tomorrow not out (or the source failing)."""
    settings = load_settings(
        None,
        config_dir=tmp_path / "config",
        energy={"provider_id": "late", "providers": {"late": {"region": "DE"}}},
        refresh={
            "retry_min_seconds": 0.05,
            "retry_max_seconds": 60,
            "publication_retry_seconds": CADENCE,
        },
    )
    with time_machine.travel(HALF_PAST, tick=True):
        async with daemon_parts(settings, {"late_provider.py": SOURCE}) as parts:
            plugin = parts.service.plugin(parts.service.spec())
            mode: dict[str, Any] = sys.modules[type(plugin).__module__].MODE
            mode["fail"] = fail
            (first,) = await parts.service.refresh()  # today stored before the loop starts
            assert FetchOutcome.OK == first.outcome
            async with running(wire(parts), "scheduler"):
                yield parts


class TestLatePublication:
    async def test_not_published_yet_is_asked_on_the_cadence(self, tmp_path: Path) -> None:
        """Today stored, tomorrow missing after 13:00: the next attempt is planned about
        ``publication_retry_seconds`` (+-15 %) after the last, not the 0.05 s backoff."""
        async with late_source(tmp_path, fail=False) as parts:
            spec = parts.service.spec()

            async def planned() -> bool:
                return (await parts.service.health(spec)).next_attempt is not None

            await wait_until(planned)
            report = await parts.service.health(spec)
            runs = await parts.store.fetch_runs(provider_id="late")
        assert [FetchOutcome.OK, FetchOutcome.OK] == [run.outcome for run in runs]
        assert report.next_attempt is not None
        wait = report.next_attempt - max(run.started_at for run in runs)
        assert timedelta(seconds=CADENCE * 0.85) <= wait <= timedelta(seconds=CADENCE * 1.15 + 1)

    async def test_a_failing_source_keeps_the_backoff(self, tmp_path: Path) -> None:
        """Tomorrow missing and the source answering 503: retried on the (short) exponential
        backoff, several times long before one cadence step would have passed."""
        async with late_source(tmp_path, fail=True) as parts:

            async def retried() -> bool:
                return len(await parts.store.fetch_runs(provider_id="late")) >= 4

            await wait_until(retried, within=CADENCE / 2)
            runs = await parts.store.fetch_runs(provider_id="late")
        outcomes = [run.outcome for run in sorted(runs, key=lambda r: r.started_at)]
        assert FetchOutcome.OK == outcomes[0]
        assert {FetchOutcome.ERROR} == set(outcomes[1:])
