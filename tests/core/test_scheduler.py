"""The timer loops, driven by a travelled wall clock (asyncio's monotonic clock is untouched).

Real parts: the Octopus plugin against the fake API on loopback, a SQLite store, mosquitto.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from energyd.app import wire
from energyd.config import Settings, load_settings
from energyd.core.store import PriceStore
from energyd.domain.records import FetchOutcome
from tests.support.broker import MosquittoBroker, collect
from tests.support.fake_octopus import make_app, serve
from tests.support.octopus_data import default_price, uk_publish_horizon
from tests.support.rig import daemon_parts, running

LONDON_1630 = datetime(2026, 11, 25, 16, 30, tzinfo=UTC)


@dataclass
class Horizon:
    """Where the fake API's published prices end; a test moves it."""

    late: bool = True

    def __call__(self, now: datetime) -> datetime:
        full = uk_publish_horizon(now)
        return full - timedelta(days=1) if self.late else full


def settings_for(tmp_path: Path, url: str, port: int, base_topic: str) -> Settings:
    return load_settings(
        None,
        config_dir=tmp_path / "config",
        energy={
            "providers": {
                "octopus_agile": {"region": "C", "base_url": url, "retry_budget_seconds": 1}
            }
        },
        mqtt={
            "host": "127.0.0.1",
            "port": port,
            "base_topic": base_topic,
            "client_id": f"{base_topic}-sched",
        },
        refresh={"retry_min_seconds": 0.2, "retry_max_seconds": 0.4},
    )


@contextlib.asynccontextmanager
async def scheduler_running(settings: Settings) -> AsyncIterator[PriceStore]:
    """The daemon over the shipped plugins, its MQTT client, scheduler and publisher running."""
    async with (
        daemon_parts(settings) as parts,
        running(wire(parts), "mqtt", "scheduler", "publisher"),
    ):
        yield parts.store


async def wait_until(predicate: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Poll a store condition (the store has no change notification to wait on)."""
    async with asyncio.timeout(within):
        while not await predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


class TestLatePrices:
    async def test_retries_until_tomorrow_is_complete(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """At 16:30 UK with tomorrow not yet published, the loop retries with backoff and
        stops retrying once tomorrow (until 23:00 UK) is stored."""
        horizon = Horizon(late=True)
        tomorrow_23 = datetime(2026, 11, 26, 23, 0, tzinfo=UTC)
        with time_machine.travel(LONDON_1630, tick=True):
            async with serve(make_app(horizon=horizon)) as api:
                settings = settings_for(tmp_path, api.url, mosquitto.port, base_topic)
                async with scheduler_running(settings) as store:

                    async def covered_today() -> bool:
                        end = await store.coverage_end("octopus_agile", "C", datetime.now(UTC))
                        return end is not None and end >= tomorrow_23 - timedelta(days=1)

                    await wait_until(covered_today)
                    await asyncio.sleep(0.5)  # a retry or two while tomorrow is missing
                    horizon.late = False

                    async def complete() -> bool:
                        end = await store.coverage_end("octopus_agile", "C", datetime.now(UTC))
                        return end is not None and end >= tomorrow_23

                    await wait_until(complete)
                    runs = await store.fetch_runs(provider_id="octopus_agile")
                    count = len(runs)
                    await asyncio.sleep(1.0)  # complete now: no more retries
                    assert count == len(await store.fetch_runs(provider_id="octopus_agile"))
        assert count >= 2
        assert all(FetchOutcome.OK == run.outcome for run in runs)


class TestBoundaries:
    @pytest.mark.parametrize(
        "moment",
        [
            datetime(2026, 11, 25, 16, 29, 58, 500000, tzinfo=UTC),
            # the night the clocks go back: 01:00-02:00 UK happens twice
            datetime(2026, 10, 25, 0, 59, 58, 500000, tzinfo=UTC),
        ],
    )
    async def test_new_slot_published_at_the_boundary(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, moment: datetime
    ) -> None:
        """Just before a boundary the current slot is published, and the next one follows
        promptly when the wall clock crosses the boundary."""
        boundary = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        topic = f"{base_topic}/prices/octopus_agile/C/current"
        with time_machine.travel(moment, tick=True):
            async with serve(make_app(horizon=uk_publish_horizon)) as api:
                settings = settings_for(tmp_path, api.url, mosquitto.port, base_topic)
                async with scheduler_running(settings), collect(mosquitto.port, topic) as client:
                    stamp = boundary.isoformat().replace("+00:00", "Z")
                    message = await client.wait_for(
                        topic,
                        lambda m: json.loads(bytes(m.payload)).get("valid_from") == stamp,
                        within=8,
                    )
        body = json.loads(bytes(message.payload))
        assert default_price("C", boundary) == body["price"]


def flaky_plugin(retry_after: float) -> str:
    """Throttles its first fetch (429 with ``retry_after``), then answers with prices."""
    return textwrap.dedent(
        f"""\
        from datetime import timedelta

        from providers.energy.base import (
            EnergyPriceProvider,
            EnergyPriceSlot,
            EnergyProviderMetadata,
            ProviderRateLimitError,
        )

        __version__ = "1.0.0"
        CALLS = []


        class Flaky(EnergyPriceProvider):
            def get_metadata(self):
                return EnergyProviderMetadata(
                    provider_id="flaky", display_name="f", version=__version__
                )

            def validate_config(self, config):
                return {{}}

            async def fetch_prices(self, region, start_utc, end_utc, config):
                CALLS.append(start_utc)
                if len(CALLS) == 1:
                    raise ProviderRateLimitError("HTTP 429", {retry_after!r})
                slots, moment = [], start_utc
                while moment < end_utc:
                    slots.append(EnergyPriceSlot(moment, moment + timedelta(minutes=30), 9.0))
                    moment += timedelta(minutes=30)
                return slots
        """
    )


@contextlib.asynccontextmanager
async def flaky_scheduler(
    tmp_path: Path, retry_after: float, retry_min: float
) -> AsyncIterator[PriceStore]:
    settings = load_settings(
        None,
        config_dir=tmp_path / "config",
        energy={"provider_id": "flaky", "providers": {"flaky": {"region": "C"}}},
        refresh={"retry_min_seconds": retry_min, "retry_max_seconds": retry_min * 2},
    )
    plugins = {"flaky_provider.py": flaky_plugin(retry_after)}
    async with daemon_parts(settings, plugins) as parts, running(wire(parts), "scheduler"):
        yield parts.store


class TestRetryAfter:
    """A throttled source is asked again when its Retry-After said, not on our backoff."""

    async def test_asked_again_when_it_said(self, tmp_path: Path) -> None:
        """Retry-After 0.5 s with a 30 s minimum backoff: the second fetch comes after about
        half a second, and succeeds."""
        async with flaky_scheduler(tmp_path, retry_after=0.5, retry_min=30) as store:

            async def two_runs() -> bool:
                return len(await store.fetch_runs(provider_id="flaky")) >= 2

            await wait_until(two_runs, within=5)
            runs = sorted(await store.fetch_runs(provider_id="flaky"), key=lambda r: r.started_at)
        assert [FetchOutcome.ERROR, FetchOutcome.OK] == [run.outcome for run in runs[:2]]
        assert runs[1].started_at - runs[0].started_at >= timedelta(seconds=0.5)

    async def test_not_asked_before_it_said(self, tmp_path: Path) -> None:
        """Retry-After 30 s with a 0.2 s minimum backoff: no second request a second later."""
        async with flaky_scheduler(tmp_path, retry_after=30, retry_min=0.2) as store:

            async def one_run() -> bool:
                return len(await store.fetch_runs(provider_id="flaky")) >= 1

            await wait_until(one_run, within=5)
            await asyncio.sleep(1.0)
            runs = await store.fetch_runs(provider_id="flaky")
        assert [FetchOutcome.ERROR] == [run.outcome for run in runs]


class TestNextAttempt:
    async def test_health_says_when_a_throttled_source_is_asked_next(self, tmp_path: Path) -> None:
        """After a 429 with Retry-After 30 s, the provider's health names the next attempt:
        the scheduler's plan, 30 s after the failed run (and the providers feed is told)."""
        settings = load_settings(
            None,
            config_dir=tmp_path / "config",
            energy={"provider_id": "flaky", "providers": {"flaky": {"region": "C"}}},
            refresh={"retry_min_seconds": 0.2, "retry_max_seconds": 0.4},
        )
        plugins = {"flaky_provider.py": flaky_plugin(30)}
        async with daemon_parts(settings, plugins) as parts:
            feed = parts.service.events.feed("test")
            async with running(wire(parts), "scheduler"):
                spec = parts.service.spec()

                async def planned() -> bool:
                    return (await parts.service.health(spec)).next_attempt is not None

                await wait_until(planned, within=5)
                report = await parts.service.health(spec)
            (run,) = await parts.store.fetch_runs(provider_id="flaky")
        assert report.next_attempt is not None
        assert abs(report.next_attempt - (run.started_at + timedelta(seconds=30))) < timedelta(
            seconds=1
        )
        assert report.as_json()["next_attempt"] is not None
        assert feed.take_nowait().status

    async def test_a_refresh_by_hand_replans_the_next_attempt(self, tmp_path: Path) -> None:
        """A throttled source is due again in 30 s; a refresh command that gets the prices
        meanwhile moves the next attempt to the regular refresh at once (health never names
        a retry that will not happen)."""
        settings = load_settings(
            None,
            config_dir=tmp_path / "config",
            energy={"provider_id": "flaky", "providers": {"flaky": {"region": "C"}}},
            refresh={"retry_min_seconds": 0.2, "retry_max_seconds": 0.4},
        )
        plugins = {"flaky_provider.py": flaky_plugin(30)}
        async with daemon_parts(settings, plugins) as parts, running(wire(parts), "scheduler"):
            spec = parts.service.spec()

            async def planned() -> bool:
                return (await parts.service.health(spec)).next_attempt is not None

            await wait_until(planned, within=5)
            (run,) = await parts.service.refresh()
            assert FetchOutcome.OK == run.outcome

            async def replanned() -> bool:
                when = (await parts.service.health(spec)).next_attempt
                return when is not None and when > run.started_at + timedelta(hours=1)

            await wait_until(replanned, within=5)
