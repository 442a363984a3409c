"""Product discovery shared by the feeds of the one ``octopus_agile`` plugin, through the whole
daemon: a household with Agile import and export, Go and Cosy (each product discovered), the
loopback stand-in (:mod:`tests.support.fake_octopus`, which records every path asked for) and a
real mosquitto.

The plugin instance is one for all its feeds, and so is its kit pacer: the products list is one
request when the feeds start together (single-flight) and is kept for a day, so a family added
later, a refresh, or a rollover check within minutes reuse it. Tracker asks its own question
(``?is_tracker=true``) and is one more request, shared by every Tracker feed.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt

from tests.markets.support import REFRESH, RETRIES
from tests.support import fake_octopus
from tests.support.broker import Collector, MosquittoBroker, collect
from tests.support.daemon import daemon_settings, running
from tests.support.octopus_data import family_products

REGION = "C"
#: provider key -> family; all four discover their product in the one plain products list.
FEEDS = {
    "agile_import": "agile",
    "agile_export": "agile_outgoing",
    "octopus_go": "go",
    "octopus_cosy": "cosy",
}
LIST = "/v1/products/"


def provider(base_url: str, family: str) -> dict[str, Any]:
    return {
        "plugin": "octopus_agile",
        "family": family,
        "region": REGION,
        "base_url": base_url,
        **RETRIES,
    }


def body_of(message: aiomqtt.Message) -> Any:
    return json.loads(bytes(message.payload)) if message.payload else None


def asked(fake: fake_octopus.RunningFake, path_qs: str) -> int:
    """How many requests the stand-in saw for exactly this path and query."""
    return sum(1 for seen in fake.state.requests if seen == path_qs)


def details(fake: fake_octopus.RunningFake) -> list[str]:
    """The product-detail requests (``/v1/products/<code>/``) the stand-in saw."""
    return [seen for seen in fake.state.requests if seen.startswith(LIST) and seen.count("/") == 4]


async def available(client: Collector, base: str, key: str) -> None:
    """Wait for the feed's retained ``current`` with a price."""
    await client.wait_for(
        f"{base}/prices/{key}/{REGION}/current",
        lambda m: bool((body_of(m) or {}).get("available")),
        within=15,
    )


async def ask(client: Collector, base: str, command: str, body: dict[str, Any]) -> Any:
    marker = os.urandom(4).hex()
    await client.publish(f"{base}/request/{command}", json.dumps({**body, "transaction": marker}))
    reply = await client.wait_for(
        f"{base}/response/{command}",
        lambda m: (body_of(m) or {}).get("transaction") == marker,
        within=15,
    )
    return body_of(reply)


@contextlib.asynccontextmanager
async def household(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, feeds: dict[str, str]
) -> AsyncIterator[tuple[fake_octopus.RunningFake, Collector]]:
    """The stand-in (every family's product listed) and the daemon with ``feeds``, from the
    first available ``current`` of each on."""
    app = fake_octopus.make_app(products=family_products())
    async with fake_octopus.serve(app) as fake:
        settings = daemon_settings(
            tmp_path,
            mosquitto.port,
            base_topic,
            fake.url,
            energy={
                "provider_id": next(iter(feeds)),
                "providers": {key: provider(fake.url, fam) for key, fam in feeds.items()},
            },
            refresh=REFRESH,
        )
        async with (
            running(settings) as task,
            collect(mosquitto.port, f"{base_topic}/#") as client,
        ):
            for key in feeds:
                await available(client, base_topic, key)
            yield fake, client
            assert not task.done(), "the daemon stopped"


async def test_four_feeds_starting_together_discover_once(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """Agile import and export, Go and Cosy: one GET /v1/products/ for the four, one detail
    per product, and a refresh of all four asks neither again."""
    async with household(tmp_path, mosquitto, base_topic, FEEDS) as (fake, client):
        assert 1 == asked(fake, LIST)
        assert len(FEEDS) == len(details(fake)) == len(set(details(fake)))
        reply = await ask(client, base_topic, "refresh", {})
        assert "ok" == reply["status"], reply
        assert 1 == asked(fake, LIST)
        assert len(FEEDS) == len(details(fake))


async def test_a_family_added_later_uses_the_kept_list(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """Flux added through ``settings/set`` after the others ran: its product is found in the
    list the others fetched (no second GET /v1/products/), only its own detail is asked."""
    async with household(tmp_path, mosquitto, base_topic, FEEDS) as (fake, client):
        before = len(details(fake))
        reply = await ask(
            client,
            base_topic,
            "settings/set",
            {"key": "energy.providers.octopus_flux", "value": provider(fake.url, "flux")},
        )
        assert "ok" == reply["status"], reply
        await available(client, base_topic, "octopus_flux")
        assert 1 == asked(fake, LIST)
        assert before + 1 == len(details(fake))


async def test_tracker_asks_its_own_list_once(
    tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
) -> None:
    """Two Tracker feeds beside Agile: the plain list once, the Tracker list once."""
    feeds = {"agile_import": "agile", "tracker_a": "tracker", "tracker_b": "tracker"}
    async with household(tmp_path, mosquitto, base_topic, feeds) as (fake, _):
        assert 1 == asked(fake, LIST)
        assert 1 == asked(fake, LIST + "?is_tracker=true")
