"""Start-up: the garbage collector is off only while energyd starts, and the daemon says when
start-up is over (what the store knows is published)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from energyd.app import run_daemon
from energyd.cli import main
from tests.support.broker import MosquittoBroker, collect
from tests.support.daemon import daemon_settings


@pytest.fixture
def collecting() -> Iterator[None]:
    """The collector as the test found it, whatever the test did to it."""
    was = gc.isenabled()
    try:
        yield
    finally:
        if was:
            gc.enable()
        else:
            gc.disable()


class TestCollector:
    @pytest.mark.usefixtures("collecting")
    @pytest.mark.parametrize("before", [True, False], ids=["on", "off (python -m energyd)"])
    def test_a_command_ends_with_the_collector_on(self, tmp_path: Path, before: bool) -> None:
        """Whether the collector was on or off before (``python -m energyd`` turns it off
        before the imports), a command returns with it on."""
        config = tmp_path / "energyd.toml"
        lines = [f'config_dir = "{tmp_path / "config"}"', "[energy.providers.octopus_agile]"]
        config.write_text("\n".join([*lines, 'region = "C"', ""]))
        if before:
            gc.enable()
        else:
            gc.disable()
        assert 0 == main(["--config", str(config), "--log-level", "error", "check-config"])
        assert gc.isenabled()


class TestStarted:
    async def test_on_started_once_the_stored_state_is_published(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """``on_started`` is called once, with the ``current`` price published or cached for
        the broker, and the daemon runs on."""
        settings = daemon_settings(tmp_path, mosquitto.port, base_topic, "http://127.0.0.1:9")
        calls: list[None] = []
        started = asyncio.Event()

        def on_started() -> None:
            calls.append(None)
            started.set()

        topic = f"{base_topic}/prices/octopus_agile/C/current"
        async with collect(mosquitto.port, topic) as client:
            daemon = asyncio.create_task(
                run_daemon(settings, handle_signals=False, on_started=on_started)
            )
            try:
                async with asyncio.timeout(10):
                    await started.wait()
                await client.wait_for(topic)
                await asyncio.sleep(0.2)
                assert not daemon.done()
                assert [None] == calls
            finally:
                daemon.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await daemon
