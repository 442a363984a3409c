"""The crash -> will path: whatever ends the daemon unexpectedly, ``<base>/status`` is left
``offline``; a request that used to crash it is answered instead."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.faults.support_faults import ask, payload, retained, subprocess_daemon
from tests.support.broker import Collector, MosquittoBroker, collect
from tests.support.fake_octopus import RunningFake
from tests.support.process import write_config


@contextlib.asynccontextmanager
async def daemon(
    tmp_path: Path, port: int, base: str, url: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``energyd run`` as a subprocess (its log in ``tmp_path/energyd.log``)."""
    config = write_config(
        tmp_path / "energyd.toml",
        config_dir=tmp_path / "config",
        base_url=url,
        mqtt_port=port,
        base_topic=base,
    )
    async with subprocess_daemon(config, tmp_path / "energyd.log") as process:
        yield process


async def ended(process: asyncio.subprocess.Process, within: float = 10) -> int:
    async with asyncio.timeout(within):
        return await process.wait()


async def online(client: Collector, topic: str) -> None:
    await client.wait_for_payload(topic, b"online", within=15)


class TestCrash:
    @pytest.mark.parametrize(
        ("signum", "exit_code"), [(signal.SIGKILL, -signal.SIGKILL), (signal.SIGTERM, 0)]
    )
    async def test_offline_retained_however_the_process_ends(
        self,
        tmp_path: Path,
        mosquitto: MosquittoBroker,
        base_topic: str,
        fake_api: RunningFake,
        signum: int,
        exit_code: int,
    ) -> None:
        """kill -9 (the broker publishes the will) or SIGTERM (the daemon says offline itself
        and exits 0): either way status is left offline, retained."""
        status = f"{base_topic}/status"
        async with (
            collect(mosquitto.port, status) as client,
            daemon(tmp_path, mosquitto.port, base_topic, fake_api.url) as process,
        ):
            await online(client, status)
            process.send_signal(signum)
            code = await ended(process)
            await client.wait_for_payload(status, b"offline")
        assert (exit_code, (b"offline", True)) == (
            code,
            await retained(mosquitto.port, status),
        )

    async def test_infinite_transaction_is_refused_and_the_daemon_lives(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """`{"transaction": 1e400}` gets invalid_json; the daemon stays online; SIGTERM: exit 0."""
        status = f"{base_topic}/status"
        response = f"{base_topic}/response/health"
        async with (
            collect(mosquitto.port, f"{base_topic}/#") as client,
            daemon(tmp_path, mosquitto.port, base_topic, fake_api.url) as process,
        ):
            await online(client, status)
            await client.publish(f"{base_topic}/request/health", b'{"transaction": 1e400}')
            with contextlib.suppress(TimeoutError):  # no reply is a failure reported below
                await client.wait_for(response, within=5)
            later = None
            with contextlib.suppress(TimeoutError):
                later = await ask(client, base_topic, "health", {}, within=5)
            alive = process.returncode is None
            statuses = client.payloads(status)
            if alive:
                process.send_signal(signal.SIGTERM)
            code = await ended(process)
            with contextlib.suppress(TimeoutError):
                await client.wait_for_payload(status, b"offline")
            replies = [payload(m) for m in client.on(response)]
        first = replies[0] if replies else None
        assert (True, "invalid_json") == (alive, first and first["error"]["code"]), replies
        assert ("ok", [b"online"]) == (later and later["status"], statuses)
        assert (0, (b"offline", True)) == (code, await retained(mosquitto.port, status))
