"""Benchmark of energyd.domain.figures: `python bench/bench_prices.py` (a few seconds).

Two series with random prices (fixed seed): 48 h of 15-minute slots (192, the EU day-ahead
shape) and a week of 30-minute slots (336, more than the daemon ever holds for one window).
Timed per call: contiguous and scattered cheapest windows of 3 h over the whole series, the
dearest 30 minutes, period statistics over 24 h, ``series_step`` from the start, and
``window_period``. Prints microseconds per call (median and p95 over repeated batches). A
shared machine varies by 20-30 %: compare within one run. No timing is asserted.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from energyd.domain.figures import find_window, period_stats, series_step, window_period
from energyd.providers.base import EnergyPriceSlot
from tests.support.calendars import AGILE

START = datetime(2026, 11, 25, tzinfo=UTC)
BATCHES = 30
CALLS = 20


def series(count: int, minutes: int, seed: int) -> list[EnergyPriceSlot]:
    rng = random.Random(seed)
    step = timedelta(minutes=minutes)
    return [
        EnergyPriceSlot(START + i * step, START + (i + 1) * step, round(rng.uniform(-5, 45), 3))
        for i in range(count)
    ]


def micros_per_call(call: Callable[[], object]) -> list[float]:
    """One figure per batch: the mean over ``CALLS`` calls, in microseconds."""
    call()  # warm up
    figures = []
    for _ in range(BATCHES):
        began = time.perf_counter()
        for _ in range(CALLS):
            call()
        figures.append((time.perf_counter() - began) / CALLS * 1e6)
    return figures


def report(name: str, call: Callable[[], object]) -> None:
    figures = micros_per_call(call)
    p95 = statistics.quantiles(figures, n=20)[-1]
    print(f"{name:<46} median {statistics.median(figures):9.1f} us   p95 {p95:9.1f} us")


def bench(label: str, slots: list[EnergyPriceSlot]) -> None:
    first, last = slots[0].valid_from, slots[-1].valid_to
    now = first + timedelta(minutes=7)
    day = (now, now + timedelta(hours=24))
    found = find_window(slots, 180, first, last)
    if found is None or found.end - found.start != timedelta(hours=3):  # a check of the data
        raise SystemExit(f"{label}: expected a 3 h window, got {found}")
    print(f"-- {label}: {len(slots)} slots")
    report("find_window 180 min contiguous", lambda: find_window(slots, 180, first, last))
    report(
        "find_window 180 min scattered",
        lambda: find_window(slots, 180, first, last, contiguous=False),
    )
    report(
        "find_window 30 min most_expensive, not_before",
        lambda: find_window(slots, 30, first, last, mode="most_expensive", not_before=now),
    )
    report("period_stats next 24 h", lambda: period_stats(slots, *day, now))
    report("series_step from the first slot", lambda: series_step(slots, now))


def main() -> None:
    print(f"python {sys.version.split()[0]}")
    bench("48 h of 15-minute slots", series(192, 15, 1))
    bench("a week of 30-minute slots", series(7 * 48, 30, 2))
    now = START + timedelta(hours=15, minutes=47)
    report("window_period 23:00-07:00", lambda: window_period(now, AGILE, "23:00", "07:00"))


if __name__ == "__main__":
    main()
