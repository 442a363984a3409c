"""The run-time fault registry: plugin calls timed, loop lag judged, topic errors kept."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
import structlog

from energyd.core.faults import RuntimeFaults
from energyd.domain.health import LoopBlock


class FakeClock:
    """A monotonic clock the test moves by hand (a "block" is a jump of it)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def faults(clock: FakeClock) -> RuntimeFaults:
    return RuntimeFaults(clock=clock)


def plugin_call(clock: FakeClock, block: float) -> Callable[[str], Awaitable[list[str]]]:
    """An async plugin method whose middle step holds the loop for ``block`` (fake) seconds."""

    async def fetch_prices(region: str) -> list[str]:
        await asyncio.sleep(0)
        clock.now += block
        await asyncio.sleep(0)
        return [region]

    return fetch_prices


class TestPluginCalls:
    async def test_a_blocking_step_is_recorded_and_logged(
        self, faults: RuntimeFaults, clock: FakeClock
    ) -> None:
        """A 5 s step is the provider's loop block, logged as loop.blocked with its fields."""
        with structlog.testing.capture_logs() as logs:
            result = await faults.run("slow", "fetch_prices", plugin_call(clock, 5.25), "C")
        assert ["C"] == result
        block = faults.last_block("slow")
        assert block is not None
        assert (5.25, "fetch_prices") == (block.seconds, block.call)
        assert block == faults.blocking("slow")
        assert [("loop.blocked", "slow", "fetch_prices", 5.25)] == [
            (e["event"], e["provider"], e["call"], e["seconds"])
            for e in logs
            if e["event"] == "loop.blocked"
        ]

    async def test_a_short_step_is_no_block(self, faults: RuntimeFaults, clock: FakeClock) -> None:
        """Steps under the threshold leave nothing behind."""
        await faults.run("quick", "fetch_prices", plugin_call(clock, 0.4), "C")
        assert (None, None) == (faults.last_block("quick"), faults.blocking("quick"))

    async def test_a_later_call_that_does_not_block_ends_blocking(
        self, faults: RuntimeFaults, clock: FakeClock
    ) -> None:
        """Blocking ends with the next call of that kind; the loop_block record stays."""
        await faults.run("slow", "fetch_prices", plugin_call(clock, 2.0), "C")
        faults.run_sync("slow", "validate_config", dict)
        assert faults.blocking("slow") is not None  # another kind of call does not end it
        await faults.run("slow", "fetch_prices", plugin_call(clock, 0.0), "C")
        assert None is faults.blocking("slow")
        last = faults.last_block("slow")
        assert last is not None
        assert 2.0 == last.seconds

    def test_a_slow_synchronous_call_is_a_block(
        self, faults: RuntimeFaults, clock: FakeClock
    ) -> None:
        """run_sync times the call as one step (validate_config parsing for seconds)."""

        def validate_config(config: dict[str, str]) -> dict[str, str]:
            clock.now += 1.5
            return {}

        assert {} == faults.run_sync("slow", "validate_config", validate_config, {})
        block = faults.blocking("slow")
        assert block is not None
        assert ("validate_config", 1.5) == (block.call, block.seconds)

    async def test_the_call_itself_is_a_step(self, faults: RuntimeFaults, clock: FakeClock) -> None:
        """A plugin method that blocks before returning its coroutine is caught too."""

        async def later() -> int:
            return 1

        def fetch_prices() -> Awaitable[int]:
            clock.now += 3.0
            return later()

        assert 1 == await faults.run("slow", "fetch_prices", fetch_prices)
        assert faults.blocking("slow") is not None

    async def test_real_time_sleep_in_a_plugin_call(self) -> None:
        """With the real clock: time.sleep(0.6) inside an awaited call is a 0.6 s block."""
        faults = RuntimeFaults()

        async def health_check() -> str:
            await asyncio.sleep(0)
            time.sleep(0.6)  # noqa: ASYNC251 - the block under test
            return "fine"

        assert "fine" == await faults.run("slow", "health_check", health_check)
        block = faults.last_block("slow")
        assert block is not None
        assert ("health_check", True) == (block.call, block.seconds >= 0.6)
        assert timedelta(0) <= datetime.now(UTC) - block.at < timedelta(seconds=5)

    async def test_timeout_and_errors_pass_through(
        self, faults: RuntimeFaults, clock: FakeClock
    ) -> None:
        """asyncio.timeout fires through run(); a plugin's exception reaches the caller."""

        async def hangs() -> None:
            await asyncio.sleep(30)

        async def fails() -> None:
            raise ValueError("garbage")

        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await faults.run("slow", "fetch_prices", hangs)
        with pytest.raises(ValueError, match="garbage"):
            await faults.run("slow", "fetch_prices", fails)


class TestLoopTicks:
    async def test_lag_explained_by_a_plugin_is_not_logged_again(
        self, faults: RuntimeFaults, clock: FakeClock
    ) -> None:
        """A lag over a timed plugin block blames that provider; one log line per block."""
        since = clock.now
        await faults.run("slow", "fetch_prices", plugin_call(clock, 5.0), "C")
        with structlog.testing.capture_logs() as logs:
            faults.loop_tick(4.9, since)
        assert [] == logs
        assert {"lag_seconds": 4.9, "max_lag_seconds": 4.9, "blocked_by": "slow"} == (
            faults.event_loop_json()
        )

    def test_lag_nobody_explains_is_blamed_on_unknown(
        self, faults: RuntimeFaults, clock: FakeClock
    ) -> None:
        """A lag with no timed block in it is logged with provider and call "unknown"."""
        with structlog.testing.capture_logs() as logs:
            faults.loop_tick(0.8, clock.now)
            faults.loop_tick(0.01, clock.now)
        assert [("loop.blocked", "unknown", "unknown", 0.8)] == [
            (e["event"], e["provider"], e["call"], e["seconds"]) for e in logs
        ]
        assert {"lag_seconds": 0.01, "max_lag_seconds": 0.8, "blocked_by": None} == (
            faults.event_loop_json()
        )

    def test_before_the_first_tick(self, faults: RuntimeFaults) -> None:
        """Without a monitor running the figures are null."""
        assert {"lag_seconds": None, "max_lag_seconds": None, "blocked_by": None} == (
            faults.event_loop_json()
        )


class TestDerivedErrors:
    def test_changes_are_returned_once(self, faults: RuntimeFaults) -> None:
        """Only a new or changed error is returned (the publisher logs those)."""
        first = faults.set_derived_errors("p", {"emhass": "ValueError: a"})
        again = faults.set_derived_errors("p", {"emhass": "ValueError: a"})
        changed = faults.set_derived_errors("p", {"emhass": "ValueError: b", "level": "X: y"})
        assert (["emhass"], [], ["emhass", "level"]) == (first, again, changed)
        assert {"emhass": "ValueError: b", "level": "X: y"} == faults.derived_errors("p")
        faults.set_derived_errors("p", {})
        assert {} == faults.derived_errors("p")

    async def test_a_change_wakes_the_follower(self, faults: RuntimeFaults) -> None:
        """wait_changed returns after a change and waits again after that."""
        faults.set_derived_errors("p", {"emhass": "ValueError: a"})
        await asyncio.wait_for(faults.wait_changed(), 1)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(faults.wait_changed(), 0.05)


class TestShapes:
    def test_loop_block_json(self) -> None:
        """{"seconds", "call", "at"} with an ISO UTC Z time; describe() as health says it."""
        block = LoopBlock(5.0123, "fetch_prices", datetime(2026, 11, 25, 16, 0, 5, tzinfo=UTC))
        expected = {"seconds": 5.012, "call": "fetch_prices", "at": "2026-11-25T16:00:05Z"}
        assert expected == block.as_json()
        assert "blocked the event loop for 5.0 s in fetch_prices" == block.describe()
