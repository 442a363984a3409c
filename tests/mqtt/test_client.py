"""The MQTT connection loop against a real mosquitto."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from energyd.config import MqttSettings
from energyd.exceptions import ConfigError
from energyd.mqtt.client import MqttClient
from energyd.mqtt.commands import CommandRouter
from energyd.mqtt.topics import Topics
from tests.support.broker import MosquittoBroker, collect, unique_id

pytestmark = pytest.mark.mqtt

WILL_SCRIPT = """
import asyncio, sys
from energyd.config import MqttSettings
from energyd.exceptions import ConfigError
from energyd.mqtt import CommandRouter, MqttClient

async def main():
    port, client_id, base = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    settings = MqttSettings(host="127.0.0.1", port=port, client_id=client_id, base_topic=base)
    async with MqttClient(settings, CommandRouter()) as publisher:
        await publisher.wait_ready()
        print("ready", flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


def settings_for(port: int, base_topic: str) -> MqttSettings:
    return MqttSettings(
        host="127.0.0.1",
        port=port,
        client_id=unique_id("energyd"),
        base_topic=base_topic,
        keepalive=5,
        reconnect_min_seconds=0.05,
        reconnect_max_seconds=0.2,
    )


class Escaped(BaseException):
    """Stands for a bug that escapes every ``except Exception`` (not an error we expect)."""


def make_router() -> CommandRouter:
    router = CommandRouter()
    gate = asyncio.Event()

    async def ping(args: dict[str, Any]) -> str:
        return "pong"

    async def echo(args: dict[str, Any]) -> dict[str, Any]:
        return args

    async def wait(args: dict[str, Any]) -> str:
        await gate.wait()
        return "released"

    async def release(args: dict[str, Any]) -> str:
        gate.set()
        return "done"

    async def escape(args: dict[str, Any]) -> None:
        raise Escaped  # what no handler boundary catches: the exit must still say offline

    router.add("escape", escape)
    router.add("ping", ping)
    router.add("echo", echo)
    router.add("gate/wait", wait)
    router.add("gate/release", release)
    return router


@asynccontextmanager
async def running(
    settings: MqttSettings,
    *,
    ready: bool = True,
    on_connect: Callable[[], Any] | None = None,
) -> AsyncIterator[MqttClient]:
    async with MqttClient(settings, make_router(), on_connect=on_connect) as publisher:
        if ready:
            async with asyncio.timeout(10):
                await publisher.wait_ready()
        yield publisher


async def eventually(condition: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 -- polls state that has no event to wait on
            await asyncio.sleep(0.01)


def decoded(payload: bytes | bytearray) -> Any:
    return json.loads(payload)


class TestAvailability:
    async def test_online_retained(self, mosquitto: MosquittoBroker, base_topic: str) -> None:
        """Once ready, <base>/status holds a retained 'online'."""
        async with (
            running(settings_for(mosquitto.port, base_topic)),
            collect(mosquitto.port, f"{base_topic}/status") as late_subscriber,
        ):
            message = await late_subscriber.wait_for(f"{base_topic}/status")
        assert (b"online", True) == (message.payload, message.retain)

    async def test_offline_on_clean_shutdown(
        self, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """Leaving the context publishes 'offline' itself, then disconnects cleanly."""
        settings = settings_for(mosquitto.port, base_topic)
        status = f"{base_topic}/status"
        async with collect(mosquitto.port, status) as watcher:
            async with running(settings):
                await watcher.wait_for_payload(status, b"online")
            await watcher.wait_for_payload(status, b"offline")
        # A clean DISCONNECT suppresses the will, so the 'offline' above was our own.
        await eventually(lambda: f"Client {settings.client_id} disconnected." in mosquitto.logs())
        assert f"Client {settings.client_id} closed its connection." not in mosquitto.logs()

    @pytest.mark.parametrize(
        ("ending", "raised"),
        [("cancelled", asyncio.CancelledError), ("crashed", BaseExceptionGroup)],
    )
    async def test_offline_however_run_ends(
        self,
        mosquitto: MosquittoBroker,
        base_topic: str,
        ending: str,
        raised: type[BaseException],
    ) -> None:
        """run() cancelled (a stop, in a task group of one's own) or ended by a bug escaping a
        handler: either way 'offline' is left retained (the clean DISCONNECT means no will)."""
        publisher = MqttClient(settings_for(mosquitto.port, base_topic), make_router())
        status = f"{base_topic}/status"
        async with collect(mosquitto.port, status) as watcher:
            task = asyncio.create_task(publisher.run())
            await watcher.wait_for_payload(status, b"online")
            if ending == "cancelled":
                task.cancel()
            else:
                await watcher.publish(Topics(base_topic).request("escape"), b"{}")
            with pytest.raises(raised):
                async with asyncio.timeout(10):
                    await task
            await watcher.wait_for_payload(status, b"offline")
        assert [b"online", b"offline"] == watcher.payloads(status)

    async def test_will_on_lost_connection(
        self, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """A daemon killed with SIGKILL leaves 'offline' behind through its will."""
        status = f"{base_topic}/status"
        async with collect(mosquitto.port, status) as watcher:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                WILL_SCRIPT,
                str(mosquitto.port),
                unique_id("energyd-will"),
                base_topic,
                stdout=asyncio.subprocess.PIPE,
            )
            try:
                assert process.stdout is not None
                async with asyncio.timeout(20):
                    line = b"log lines first"
                    while line and line != b"ready\n":
                        line = await process.stdout.readline()
                assert b"ready\n" == line
                await watcher.wait_for_payload(status, b"online")
            finally:
                if process.returncode is None:
                    process.kill()
                await process.wait()
            message = await watcher.wait_for_payload(status, b"offline")
        assert [b"online", b"offline"] == watcher.payloads(status)
        assert -9 == process.returncode
        assert 1 == message.qos

    async def test_entered_once(self, mosquitto: MosquittoBroker, base_topic: str) -> None:
        """The publisher is one lifecycle: entering it again is an error."""
        publisher = MqttClient(settings_for(mosquitto.port, base_topic), make_router())
        async with publisher:
            pass
        with pytest.raises(RuntimeError, match="entered once"):
            await publisher.__aenter__()


class TestCommands:
    async def test_answered(self, mosquitto: MosquittoBroker, base_topic: str) -> None:
        """A request is answered on <base>/response/<command> with the transaction echoed."""
        topics = Topics(base_topic)
        async with (
            running(settings_for(mosquitto.port, base_topic)),
            collect(mosquitto.port, f"{base_topic}/response/#") as client,
        ):
            await client.publish(topics.request("ping"), b'{"transaction": "t1"}')
            message = await client.wait_for(topics.response("ping"))
        expected = {"status": "ok", "data": "pong", "error": None, "transaction": "t1"}
        assert expected == decoded(message.payload)
        assert (1, False) == (message.qos, message.retain)

    async def test_multi_level_command(self, mosquitto: MosquittoBroker, base_topic: str) -> None:
        """Commands with '/' are routed and answered on the matching response topic."""
        topics = Topics(base_topic)
        async with (
            running(settings_for(mosquitto.port, base_topic)),
            collect(mosquitto.port, f"{base_topic}/response/#") as client,
        ):
            await client.publish(topics.request("gate/release"), b"")
            message = await client.wait_for(topics.response("gate/release"))
        assert "done" == decoded(message.payload)["data"]

    async def test_bad_requests_do_not_stop_the_loop(
        self, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """Every parse error is answered with its code, and the next request still works."""
        topics = Topics(base_topic)
        bad = [
            ("echo", b"x" * (64 * 1024 + 1), "payload_too_large"),
            ("echo", b"\xff\xfe", "invalid_encoding"),
            ("echo", b"{nope", "invalid_json"),
            ("echo", b"[1]", "invalid_payload"),
            ("nope", b"{}", "unknown_command"),
        ]
        async with (
            running(settings_for(mosquitto.port, base_topic)),
            collect(mosquitto.port, f"{base_topic}/response/#") as client,
        ):
            for command, payload, _ in bad:
                await client.publish(topics.request(command), payload)
            await client.publish(topics.request("ping"), b"")
            message = await client.wait_for(topics.response("ping"))
            await client.wait_count(topics.response("echo"), 4)
            await client.wait_count(topics.response("nope"), 1)
        codes = [
            decoded(m.payload)["error"]["code"]
            for m in client.messages
            if m.topic.value != topics.response("ping")
        ]
        assert sorted(code for _, _, code in bad) == sorted(codes)
        assert "pong" == decoded(message.payload)["data"]

    async def test_v5_response_topic(self, mosquitto: MosquittoBroker, base_topic: str) -> None:
        """A v5 Response Topic gets the reply, with the Correlation Data copied back."""
        topics = Topics(base_topic)
        inbox = f"{base_topic}-client/inbox"
        async with (
            running(settings_for(mosquitto.port, base_topic)),
            collect(mosquitto.port, inbox, f"{base_topic}/response/#") as client,
        ):
            await client.publish(
                topics.request("echo"),
                b'{"x": 1}',
                response_topic=inbox,
                correlation=b"\x00corr-42",
            )
            message = await client.wait_for(inbox)
        assert {"x": 1} == decoded(message.payload)["data"]
        assert b"\x00corr-42" == message.properties.CorrelationData  # type: ignore[union-attr]
        assert [] == client.on(topics.response("echo"))

    @pytest.mark.parametrize("payload", [b'{"transaction": 1e400}', b'{"transaction": "\\ud800"}'])
    async def test_unechoable_transaction_answered(
        self, mosquitto: MosquittoBroker, base_topic: str, payload: bytes
    ) -> None:
        """A transaction no reply can echo gets an error reply, and the next request works."""
        topics = Topics(base_topic)
        async with (
            running(settings_for(mosquitto.port, base_topic)) as publisher,
            collect(mosquitto.port, f"{base_topic}/response/#") as client,
        ):
            await client.publish(topics.request("ping"), payload)
            refused = await client.wait_for(topics.response("ping"))
            await client.publish(topics.request("ping"), b'{"transaction": "after"}')
            after = await client.wait_for(
                topics.response("ping"), lambda m: decoded(m.payload).get("transaction") == "after"
            )
            assert publisher.connected
        assert "error" == decoded(refused.payload)["status"]
        assert "pong" == decoded(after.payload)["data"]

    @pytest.mark.parametrize(
        "target",
        ["{base}/prices/octopus_agile/C/current", "{base}/request/echo", "homeassistant/x"],
    )
    async def test_response_topic_into_own_state_refused(
        self, mosquitto: MosquittoBroker, base_topic: str, target: str
    ) -> None:
        """A Response Topic inside energyd's tree (or discovery) gets an error on the default
        topic, with the transaction and correlation data; nothing reaches the target."""
        topics = Topics(base_topic)
        settings = settings_for(mosquitto.port, base_topic).model_copy(
            update={"discovery_prefix": "homeassistant"}
        )
        target = target.format(base=base_topic)
        async with (
            running(settings),
            collect(mosquitto.port, target, f"{base_topic}/response/#") as client,
        ):
            await client.publish(
                topics.request("echo"),
                b'{"x": 1, "transaction": "t-6"}',
                response_topic=target,
                correlation=b"c-6",
            )
            message = await client.wait_for(topics.response("echo"))
            await client.publish(topics.request("ping"), b"")  # later than any stray reply
            await client.wait_for(topics.response("ping"))
        reply = decoded(message.payload)
        assert ("invalid_response_topic", "t-6") == (reply["error"]["code"], reply["transaction"])
        assert target == reply["error"]["details"]["response_topic"]
        assert b"c-6" == message.properties.CorrelationData  # type: ignore[union-attr]
        assert [] == [
            m for m in client.on(target) if m.payload != b'{"x": 1, "transaction": "t-6"}'
        ]

    async def test_requests_served_concurrently(
        self, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """A slow command does not hold up the next one."""
        topics = Topics(base_topic)
        async with (
            running(settings_for(mosquitto.port, base_topic)),
            collect(mosquitto.port, f"{base_topic}/response/#") as client,
        ):
            await client.publish(topics.request("gate/wait"), b"")
            await client.publish(topics.request("gate/release"), b"")
            waited = await client.wait_for(topics.response("gate/wait"))
        assert "released" == decoded(waited.payload)["data"]

    async def test_retained_requests_ignored(
        self, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """A retained request left on the broker is not replayed on every connect."""
        topics = Topics(base_topic)
        async with collect(mosquitto.port, f"{base_topic}/response/#") as client:
            await client.publish(topics.request("echo"), b'{"stale": true}', retain=True)
            async with running(settings_for(mosquitto.port, base_topic)):
                await client.publish(topics.request("echo"), b'{"fresh": true}')
                await client.wait_for(topics.response("echo"))
            await client.publish(topics.request("echo"), b"", retain=True)  # clean up
        assert [{"fresh": True}] == [
            decoded(p)["data"] for p in client.payloads(topics.response("echo"))
        ]


class TestRetainedState:
    async def test_published_before_connect(
        self, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """Retained state handed over before the connection exists goes out once connected."""
        topic = f"{base_topic}/prices/p/C/current"
        publisher = MqttClient(settings_for(mosquitto.port, base_topic), make_router())
        await publisher.publish_retained(topic, b'{"price": 1}')
        assert not publisher.connected
        async with publisher:
            async with asyncio.timeout(10):
                await publisher.wait_ready()
            async with collect(mosquitto.port, topic) as client:
                message = await client.wait_for(topic)
        assert (b'{"price": 1}', True) == (message.payload, message.retain)

    async def test_unchanged_not_resent(self, mosquitto: MosquittoBroker, base_topic: str) -> None:
        """Publishing the same payload again on one connection sends nothing."""
        topic = f"{base_topic}/providers"
        async with (
            running(settings_for(mosquitto.port, base_topic)) as publisher,
            collect(mosquitto.port, topic) as client,
        ):
            for payload in (b"a", b"a", b"b", b"b", b"a"):
                await publisher.publish_retained(topic, payload)
            await client.wait_count(topic, 3)
        assert [b"a", b"b", b"a"] == client.payloads(topic)

    async def test_clear(self, mosquitto: MosquittoBroker, base_topic: str) -> None:
        """clear_retained removes the broker's retained value."""
        topic = f"{base_topic}/prices/p/C/next"
        async with running(settings_for(mosquitto.port, base_topic)) as publisher:
            await publisher.publish_retained(topic, b"x")
            await publisher.clear_retained(topic)
            async with collect(mosquitto.port, f"{base_topic}/prices/#") as client:
                await client.publish(f"{base_topic}/prices/marker", b"m")
                await client.wait_for(f"{base_topic}/prices/marker")
        assert [] == client.on(topic)
        assert 0 == publisher.stats.retained_topics

    async def test_on_connect_called(self, mosquitto: MosquittoBroker, base_topic: str) -> None:
        """on_connect runs once the connection is set up, and it may publish."""
        calls: list[bool] = []
        holder: list[MqttClient] = []

        async def on_connect() -> None:
            calls.append(holder[0].connected)
            await holder[0].publish_retained(f"{base_topic}/providers", b"hello")

        publisher = MqttClient(
            settings_for(mosquitto.port, base_topic), make_router(), on_connect=on_connect
        )
        holder.append(publisher)
        async with publisher:
            async with asyncio.timeout(10):
                await publisher.wait_ready()
            async with collect(mosquitto.port, f"{base_topic}/providers") as client:
                message = await client.wait_for(f"{base_topic}/providers")
        assert ([True], b"hello") == (calls, message.payload)


class TestReconnect:
    async def test_broker_missing_at_start(self, broker: MosquittoBroker, base_topic: str) -> None:
        """A refused connect is retried until the broker is there."""
        broker.stop()
        async with running(settings_for(broker.port, base_topic), ready=False) as publisher:
            await eventually(lambda: publisher.stats.last_error is not None)
            assert not publisher.connected
            broker.start()
            async with asyncio.timeout(10):
                await publisher.wait_ready()
            assert 1 == publisher.stats.connects

    async def test_restart_republishes_and_serves(
        self, broker: MosquittoBroker, base_topic: str
    ) -> None:
        """After a broker restart that lost everything, retained state is back and commands work."""
        topics = Topics(base_topic)
        price = topics.price("p", "C", "current")
        async with running(settings_for(broker.port, base_topic)) as publisher:
            await publisher.publish_retained(price, b"v1")
            broker.stop()
            await eventually(lambda: not publisher.connected)
            await publisher.publish_retained(topics.providers(), b"while-away")
            broker.start(forget=True)
            await eventually(lambda: publisher.stats.connects == 2)
            async with asyncio.timeout(10):
                await publisher.wait_ready()
            async with collect(
                broker.port, price, topics.providers(), topics.status(), f"{base_topic}/response/#"
            ) as client:
                await client.publish(topics.request("ping"), b"")
                reply = await client.wait_for(topics.response("ping"))
                retained = {
                    t: (await client.wait_for(t)).payload
                    for t in (price, topics.providers(), topics.status())
                }
        expected = {price: b"v1", topics.providers(): b"while-away", topics.status(): b"online"}
        assert expected == retained
        assert "pong" == decoded(reply.payload)["data"]

    async def test_restart_republishes_more_than_a_batch_and_empties_the_cleared(
        self, broker: MosquittoBroker, base_topic: str
    ) -> None:
        """A broker that kept its retained messages gets every retained value again (more
        than one batch of them, each exactly as cached) and the topic cleared while it was
        away emptied: nothing stale stays retained."""
        topics = Topics(base_topic)
        names = [topics.price("p", f"R{i:03d}", "current") for i in range(130)]
        gone = topics.price("gone", "C", "current")
        async with running(settings_for(broker.port, base_topic)) as publisher:
            await publisher.publish_retained_many({name: name.encode() for name in names})
            await publisher.publish_retained(gone, b"old")
            broker.stop()
            await eventually(lambda: not publisher.connected)
            await publisher.clear_retained(gone)
            await publisher.publish_retained(names[7], b"changed while away")
            broker.start()  # with what it had retained (persistence): "old" too
            await eventually(lambda: publisher.stats.connects == 2)
            async with asyncio.timeout(10):
                await publisher.wait_ready()
        # A subscriber arriving afterwards sees the broker's retained state: all of it.
        async with collect(broker.port, f"{base_topic}/prices/#") as reader:
            marker = f"{base_topic}/prices/marker"  # after every retained message it was sent
            await reader.publish(marker, b"after the retained ones")
            await reader.wait_count(marker, 1)
            retained = {t: reader.payloads(t)[-1] for t in names}
            assert [] == reader.payloads(gone)
        expected = {name: name.encode() for name in names} | {names[7]: b"changed while away"}
        assert expected == retained

    async def test_broker_gone_during_a_burst(
        self, broker: MosquittoBroker, base_topic: str
    ) -> None:
        """A broker that goes away while a burst of retained values is in flight: the burst
        ends without an exception (deferred), the client reconnects, and everything is sent."""
        topics = Topics(base_topic)
        names = [topics.price("p", f"R{i:03d}", "current") for i in range(900)]  # < max_queued
        async with running(settings_for(broker.port, base_topic)) as publisher:
            burst = asyncio.create_task(publisher.publish_retained_many(dict.fromkeys(names, b"v")))
            await eventually(lambda: publisher.stats.published > 50, within=10)
            broker.stop()
            async with asyncio.timeout(10):
                await burst  # returns: what was not acknowledged goes out on reconnect
            broker.start()
            await eventually(lambda: publisher.stats.connects == 2)
            async with asyncio.timeout(10):
                await publisher.wait_ready()
        async with collect(broker.port, f"{base_topic}/prices/#") as reader:
            await reader.wait_count(names[-1], 1, within=10)
            marker = f"{base_topic}/prices/marker"
            await reader.publish(marker, b"after the retained ones")
            await reader.wait_count(marker, 1)
            assert set(names) <= {m.topic.value for m in reader.messages}

    async def test_back_soon_after_a_long_outage(
        self, broker: MosquittoBroker, base_topic: str
    ) -> None:
        """After an outage long enough to grow the backoff, a broker that had been healthy is
        rejoined within about a second of accepting connections again (port probing)."""
        settings = settings_for(broker.port, base_topic).model_copy(
            update={"reconnect_min_seconds": 2.0, "reconnect_max_seconds": 30.0}
        )
        async with running(settings) as publisher:
            broker.stop()
            await eventually(lambda: not publisher.connected)
            await asyncio.sleep(7)  # failed attempts at ~0, ~2-4 s: the next backoff is 4-8 s
            broker.start()
            back = asyncio.get_running_loop().time()
            async with asyncio.timeout(10):
                await publisher.wait_ready()
            took = asyncio.get_running_loop().time() - back
        assert took < 2.0, f"reconnected {took:.2f} s after the broker came back"

    async def test_backoff_kept_for_a_port_that_refuses_the_session(
        self, broker: MosquittoBroker, base_topic: str
    ) -> None:
        """A port that accepts TCP but not MQTT (here: closes at once) gets the plain backoff,
        not a connect every probe interval."""
        accepted: list[float] = []

        async def slam(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append(asyncio.get_running_loop().time())
            writer.close()

        settings = settings_for(broker.port, base_topic).model_copy(
            update={"reconnect_min_seconds": 1.0, "reconnect_max_seconds": 30.0}
        )
        async with running(settings) as publisher:
            broker.stop()
            server = await asyncio.start_server(slam, "127.0.0.1", broker.port)
            async with server:
                await eventually(lambda: not publisher.connected)
                await asyncio.sleep(4)
        # Probing every 0.5 s would be 8+ connections; backoff 1, 2, 4 s with one probe each
        # failure is at most 3 attempts + 3 probes.
        assert len(accepted) <= 6, accepted

    async def test_request_while_disconnected(
        self, broker: MosquittoBroker, base_topic: str
    ) -> None:
        """A request sent while the daemon is away is answered when it is back (its session)."""
        topics = Topics(base_topic)
        response = topics.response("echo")
        replies = unique_id("replies")
        async with running(settings_for(broker.port, base_topic)) as publisher:
            async with collect(broker.side_port, response, identifier=replies, persistent=True):
                pass
            broker.restart(main_listener=False)  # the daemon cannot get back in
            await eventually(lambda: not publisher.connected)
            async with collect(broker.side_port) as sender:
                await sender.publish(topics.request("echo"), b'{"n": 1, "transaction": 7}')
            assert not publisher.connected
            broker.restart()
            async with collect(
                broker.side_port, response, identifier=replies, persistent=True
            ) as client:
                message = await client.wait_for(response)
        expected = {"status": "ok", "data": {"n": 1}, "error": None, "transaction": 7}
        assert expected == decoded(message.payload)


class TestSetup:
    async def test_stats_counted(self, mosquitto: MosquittoBroker, base_topic: str) -> None:
        """Connects, requests, replies and publishes are counted for /metrics."""
        topics = Topics(base_topic)
        async with (
            running(settings_for(mosquitto.port, base_topic)) as publisher,
            collect(mosquitto.port, f"{base_topic}/response/#") as client,
        ):
            await publisher.publish_retained(topics.providers(), b"{}")
            await client.publish(topics.request("ping"), b"")
            await client.wait_for(topics.response("ping"))
            await eventually(lambda: publisher.stats.replies == 1)
            stats = publisher.stats.as_json()
        expected = {"connects": 1, "requests": 1, "replies": 1, "retained_topics": 1}
        assert expected == {key: stats[key] for key in expected}
        assert 3 == stats["published"]  # online, the retained topic, the reply

    def test_missing_ca_file(self, tmp_path: Path) -> None:
        """A TLS CA file that cannot be loaded is a configuration error, named as such."""
        settings = MqttSettings(tls=True, ca_file=tmp_path / "missing.pem")
        with pytest.raises(ConfigError) as caught:
            MqttClient(settings, make_router())
        assert ["mqtt.ca_file"] == list(caught.value.errors)

    def test_password_not_in_repr_or_logs(self) -> None:
        """The password stays a SecretStr everywhere the client shows settings."""
        settings = MqttSettings(username="u", password="hunter2")  # type: ignore[arg-type]
        client = MqttClient(settings, make_router())
        assert "hunter2" not in repr(vars(client))


class Inbox:
    """What a subscription handler received, with a wait that ends in a timeout."""

    def __init__(self, *, fail_first: bool = False) -> None:
        self.messages: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._fail_first = fail_first

    async def __call__(self, topic: str, payload: bytes) -> None:
        if self._fail_first:
            self._fail_first = False
            raise RuntimeError("handler bug")
        await self.messages.put((topic, payload))

    async def next(self) -> tuple[str, bytes]:
        async with asyncio.timeout(5):
            return await self.messages.get()


class TestSubscriptions:
    async def test_messages_and_retained_delivered(
        self, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """A followed topic's retained value arrives at connect, then each new message."""
        ha_status = f"{base_topic}-ha/status"
        inbox = Inbox()
        async with collect(mosquitto.port) as client:
            await client.publish(ha_status, b"offline", retain=True)
            publisher = MqttClient(settings_for(mosquitto.port, base_topic), make_router())
            await publisher.add_subscription(ha_status, inbox)
            async with publisher:
                first = await inbox.next()
                await client.publish(ha_status, b"online")
                second = await inbox.next()
            await client.publish(ha_status, b"", retain=True)  # clean up
        assert [(ha_status, b"offline"), (ha_status, b"online")] == [first, second]

    async def test_wildcard_filter(self, mosquitto: MosquittoBroker, base_topic: str) -> None:
        """A filter with wildcards hands over each matching topic with its payload."""
        inbox = Inbox()
        async with (
            running(settings_for(mosquitto.port, base_topic)) as publisher,
            collect(mosquitto.port) as client,
        ):
            await publisher.add_subscription(f"{base_topic}-ha/device/+/config", inbox)
            await client.publish(f"{base_topic}-ha/device/a/config", b"{}")
            received = await inbox.next()
        assert (f"{base_topic}-ha/device/a/config", b"{}") == received

    async def test_added_while_connected(self, mosquitto: MosquittoBroker, base_topic: str) -> None:
        """A subscription added on a live connection works at once."""
        ha_status = f"{base_topic}-ha/status"
        inbox = Inbox()
        async with (
            running(settings_for(mosquitto.port, base_topic)) as publisher,
            collect(mosquitto.port) as client,
        ):
            await publisher.add_subscription(ha_status, inbox)
            await client.publish(ha_status, b"online")
            received = await inbox.next()
        assert (ha_status, b"online") == received

    async def test_resubscribed_after_broker_restart(
        self, broker: MosquittoBroker, base_topic: str
    ) -> None:
        """After a broker that forgot every session comes back, the topic is followed again."""
        ha_status = f"{base_topic}-ha/status"
        inbox = Inbox()
        publisher = MqttClient(settings_for(broker.port, base_topic), make_router())
        await publisher.add_subscription(ha_status, inbox)
        async with publisher:
            async with asyncio.timeout(10):
                await publisher.wait_ready()
            broker.stop()
            await eventually(lambda: not publisher.connected)
            broker.start(forget=True)
            await eventually(lambda: publisher.stats.connects == 2)
            async with asyncio.timeout(10):
                await publisher.wait_ready()
            async with collect(broker.port) as client:
                await client.publish(ha_status, b"online")
                received = await inbox.next()
        assert (ha_status, b"online") == received

    async def test_failing_handler_does_not_stop_the_loop(
        self, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """A handler that raises is logged; commands and later messages still go through."""
        ha_status = f"{base_topic}-ha/status"
        topics = Topics(base_topic)
        inbox = Inbox(fail_first=True)
        async with (
            running(settings_for(mosquitto.port, base_topic)) as publisher,
            collect(mosquitto.port, f"{base_topic}/response/#") as client,
        ):
            await publisher.add_subscription(ha_status, inbox)
            await client.publish(ha_status, b"first")
            await client.publish(topics.request("ping"), b"")
            reply = await client.wait_for(topics.response("ping"))
            await client.publish(ha_status, b"second")
            received = await inbox.next()
        assert (ha_status, b"second") == received
        assert "pong" == decoded(reply.payload)["data"]
        assert 1 == publisher.stats.connects

    @pytest.mark.parametrize(
        "topic_filter",
        ["#", "{base}/#", "{base}/request/#", "+/request/ping", "{base}/+/+", "a/#/b", ""],
    )
    async def test_refused_filters(self, base_topic: str, topic_filter: str) -> None:
        """Filters that could catch requests, or are not valid filters, are refused."""
        publisher = MqttClient(MqttSettings(base_topic=base_topic), make_router())
        with pytest.raises(ValueError, match="filter"):
            await publisher.add_subscription(topic_filter.format(base=base_topic), Inbox())

    async def test_allowed_filters(self, base_topic: str) -> None:
        """Filters beside the request topics are accepted; the same filter twice is not."""
        publisher = MqttClient(MqttSettings(base_topic=base_topic), make_router())
        for topic_filter in ("homeassistant/status", f"{base_topic}/+", f"{base_topic}/x/#"):
            await publisher.add_subscription(topic_filter, Inbox())
        with pytest.raises(ValueError, match="already"):
            await publisher.add_subscription("homeassistant/status", Inbox())


class TestRepublish:
    async def test_unchanged_state_sent_again(
        self, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """republish() sends cached retained values again, the chosen ones or all."""
        providers = f"{base_topic}/providers"
        price = f"{base_topic}/prices/p/C/current"
        async with (
            running(settings_for(mosquitto.port, base_topic)) as publisher,
            collect(mosquitto.port, providers, price) as client,
        ):
            await publisher.publish_retained(providers, b"a")
            await publisher.publish_retained(price, b"1")
            await publisher.republish([providers, f"{base_topic}/not-cached"])
            await client.wait_count(providers, 2)
            await publisher.republish()
            await client.wait_count(providers, 3)
            await client.wait_count(price, 2)
        assert ([b"a"] * 3, [b"1"] * 2) == (client.payloads(providers), client.payloads(price))

    async def test_no_op_while_disconnected(self, base_topic: str) -> None:
        """Without a connection there is nothing to do (the next connect sends everything)."""
        publisher = MqttClient(MqttSettings(base_topic=base_topic), make_router())
        await publisher.publish_retained(f"{base_topic}/providers", b"a")
        await publisher.republish()
        assert (0, 0) == (publisher.stats.published, publisher.stats.publish_failures)
