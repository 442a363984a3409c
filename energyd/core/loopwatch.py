"""The event-loop lag monitor: a task that sleeps a short tick and measures how late it wakes.

Nothing on an event loop can run while a callback holds it, so the lateness (overshoot) of a
tick is how long the loop was held. Each tick reports its lag to
:meth:`energyd.core.faults.RuntimeFaults.loop_tick`, which keeps the last and largest lag, names
the plugin when a timed plugin step explains the lag, and logs ``loop.blocked`` with
provider ``"unknown"`` when none does (energyd itself, or a task a plugin spawned).
"""

from __future__ import annotations

import asyncio
import time

from energyd.core.faults import RuntimeFaults

__all__ = ["TICK_SECONDS", "LoopWatch", "overshoot"]

#: Tick of the monitor: fine enough to see a 0.5 s block, cheap enough to never matter.
TICK_SECONDS = 0.25


def overshoot(started: float, woke: float, tick: float) -> float:
    """How much later than ``started + tick`` the tick ``woke`` (never negative)."""
    return max(0.0, woke - started - tick)


class LoopWatch:
    def __init__(self, faults: RuntimeFaults, *, tick: float = TICK_SECONDS) -> None:
        self._faults = faults
        self._tick = tick

    async def run(self) -> None:
        """Tick forever (task ``energyd.core.loopwatch``)."""
        while True:
            started = time.monotonic()
            await asyncio.sleep(self._tick)
            self._faults.loop_tick(overshoot(started, time.monotonic(), self._tick), started)
