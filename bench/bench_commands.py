"""Command round trips: energyd against a bare aiomqtt echo responder on the same broker.

One mosquitto on a free 127.0.0.1 port (``set_tcp_nodelay true``, as docker/mosquitto.conf
ships it), energyd run as a user runs it (``python -m energyd run``, its own process, its
store filled from the loopback Octopus stand-in before the first request), and a bare echo
responder in a process of its own (this module's ``--echo``: an aiomqtt v5 client that
answers every request on the Response Topic, Correlation Data copied, at the request's QoS,
with a payload of the size energyd's reply to that command has). One client sends requests
one at a time, as a Node-RED flow would: MQTT v5 Response Topic and Correlation Data, QoS 0
and QoS 1, and times each reply. Rounds are interleaved (a few requests to the echo, as many
to energyd, the other way round next time, for each command and QoS) so the machine's noise
falls on both alike.

Figures: p50 and p99 round trip of ``prices``, ``cheapest`` and ``health`` at QoS 0 and 1,
each against the echo responder at the same QoS and payload size; the goal (issue 12) is on
p50: at most 1.5x for ``prices`` and ``cheapest``, 2x for ``health``. The full run also
measures the same on a broker with mosquitto's default ``set_tcp_nodelay false`` (a detail
line: the reason docker/mosquitto.conf turns Nagle off).

Run: ``.venv/bin/python -m bench.bench_commands [--quick] [--requests N]`` from the
repository root. Loopback only; bounded in count and time; leaves nothing running.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from bench.common import Figure, format_table, median, percentile
from tests.support.broker import HOST, MosquittoBroker, find_mosquitto
from tests.support.fake_octopus import serve
from tests.support.process import ROOT, energyd_env, write_config

__all__ = ["figures", "main"]

#: The commands measured, their request bodies, and the goal on p50 (ratio to the echo).
COMMANDS: Mapping[str, tuple[dict[str, Any], float]] = {
    "prices": ({}, 1.5),
    "cheapest": ({"minutes": 180}, 1.5),
    "health": ({}, 2.0),
}
QOS_LEVELS = (0, 1)
ENERGYD_BASE = "bench-energyd"
ECHO_BASE = "bench-echo"
START_TIMEOUT = 60.0
REPLY_TIMEOUT = 10.0
#: Requests per command, QoS and responder; rounds they are split into.
FULL = (600, 60)
QUICK = (100, 10)
#: Requests per command on the broker with Nagle on (each may wait ~40 ms there).
NAGLE_REQUESTS = 40


def _nodelay() -> list[tuple[int, int, int]]:
    return [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


# -- the bare echo responder (a process of its own) -----------------------------------------


async def echo_responder(port: int, base: str, sizes: Mapping[str, int]) -> None:
    """Answer every ``<base>/request/<command>`` on its Response Topic with ``sizes[command]``
    bytes, at the request's QoS, Correlation Data copied: the least a responder can do."""
    client = aiomqtt.Client(
        HOST,
        port,
        identifier=f"bench-echo-{uuid.uuid4().hex[:8]}",
        protocol=aiomqtt.ProtocolVersion.V5,
        socket_options=_nodelay(),
    )
    replies = {name: b"x" * size for name, size in sizes.items()}
    prefix = f"{base}/request/"
    async with client:
        await client.subscribe(f"{base}/request/#", qos=1)
        print("ready", flush=True)
        async for message in client.messages:
            command = message.topic.value.removeprefix(prefix)
            request = message.properties
            reply = _properties()
            reply.CorrelationData = getattr(request, "CorrelationData", b"")
            topic = getattr(request, "ResponseTopic", None) or f"{base}/response/{command}"
            await client.publish(
                topic, replies.get(command, b"{}"), qos=message.qos, properties=reply
            )


def _properties() -> Any:
    return Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]


# -- the requesting client ------------------------------------------------------------------


@dataclass
class Requester:
    """One MQTT v5 client: a request at a time, the reply matched by its Correlation Data."""

    client: aiomqtt.Client
    reply_topic: str
    _waiting: dict[bytes, asyncio.Future[bytes]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    async def pump(self) -> None:
        async for message in self.client.messages:
            key = getattr(message.properties, "CorrelationData", None)
            waiter = self._waiting.pop(bytes(key), None) if key is not None else None
            if waiter is not None and not waiter.done():
                waiter.set_result(bytes(message.payload))

    async def ask(self, topic: str, body: bytes, qos: int) -> tuple[float, bytes]:
        """Seconds from publishing the request to receiving its reply, and the reply."""
        key = str(next(self._ids)).encode()
        waiter: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[key] = waiter
        properties = _properties()
        properties.ResponseTopic = self.reply_topic
        properties.CorrelationData = key
        started = time.perf_counter()
        await self.client.publish(topic, body, qos=qos, properties=properties)
        async with asyncio.timeout(REPLY_TIMEOUT):
            reply = await waiter
        return time.perf_counter() - started, reply


@contextlib.asynccontextmanager
async def requester(port: int) -> AsyncIterator[Requester]:
    client = aiomqtt.Client(
        HOST,
        port,
        identifier=f"bench-client-{uuid.uuid4().hex[:8]}",
        protocol=aiomqtt.ProtocolVersion.V5,
        socket_options=_nodelay(),
    )
    async with client:
        reply_topic = f"bench-client/{uuid.uuid4().hex[:8]}/reply"
        await client.subscribe(reply_topic, options=SubscribeOptions(qos=1))
        asker = Requester(client, reply_topic)
        pump = asyncio.create_task(asker.pump(), name="bench.pump")
        try:
            yield asker
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await pump


# -- processes ------------------------------------------------------------------------------


class _Broker(MosquittoBroker):
    """The tests' mosquitto, with ``set_tcp_nodelay`` as chosen (mosquitto's default: off)."""

    def __init__(self, binary: str, workdir: Path, *, nodelay: bool) -> None:
        super().__init__(binary, workdir)
        self.nodelay = nodelay

    def _write_config(self, *, main_listener: bool) -> Path:
        path = super()._write_config(main_listener=main_listener)
        if not self.nodelay:
            text = path.read_text().replace("set_tcp_nodelay true", "set_tcp_nodelay false")
            path.write_text(text)
        return path


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(10):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


def _prepare(folder: Path, port: int, api_url: str) -> Path:
    """energyd's config file (its own store and plugin folder beside it; default logging)."""
    folder.mkdir(parents=True, exist_ok=True)
    return write_config(
        folder / "energyd.toml",
        config_dir=folder / "config",
        base_url=api_url,
        mqtt_port=port,
        base_topic=ENERGYD_BASE,
    )


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@contextlib.asynccontextmanager
async def energyd(folder: Path, port: int, api_url: str) -> AsyncIterator[None]:
    """``python -m energyd run`` on ``port``, until its store holds prices for now."""
    config = _prepare(folder, port, api_url)
    with open(folder / "energyd.log", "wb") as log:  # noqa: ASYNC230 -- a log file handed over
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "energyd", "--config", str(config), "run"),
            cwd=ROOT,
            env=energyd_env(),
            stdout=log,
            stderr=log,
        )
        try:
            try:
                await _until_current(port)
            except TimeoutError:
                tail = _tail(folder / "energyd.log")
                raise RuntimeError(f"energyd published no current price:\n{tail}") from None
            yield
        finally:
            await _stop(process)


async def _until_current(port: int) -> None:
    """Wait for energyd's retained ``current`` price to be available (its store is filled)."""
    topic = f"{ENERGYD_BASE}/prices/octopus_agile/C/current"
    async with (
        asyncio.timeout(START_TIMEOUT),
        aiomqtt.Client(HOST, port, protocol=aiomqtt.ProtocolVersion.V5) as client,
    ):
        await client.subscribe(topic, qos=1)
        async for message in client.messages:
            if _available(message.payload):
                return


def _available(payload: object) -> bool:
    """Whether a ``current`` payload has a price (an empty one: the topic was cleared)."""
    return isinstance(payload, bytes | bytearray) and bool(
        payload and json.loads(payload).get("available")
    )


@contextlib.asynccontextmanager
async def echo(port: int, sizes: Mapping[str, int]) -> AsyncIterator[None]:
    """This module's ``--echo`` responder in a process of its own, until it says ready."""
    spec = ",".join(f"{name}={size}" for name, size in sizes.items())
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "bench.bench_commands", "--echo", str(port), spec),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(START_TIMEOUT):
            line = await process.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"echo responder did not start: {line!r}")
        yield
    finally:
        await _stop(process)


# -- measuring ------------------------------------------------------------------------------


@dataclass
class Timings:
    """Round trips (seconds) per (responder, command, QoS)."""

    samples: dict[tuple[str, str, int], list[float]] = field(default_factory=dict)

    def add(self, who: str, command: str, qos: int, seconds: float) -> None:
        self.samples.setdefault((who, command, qos), []).append(seconds)

    def get(self, who: str, command: str, qos: int) -> list[float]:
        return self.samples[(who, command, qos)]


def _body(command: str) -> bytes:
    return json.dumps(COMMANDS[command][0]).encode()


async def _reply_sizes(asker: Requester) -> dict[str, int]:
    """The size of energyd's reply to each command (the echo answers with as many bytes)."""
    sizes = {}
    for command in COMMANDS:
        _, reply = await asker.ask(f"{ENERGYD_BASE}/request/{command}", _body(command), 1)
        status = json.loads(reply)["status"]
        if status != "ok":
            raise RuntimeError(f"energyd answered {command} with {reply[:300]!r}")
        sizes[command] = len(reply)
    return sizes


async def _round(asker: Requester, order: Sequence[str], count: int, timings: Timings) -> None:
    """``count`` requests of each command at each QoS, to each responder in ``order`` in turn
    (so the noise of any moment falls on both alike)."""
    for qos in QOS_LEVELS:
        for command in COMMANDS:
            body = _body(command)
            for who in order:
                base = ENERGYD_BASE if who == "energyd" else ECHO_BASE
                topic = f"{base}/request/{command}"
                for _ in range(count):
                    seconds, _reply = await asker.ask(topic, body, qos)
                    timings.add(who, command, qos, seconds)


async def _measure_on(
    broker: MosquittoBroker, folder: Path, api_url: str, requests: int, rounds: int
) -> tuple[Timings, dict[str, int]]:
    timings = Timings()
    async with energyd(folder, broker.port, api_url), requester(broker.port) as asker:
        sizes = await _reply_sizes(asker)
        async with echo(broker.port, sizes):
            await _round(asker, ("echo", "energyd"), max(5, requests // 20), Timings())  # warm-up
            per_round = max(1, requests // rounds)
            for index in range(rounds):
                order = ("echo", "energyd") if index % 2 == 0 else ("energyd", "echo")
                await _round(asker, order, per_round, timings)
    return timings, sizes


@dataclass
class Result:
    figures: list[Figure]
    details: list[str]


def _ms(values: Sequence[float], fraction: float) -> float:
    return percentile(values, fraction) * 1000


def _figures(timings: Timings, sizes: Mapping[str, int]) -> list[Figure]:
    """p50 (with the goal) and p99 of each command and QoS, against the echo's."""
    figures: list[Figure] = []
    for qos in QOS_LEVELS:
        for command, (_, limit) in COMMANDS.items():
            ours, bare = timings.get("energyd", command, qos), timings.get("echo", command, qos)
            figures.append(
                Figure(
                    f"command {command} QoS {qos} round trip p50",
                    median(ours) * 1000,
                    "ms",
                    baseline=median(bare) * 1000,
                    baseline_name="bare echo responder",
                    limit=limit,
                    note=f"{sizes[command]} B reply, n={len(ours)}",
                )
            )
            figures.append(
                Figure(
                    f"command {command} QoS {qos} round trip p99",
                    _ms(ours, 0.99),
                    "ms",
                    baseline=_ms(bare, 0.99),
                    baseline_name="bare echo responder",
                )
            )
    return figures


async def measure(quick: bool = False, requests: int | None = None) -> Result:
    binary = find_mosquitto()
    if binary is None:
        raise RuntimeError("mosquitto is needed: apt-get install mosquitto")
    count, rounds = QUICK if quick else FULL
    count = requests or count
    details: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-commands-") as tmp:
        folder = Path(tmp)
        async with serve() as api:
            broker = _Broker(binary, folder / "nodelay", nodelay=True)
            broker.start()
            try:
                timings, sizes = await _measure_on(broker, folder / "a", api.url, count, rounds)
            finally:
                broker.stop()
            figures = _figures(timings, sizes)
            if not quick:
                details += await _nagle_details(binary, folder, api.url)
    return Result(figures, details)


async def _nagle_details(binary: str, folder: Path, api_url: str) -> list[str]:
    """The same round trips on a broker with mosquitto's default ``set_tcp_nodelay false``."""
    broker = _Broker(binary, folder / "nagle", nodelay=False)
    broker.start()
    try:
        timings, _ = await _measure_on(broker, folder / "b", api_url, NAGLE_REQUESTS, 4)
    finally:
        broker.stop()
    lines = ["# with mosquitto's default set_tcp_nodelay false (Nagle on), p50 / p99 ms:"]
    for qos in QOS_LEVELS:
        for command in COMMANDS:
            ours, bare = timings.get("energyd", command, qos), timings.get("echo", command, qos)
            lines.append(
                f"#   {command:<9} QoS {qos}: energyd {median(ours) * 1000:6.2f} / "
                f"{_ms(ours, 0.99):6.2f}   bare echo {median(bare) * 1000:6.2f} / "
                f"{_ms(bare, 0.99):6.2f}"
            )
    return lines


def figures(quick: bool = False) -> list[Figure]:
    """The round-trip figures (see the module doc); ``quick``: fewer requests, no Nagle run."""
    return asyncio.run(measure(quick)).figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, no Nagle run")
    parser.add_argument("--requests", type=int, help="requests per command, QoS and responder")
    parser.add_argument("--echo", nargs=2, metavar=("PORT", "SIZES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo:
        port, spec = args.echo
        sizes = {k: int(v) for k, v in (item.split("=") for item in spec.split(","))}
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve_until_terminated(int(port), sizes))
        return
    requests = None if args.requests is None else max(10, min(args.requests, 5000))
    result = asyncio.run(measure(args.quick, requests))
    print(format_table(result.figures))
    for line in result.details:
        print(line)


async def _serve_until_terminated(port: int, sizes: Mapping[str, int]) -> None:
    task = asyncio.create_task(echo_responder(port, ECHO_BASE, sizes))
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


if __name__ == "__main__":
    main()
