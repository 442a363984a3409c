"""Shared fixtures: a real mosquitto (one per session, or one per test that restarts it)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.broker import MosquittoBroker, find_mosquitto
from tests.support.fake_octopus import RunningFake, serve

#: Fixtures that start or share a real mosquitto: a test using one is marked ``mqtt``.
BROKER_FIXTURES = frozenset({"mosquitto", "broker"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs a broker, so ``-m "not mqtt"`` runs the rest alone."""
    for item in items:
        if BROKER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.mqtt)


def _binary() -> str:
    binary = find_mosquitto()
    if binary is None:
        pytest.fail(
            "mosquitto is not installed (looked for /usr/sbin/mosquitto and on PATH; set "
            "MOSQUITTO=/path/to/mosquitto). The MQTT tests need a real broker: "
            "apt-get install mosquitto"
        )
    return binary


def _running(workdir: Path) -> Iterator[MosquittoBroker]:
    broker = MosquittoBroker(_binary(), workdir)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """One broker shared by the whole session; tests keep apart through ``base_topic``."""
    yield from _running(tmp_path_factory.mktemp("mosquitto"))


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A broker of this test's own, free to be stopped, started and restarted."""
    yield from _running(tmp_path / "mosquitto")


@pytest.fixture
def base_topic() -> str:
    """A topic prefix no other test uses."""
    return f"energyd-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def fake_api() -> AsyncIterator[RunningFake]:
    """A local Octopus-shaped API (deterministic prices) on a free loopback port."""
    async with serve() as running:
        yield running
