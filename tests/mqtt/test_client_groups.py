"""More than one energyd on a base topic, against a real mosquitto: replies at the request's
QoS, ``status`` kept ``online`` while one of them is connected, and commands taken through a
share group (``mqtt.share_group``), each request answered by one instance."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiomqtt
import pydantic
import pytest

from energyd.config import MqttSettings
from energyd.mqtt.client import MqttClient
from energyd.mqtt.commands import CommandRouter
from energyd.mqtt.topics import Topics
from tests.support.broker import Collector, MosquittoBroker, collect, unique_id

pytestmark = pytest.mark.mqtt

#: A group member in a process of its own, to be killed: ``port base group name``.
MEMBER_SCRIPT = """
import asyncio, sys
from energyd.config import MqttSettings
from energyd.mqtt import CommandRouter, MqttClient

async def main():
    port, base, group, name = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    settings = MqttSettings(
        host="127.0.0.1", port=port, client_id=f"{base}-{name}", base_topic=base,
        share_group=group,
    )
    router = CommandRouter()

    async def who(args):
        return name

    router.add("who", who)
    async with MqttClient(settings, router) as member:
        await member.wait_ready()
        print("ready", flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


def settings_for(port: int, base_topic: str, **extra: Any) -> MqttSettings:
    return MqttSettings(
        host="127.0.0.1",
        port=port,
        client_id=unique_id("energyd"),
        base_topic=base_topic,
        keepalive=5,
        reconnect_min_seconds=0.05,
        reconnect_max_seconds=0.2,
        **extra,
    )


def router_of(name: str) -> CommandRouter:
    """``who`` answers ``name``; ``echo`` its arguments."""
    router = CommandRouter()

    async def who(args: dict[str, Any]) -> str:
        return name

    async def echo(args: dict[str, Any]) -> dict[str, Any]:
        return args

    router.add("who", who)
    router.add("echo", echo)
    return router


@asynccontextmanager
async def member(settings: MqttSettings, name: str) -> AsyncIterator[MqttClient]:
    async with MqttClient(settings, router_of(name)) as client:
        async with asyncio.timeout(10):
            await client.wait_ready()
        yield client


def replying_to(key: bytes) -> Callable[[aiomqtt.Message], bool]:
    """Whether a message is the reply to the request whose Correlation Data is ``key``."""
    return lambda message: getattr(message.properties, "CorrelationData", None) == key


async def ask_who(client: Collector, base_topic: str, inbox: str, count: int) -> list[str]:
    """``count`` requests of ``who``, one at a time; who answered each (in order)."""
    answered: list[str] = []
    topics = Topics(base_topic)
    for index in range(count):
        key = f"who-{unique_id('r')}-{index}".encode()
        await client.publish(
            topics.request("who"), b"{}", qos=1, response_topic=inbox, correlation=key
        )
        reply = await client.wait_for(
            inbox,
            replying_to(key),
        )
        answered.append(json.loads(reply.payload)["data"])
    return answered


async def settle() -> None:
    """Long enough for a reply nobody should send to arrive (each takes ~1 ms here)."""
    await asyncio.sleep(0.3)


async def retained_status(port: int, base_topic: str) -> bytes:
    """What a new subscriber is given for ``<base>/status``."""
    status = f"{base_topic}/status"
    async with collect(port, status) as late:
        message = await late.wait_for(status)
    assert message.retain
    return bytes(message.payload)


class TestReplyQos:
    @pytest.mark.parametrize("qos", [0, 1])
    async def test_reply_at_the_request_qos(
        self, mosquitto: MosquittoBroker, base_topic: str, qos: int
    ) -> None:
        """A QoS 0 request gets a QoS 0 reply, a QoS 1 request a QoS 1 reply (the
        subscriber asked for QoS 1: what arrives is what energyd sent)."""
        inbox = f"{base_topic}-client/inbox"
        async with (
            member(settings_for(mosquitto.port, base_topic), "a"),
            collect(mosquitto.port, inbox) as client,
        ):
            await client.publish(
                Topics(base_topic).request("echo"), b'{"n": 1}', qos=qos, response_topic=inbox
            )
            reply = await client.wait_for(inbox)
        assert (qos, {"n": 1}) == (reply.qos, json.loads(reply.payload)["data"])

    async def test_retained_state_stays_qos_1(
        self, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """Retained state and status go out at QoS 1 whatever the requests were."""
        price = f"{base_topic}/prices/p/C/current"
        inbox = f"{base_topic}-client/inbox"
        async with (
            member(settings_for(mosquitto.port, base_topic), "a") as publisher,
            collect(mosquitto.port, inbox, price, f"{base_topic}/status") as client,
        ):
            await client.publish(
                Topics(base_topic).request("who"), b"", qos=0, response_topic=inbox
            )
            await client.wait_for(inbox)
            await publisher.publish_retained(price, b"1")
            state = await client.wait_for(price)
            status = await client.wait_for(f"{base_topic}/status")
        assert [1, 1] == [state.qos, status.qos]


class TestStatusKeptOnline:
    async def test_offline_set_by_another_client(
        self, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """Someone else leaving 'offline' retained while energyd is connected: energyd says
        'online' again, once, and it is what stays retained."""
        status = f"{base_topic}/status"
        async with (
            member(settings_for(mosquitto.port, base_topic), "a"),
            collect(mosquitto.port, status) as watcher,
        ):
            await watcher.wait_for_payload(status, b"online")
            await watcher.publish(status, b"offline", retain=True)
            await watcher.wait_count(status, 3)
            await settle()
            assert [b"online", b"offline", b"online"] == watcher.payloads(status)
            assert b"online" == await retained_status(mosquitto.port, base_topic)

    async def test_one_of_two_stopping(self, mosquitto: MosquittoBroker, base_topic: str) -> None:
        """Two instances on one base topic: the first stopping (its own 'offline') leaves
        'online' retained while the second runs; the second stopping leaves 'offline'."""
        status = f"{base_topic}/status"
        async with collect(mosquitto.port, status) as watcher:
            async with member(settings_for(mosquitto.port, base_topic), "b"):
                async with member(settings_for(mosquitto.port, base_topic), "a"):
                    pass
                await watcher.wait_for_payload(status, b"offline")
                await watcher.wait_count(status, 4)
                await settle()
                assert b"online" == watcher.payloads(status)[-1]
                assert b"online" == await retained_status(mosquitto.port, base_topic)
            await watcher.wait_count(status, 5)
            assert b"offline" == watcher.payloads(status)[-1]
        assert b"offline" == await retained_status(mosquitto.port, base_topic)

    async def test_the_will_of_one_that_died(
        self, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """A group member killed (SIGKILL: the broker publishes its will, 'offline'): the
        other one says 'online' again and takes every request from then on."""
        status = f"{base_topic}/status"
        group = unique_id("g")
        inbox = f"{base_topic}-client/inbox"
        settings = settings_for(mosquitto.port, base_topic, share_group=group)
        async with (
            collect(mosquitto.port, status, inbox) as client,
            member(settings, "alive"),
        ):
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                *("-c", MEMBER_SCRIPT, str(mosquitto.port), base_topic, group, "doomed"),
                stdout=asyncio.subprocess.PIPE,
            )
            try:
                assert process.stdout is not None
                async with asyncio.timeout(20):
                    line = b"log lines first"
                    while line and line != b"ready\n":
                        line = await process.stdout.readline()
                assert b"ready\n" == line
                before = await ask_who(client, base_topic, inbox, 6)
                seen = len(client.on(status))
            finally:
                if process.returncode is None:
                    process.kill()
                await process.wait()
            await client.wait_count(status, seen + 2)
            assert [b"offline", b"online"] == client.payloads(status)[seen:]
            after = await ask_who(client, base_topic, inbox, 6)
            await settle()
            assert b"online" == await retained_status(mosquitto.port, base_topic)
        assert {"alive", "doomed"} == set(before)
        assert ["alive"] * 6 == after
        assert 12 == len(client.on(inbox))


class TestShareGroup:
    async def test_each_request_answered_once(
        self, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """Two members of a group: N requests, N replies, both members answering some;
        one stopped, the other answers all; back, both again."""
        group = unique_id("g")
        inbox = f"{base_topic}-client/inbox"
        first = settings_for(mosquitto.port, base_topic, share_group=group)
        second = settings_for(mosquitto.port, base_topic, share_group=group)
        async with collect(mosquitto.port, inbox) as client:
            async with member(first, "a"):
                async with member(second, "b"):
                    together = await ask_who(client, base_topic, inbox, 10)
                alone = await ask_who(client, base_topic, inbox, 10)
                async with member(second, "b"):
                    again = await ask_who(client, base_topic, inbox, 10)
            await settle()
            replies = len(client.on(inbox))
        assert 30 == replies
        assert {"a": 5, "b": 5} == Counter(together)
        assert ["a"] * 10 == alone
        assert {"a", "b"} == set(again)

    async def test_outside_the_group_everyone_answers(
        self, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """Without a group, two instances on one base topic both answer (what the group is
        for): two replies to one request."""
        inbox = f"{base_topic}-client/inbox"
        async with (
            collect(mosquitto.port, inbox) as client,
            member(settings_for(mosquitto.port, base_topic), "a"),
            member(settings_for(mosquitto.port, base_topic), "b"),
        ):
            await client.publish(Topics(base_topic).request("who"), b"{}", response_topic=inbox)
            await client.wait_count(inbox, 2)
        assert ["a", "b"] == sorted(json.loads(m.payload)["data"] for m in client.on(inbox))

    async def test_no_session_kept(self, mosquitto: MosquittoBroker, base_topic: str) -> None:
        """A group member connects with a clean start and no session expiry: requests sent
        while it is away are not queued for it (the group's others take them)."""
        group = unique_id("g")
        inbox = f"{base_topic}-client/inbox"
        settings = settings_for(mosquitto.port, base_topic, share_group=group)
        async with collect(mosquitto.port, inbox) as client:
            async with member(settings, "a"):
                pass
            await client.publish(Topics(base_topic).request("who"), b"{}", response_topic=inbox)
            async with member(settings, "a"):
                await settle()
            assert [] == client.on(inbox)
        connects = [
            line for line in mosquitto.logs().splitlines() if f"as {settings.client_id} " in line
        ]
        assert 2 == len(connects)
        assert all("c1" in line and "k5" in line for line in connects)

    async def test_shared_request_filter_refused_as_a_subscription(self, base_topic: str) -> None:
        """A shared filter over the request topics cannot be followed as another topic."""
        publisher = MqttClient(MqttSettings(base_topic=base_topic), router_of("a"))

        async def handler(topic: str, payload: bytes) -> None:
            return None

        for topic_filter in (f"$share/g/{base_topic}/request/#", "$share/g/#"):
            with pytest.raises(ValueError, match="overlaps"):
                await publisher.add_subscription(topic_filter, handler)
        await publisher.add_subscription(f"$share/g/{base_topic}/other", handler)


class TestShareGroupSetting:
    @pytest.mark.parametrize("group", ["energyd", "home-1", "a_b", "0"])
    def test_accepted(self, group: str) -> None:
        """A lower-case name of letters, digits, '-' and '_' is a share group."""
        assert group == MqttSettings(share_group=group).share_group

    @pytest.mark.parametrize("group", ["", "Energyd", "a/b", "a+", "#", "-a", "x" * 33, "$share"])
    def test_refused(self, group: str) -> None:
        """Anything else (a topic level or a Home Assistant id could not hold it) is refused."""
        with pytest.raises(pydantic.ValidationError, match="share_group"):
            MqttSettings(share_group=group)

    def test_off_by_default(self) -> None:
        """No group unless configured."""
        assert MqttSettings().share_group is None
