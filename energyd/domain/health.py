"""Provider health from what the daemon knows: pure, so every state is tested without I/O.

- ``error``: the plugin did not load, its config is invalid, or nothing was ever fetched and
  the last attempt failed.
- ``stale``: no known price for now (known prices ran out) — automations must not trust it.
- ``degraded``: a price for now is known, but the last fetch failed.
- ``waiting``: a price for now is known and the last fetch worked (or the source said "not
  published yet"), but prices the market usually has by now (tomorrow after 13:00 CET, say)
  are not there yet, or only provisional ones (``final_until``: where the final ones end);
  ``next_attempt`` says when energyd asks again. Not a fault: nothing is wrong with energyd
  or the source.
- ``ok``: the last fetch worked and the store covers what the market has published.

Run-time faults (:mod:`energyd.core.faults`) make an ``ok`` (or ``unknown``) provider
``degraded``, and add to the message of a degraded one: while the plugin's most recent call
of some kind blocked the event loop (``... blocked the event loop for 5.0 s in
fetch_prices``), and while derived topics of the provider cannot be built. ``loop_block``
(the most recent block, kept after it ended) and ``derived_errors`` are reported whatever
the state.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypedDict

from energyd.domain.records import FetchOutcome, FetchRun
from energyd.domain.time import iso_or_none, iso_utc

__all__ = [
    "HealthReport",
    "HealthReportJson",
    "HealthState",
    "LoopBlock",
    "LoopBlockJson",
    "assess",
]


class HealthState(enum.StrEnum):
    """A provider's health (the contract's ``HealthState``: plugins import it from
    ``providers.energy.base``)."""

    OK = "ok"
    DEGRADED = "degraded"
    WAITING = "waiting"
    STALE = "stale"
    ERROR = "error"
    UNKNOWN = "unknown"


class LoopBlockJson(TypedDict):
    """:meth:`LoopBlock.as_json` (a health report's ``loop_block``)."""

    seconds: float
    call: str
    at: str


class HealthReportJson(TypedDict):
    """:meth:`HealthReport.as_json`: one provider's health in the ``health`` reply, the
    overview and the retained ``providers`` topic."""

    state: str
    message: str
    last_success: str | None
    last_attempt: str | None
    last_error: str | None
    covered_until: str | None
    loop_block: LoopBlockJson | None
    derived_errors: dict[str, str]
    next_attempt: str | None


@dataclass(frozen=True, slots=True)
class LoopBlock:
    """One step of a plugin call that held the event loop for ``seconds`` (ended ``at``)."""

    seconds: float
    call: str
    at: datetime

    def as_json(self) -> LoopBlockJson:
        return {"seconds": round(self.seconds, 3), "call": self.call, "at": iso_utc(self.at)}

    def describe(self) -> str:
        """``blocked the event loop for 5.0 s in fetch_prices``."""
        return f"blocked the event loop for {self.seconds:.1f} s in {self.call}"


@dataclass(frozen=True, slots=True)
class HealthReport:
    state: HealthState
    message: str
    last_success: datetime | None = None
    last_attempt: datetime | None = None
    last_error: str | None = None
    covered_until: datetime | None = None
    loop_block: LoopBlock | None = None
    derived_errors: Mapping[str, str] = field(default_factory=dict)
    #: When the scheduler will fetch next (a retry while failing or waiting for the market,
    #: else the regular refresh); ``None`` when no scheduler runs (the command line).
    next_attempt: datetime | None = None

    def as_json(self) -> HealthReportJson:
        return {
            "state": self.state.value,
            "message": self.message,
            "last_success": iso_or_none(self.last_success),
            "last_attempt": iso_or_none(self.last_attempt),
            "last_error": self.last_error,
            "covered_until": iso_or_none(self.covered_until),
            "loop_block": None if self.loop_block is None else self.loop_block.as_json(),
            "derived_errors": dict(self.derived_errors),
            "next_attempt": iso_or_none(self.next_attempt),
        }


def assess(
    *,
    problem: str | None,
    has_current: bool,
    covered_until: datetime | None,
    expected_until: datetime,
    last_run: FetchRun | None,
    last_success: datetime | None,
    loop_block: LoopBlock | None = None,
    blocking: LoopBlock | None = None,
    derived_errors: Mapping[str, str] | None = None,
    next_attempt: datetime | None = None,
    awaited: str | None = None,
    final_until: datetime | None = None,
) -> HealthReport:
    """Combine plugin/config problems, store coverage and the last fetch into one state,
    then the run-time faults: ``blocking`` (the plugin's most recent call blocked the loop)
    and ``derived_errors`` (topic suffix -> error) degrade an ok or unknown state, and are
    named in the message of any state. ``awaited`` names what a waiting provider waits for
    ("tomorrow's prices (2026-12-03), usually out at 13:00 Europe/Berlin")."""
    base = _assess(
        problem=problem,
        has_current=has_current,
        covered_until=covered_until,
        expected_until=expected_until,
        last_run=last_run,
        last_success=last_success,
        awaited=awaited,
        final_until=final_until,
    )
    errors = dict(derived_errors or {})
    faults = []
    if blocking is not None:
        faults.append(f"plugin {blocking.describe()}")
    if errors:
        faults.append(f"derived topics not published: {', '.join(sorted(errors))}")
    state, message = base.state, base.message
    if state is HealthState.WAITING and next_attempt is not None:
        message = f"{message}; next try {iso_utc(next_attempt)}"
    if faults:  # worse states stay as they are, but their message names the fault too
        if state in (
            HealthState.OK,
            HealthState.UNKNOWN,
            HealthState.DEGRADED,
            HealthState.WAITING,
        ):
            state = HealthState.DEGRADED
        kept = [] if base.state is HealthState.OK else [message]
        message = "; ".join(kept + faults)
    return HealthReport(
        state,
        message,
        base.last_success,
        base.last_attempt,
        base.last_error,
        base.covered_until,
        loop_block,
        errors,
        next_attempt,
    )


def _assess(
    *,
    problem: str | None,
    has_current: bool,
    covered_until: datetime | None,
    expected_until: datetime,
    last_run: FetchRun | None,
    last_success: datetime | None,
    awaited: str | None = None,
    final_until: datetime | None = None,
) -> HealthReport:
    last_error = None
    if last_run is not None and last_run.outcome is FetchOutcome.ERROR:
        last_error = last_run.error
    not_yet = last_run is not None and last_run.outcome is FetchOutcome.WAITING
    last_attempt = last_run.started_at if last_run is not None else None

    def report(state: HealthState, message: str) -> HealthReport:
        return HealthReport(state, message, last_success, last_attempt, last_error, covered_until)

    if problem is not None:
        return report(HealthState.ERROR, problem)
    if not has_current:
        if last_run is None:
            return report(HealthState.UNKNOWN, "no fetch yet")
        if last_success is None:
            if not_yet:
                assert last_run is not None
                return report(
                    HealthState.ERROR, f"no prices fetched yet: not published ({last_run.error})"
                )
            return report(HealthState.ERROR, f"no prices fetched yet: {last_error}")
        return report(HealthState.STALE, "no known price for the current period")
    if last_error is not None:
        return report(HealthState.DEGRADED, f"last fetch failed: {last_error}")
    if covered_until is None or covered_until < expected_until:
        return report(
            HealthState.WAITING,
            f"waiting for {awaited or 'prices up to ' + iso_utc(expected_until)}: "
            "not published yet",
        )
    if final_until is not None and final_until < expected_until:
        return report(
            HealthState.WAITING,
            f"waiting for the final prices from {iso_utc(final_until)}: the ones known "
            "are provisional",
        )
    return report(HealthState.OK, "prices current")
