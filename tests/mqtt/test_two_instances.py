"""Two energyd, active-active, on one broker: the same configuration and share group, each its
own instance (client id) and store. Each request is answered once; both publish the same
retained prices and one Home Assistant device; either can stop while the other keeps prices,
``status`` and the replies going."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from energyd.config import Settings
from tests.mqtt.test_client_groups import replying_to
from tests.support.broker import Collector, MosquittoBroker, collect, unique_id
from tests.support.daemon import daemon_settings, running
from tests.support.fake_octopus import RunningFake

pytestmark = pytest.mark.mqtt

#: Requests sent in each phase.
REQUESTS = 12
#: A slot boundary (every 30 minutes) changes ``current`` and the figures: no phase of this
#: test may straddle one, so it starts after the next when that is this close.
BOUNDARY_MARGIN = timedelta(seconds=25)


async def clear_of_a_boundary() -> None:
    """Sleep past the next half-hour boundary when it is within :data:`BOUNDARY_MARGIN`."""
    now = datetime.now(UTC)
    boundary = now.replace(minute=30 if now.minute < 30 else 0, second=0, microsecond=0)
    if now.minute >= 30:
        boundary += timedelta(hours=1)
    if boundary - now < BOUNDARY_MARGIN:
        await asyncio.sleep((boundary - now).total_seconds() + 1)


def instance_settings(
    tmp_path: Path, name: str, broker: MosquittoBroker, base: str, api: RunningFake, group: str
) -> Settings:
    """The shared configuration, with this instance's name and its own config dir (store)."""
    return daemon_settings(
        tmp_path / name,
        broker.port,
        base,
        api.url,
        mqtt={"client_id": None, "share_group": group, "discovery_prefix": f"{base}-ha"},
        instance=name,
    )


class Pair:
    """Two daemons that can be stopped and started apart, and a client watching them."""

    def __init__(
        self, settings: dict[str, Settings], client: Collector, broker: MosquittoBroker, base: str
    ) -> None:
        self.settings = settings
        self.client = client
        self.broker = broker
        self.base = base
        self.inbox = f"{base}-client/inbox"
        self._stacks: dict[str, contextlib.AsyncExitStack] = {}
        self._connects: dict[str, int] = {}

    async def start(self, name: str) -> None:
        """Start ``name`` and wait until it serves: its ``online``, published once its
        subscriptions are made (a request sent before would reach nobody in the group)."""
        status = f"{self.base}/status"
        said = len(self.client.on(status))
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(running(self.settings[name]))
        self._stacks[name] = stack
        await self.client.wait_count(status, said + 1, within=20)
        await self.wait_connected(name)

    async def stop(self, name: str) -> None:
        await self._stacks.pop(name).aclose()

    async def stop_all(self) -> None:
        for name in list(self._stacks):
            await self.stop(name)

    def store_of(self, name: str) -> str:
        return str(self.settings[name].db_path)

    async def ask_health(self, count: int) -> list[str]:
        """``count`` ``health`` requests, one at a time; the store of each reply (which
        instance answered it). Every one is answered exactly once."""
        before = len(self.client.on(self.inbox))
        stores = []
        for index in range(count):
            key = unique_id(f"req{index}").encode()
            await self.client.publish(
                f"{self.base}/request/health", b"{}", response_topic=self.inbox, correlation=key
            )
            reply = await self.client.wait_for(
                self.inbox,
                replying_to(key),
                within=10,
            )
            body: dict[str, Any] = json.loads(reply.payload)
            assert "ok" == body["status"]
            stores.append(body["data"]["store"])
        await asyncio.sleep(0.3)  # a second reply to any of them would be here by now
        assert before + count == len(self.client.on(self.inbox))
        return stores

    async def wait_connected(self, name: str) -> None:
        """Until the broker says ``energyd-<name>`` is connected (once more than before)."""
        client_id = self.settings[name].client_id
        times = self._connects.get(name, 0) + 1
        async with asyncio.timeout(20):
            while self.broker.logs().count(f" as {client_id} ") < times:  # noqa: ASYNC110 -- the broker's log has no event
                await asyncio.sleep(0.05)
        self._connects[name] = times


async def retained(port: int, *topic_filters: str, settle: float = 0.5) -> dict[str, bytes]:
    """What a new subscriber is given: the retained value of every matching topic."""
    async with collect(port, *topic_filters) as late:
        await asyncio.sleep(settle)
        return {m.topic.value: bytes(m.payload) for m in late.messages if m.retain}


async def wait_available(client: Collector, topic: str) -> None:
    await client.wait_for(
        topic, lambda m: bool(m.payload) and json.loads(m.payload).get("available"), within=20
    )


@contextlib.asynccontextmanager
async def pair_of(
    tmp_path: Path, broker: MosquittoBroker, base: str, api: RunningFake
) -> AsyncIterator[Pair]:
    group = unique_id("pair")
    settings = {
        name: instance_settings(tmp_path, name, broker, base, api, group)
        for name in ("kitchen", "garage")
    }
    inbox = f"{base}-client/inbox"
    async with collect(broker.port, inbox, f"{base}/#", f"{base}-ha/#") as client:
        pair = Pair(settings, client, broker, base)
        try:
            yield pair
        finally:
            await pair.stop_all()


class TestActiveActive:
    async def test_two_instances_one_broker(
        self, tmp_path: Path, broker: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """Kitchen alone, then with garage: every request answered once (by both in turn),
        the same retained prices and discovery from both; kitchen stops: prices and
        ``status`` stay, garage answers; kitchen back and garage stops: the reverse."""
        await clear_of_a_boundary()
        base, port = base_topic, broker.port
        current = f"{base}/prices/octopus_agile/C/current"
        status = f"{base}/status"
        shared = (f"{base}/prices/#", f"{base}-ha/#")
        async with pair_of(tmp_path, broker, base, fake_api) as pair:
            client = pair.client
            kitchen, garage = pair.store_of("kitchen"), pair.store_of("garage")

            await pair.start("kitchen")
            await wait_available(client, current)
            await asyncio.sleep(1.0)  # everything of the first publication is out
            alone = await retained(port, *shared)
            assert current in alone
            assert any(topic.startswith(f"{base}-ha/device/") for topic in alone)

            seen = len(client.messages)
            await pair.start("garage")
            await asyncio.sleep(1.5)  # garage's first publication
            from_garage = {
                m.topic.value: bytes(m.payload)
                for m in client.messages[seen:]
                if m.topic.value in alone
            }
            assert alone.keys() == from_garage.keys(), "garage published every topic"
            assert [] == sorted(t for t, p in from_garage.items() if alone[t] != p)
            assert {"online"} == {bytes(m.payload).decode() for m in client.on(status)}

            together = await pair.ask_health(REQUESTS)
            assert {kitchen, garage} == set(together)

            await pair.stop("kitchen")
            await asyncio.sleep(0.5)
            after_kitchen = await retained(port, *shared, status)
            assert b"online" == after_kitchen.pop(status)
            assert alone == after_kitchen
            assert [garage] * REQUESTS == await pair.ask_health(REQUESTS)

            await pair.start("kitchen")
            await asyncio.sleep(1.0)
            assert {kitchen, garage} == set(await pair.ask_health(REQUESTS))
            await pair.stop("garage")
            await asyncio.sleep(0.5)
            after_garage = await retained(port, *shared, status)
            assert b"online" == after_garage.pop(status)
            assert alone == after_garage
            assert [kitchen] * REQUESTS == await pair.ask_health(REQUESTS)

            await pair.stop("kitchen")
            last = await retained(port, status)
        assert {status: b"offline"} == last

    async def test_changes_to_one_instance_refused(
        self, tmp_path: Path, broker: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """In a share group, a settings change over MQTT would reach one instance only: it
        is refused with not_available, naming the group; reading the settings is answered."""
        async with pair_of(tmp_path, broker, base_topic, fake_api) as pair:
            await pair.start("kitchen")
            client = pair.client
            replies = {}
            for command, body in (
                ("settings/set", {"key": "energy.providers.octopus_agile.region", "value": "J"}),
                ("providers/update-all", {}),
                ("settings/get", {}),
            ):
                key = command.encode()
                await client.publish(
                    f"{base_topic}/request/{command}",
                    json.dumps(body),
                    response_topic=pair.inbox,
                    correlation=key,
                )
                reply = await client.wait_for(
                    pair.inbox,
                    replying_to(key),
                    within=10,
                )
                replies[command] = json.loads(reply.payload)
        group = pair.settings["kitchen"].mqtt.share_group
        for command in ("settings/set", "providers/update-all"):
            error = replies[command]["error"]
            assert ("not_available", {"share_group": group}) == (error["code"], error["details"])
        assert "ok" == replies["settings/get"]["status"]
