"""What every benchmark reports: a figure, the baseline measured in the same run, the ratio.

This machine is shared and noisy, so no figure is trusted alone: each is set against a
baseline that does the bare minimum of the same job (a bare ``loop.call_at`` publisher, a bare
aiomqtt echo responder, raw ``sqlite3``), measured in the same run with the rounds
interleaved, and the goal is a ratio. ``python -m bench`` runs them all and prints one table.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Figure", "format_table", "percentile"]


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure against its baseline.

    ``limit`` is the goal as a ratio (``value / baseline``): at most ``limit`` when
    ``higher_is_better`` is false (times, CPU, calls), at least ``limit`` when it is true
    (throughput). A figure without a baseline (``baseline=None``) has its goal on ``value``
    itself: ``limit`` then bounds the value.
    """

    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    limit: float | None = None
    higher_is_better: bool = False
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    @property
    def ok(self) -> bool | None:
        """Whether the goal holds (``None``: no goal)."""
        if self.limit is None:
            return None
        measured = self.ratio if self.baseline is not None else self.value
        if measured is None:
            return None
        return measured >= self.limit if self.higher_is_better else measured <= self.limit

    @property
    def goal(self) -> str:
        if self.limit is None:
            return ""
        sign = ">=" if self.higher_is_better else "<="
        suffix = "x" if self.baseline is not None else f" {self.unit}"
        return f"{sign} {self.limit:g}{suffix}"


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` (0..1) percentile, nearest rank (p99 of 200 values: the 198th)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def _number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def format_table(figures: Sequence[Figure]) -> str:
    """A plain-text table: figure, value, baseline, ratio, goal, verdict."""
    header = ("figure", "energyd", "baseline", "ratio", "goal", "")
    rows = [header]
    for figure in figures:
        value = f"{_number(figure.value)} {figure.unit}"
        if figure.baseline is None:
            baseline = "-"
        else:
            baseline = f"{_number(figure.baseline)} {figure.unit} ({figure.baseline_name})"
        ratio = "-" if figure.ratio is None else f"{figure.ratio:.2f}x"
        verdict = {None: "", True: "ok", False: "MISSED"}[figure.ok]
        if figure.note:
            verdict = f"{verdict} {figure.note}".strip()
        rows.append((figure.name, value, baseline, ratio, figure.goal, verdict))
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)
