"""The step timer: each step of an awaitable timed, everything else passed through."""

from __future__ import annotations

import asyncio
import time

import pytest

from energyd.core.steptimer import TimedSteps


async def blocks_between_awaits(seconds: float) -> str:
    """A plugin-like coroutine: awaits, blocks the loop with time.sleep, awaits again."""
    await asyncio.sleep(0)
    time.sleep(seconds)  # noqa: ASYNC251 - the block under test
    await asyncio.sleep(0)
    return "done"


class TestSteps:
    async def test_a_blocking_step_is_measured(self) -> None:
        """time.sleep(0.6) between two awaits is one step of at least 0.6 s; the rest is short."""
        steps: list[float] = []
        result = await TimedSteps(blocks_between_awaits(0.6), steps.append)
        assert "done" == result
        assert 3 == len(steps)
        assert [False, True, False] == [step >= 0.6 for step in steps]

    async def test_each_step_is_reported_when_it_ends(self) -> None:
        """The report of a step comes before the awaitable goes on (not only at the end)."""
        steps: list[float] = []
        seen: list[int] = []

        async def inner() -> None:
            await asyncio.sleep(0)
            seen.append(len(steps))
            await asyncio.sleep(0)
            seen.append(len(steps))

        await TimedSteps(inner(), steps.append)
        assert [1, 2] == seen

    async def test_an_exception_is_timed_and_passes_through(self) -> None:
        """The step that raises is reported, and the exception reaches the caller as it is."""
        steps: list[float] = []

        async def fails() -> None:
            await asyncio.sleep(0)
            raise LookupError("plugin bug")

        with pytest.raises(LookupError, match="plugin bug"):
            await TimedSteps(fails(), steps.append)
        assert 2 == len(steps)

    async def test_a_plain_value_is_refused_like_await(self) -> None:
        """A non-awaitable (a plugin's non-async method) fails as `await` would."""
        with pytest.raises(TypeError, match="can't be used in 'await' expression"):
            await TimedSteps([1, 2], lambda _: None)  # type: ignore[arg-type]

    async def test_a_fake_clock_measures_steps(self) -> None:
        """With an injected clock the step lengths are exact (pure)."""
        now = [0.0]

        async def inner() -> None:
            now[0] += 5.0
            await asyncio.sleep(0)
            now[0] += 0.1

        steps: list[float] = []
        await TimedSteps(inner(), steps.append, clock=lambda: now[0])
        assert [5.0, pytest.approx(0.1)] == steps


class TestCancellation:
    async def test_cancel_reaches_the_inner_coroutine(self) -> None:
        """task.cancel() is thrown into the wrapped coroutine: its cleanup runs, the task ends
        cancelled."""
        cleaned: list[str] = []
        started = asyncio.Event()

        async def waits() -> None:
            try:
                started.set()
                await asyncio.sleep(30)
            finally:
                cleaned.append("finally")

        async def outer() -> None:
            await TimedSteps(waits(), lambda _: None)

        task = asyncio.create_task(outer())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert ["finally"] == cleaned

    async def test_timeout_passes_through_after_a_block(self) -> None:
        """asyncio.timeout still fires: a 0.6 s block overruns a 0.1 s timeout, and the next
        await is where the TimeoutError lands; the block is reported."""
        steps: list[float] = []

        async def blocks_then_hangs() -> None:
            await asyncio.sleep(0)
            time.sleep(0.6)  # noqa: ASYNC251 - the block under test
            await asyncio.sleep(30)

        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await TimedSteps(blocks_then_hangs(), steps.append)
        assert time.monotonic() - started < 5
        assert max(steps) >= 0.6

    async def test_a_caught_cancellation_returns_normally(self) -> None:
        """An awaitable that handles the cancellation and returns: its value comes back."""
        started = asyncio.Event()

        async def shrugs() -> str:
            try:
                started.set()
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                return "stopped"
            return "slept"

        async def outer() -> str:
            return await TimedSteps(shrugs(), lambda _: None)

        task = asyncio.create_task(outer())
        await started.wait()
        task.cancel()
        assert "stopped" == await task
