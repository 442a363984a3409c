"""Slot boundaries on loopback: how late ``current`` is, and what 100 feeds cost per boundary.

Run: ``.venv/bin/python -m bench.bench_boundary [--quick] [--boundaries 30]`` (about 75 s;
``--quick`` about 20 s). Loopback only, bounded: its own mosquitto on a free port, temp
folders, a child process for the subscriber; nothing left running.

What runs, in this process: the daemon's boundary path as the daemon wires it
(:func:`energyd.app.build` and :func:`energyd.app.wire`: the MQTT client, the scheduler's
boundary loop and the state publisher; no fetch loop, no HTTP, no fetching), over a SQLite
store pre-filled with three days of 15-minute prices around a stretch of **1-second slots**,
so a boundary passes every second (stored slots: a plugin's own must be whole minutes, which
would give one boundary a minute; what a boundary does does not depend on the slot length).
Start-up ends as ``energyd run``'s does (``gc.collect()``, ``gc.freeze()``). Beside it, the
**baseline**: a bare publisher (one aiomqtt client, ``loop.call_at`` at the boundary, then
``await publish(...)`` of each message in turn, QoS 1 retained like energyd) of payloads the
size of energyd's ``current``, half a second after each of energyd's boundaries: boundaries
alternate energyd, bare, energyd, ... (rounds interleaved, never overlapping). A bare MQTT v5
subscriber in a **child process** (a blocking socket, QoS 0 so the broker sends without
waiting for acknowledgements; its CPU is not counted) stamps each chunk it reads with the wall
clock.

Figures (per scenario: one feed, then 100 feeds of one plugin):

- lateness of ``current`` after the boundary (arrival minus the slot edge), p50 / p99, against
  the bare publisher's one message; goal p99 <= 3x and <= 10 ms;
- 100 feeds: until all 100 ``current`` are out (the last one's arrival), p50 / p99, against
  the bare publisher's 100 messages; goal p99 <= 50 ms;
- 100 feeds: CPU of this process per boundary (``time.process_time`` over the half second
  from 0.1 s before each boundary: each side's work and its idle rest), bytes and messages
  received per boundary; goal CPU <= 3x.

p99 of 30 boundaries is the worst of them. Nothing is asserted; on a shared machine the
figures vary by 20-30 %: compare within a run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import math
import socket
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt

from bench.common import Figure, format_table, percentile
from energyd.app import build, wire
from energyd.config import Settings, load_settings
from energyd.domain.records import FetchOutcome, FetchRun
from energyd.log import configure_logging
from energyd.mqtt.payloads import dumps, price_payload
from energyd.providers.base import EnergyPriceSlot
from tests.support.broker import MosquittoBroker, find_mosquitto
from tests.support.market_plugins import market_plugin
from tests.support.plugin_files import write_plugin
from tests.support.rig import running

__all__ = ["figures", "main"]

HOST = "127.0.0.1"
#: Slot length of the stretch boundaries are measured in (seconds): energyd's boundaries are
#: on whole seconds, the bare publisher's half a second later.
SLOT_SECONDS = 1
#: The bare publisher's boundaries are this long after energyd's (seconds).
OFFSET = SLOT_SECONDS / 2
#: Each side's CPU is counted over the half second around its boundary, from this before it;
#: its messages are the ones arriving in that half second.
CPU_LEAD = 0.1
PLUGIN = "benchmark"
LIMIT_LATENESS = 3.0
LIMIT_LATENESS_MS = 10.0
LIMIT_ALL_OUT_MS = 50.0
LIMIT_CPU = 3.0
#: Boundaries of each side per scenario (a second apiece), and in a quick run.
BOUNDARIES = 30
QUICK = 6


@dataclass(frozen=True, slots=True)
class Arrival:
    at: float
    topic: str
    size: int


@dataclass(slots=True)
class Scenario:
    """One run: ``feeds`` providers, ``boundaries`` of each side."""

    feeds: int
    boundaries: int
    energyd: list[float] = field(default_factory=list)  # boundary moments (epoch seconds)
    bare: list[float] = field(default_factory=list)
    cpu: dict[float, float] = field(default_factory=dict)  # boundary -> CPU seconds
    arrivals: list[Arrival] = field(default_factory=list)


# -- the subscriber (a child process) ----------------------------------------------------------


def _string(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def _packet(kind: int, body: bytes) -> bytes:
    length, size = b"", len(body)
    while True:  # MQTT's variable-length remaining length
        size, digit = divmod(size, 128)
        length += bytes([digit | (0x80 if size else 0)])
        if not size:
            return bytes([kind]) + length + body


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _subscribe(port: int, topics: Sequence[str]) -> None:
    """A bare MQTT v5 subscriber on a blocking socket (QoS 0, so the broker sends without
    waiting for acknowledgements): each chunk read is stamped with the wall clock as it
    arrives and its PUBLISH packets recorded (stamp, topic, payload size) until stdin closes;
    then they are printed as JSON. A few microseconds a message, so the stamps are the
    arrival, not this process's backlog (an aiomqtt subscriber lags a burst by tens of ms)."""
    sock = socket.create_connection((HOST, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client_id = f"bench-sub-{port}-{time.time_ns()}"
    # CONNECT: "MQTT", level 5, clean start, no keep-alive, no properties
    sock.sendall(_packet(0x10, _string("MQTT") + b"\x05\x02\x00\x00\x00" + _string(client_id)))
    filters = b"".join(_string(topic) + b"\x00" for topic in topics)  # QoS 0 each
    sock.sendall(_packet(0x82, b"\x00\x01\x00" + filters))  # SUBSCRIBE, id 1, no properties
    seen: list[tuple[float, str, int]] = []
    buffer = b""
    subscribed = False
    stop = threading.Event()

    def until_stdin_closes() -> None:
        sys.stdin.read()
        stop.set()
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    threading.Thread(target=until_stdin_closes, daemon=True).start()
    while not stop.is_set():
        chunk = sock.recv(1 << 20)
        stamp = time.time()
        if not chunk:
            break
        buffer += chunk
        at = 0
        while at + 2 <= len(buffer):
            try:
                size, body = _varint(buffer, at + 1)
            except IndexError:
                break
            if body + size > len(buffer):
                break
            kind, flags = buffer[at] >> 4, buffer[at] & 0x0F
            if kind == 9 and not subscribed:  # SUBACK
                subscribed = True
                print("ready", flush=True)
            elif kind == 3 and not flags & 0x01:  # PUBLISH, not a retained one on subscribe
                length = int.from_bytes(buffer[body : body + 2], "big")
                topic = buffer[body + 2 : body + 2 + length].decode()
                props, payload = _varint(buffer, body + 2 + length)
                seen.append((stamp, topic, body + size - payload - props))
            at = body + size
        buffer = buffer[at:]
    sock.close()
    print(json.dumps(seen), flush=True)


@contextlib.asynccontextmanager
async def subscriber(port: int, topics: Sequence[str], into: Scenario) -> AsyncIterator[None]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.bench_boundary",
        "--subscribe",
        str(port),
        *topics,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        async with asyncio.timeout(15):
            ready = await child.stdout.readline()
        if ready.strip() != b"ready":
            raise RuntimeError(f"the subscriber did not start: {ready!r}")
        yield
        child.stdin.close()
        async with asyncio.timeout(30):
            out, _ = await child.communicate()
        into.arrivals = [Arrival(*row) for row in json.loads(out)]
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()


# -- energyd's side ------------------------------------------------------------------------------


def settings_for(folder: Path, port: int, feeds: int) -> Settings:
    providers = {f"p{i:03d}": {"plugin": PLUGIN, "region": "DE"} for i in range(feeds)}
    return load_settings(
        None,
        config_dir=folder / "config",
        energy={"provider_id": "p000", "providers": providers},
        mqtt={
            "host": HOST,
            "port": port,
            "base_topic": "energyd",
            "client_id": "bench-energyd",
        },
        homeassistant={"discovery": False},
    )


def stored_slots(start: datetime, stretch: timedelta) -> list[EnergyPriceSlot]:
    """Quarter hours from the start of the UTC day before ``start`` to the end of the next
    day, but 1-second slots over ``[start, start + stretch)`` (``start`` on a whole second),
    each bridged to the quarter hours by one slot of the odd length left: a market's data,
    with a stretch where a boundary passes every second. Prices vary as a market's do."""
    quarter, short = timedelta(minutes=15), timedelta(seconds=SLOT_SECONDS)
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + stretch
    edges = [day - timedelta(days=1)]
    while edges[-1] < day + timedelta(days=2):
        moment = edges[-1]
        if moment + quarter <= start or moment >= end:
            step = quarter - (moment - day) % quarter  # back onto the quarter hours
        else:
            step = short if moment >= start else start - moment
        edges.append(moment + step)
    return [
        EnergyPriceSlot(a, b, round(8.0 + 6.0 * math.sin(a.timestamp() / 5400.0), 4), "EUR")
        for a, b in itertools.pairwise(edges)
    ]


@contextlib.asynccontextmanager
async def energyd(folder: Path, port: int, feeds: int, stretch: timedelta) -> AsyncIterator[None]:
    """The daemon's boundary path over ``feeds`` providers with stored 1-second slots."""
    settings = settings_for(folder, port, feeds)
    bundled = folder / "bundled"
    write_plugin(bundled, f"{PLUGIN}_provider.py", market_plugin(PLUGIN))
    async with build(settings, bundled_dir=bundled) as parts:
        start = datetime.fromtimestamp(math.ceil(time.time() / SLOT_SECONDS) * SLOT_SECONDS, UTC)
        slots = stored_slots(start, stretch)
        for runtime in parts.service.runtimes():
            run = FetchRun(runtime.key, "DE", datetime.now(UTC), FetchOutcome.OK, len(slots))
            await parts.store.save_fetch(runtime.key, "DE", slots, run, source=runtime.identity)
        wiring = wire(parts)
        async with running(wiring, "mqtt", "boundary", "publisher"):
            await asyncio.wait_for(wiring.mqtt.wait_ready(), 10)
            await asyncio.sleep(2.0)  # the start-up publication (the first boundary's)
            # the end of start-up, as ``energyd run`` does it (energyd.cli._started)
            gc.collect()
            gc.freeze()
            try:
                yield
            finally:
                gc.unfreeze()


# -- the bare publisher --------------------------------------------------------------------------


def current_sized(feed: int, at: float) -> bytes:
    """A ``current`` payload as energyd builds it (the same size and shape)."""
    start = datetime.fromtimestamp(at, UTC)
    slot = EnergyPriceSlot(start, start + timedelta(seconds=SLOT_SECONDS), 8.1234, "EUR")
    return dumps(price_payload(f"p{feed:03d}", "DE", slot, currency="EUR"))


async def bare(port: int, feeds: int, boundaries: Sequence[float]) -> None:
    """At each boundary (``loop.call_at``), publish one message per feed, each awaited."""
    loop = asyncio.get_running_loop()
    topics = [f"bare/prices/p{i:03d}/DE/current" for i in range(feeds)]
    async with aiomqtt.Client(
        HOST,
        port,
        protocol=aiomqtt.ProtocolVersion.V5,
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        timeout=math.inf,
    ) as client:
        client.pending_calls_threshold = 10 * feeds
        for boundary in boundaries:
            payloads = [current_sized(i, boundary) for i in range(feeds)]
            due = loop.create_future()
            loop.call_at(loop.time() + (boundary - time.time()), due.set_result, None)
            await due
            for topic, payload in zip(topics, payloads, strict=True):
                await client.publish(topic, payload, qos=1, retain=True)


async def sample_cpu(windows: Sequence[float]) -> dict[float, float]:
    """CPU seconds of this process over ``[b - CPU_LEAD, next b - CPU_LEAD)`` per ``b``."""
    found: dict[float, float] = {}
    previous: tuple[float, float] | None = None
    for moment in [*windows, windows[-1] + OFFSET]:
        await asyncio.sleep(max(0.0, moment - CPU_LEAD - time.time()))
        now = time.process_time()
        if previous is not None:
            found[previous[0]] = now - previous[1]
        previous = (moment, now)
    return found


async def run_scenario(broker: MosquittoBroker, folder: Path, scenario: Scenario) -> None:
    stretch = timedelta(seconds=scenario.boundaries * SLOT_SECONDS + 30)
    topics = ["energyd/#", "bare/#"]
    async with (
        energyd(folder, broker.port, scenario.feeds, stretch),
        subscriber(broker.port, topics, scenario),
    ):
        first = math.ceil(time.time()) + 2
        scenario.energyd = [float(first + SLOT_SECONDS * k) for k in range(scenario.boundaries)]
        scenario.bare = [b + OFFSET for b in scenario.energyd]
        windows = sorted(scenario.energyd + scenario.bare)
        sampler = asyncio.create_task(sample_cpu(windows))
        await bare(broker.port, scenario.feeds, scenario.bare)
        scenario.cpu = await sampler
        await asyncio.sleep(0.5)  # the last messages reach the subscriber


# -- figures -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Boundary:
    """What one boundary of one side sent, as the subscriber saw it."""

    lateness: float  # of the first ``current`` (seconds)
    all_out: float  # until the last ``current`` (seconds)
    currents: int
    messages: int
    size: int
    cpu: float


def boundaries_of(scenario: Scenario, side: str) -> list[Boundary]:
    moments = scenario.energyd if side == "energyd" else scenario.bare
    found = []
    for moment in moments:
        sent = [
            a
            for a in scenario.arrivals
            if a.topic.startswith(side + "/")
            and moment - CPU_LEAD <= a.at < moment + OFFSET - CPU_LEAD
        ]
        currents = [a.at - moment for a in sent if a.topic.endswith("/current")]
        if not currents:
            continue
        found.append(
            Boundary(
                min(currents),
                max(currents),
                len(currents),
                len(sent),
                sum(a.size for a in sent),
                scenario.cpu.get(moment, math.nan),
            )
        )
    return found


def _ms(values: Sequence[float], fraction: float) -> float:
    return percentile(values, fraction) * 1000


def figures_of(one: Scenario, many: Scenario) -> list[Figure]:
    e1, b1 = boundaries_of(one, "energyd"), boundaries_of(one, "bare")
    e100, b100 = boundaries_of(many, "energyd"), boundaries_of(many, "bare")
    late_e = [b.lateness for b in e1]
    late_b = [b.lateness for b in b1]
    out_e = [b.all_out for b in e100]
    out_b = [b.all_out for b in b100]
    missed = sum(b.currents < many.feeds for b in e100)
    bare_name = "bare call_at + aiomqtt publish"
    n = f"{len(e1)} boundaries"
    return [
        Figure(
            f"current lateness after a boundary, p50 ({n})",
            _ms(late_e, 0.5),
            "ms",
            _ms(late_b, 0.5),
            bare_name,
        ),
        Figure(
            f"current lateness after a boundary, p99 ({n})",
            _ms(late_e, 0.99),
            "ms",
            _ms(late_b, 0.99),
            bare_name,
            limit=LIMIT_LATENESS,
        ),
        Figure(
            "current lateness after a boundary, p99, absolute",
            _ms(late_e, 0.99),
            "ms",
            limit=LIMIT_LATENESS_MS,
        ),
        Figure(
            f"100 feeds: until all 100 current are out, p50 ({len(e100)} boundaries)",
            _ms(out_e, 0.5),
            "ms",
            _ms(out_b, 0.5),
            f"bare, {many.feeds} messages",
        ),
        Figure(
            "100 feeds: until all 100 current are out, p99",
            _ms(out_e, 0.99),
            "ms",
            _ms(out_b, 0.99),
            f"bare, {many.feeds} messages",
        ),
        Figure(
            "100 feeds: until all 100 current are out, p99, absolute",
            _ms(out_e, 0.99),
            "ms",
            limit=LIMIT_ALL_OUT_MS,
            note=f"{missed} boundaries short of 100" if missed else "",
        ),
        Figure(
            "100 feeds: CPU per boundary (median)",
            _median([b.cpu for b in e100]) * 1000,
            "ms",
            _median([b.cpu for b in b100]) * 1000,
            f"bare, {many.feeds} messages",
            limit=LIMIT_CPU,
        ),
        Figure(
            "100 feeds: bytes sent per boundary (median)",
            _median([b.size for b in e100]) / 1000,
            "kB",
            _median([b.size for b in b100]) / 1000,
            f"bare, {many.feeds} messages",
        ),
        Figure(
            "100 feeds: messages per boundary (median)",
            _median([b.messages for b in e100]),
            "msgs",
            _median([b.messages for b in b100]),
            f"bare, {many.feeds} messages",
        ),
    ]


def _median(values: Sequence[float]) -> float:
    ordered = sorted(v for v in values if not math.isnan(v))
    return percentile(ordered, 0.5) if ordered else math.nan


async def run_all(boundaries: int) -> tuple[Scenario, Scenario]:
    binary = find_mosquitto()
    if binary is None:
        raise RuntimeError("mosquitto is needed: apt-get install mosquitto")
    with tempfile.TemporaryDirectory() as tmp:
        broker = MosquittoBroker(binary, Path(tmp) / "mosquitto")
        broker.start()
        try:
            one, many = Scenario(1, boundaries), Scenario(100, boundaries)
            await run_scenario(broker, Path(tmp) / "one", one)
            await run_scenario(broker, Path(tmp) / "many", many)
            return one, many
        finally:
            broker.stop()


def figures(quick: bool = False) -> list[Figure]:
    """The figures of both scenarios (``quick``: 6 boundaries each side, ~20 s)."""
    configure_logging("error", "json")
    return figures_of(*asyncio.run(run_all(QUICK if quick else BOUNDARIES)))


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--subscribe":
        _subscribe(int(sys.argv[2]), sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK} boundaries a side")
    parser.add_argument(
        "--boundaries", type=int, default=BOUNDARIES, help=f"per side (default {BOUNDARIES})"
    )
    args = parser.parse_args()
    configure_logging("error", "json")
    count = QUICK if args.quick else max(2, min(args.boundaries, 120))
    one, many = asyncio.run(run_all(count))
    print(format_table(figures_of(one, many)))
    for name, scenario in (("1 feed", one), ("100 feeds", many)):
        for side in ("energyd", "bare"):
            rows = boundaries_of(scenario, side)
            late = ", ".join(f"{b.lateness * 1000:.1f}" for b in rows)
            print(f"{name} {side}: current lateness per boundary (ms): {late}")
            if scenario.feeds > 1:
                out = ", ".join(f"{b.all_out * 1000:.0f}" for b in rows)
                cpu = ", ".join(f"{b.cpu * 1000:.0f}" for b in rows)
                print(f"{name} {side}: all out (ms): {out}; CPU (ms): {cpu}")


if __name__ == "__main__":
    main()
