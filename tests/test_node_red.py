"""The example Node-RED flow only uses topics the daemon serves, and its request is answered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.broker import MosquittoBroker, collect
from tests.support.daemon import daemon_settings, running
from tests.support.fake_octopus import RunningFake

FLOW = Path(__file__).resolve().parents[1] / "examples" / "node-red" / "flow.json"


def nodes(kind: str) -> list[dict[str, Any]]:
    return [node for node in json.loads(FLOW.read_text()) if node["type"] == kind]


def rebase(topic: str, base: str) -> str:
    assert topic.startswith("energyd/"), topic
    return base + topic[len("energyd") :]


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
            await client.wait_for(current, lambda m: json.loads(m.payload)["available"], within=10)
            for topic in subscribed:
                if "/response/" in topic:
                    continue
                message = await client.wait_for(topic)
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
