"""The loop-lag monitor on a real event loop, held by a real time.sleep."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import structlog

from energyd.core.faults import RuntimeFaults
from energyd.core.loopwatch import LoopWatch, overshoot


@contextlib.asynccontextmanager
async def watching(faults: RuntimeFaults) -> AsyncIterator[None]:
    task = asyncio.create_task(LoopWatch(faults, tick=0.05).run(), name="energyd.loopwatch")
    try:
        await asyncio.sleep(0.12)  # a tick or two on a free loop
        yield
        await asyncio.sleep(0.12)  # the tick that wakes late after the block
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class TestOvershoot:
    def test_late_and_early(self) -> None:
        """Lag is how much later than started + tick the tick woke, never negative."""
        assert (0.5, 0.0) == (overshoot(10.0, 10.75, 0.25), overshoot(10.0, 10.2, 0.25))


class TestMonitor:
    async def test_an_unexplained_block_is_measured_and_logged(self) -> None:
        """The loop held by code outside any plugin call: lag seen, blamed on "unknown"."""
        faults = RuntimeFaults()
        with structlog.testing.capture_logs() as logs:
            async with watching(faults):
                time.sleep(0.6)  # noqa: ASYNC251 - the block under test
        figures = faults.event_loop_json()
        assert figures["max_lag_seconds"] >= 0.5
        assert figures["lag_seconds"] < 0.5  # the ticks after the block are on time again
        assert None is figures["blocked_by"]
        (blocked,) = [e for e in logs if e["event"] == "loop.blocked"]
        assert ("unknown", "unknown", True) == (
            blocked["provider"],
            blocked["call"],
            blocked["seconds"] >= 0.5,
        )

    async def test_a_plugin_block_is_blamed_on_the_plugin(self) -> None:
        """The same block inside a timed plugin call names the provider, logged only once."""
        faults = RuntimeFaults()

        async def fetch_prices() -> None:
            await asyncio.sleep(0)
            time.sleep(0.6)  # noqa: ASYNC251 - the block under test

        with structlog.testing.capture_logs() as logs:
            async with watching(faults):
                await faults.run("slow", "fetch_prices", fetch_prices)
        assert "slow" == faults.event_loop_json()["blocked_by"]
        assert [("slow", "fetch_prices")] == [
            (e["provider"], e["call"]) for e in logs if e["event"] == "loop.blocked"
        ]
