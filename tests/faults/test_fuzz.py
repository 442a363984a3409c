"""One request must never stop energyd (issue 7): a seeded corpus of invalid requests on every
command topic of a running daemon.

``python -m energyd run`` runs as a subprocess against a real mosquitto and the fake Octopus API.
Each request carries an MQTT v5 Response Topic of this run's own and Correlation Data unique to
it, so every reply is matched to its request even when the payload had no readable transaction;
at most :data:`IN_FLIGHT` requests are outstanding at a time (the daemon serves that many at
once). Every request must get, within :data:`REPLY_WITHIN` seconds, a JSON error reply with a
documented code -- the one :func:`tests.faults.fuzz_corpus.expect` predicts, never
``internal_error`` -- echoing the transaction when the request was readable; afterwards the
daemon still runs and answers ``health``, its retained state is unchanged and its memory grew
less than 30 MiB.

This module is also the engine of ``scripts/fuzz``, a longer run with its own broker and fake
API: :func:`main`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.faults.fuzz_corpus import (
    CATEGORIES,
    COMMANDS,
    DOCUMENTED_CODES,
    MISSING,
    Case,
    cases,
    expect,
)
from tests.support.broker import HOST, MosquittoBroker, collect, find_mosquitto, unique_id
from tests.support.fake_octopus import RunningFake, serve
from tests.support.process import start_energyd, write_config

SEED = 7
CI_COUNT = 1500
SCRIPT_COUNT = 5000
IN_FLIGHT = 8
"""Requests outstanding at once: the daemon serves 8 concurrently."""
REPLY_WITHIN = 10.0
"""Seconds one request may wait for its reply."""
START_WITHIN = 20.0
"""Seconds for the daemon to publish an available current price after start."""
MAX_RSS_GROWTH_KIB = 30 * 1024
SLOT_SECONDS = 30 * 60
"""Prices change at these boundaries (UTC): a run across one compares retained topics only."""
UNREAD_CODES = frozenset(
    {"payload_too_large", "invalid_encoding", "invalid_json", "invalid_payload"}
)
"""Errors found before the request could be read: the README says they carry no transaction."""
MAX_LISTED = 25
"""Failures listed in full; the rest are counted by kind."""


# -- the daemon -------------------------------------------------------------------------------


@dataclass
class Daemon:
    """``python -m energyd run`` as a subprocess, its output in ``log``."""

    process: asyncio.subprocess.Process
    log: Path

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    def rss_kib(self) -> int | None:
        """VmRSS of the process, from /proc (None once it has gone)."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _config(workdir: Path, port: int, base: str, api_url: str) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    return write_config(
        workdir / "energyd.toml",
        config_dir=workdir / "config",
        base_url=api_url,
        mqtt_port=port,
        base_topic=base,
    )


@contextlib.asynccontextmanager
async def running_daemon(
    workdir: Path, port: int, base: str, api_url: str
) -> AsyncIterator[Daemon]:
    """The daemon for the block: SIGTERM (then SIGKILL after 10 s) on the way out."""
    config = _config(workdir, port, base, api_url)
    log = workdir / "energyd.log"
    with log.open("wb") as out:  # a file, not a pipe: nobody has to drain it
        process = await start_energyd(
            config, "run", stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield Daemon(process, log)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


def _body(message: aiomqtt.Message) -> Any:
    try:
        return json.loads(bytes(message.payload))
    except ValueError:
        return None


async def wait_ready(daemon: Daemon, port: int, base: str) -> None:
    """Until the current price is retained and available and the provider's health is ok."""
    current = f"{base}/prices/octopus_agile/C/current"
    providers = f"{base}/providers"
    async with collect(port, current, providers) as client:
        try:
            await client.wait_for(
                current, lambda m: (_body(m) or {}).get("available") is True, within=START_WITHIN
            )
            await client.wait_for(providers, lambda m: _healthy(_body(m)), within=10)
        except TimeoutError:
            state = "running" if daemon.alive else f"exited {daemon.process.returncode}"
            raise RuntimeError(
                f"energyd ({state}) did not become ready:\n{daemon.log_text()[-3000:]}"
            ) from None


def _healthy(providers: Any) -> bool:
    """A price for now is known: health ``ok`` (or ``degraded``: a later fetch still due)."""
    if not isinstance(providers, dict) or not providers.get("providers"):
        return False
    states = [p.get("health", {}).get("state") for p in providers["providers"]]
    return all(state in ("ok", "degraded") for state in states)


# -- retained state ---------------------------------------------------------------------------


async def retained(port: int, base: str) -> dict[str, bytes]:
    """Every retained message under ``<base>/``, as the broker holds it now.

    A marker published after subscribing arrives after the retained messages of the
    subscription, so when it is in, they all are.
    """
    marker = f"fuzz-marker/{base}/{uuid.uuid4().hex[:8]}"
    async with collect(port, f"{base}/#", marker) as client:
        await client.publish(marker, b"end")
        await client.wait_for(marker)
        return {
            m.topic.value: bytes(m.payload)
            for m in client.messages
            if m.retain and m.topic.value.startswith(f"{base}/")
        }


async def settled_retained(port: int, base: str, *, within: float = 10.0) -> dict[str, bytes]:
    """The retained state once two looks in a row show the same topics and health ok."""
    deadline = time.monotonic() + within
    previous: dict[str, bytes] | None = None
    while True:
        state = await retained(port, base)
        healthy = _healthy(_loads(state.get(f"{base}/providers", b"")))
        if previous is not None and previous.keys() == state.keys() and healthy:
            return state
        if time.monotonic() > deadline:
            return state
        previous = state
        await asyncio.sleep(0.3)


def _loads(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return payload


def state_view(state: dict[str, bytes], base: str) -> dict[str, Any]:
    """What must not change: per price topic its price and slot (per series its slots), the
    settings, the providers and plugins with their status; of other topics, that they are
    there. No timestamps. Prices and slots are tagged ``"price"``: they move at slot ends."""
    view: dict[str, Any] = {}
    for topic, payload in state.items():
        body = _loads(payload)
        if isinstance(body, dict) and "price" in body and "valid_from" in body:
            view[topic] = ("price", body["price"], body["valid_from"])
        elif isinstance(body, dict) and isinstance(body.get("slots"), list):
            slots = [(s.get("start"), s.get("price")) for s in body["slots"] if isinstance(s, dict)]
            view[topic] = ("price", slots)
        elif topic == f"{base}/settings" and isinstance(body, dict):
            view[topic] = {k: v for k, v in body.items() if k != "updated_at"}
        elif topic == f"{base}/providers" and isinstance(body, dict):
            view[topic] = {
                "selected": body.get("selected"),
                "providers": [
                    (p.get("id"), p.get("plugin"), p.get("region"), p.get("selected"))
                    for p in body.get("providers", [])
                ],
                "plugins": [
                    (p.get("file"), p.get("status"), p.get("deployed_version"))
                    for p in body.get("plugins", [])
                ],
            }
        elif isinstance(body, bytes):
            view[topic] = body
        else:
            view[topic] = "present"
    return view


def retained_changes(
    before: dict[str, bytes], after: dict[str, bytes], base: str, *, prices: bool = True
) -> list[str]:
    """What changed in the retained state (prices only when ``prices``)."""
    old, new = state_view(before, base), state_view(after, base)
    changes = [f"retained topic gone: {topic}" for topic in sorted(old.keys() - new.keys())]
    changes += [f"retained topic new: {topic}" for topic in sorted(new.keys() - old.keys())]
    for topic in sorted(old.keys() & new.keys()):
        is_price = isinstance(old[topic], tuple) and old[topic][0] == "price"
        if old[topic] != new[topic] and (prices or not is_price):
            changes.append(f"retained {topic} changed: {old[topic]!r} -> {new[topic]!r}")
    return changes


def crosses_slot(start: float, end: float) -> bool:
    """Whether a price slot boundary lies in [start - 5 s, end] (wall-clock seconds)."""
    return int((start - 5) // SLOT_SECONDS) != int(end // SLOT_SECONDS)


# -- requests and replies ---------------------------------------------------------------------


@dataclass
class Outcome:
    """One request and what came back."""

    index: int
    case: Case
    reply: bytes | None = None
    note: str | None = None  # why there is no reply


def _properties(reply_topic: str, correlation: bytes) -> Properties:
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.ResponseTopic = reply_topic
    properties.CorrelationData = correlation
    return properties


@contextlib.asynccontextmanager
async def _client(port: int) -> AsyncIterator[aiomqtt.Client]:
    client = aiomqtt.Client(
        HOST,
        port,
        identifier=unique_id("fuzz"),
        protocol=aiomqtt.ProtocolVersion.V5,
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        timeout=REPLY_WITHIN,
    )
    async with client:
        yield client


async def send_all(
    port: int, base: str, daemon: Daemon, requests: Sequence[Case], *, in_flight: int = IN_FLIGHT
) -> tuple[list[Outcome], int]:
    """Send ``requests`` (at most ``in_flight`` outstanding); the outcomes and how many replies
    matched no outstanding request (late or duplicate)."""
    reply_topic = f"fuzz-replies/{base}/{uuid.uuid4().hex[:8]}"
    outcomes = [Outcome(index, case) for index, case in enumerate(requests)]
    waiting: dict[bytes, asyncio.Future[bytes]] = {}
    strays = 0
    loop = asyncio.get_running_loop()

    async with _client(port) as client:
        async with asyncio.timeout(REPLY_WITHIN):
            await client.subscribe(reply_topic, qos=1)

        async def pump() -> None:
            nonlocal strays
            async for message in client.messages:
                correlation = getattr(message.properties, "CorrelationData", None)
                future = waiting.pop(bytes(correlation or b""), None)
                if future is None or future.done():
                    strays += 1
                else:
                    future.set_result(bytes(message.payload))

        pending = iter(outcomes)
        died = asyncio.ensure_future(daemon.process.wait())

        async def worker() -> None:
            for outcome in pending:
                if died.done():
                    outcome.note = f"not sent: energyd had exited ({daemon.process.returncode})"
                    continue
                correlation = f"fuzz-{outcome.index}".encode()
                future: asyncio.Future[bytes] = loop.create_future()
                waiting[correlation] = future
                topic = f"{base}/request/{outcome.case.command}"
                try:
                    async with asyncio.timeout(REPLY_WITHIN):
                        await client.publish(
                            topic,
                            outcome.case.payload,
                            qos=1,
                            properties=_properties(reply_topic, correlation),
                        )
                except (aiomqtt.MqttError, TimeoutError) as exc:
                    outcome.note = f"publish failed: {exc!r}"
                    waiting.pop(correlation, None)
                    continue
                either: set[asyncio.Future[Any]] = {future, died}
                await asyncio.wait(
                    either, timeout=REPLY_WITHIN, return_when=asyncio.FIRST_COMPLETED
                )
                if future.done():
                    outcome.reply = future.result()
                    continue
                waiting.pop(correlation, None)
                future.cancel()
                if died.done():
                    outcome.note = f"no reply: energyd exited ({daemon.process.returncode})"
                else:
                    outcome.note = f"no reply within {REPLY_WITHIN:g} s"

        pumping = asyncio.create_task(pump(), name="fuzz.pump")
        try:
            async with asyncio.TaskGroup() as group:
                for number in range(in_flight):
                    group.create_task(worker(), name=f"fuzz.worker-{number}")
            await asyncio.sleep(0.2)  # a late duplicate reply would show up as a stray
        finally:
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await pumping
            if not died.done():
                died.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await died
    return outcomes, strays


async def ask(port: int, base: str, command: str, payload: bytes) -> dict[str, Any] | None:
    """One request with a Response Topic; the reply, or None without one in time."""
    reply_topic = f"fuzz-replies/{base}/{uuid.uuid4().hex[:8]}"
    correlation = uuid.uuid4().bytes
    async with collect(port, reply_topic) as client:
        await client.publish(
            f"{base}/request/{command}",
            payload,
            response_topic=reply_topic,
            correlation=correlation,
        )
        try:
            message = await client.wait_for(
                reply_topic,
                lambda m: getattr(m.properties, "CorrelationData", None) == correlation,
                within=REPLY_WITHIN,
            )
        except TimeoutError:
            return None
    reply = _body(message)
    return reply if isinstance(reply, dict) else {"unreadable": bytes(message.payload)[:200]}


def _same(left: Any, right: Any) -> bool:
    return type(left) is type(right) and left == right


def judge(outcome: Outcome, commands: Sequence[str]) -> str | None:
    """What is wrong with the reply to one request, or None."""
    if outcome.reply is None:
        return outcome.note or "no reply"
    try:
        reply = json.loads(outcome.reply)
    except ValueError:
        return f"reply is not JSON: {outcome.reply[:120]!r}"
    if not isinstance(reply, dict):
        return f"reply is not an object: {outcome.reply[:120]!r}"
    error = reply.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    if reply.get("status") != "error":
        return f"status {reply.get('status')!r}, not an error: {outcome.reply[:160]!r}"
    if code == "internal_error":
        return "internal_error"
    if code not in DOCUMENTED_CODES:
        return f"undocumented code {code!r}"
    expectation = expect(outcome.case.command, outcome.case.payload, commands)
    if code not in expectation.codes:
        return f"code {code}, expected {'/'.join(sorted(expectation.codes))}"
    echoed = reply.get("transaction", MISSING)
    if expectation.parsed and not _same(expectation.transaction, echoed):
        return f"transaction {echoed!r} echoed, the request had {expectation.transaction!r}"
    if code in UNREAD_CODES and echoed is not MISSING:
        return f"transaction {echoed!r} echoed with {code} (the request could not be read)"
    return None


def _code(outcome: Outcome) -> str:
    if outcome.reply is None:
        return "(no reply)"
    body = _loads(outcome.reply)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("code"))
    return f"(status {body.get('status')!r})" if isinstance(body, dict) else "(unreadable)"


# -- a whole run ------------------------------------------------------------------------------


@dataclass
class FuzzReport:
    """The figures of one run, and what went wrong."""

    seed: int
    outcomes: list[Outcome]
    problems: list[tuple[Outcome, str]]
    strays: int
    duration: float
    rss_before: int | None
    rss_after: int | None
    exit_code: int | None
    after: dict[str, Any] | None
    retained: list[str]
    prices_compared: bool
    tracebacks: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(1 for o in self.outcomes if o.note is None or not o.note.startswith("not sent"))

    @property
    def replies(self) -> int:
        return sum(1 for o in self.outcomes if o.reply is not None)

    def after_problem(self) -> str | None:
        if self.exit_code is not None:
            return f"energyd exited with code {self.exit_code}"
        if self.after is None:
            return 'no reply to health {"transaction": "after"}'
        if ("ok", "after") != (self.after.get("status"), self.after.get("transaction")):
            return f'health {{"transaction": "after"}} answered {self.after!r:.300}'
        return None

    def rss_problem(self) -> str | None:
        if self.rss_before is None or self.rss_after is None:
            return None  # gone: reported as not alive
        growth = self.rss_after - self.rss_before
        if growth >= MAX_RSS_GROWTH_KIB:
            return f"RSS grew {growth / 1024:.1f} MiB (limit {MAX_RSS_GROWTH_KIB // 1024} MiB)"
        return None

    def failures(self) -> list[str]:
        """Every failure, the first few requests in full, the rest counted by kind."""
        listed = []
        for outcome, problem in self.problems[:MAX_LISTED]:
            case = outcome.case
            listed.append(
                f"#{outcome.index} {case.category} {case.command[:40]!r} "
                f"{case.payload[:160]!r}{'...' if len(case.payload) > 160 else ''} "
                f"({len(case.payload)} bytes): {problem}"
                + (f" -- reply {outcome.reply[:200]!r}" if outcome.reply else "")
            )
        if len(self.problems) > MAX_LISTED:
            kinds = Counter(problem.split(":")[0] for _, problem in self.problems)
            listed.append(f"... {len(self.problems)} failed requests in all: {dict(kinds)}")
        listed += [p for p in (self.after_problem(), self.rss_problem()) if p]
        if self.strays:
            listed.append(f"{self.strays} replies matched no outstanding request")
        listed += self.retained
        listed += [f"energyd logged a traceback: {tb}" for tb in self.tracebacks[:3]]
        return listed

    def lines(self) -> list[str]:
        codes = Counter(_code(o) for o in self.outcomes if o.reply is not None)
        internal = codes.get("internal_error", 0)
        categories = Counter(o.case.category for o in self.outcomes)
        rate = self.sent / self.duration if self.duration else 0.0
        before = f"{self.rss_before / 1024:.1f}" if self.rss_before else "?"
        after = f"{self.rss_after / 1024:.1f}" if self.rss_after else "?"
        alive = "yes" if self.exit_code is None else f"no (exit code {self.exit_code})"
        return [
            f"seed {self.seed}: {len(self.outcomes)} requests, {self.sent} sent, "
            f"{self.replies} replies, {len(self.outcomes) - self.replies} unanswered, "
            f"{internal} internal errors, {len(self.problems)} failed",
            "categories: " + ", ".join(f"{c} {categories[c]}" for c in CATEGORIES),
            "replies by code: " + ", ".join(f"{k} {v}" for k, v in sorted(codes.items())),
            f"duration {self.duration:.2f} s, {rate:.0f} requests/s, {IN_FLIGHT} in flight",
            f"RSS before {before} MiB, after {after} MiB",
            f"daemon alive: {alive}; tracebacks in its log: {len(self.tracebacks)}",
            "retained state: "
            + ("unchanged" if not self.retained else f"{len(self.retained)} changes")
            + ("" if self.prices_compared else " (a price slot boundary passed: topics only)"),
        ]


def _tracebacks(log: str) -> list[str]:
    """The exception (last line of each traceback) of every error the daemon logged, and its
    last words if it died of one (printed by Python, not as a JSON log line)."""
    found = []
    lines = log.splitlines()
    for line in lines:
        record = _loads(line.encode())
        if isinstance(record, dict) and isinstance(record.get("exception"), str):
            last = record["exception"].rstrip().splitlines()[-1]
            found.append(f"{record.get('event')}: {last[:300]}")
        elif "Traceback (most recent call last)" in line:
            raised = [m[1] for text in lines if (m := _RAISED.match(text))]
            found.append(f"energyd died: {(raised or ['?'])[-1][:300]}")
            break
    return found


_RAISED = re.compile(r"^[\s|+-]*([A-Za-z_][\w.]*(?:Error|Exception|Group|Exit)\b.*)$")


async def run_fuzz(
    workdir: Path,
    port: int,
    api_url: str,
    base: str,
    *,
    seed: int = SEED,
    count: int = CI_COUNT,
    commands: Sequence[str] = COMMANDS,
    requests: Sequence[Case] | None = None,
) -> FuzzReport:
    """Start the daemon, send the corpus (or ``requests``), and look at the daemon afterwards."""
    if requests is None:
        requests = cases(seed, count, commands)
    async with running_daemon(workdir, port, base, api_url) as daemon:
        await wait_ready(daemon, port, base)
        before = await settled_retained(port, base)
        started_wall = time.time()
        rss_before = daemon.rss_kib()
        started = time.monotonic()
        outcomes, strays = await send_all(port, base, daemon, requests)
        duration = time.monotonic() - started
        after = None
        if daemon.alive:
            after = await ask(port, base, "health", b'{"transaction": "after"}')
        rss_after = daemon.rss_kib()
        now_state = await retained(port, base)
        prices = not crosses_slot(started_wall, time.time())
        exit_code = daemon.process.returncode
    problems = [(o, p) for o in outcomes if (p := judge(o, commands)) is not None]
    return FuzzReport(
        seed=seed,
        outcomes=outcomes,
        problems=problems,
        strays=strays,
        duration=duration,
        rss_before=rss_before,
        rss_after=rss_after,
        exit_code=exit_code,
        after=after,
        retained=retained_changes(before, now_state, base, prices=prices)
        + _status_after_exit(now_state, base, exit_code),
        prices_compared=prices,
        tracebacks=_tracebacks(daemon.log_text()),
    )


def _status_after_exit(state: dict[str, bytes], base: str, exit_code: int | None) -> list[str]:
    """A daemon that exited must not leave ``online`` retained."""
    if exit_code is not None and state.get(f"{base}/status") == b"online":
        return [f"energyd exited ({exit_code}) but {base}/status is still retained 'online'"]
    return []


# -- the test ---------------------------------------------------------------------------------


@pytest.mark.mqtt
@pytest.mark.timeout(120)
async def test_no_request_stops_energyd(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
) -> None:
    """Invalid requests on every topic get documented errors; energyd stays up and unchanged."""
    report = await run_fuzz(
        tmp_path / "fuzz", mosquitto.port, fake_api.url, base_topic, count=CI_COUNT
    )
    print("\n".join(report.lines()))
    failures = report.failures()
    assert [] == failures, "\n".join(failures)


class TestJudge:
    """The checks themselves, on made-up replies (no broker)."""

    @staticmethod
    def outcome(payload: bytes, reply: dict[str, Any] | None, command: str = "health") -> Outcome:
        raw = None if reply is None else json.dumps(reply).encode()
        return Outcome(0, Case("test", command, payload), raw, "no reply within 10 s")

    @staticmethod
    def error(code: str, **extra: Any) -> dict[str, Any]:
        return {"status": "error", "data": None, "error": {"code": code, "message": "m"}, **extra}

    def test_expected_error_with_echo_passes(self) -> None:
        """The predicted code with the transaction echoed is right."""
        reply = self.error("invalid_argument", transaction=1.5)
        assert judge(self.outcome(b'{"probe": 2, "transaction": 1.5}', reply), COMMANDS) is None

    def test_failures_are_named(self) -> None:
        """No reply, success, internal_error, another code and a wrong echo each fail."""
        body = b'{"probe": 2, "transaction": 1}'
        replies: list[dict[str, Any] | None] = [
            None,
            {"status": "ok", "data": {}, "error": None, "transaction": 1},
            self.error("internal_error", transaction=1),
            self.error("invalid_json", transaction=1),
            self.error("invalid_argument", transaction=True),
            self.error("invalid_argument"),
        ]
        problems = [judge(self.outcome(body, reply), COMMANDS) for reply in replies]
        assert [
            "no reply within 10 s",
            "status 'ok', not an error",
            "internal_error",
            "code invalid_json, expected invalid_argument",
            "transaction True echoed, the request had 1",
            "transaction MISSING echoed, the request had 1",
        ] == [(p or "").split(":")[0] for p in problems]

    def test_unreadable_requests_need_no_echo(self) -> None:
        """A payload energyd cannot read gets its error without a transaction check."""
        reply = self.error("invalid_encoding")
        assert judge(self.outcome(b'{"transaction": "\\ud800"}', reply), COMMANDS) is None

    def test_unreadable_requests_echo_nothing(self) -> None:
        """An error found before the request was read carries no transaction."""
        reply = self.error("invalid_json", transaction=1)
        problem = judge(self.outcome(b'{"transaction": 1, "x": NaN}', reply), COMMANDS)
        assert "transaction 1 echoed with invalid_json (the request could not be read)" == problem

    def test_retained_changes(self) -> None:
        """A changed price, a lost topic and a new one are seen; timestamps are not."""

        def price(value: float, stamp: str) -> bytes:
            body = {"price": value, "valid_from": "2026-01-01T00:00:00Z", "updated_at": stamp}
            return json.dumps(body).encode()

        before = {"b/prices/p/C/current": price(1.0, "a"), "b/status": b"online", "b/x": b"{}"}
        same = {"b/prices/p/C/current": price(1.0, "b"), "b/status": b"online", "b/x": b"{}"}
        after = {"b/prices/p/C/current": price(2.0, "a"), "b/status": b"online", "b/y": b"{}"}
        assert [] == retained_changes(before, same, "b")
        changes = retained_changes(before, after, "b")
        assert [
            "retained topic gone: b/x",
            "retained topic new: b/y",
            "retained b/prices/p/C/current changed",
        ] == [change.partition(": (")[0] for change in changes]
        assert 2 == len(retained_changes(before, after, "b", prices=False))

    def test_slot_boundaries(self) -> None:
        """A run across hh:00 or hh:30 (or starting just after one) crosses a slot."""
        assert (False, True, True) == (
            crosses_slot(1800 * 10 + 60, 1800 * 10 + 90),
            crosses_slot(1800 * 10 + 2, 1800 * 10 + 9),
            crosses_slot(1800 * 10 + 1790, 1800 * 11 + 1),
        )


# -- scripts/fuzz -----------------------------------------------------------------------------


async def _script(count: int, seed: int) -> int:
    binary = find_mosquitto()
    if binary is None:
        print("fuzz: mosquitto is not installed (apt-get install mosquitto)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="energyd-fuzz-") as tmp:
        workdir = Path(tmp)
        broker = MosquittoBroker(binary, workdir / "mosquitto")
        broker.start()
        try:
            async with serve() as api:
                report = await run_fuzz(
                    workdir / "daemon",
                    broker.port,
                    api.url,
                    unique_id("energyd-fuzz"),
                    seed=seed,
                    count=count,
                )
        finally:
            broker.stop()
    print("\n".join(report.lines()))
    failures = report.failures()
    for failure in failures:
        print(f"FAIL {failure}")
    print("fuzz: ok" if not failures else f"fuzz: {len(failures)} failures")
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    """``scripts/fuzz [--count N] [--seed S]``: exit 0 when every check passed, else 1."""
    parser = argparse.ArgumentParser(
        prog="scripts/fuzz",
        description="Send a seeded corpus of invalid requests to a real energyd and check it.",
    )
    parser.add_argument("--count", type=int, default=SCRIPT_COUNT, help="requests (5000)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"corpus seed ({SEED})")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    return asyncio.run(_script(args.count, args.seed))


if __name__ == "__main__":
    sys.exit(main())
