"""Broker outages: mosquitto killed and restarted, requests sent while the daemon is away, and
how soon the daemon is back once the broker is."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.faults.support_faults import ask, kill_broker, payload, settled
from tests.support.broker import MosquittoBroker, collect, unique_id
from tests.support.daemon import daemon_settings, running
from tests.support.fake_octopus import RunningFake

CURRENT = "prices/octopus_agile/C/current"


class TestBrokerKilled:
    async def test_status_and_current_price_back_after_each_kill(
        self, tmp_path: Path, broker: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """After each SIGKILL and restart of mosquitto, status is online and the price is back."""
        settings = daemon_settings(tmp_path, broker.port, base_topic, fake_api.url)
        current = f"{base_topic}/{CURRENT}"
        status = f"{base_topic}/status"
        seen = []
        async with running(settings):
            for forget in (None, True, False, True):
                if forget is not None:
                    kill_broker(broker)
                    broker.start(forget=forget)
                async with collect(broker.port, f"{base_topic}/#") as client:
                    back = await client.wait_for_payload(status, b"online", within=10)
                    price = await client.wait_for(current, lambda m: payload(m)["available"])
                    health = await ask(client, base_topic, "health", {})
                    await settled(client)  # no publish in flight when the broker dies
                seen.append((bytes(back.payload), payload(price)["valid_from"], health["status"]))
        assert [seen[0]] * 4 == seen

    async def test_kill_during_the_publish_burst_recovers_within_3s(
        self, tmp_path: Path, broker: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """A broker killed while the daemon re-publishes its state is rejoined within 3 s."""
        settings = daemon_settings(tmp_path, broker.port, base_topic, fake_api.url)
        current = f"{base_topic}/{CURRENT}"
        status = f"{base_topic}/status"
        async with running(settings):
            async with collect(broker.port, f"{base_topic}/#") as client:
                await client.wait_for(current, lambda m: payload(m)["available"], within=10)
                await settled(client)
            kill_broker(broker)
            broker.start(forget=True)
            async with collect(broker.port, status) as client:
                # "online" is the first publish after a connect; the rest are still to come
                await client.wait_for_payload(status, b"online", within=10)
            kill_broker(broker)
            broker.start(forget=True)
            opened = time.monotonic()
            async with collect(broker.port, status, current) as client:
                await client.wait_for_payload(status, b"online", within=15)
                await client.wait_for(current, lambda m: payload(m)["available"], within=15)
                back_after = time.monotonic() - opened
        assert True is (back_after <= 3.0), f"back {back_after:.1f} s after the broker"


class TestRequestDuringOutage:
    async def test_qos1_request_sent_while_away_is_answered(
        self, tmp_path: Path, broker: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """A QoS 1 request published while the daemon cannot connect is answered after."""
        settings = daemon_settings(tmp_path, broker.port, base_topic, fake_api.url)
        response = f"{base_topic}/response/health"
        replies = unique_id("replies")
        async with running(settings):
            async with collect(broker.port, f"{base_topic}/#") as client:
                await client.wait_for(f"{base_topic}/{CURRENT}", lambda m: payload(m)["available"])
                health = await ask(client, base_topic, "health", {})
                await settled(client)  # no publish in flight when the broker goes
            async with collect(broker.side_port, response, identifier=replies, persistent=True):
                pass
            broker.stop()
            broker.start(main_listener=False)  # the daemon stays out, test clients get in
            async with collect(broker.side_port) as sender:
                await sender.publish(
                    f"{base_topic}/request/health", b'{"transaction": "while-away"}', qos=1
                )
            broker.stop()
            broker.start()
            async with collect(
                broker.side_port, response, identifier=replies, persistent=True
            ) as client:
                message = await client.wait_for(response, within=15)
        reply = payload(message)
        assert True is health["data"]["mqtt_connected"]
        expected = ("ok", "while-away", True)
        assert expected == (reply["status"], reply["transaction"], reply["data"]["mqtt_connected"])


class TestRecoveryTime:
    async def test_back_within_3s_of_the_listener_after_a_long_outage(
        self, tmp_path: Path, broker: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """After an outage that grew the backoff, online and the price are back within 3 s."""
        settings = daemon_settings(
            tmp_path,
            broker.port,
            base_topic,
            fake_api.url,
            mqtt={"reconnect_min_seconds": 1, "reconnect_max_seconds": 30},
        )
        current = f"{base_topic}/{CURRENT}"
        status = f"{base_topic}/status"
        async with running(settings):
            async with collect(broker.port, current) as client:
                await client.wait_for(current, lambda m: payload(m)["available"], within=10)
            broker.stop()
            broker.start(main_listener=False)
            await asyncio.sleep(14.5)  # refused connects: the backoff is at 8-16 s by now
            broker.stop()
            broker.start(forget=True)  # nothing retained: what comes now, the daemon sent
            opened = time.monotonic()
            async with collect(broker.side_port, status, current) as client:
                await client.wait_for_payload(status, b"online", within=40)
                online_after = time.monotonic() - opened
                await client.wait_for(current, lambda m: payload(m)["available"], within=40)
                price_after = time.monotonic() - opened
        assert (True, True) == (online_after <= 3.0, price_after <= 3.0), (
            f"online {online_after:.1f} s and the current price {price_after:.1f} s after the"
            " main listener opened"
        )
