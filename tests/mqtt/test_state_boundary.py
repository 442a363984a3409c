"""What a slot boundary publishes, and that the same prices give the same bytes (pure of the
broker: the publisher over a stand-in that records what it is asked to send).

Real parts: the loader with a small plugin file, the price service, a SQLite store.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from energyd.domain.records import FetchOutcome, FetchRun
from energyd.mqtt.state import StatePublisher
from energyd.mqtt.topics import Topics
from energyd.providers.base import EnergyPriceSlot
from tests.support.market_plugins import ServiceRig, market_plugin, service_rig

QUARTER = timedelta(minutes=15)
PLUGINS = {"eur_market_provider.py": market_plugin("eur_market")}
#: 12:07:30 and 12:14:59 are in one quarter hour; 12:15 is the next.
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@dataclass
class StandIn:
    """What the publisher needs of the MQTT client; records each batch it is asked to send."""

    topics: Topics = field(default_factory=lambda: Topics("e"))
    retained: dict[str, bytes] = field(default_factory=dict)
    batches: list[list[str]] = field(default_factory=list)

    async def publish_retained(self, topic: str, payload: bytes) -> None:
        self.retained[topic] = payload
        self.batches.append([topic])

    async def publish_retained_many(self, messages: Mapping[str, bytes]) -> None:
        self.retained.update(messages)
        self.batches.append(list(messages))

    async def clear_retained(self, topic: str) -> None:
        self.retained.pop(topic, None)

    def sent(self) -> list[str]:
        return [topic for batch in self.batches for topic in batch]


def quarters(start: datetime, count: int) -> list[EnergyPriceSlot]:
    return [
        EnergyPriceSlot(start + i * QUARTER, start + (i + 1) * QUARTER, 5.0 + i % 9, "EUR")
        for i in range(count)
    ]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[ServiceRig]:
    providers = {
        "a": {"plugin": "eur_market", "region": "DE"},
        "b": {"plugin": "eur_market", "region": "NL"},
    }
    windows = [{"name": "cheap", "provider": "a", "minutes": 60}]
    async with service_rig(tmp_path, PLUGINS, providers, prices={"windows": windows}) as parts:
        start = NOON - timedelta(days=1)
        for runtime in parts.service.runtimes():
            run = FetchRun(runtime.key, runtime.spec.region, NOON, FetchOutcome.OK, 288)
            slots = quarters(start, 288)
            await parts.store.save_fetch(
                runtime.key, runtime.spec.region, slots, run, source=runtime.identity
            )
        yield parts


def publisher(rig: ServiceRig) -> tuple[StatePublisher, StandIn]:
    broker = StandIn()
    return StatePublisher(rig.service, broker, rig.settings.prices), broker  # type: ignore[arg-type]


class TestABoundary:
    async def test_only_what_a_boundary_changes(self, rig: ServiceRig) -> None:
        """After everything was published, a boundary sends current, next, level (and the
        standing window) of each provider, every ``current`` first; no series, no figure."""
        pub, broker = publisher(rig)
        await pub.publish_prices(now=NOON + timedelta(minutes=7))
        broker.batches.clear()
        await pub.publish_boundary(NOON + QUARTER)
        first, rest = broker.batches
        assert ["e/prices/a/DE/current", "e/prices/b/NL/current"] == first
        assert {
            "e/prices/a/DE/next",
            "e/prices/a/DE/level",
            "e/prices/a/DE/windows/cheap",
            "e/prices/b/NL/next",
            "e/prices/b/NL/level",
        } == set(rest)

    async def test_a_new_day_rebuilds_the_series(self, rig: ServiceRig) -> None:
        """The boundary at the market's midnight publishes ``today`` and the rest again."""
        pub, broker = publisher(rig)
        evening = datetime(2026, 11, 25, 22, 50, tzinfo=UTC)  # 23:50 in Berlin
        await pub.publish_prices(now=evening)
        broker.batches.clear()
        midnight = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)
        await pub.publish_boundary(midnight)
        today = json_of(broker, "e/prices/a/DE/today")
        assert "2026-11-26" == today["date"]
        assert "e/prices/a/DE/stats/today" in broker.sent()

    async def test_the_rank_of_now_moves_with_level(self, rig: ServiceRig) -> None:
        """``level`` carries the current slot's rank today, published at each boundary;
        ``stats/today`` has no rank of now (it changes only with prices)."""
        pub, broker = publisher(rig)
        await pub.publish_prices(now=NOON + timedelta(minutes=7))
        ranks = [json_of(broker, "e/prices/a/DE/level")["rank"]]
        await pub.publish_boundary(NOON + QUARTER)
        ranks.append(json_of(broker, "e/prices/a/DE/level")["rank"])
        assert ranks[0] != ranks[1]
        assert "current_rank" not in json_of(broker, "e/prices/a/DE/stats/today")


class TestSameBytes:
    async def test_any_moment_between_two_boundaries(self, rig: ServiceRig) -> None:
        """Two publishers (two daemons) at two moments of one quarter hour: every retained
        topic byte for byte the same, none with a time of building in it."""
        first, one = publisher(rig)
        second, other = publisher(rig)
        await first.publish_all(NOON + timedelta(minutes=1))
        await second.publish_all(NOON + timedelta(minutes=14, seconds=59))
        assert one.retained == other.retained
        assert all(b"updated_at" not in body for body in one.retained.values())
        assert all(b"last_attempt" not in body for body in one.retained.values())

    async def test_a_boundary_built_late_is_the_one_built_on_time(self, rig: ServiceRig) -> None:
        """A boundary published 3 s late says what one on time says."""
        on_time, one = publisher(rig)
        late, other = publisher(rig)
        for pub in (on_time, late):
            await pub.publish_prices(now=NOON + timedelta(minutes=7))
        await on_time.publish_boundary(NOON + QUARTER)
        await late.publish_boundary(NOON + QUARTER + timedelta(seconds=3))
        assert one.retained == other.retained


def json_of(broker: StandIn, topic: str) -> Any:
    return json.loads(broker.retained[topic])
