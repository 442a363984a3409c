"""A real mosquitto for the tests, and a small aiomqtt message collector.

:class:`MosquittoBroker` runs ``mosquitto -c <conf>`` on free 127.0.0.1 ports with
persistence in its own directory, so persistent sessions and queued QoS 1 messages survive
:meth:`MosquittoBroker.restart`. Besides the main listener (``port``, the one the daemon
under test uses) it always opens a ``side_port``; ``start(main_listener=False)`` leaves the
main port closed, which keeps the daemon out while a test client still gets in.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

MOSQUITTO = os.environ.get("MOSQUITTO", "/usr/sbin/mosquitto")
HOST = "127.0.0.1"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def find_mosquitto() -> str | None:
    """Path of the mosquitto binary, or ``None`` when it is not installed."""
    if Path(MOSQUITTO).is_file() and os.access(MOSQUITTO, os.X_OK):
        return MOSQUITTO
    return shutil.which("mosquitto")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((HOST, port)) == 0


class MosquittoBroker:
    """One mosquitto process; ``stop()`` / ``start()`` keep the ports and the persistence."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.host = HOST
        self.port = free_port()
        self.side_port = free_port()
        self.log_file = workdir / "mosquitto.log"
        self._process: subprocess.Popen[bytes] | None = None
        (workdir / "data").mkdir(parents=True, exist_ok=True)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _write_config(self, *, main_listener: bool) -> Path:
        listeners = [self.side_port] + ([self.port] if main_listener else [])
        lines = [f"listener {port} {HOST}" for port in listeners]
        lines += [
            # mosquitto started as root drops to user "mosquitto", which cannot write here
            f"user {getpass.getuser()}",
            "allow_anonymous true",
            "set_tcp_nodelay true",
            "persistence true",
            f"persistence_location {self.workdir / 'data'}/",
            "autosave_interval 0",
            f"log_dest file {self.log_file}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
        ]
        path = self.workdir / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self, *, main_listener: bool = True, forget: bool = False) -> None:
        """Start mosquitto and wait until it accepts connections.

        ``forget`` deletes the persistence database first: a broker that lost everything
        (retained messages, sessions, queued messages).
        """
        if self.running:
            raise RuntimeError("mosquitto is already running")
        if forget:
            for saved in (self.workdir / "data").iterdir():
                saved.unlink()
        config = self._write_config(main_listener=main_listener)
        self._process = subprocess.Popen(
            [self.binary, "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + START_TIMEOUT
        ports = [self.side_port] + ([self.port] if main_listener else [])
        while not all(_accepts(port) for port in ports):
            if self._process.poll() is not None:
                stderr = self._process.stderr.read().decode() if self._process.stderr else ""
                self._process = None
                raise RuntimeError(f"mosquitto exited at start:\n{stderr}\n{self.logs()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not listen within {START_TIMEOUT}s")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop mosquitto (SIGTERM: it saves its persistence database on the way out)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT)
        if process.stderr is not None:
            process.stderr.close()

    def restart(self, *, main_listener: bool = True) -> None:
        self.stop()
        self.start(main_listener=main_listener)

    def logs(self) -> str:
        return self.log_file.read_text() if self.log_file.exists() else ""


def unique_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass
class Collector:
    """Messages one test client received, with waits that end in a timeout."""

    client: aiomqtt.Client
    messages: list[aiomqtt.Message] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def _pump(self) -> None:
        async for message in self.client.messages:
            async with self._changed:
                self.messages.append(message)
                self._changed.notify_all()

    def on(self, topic: str) -> list[aiomqtt.Message]:
        return [m for m in self.messages if m.topic.value == topic]

    def payloads(self, topic: str) -> list[bytes]:
        return [bytes(m.payload) for m in self.on(topic)]

    async def wait_for(
        self,
        topic: str,
        predicate: Callable[[aiomqtt.Message], bool] = lambda _: True,
        *,
        within: float = 5.0,
    ) -> aiomqtt.Message:
        """The first message on ``topic`` (received so far or later) matching ``predicate``."""

        def found() -> aiomqtt.Message | None:
            return next((m for m in self.on(topic) if predicate(m)), None)

        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: found() is not None)
        message = found()
        assert message is not None
        return message

    async def wait_for_payload(
        self, topic: str, payload: bytes, *, within: float = 5.0
    ) -> aiomqtt.Message:
        return await self.wait_for(topic, lambda m: m.payload == payload, within=within)

    async def wait_count(self, topic: str, count: int, *, within: float = 5.0) -> None:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: len(self.on(topic)) >= count)

    async def publish(
        self,
        topic: str,
        payload: bytes | str = b"",
        *,
        qos: int = 1,
        retain: bool = False,
        response_topic: str | None = None,
        correlation: bytes | None = None,
    ) -> None:
        properties: Any = None
        if response_topic is not None or correlation is not None:
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            if response_topic is not None:
                properties.ResponseTopic = response_topic
            if correlation is not None:
                properties.CorrelationData = correlation
        async with asyncio.timeout(5):
            await self.client.publish(topic, payload, qos=qos, retain=retain, properties=properties)


@contextlib.asynccontextmanager
async def collect(
    port: int,
    *topics: str,
    identifier: str | None = None,
    persistent: bool = False,
) -> AsyncIterator[Collector]:
    """A connected MQTT v5 test client subscribed (QoS 1) to ``topics``.

    ``persistent`` keeps the session (and messages queued for it) at the broker after
    disconnecting, for a later ``collect`` with the same ``identifier``.
    """
    properties: Any = None
    if persistent:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 600
    client = aiomqtt.Client(
        HOST,
        port,
        identifier=identifier or unique_id("test"),
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=not persistent,
        properties=properties,
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        timeout=5,
    )
    async with client:
        collector = Collector(client)
        for topic in topics:
            async with asyncio.timeout(5):
                await client.subscribe(topic, qos=1)
        pump = asyncio.create_task(collector._pump(), name="test.collector")
        try:
            yield collector
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await pump
