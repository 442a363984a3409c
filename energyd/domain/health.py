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

:meth:`HealthReport.as_json` is the whole report (the ``health`` reply, the HTTP API);
:meth:`HealthReport.shared_json` is what two daemons over the same prices agree on, for the
retained ``providers`` topic: no time only this daemon knows (its last attempt and success,
its next planned fetch, when a plugin blocked its loop), so the topic does not churn.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypedDict

from energyd.domain.failover import Disagreement
from energyd.domain.records import FetchOutcome, FetchRun
from energyd.domain.time import iso_or_none, iso_utc

__all__ = [
    "Failover",
    "FailoverJson",
    "HealthReport",
    "HealthReportJson",
    "HealthState",
    "LoopBlock",
    "LoopBlockJson",
    "SharedHealthJson",
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


class DisagreementJson(TypedDict):
    """One period a fallback prices differently from the provider beyond the tolerance."""

    start: str
    end: str
    price: float
    other: float
    source: str


class FailoverJson(TypedDict):
    """A health report's ``failover``: which fallback serves now and since when (``null``:
    the provider's own prices), fallbacks that cannot be used, and disagreements (the first
    :data:`SHOWN_DISAGREEMENTS`, ``disagreement_count`` of them in all)."""

    serving: str | None
    since: str | None
    problems: list[str]
    disagreement_count: int
    disagreements: list[DisagreementJson]


#: How many disagreements a health report lists (all are counted).
SHOWN_DISAGREEMENTS = 10


@dataclass(frozen=True, slots=True)
class Failover:
    """What the failover of one provider looks like now (see :mod:`energyd.domain.failover`)."""

    serving: tuple[str, datetime] | None = None
    problems: tuple[str, ...] = ()
    disagreements: tuple[Disagreement, ...] = ()

    def as_json(self) -> FailoverJson:
        return {
            "serving": None if self.serving is None else self.serving[0],
            "since": None if self.serving is None else iso_utc(self.serving[1]),
            "problems": list(self.problems),
            "disagreement_count": len(self.disagreements),
            "disagreements": [
                {
                    "start": iso_utc(d.start),
                    "end": iso_utc(d.end),
                    "price": round(d.primary, 4),
                    "other": round(d.other, 4),
                    "source": d.source,
                }
                for d in self.disagreements[:SHOWN_DISAGREEMENTS]
            ],
        }

    def describe(self) -> list[str]:
        """What the failover adds to a health message."""
        parts = []
        if self.serving is not None:
            key, since = self.serving
            parts.append(f"prices from fallback {key} since {iso_utc(since)}")
        if self.disagreements:
            first = self.disagreements[0]
            sources = ", ".join(sorted({d.source for d in self.disagreements}))
            parts.append(
                f"{len(self.disagreements)} slot(s) disagree with {sources} beyond the "
                f"tolerance (first: {first.describe()})"
            )
        parts.extend(self.problems)
        return parts


NO_FAILOVER = Failover()


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
    failover: FailoverJson | None


class SharedHealthJson(TypedDict):
    """:meth:`HealthReport.shared_json`: one provider's health on the retained ``providers``
    topic (``message`` without this daemon's next try)."""

    state: str
    message: str
    covered_until: str | None
    derived_errors: dict[str, str]
    failover: FailoverJson | None


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
    #: Fallbacks and cross-checks (``None``: the provider has no fallback).
    failover: Failover | None = None
    #: :attr:`message` without what only this daemon knows (its next try); ``None``: the same.
    shared_message: str | None = None

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
            "failover": None if self.failover is None else self.failover.as_json(),
        }

    def shared_json(self) -> SharedHealthJson:
        """The report without this daemon's own times (see the module doc)."""
        return {
            "state": self.state.value,
            "message": self.message if self.shared_message is None else self.shared_message,
            "covered_until": iso_or_none(self.covered_until),
            "derived_errors": dict(self.derived_errors),
            "failover": None if self.failover is None else self.failover.as_json(),
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
    failover: Failover | None = None,
) -> HealthReport:
    """Combine plugin/config problems, store coverage and the last fetch into one state,
    then the run-time faults: ``blocking`` (the plugin's most recent call blocked the loop)
    and ``derived_errors`` (topic suffix -> error) degrade an ok or unknown state, and are
    named in the message of any state. ``awaited`` names what a waiting provider waits for
    ("tomorrow's prices (2026-12-03), usually out at 13:00 Europe/Berlin").

    ``failover`` (a provider with fallbacks): a price for now from a fallback makes a provider
    with none of its own ``degraded`` (not ``stale``: a price is served, but not the source's:
    a fallback never hides an outage), and so does a disagreement beyond the tolerance (the
    provider's own price is still the one served) or a fallback that cannot be used; each is
    named in the message."""
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
    state = base.state
    if failover is not None:
        served = failover.serving is not None and state in (
            HealthState.STALE,
            HealthState.ERROR,
            HealthState.UNKNOWN,
        )
        flawed = bool(failover.disagreements or failover.problems) and state in (
            HealthState.OK,
            HealthState.UNKNOWN,
            HealthState.WAITING,
        )
        if served or flawed:
            state = HealthState.DEGRADED
    if faults and state in (  # worse states stay as they are (their message names it)
        HealthState.OK,
        HealthState.UNKNOWN,
        HealthState.DEGRADED,
        HealthState.WAITING,
    ):
        state = HealthState.DEGRADED
    message = _message(base, failover, faults, next_attempt)
    shared = _message(base, failover, faults, None)
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
        failover,
        None if shared == message else shared,
    )


def _message(
    base: HealthReport, failover: Failover | None, faults: list[str], next_attempt: datetime | None
) -> str:
    """The message of :func:`assess`: the base state's, when a waiting provider is tried next,
    what its failover says, and the run-time faults."""
    message = base.message
    if base.state is HealthState.WAITING and next_attempt is not None:
        message = f"{message}; next try {iso_utc(next_attempt)}"
    if failover is not None and (
        failover.serving is not None or failover.disagreements or failover.problems
    ):
        message = "; ".join([*failover.describe(), message])
    if faults:
        kept = [] if base.state is HealthState.OK else [message]
        message = "; ".join(kept + faults)
    return message


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
