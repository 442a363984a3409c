"""The example Node-RED flow only uses topics the daemon serves, and its request is answered."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiomqtt

from tests.support.broker import Collector, MosquittoBroker, collect
from tests.support.daemon import daemon_settings, running
from tests.support.fake_octopus import RunningFake

FLOW = Path(__file__).resolve().parents[1] / "examples" / "node-red" / "flow.json"


def nodes(kind: str) -> list[dict[str, Any]]:
    return [node for node in json.loads(FLOW.read_text()) if node["type"] == kind]


def rebase(topic: str, base: str) -> str:
    assert topic.startswith("energyd/"), topic
    return base + topic[len("energyd") :]


async def first_match(
    client: Collector,
    pattern: str,
    predicate: Callable[[aiomqtt.Message], bool] = lambda _: True,
    *,
    within: float = 10.0,
) -> aiomqtt.Message:
    """The first message (received so far or later) on a topic ``pattern`` (a filter, as
    Node-RED's mqtt in node subscribes to it) matches, for which ``predicate`` holds."""

    def found() -> aiomqtt.Message | None:
        return next((m for m in client.messages if m.topic.matches(pattern) and predicate(m)), None)

    async with asyncio.timeout(within):
        while (message := found()) is None:  # noqa: ASYNC110 -- the collector has no event per topic
            await asyncio.sleep(0.02)
    return message


def available(message: aiomqtt.Message) -> bool:
    return bool(message.payload) and bool(json.loads(message.payload)["available"])


class TestFlowFile:
    def test_wiring_is_complete(self) -> None:
        """Every wire leads to a node of the flow and every MQTT node uses the flow's broker."""
        flow = json.loads(FLOW.read_text())
        ids = {node["id"] for node in flow}
        brokers = {node["id"] for node in flow if node["type"] == "mqtt-broker"}
        for node in flow:
            for output in node.get("wires", []):
                assert set(output) <= ids, node["id"]
            if node["type"] in ("mqtt in", "mqtt out"):
                assert node["broker"] in brokers

    def test_price_topics_follow_any_region(self) -> None:
        """The price subscriptions have a + where the region goes: a region change needs no
        edit of the flow."""
        topics = [n["topic"] for n in nodes("mqtt in") if "/prices/" in n["topic"]]
        assert 2 == len(topics)
        assert all("+" == topic.split("/")[3] for topic in topics), topics

    def test_request_carries_a_transaction_the_reply_switch_checks(self) -> None:
        """The reply switch matches the transaction the inject node sends."""
        (inject,) = nodes("inject")
        request = json.loads(inject["payload"])
        switch = next(n for n in nodes("switch") if n["property"] == "payload.transaction")
        assert request["transaction"] == switch["rules"][0]["v"]


class TestAgainstTheDaemon:
    async def test_topics_served_and_request_answered(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """Each subscribed topic carries retained state; the flow's request gets an ok reply."""
        settings = daemon_settings(tmp_path, mosquitto.port, base_topic, fake_api.url)
        subscribed = [rebase(node["topic"], base_topic) for node in nodes("mqtt in")]
        (out,) = nodes("mqtt out")
        (inject,) = nodes("inject")
        async with running(settings), collect(mosquitto.port, f"{base_topic}/#") as client:
            current = rebase(nodes("mqtt in")[0]["topic"], base_topic)
            await first_match(client, current, available)
            for topic in subscribed:
                if "/response/" in topic:
                    continue
                message = await first_match(client, topic)
                assert json.loads(bytes(message.payload)), topic
            await client.publish(rebase(out["topic"], base_topic), inject["payload"])
            reply_topic = next(t for t in subscribed if "/response/" in t)
            transaction = json.loads(inject["payload"])["transaction"]
            reply = await client.wait_for(
                reply_topic, lambda m: json.loads(m.payload).get("transaction") == transaction
            )
        body = json.loads(bytes(reply.payload))
        assert "ok" == body["status"], body
        assert 180 == body["data"]["minutes"]

    async def test_topics_still_match_after_a_region_change(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """After settings/set moves octopus_agile from C to J, the flow's subscriptions match
        the new topics, which carry prices; the old ones are emptied (a "" the flow's function
        ignores)."""
        settings = daemon_settings(tmp_path, mosquitto.port, base_topic, fake_api.url)
        patterns = [
            rebase(node["topic"], base_topic)
            for node in nodes("mqtt in")
            if "/prices/" in node["topic"]
        ]
        async with running(settings), collect(mosquitto.port, f"{base_topic}/#") as client:
            for pattern in patterns:
                before = await first_match(client, pattern, lambda m: bool(m.payload))
                assert "/C/" in before.topic.value
            await client.publish(
                f"{base_topic}/request/settings/set",
                json.dumps({"key": "energy.providers.octopus_agile.region", "value": "J"}),
            )
            moved = [
                await first_match(
                    client, pattern, lambda m: "/J/" in m.topic.value and bool(m.payload)
                )
                for pattern in patterns
            ]
            priced = await first_match(
                client, patterns[0], lambda m: "/J/" in m.topic.value and available(m)
            )
            emptied = await first_match(
                client, patterns[0], lambda m: "/C/" in m.topic.value and not m.payload
            )
        expected = [f"{base_topic}/prices/octopus_agile/J/{p.rsplit('/', 1)[1]}" for p in patterns]
        assert expected == [m.topic.value for m in moved]
        assert expected[0] == priced.topic.value
        assert f"{base_topic}/prices/octopus_agile/C/current" == emptied.topic.value
