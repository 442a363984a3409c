"""kill -9 in the middle of fetches: the SQLite file stays sound, a fetch is stored whole or not
at all, the broker says ``offline`` for the dead daemon, and a restart without the provider
publishes what the store knows."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
from aiohttp import web
from aiohttp.typedefs import Handler

from tests.faults.support_faults import (
    ask,
    integrity,
    payload,
    read_only,
    retained,
    subprocess_daemon,
)
from tests.support.broker import Collector, MosquittoBroker, collect
from tests.support.fake_octopus import FakeOctopusState, make_app, serve
from tests.support.octopus_data import default_price, half_hours
from tests.support.process import write_config

SEED = 20261125
ROUNDS = 5
STREAM_SECONDS = 1.0  # how long the fake takes to send one unit-rates page
CHUNKS = 10
UNIT_RATES = "/standard-unit-rates/"


@dataclass
class SlowApi:
    """The fake API sending unit-rate pages slowly: ``started`` is set when one is asked for,
    ``sent`` when its last byte is out."""

    url: str
    state: FakeOctopusState
    started: asyncio.Event = field(default_factory=asyncio.Event)
    sent: asyncio.Event = field(default_factory=asyncio.Event)

    def clear(self) -> None:
        self.started.clear()
        self.sent.clear()


@contextlib.asynccontextmanager
async def slow_api() -> AsyncIterator[SlowApi]:
    app = make_app()
    holder: list[SlowApi] = []

    @web.middleware
    async def slowly(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if UNIT_RATES not in request.path or not isinstance(response, web.Response):
            return response
        holder[0].started.set()
        body = bytes(response.body or b"")  # type: ignore[arg-type]
        stream = web.StreamResponse(status=response.status)
        stream.content_type = "application/json"
        await stream.prepare(request)
        step = -(-len(body) // CHUNKS)
        with contextlib.suppress(ConnectionResetError):  # the daemon was killed meanwhile
            for offset in range(0, len(body), step):
                await asyncio.sleep(STREAM_SECONDS / CHUNKS)
                await stream.write(body[offset : offset + step])
            await stream.write_eof()
            holder[0].sent.set()
        return stream

    app.middlewares.append(slowly)
    async with serve(app) as running_fake:
        holder.append(SlowApi(running_fake.url, running_fake.state))
        yield holder[0]


def config_for(tmp_path: Path, name: str, port: int, base: str, url: str) -> Path:
    """A config file ``<name>.toml``; the daemons of one test share the config dir (and db)."""
    path = write_config(
        tmp_path / f"{name}.toml",
        config_dir=tmp_path / "config",
        base_url=url,
        mqtt_port=port,
        base_topic=base,
        provider="retry_base_seconds = 0.01\nretry_budget_seconds = 1",
    )
    with path.open("a") as config:
        config.write("reconnect_min_seconds = 0.05\nreconnect_max_seconds = 0.5\n")
        config.write("[refresh]\nretry_min_seconds = 600\nfetch_timeout_seconds = 10\n")
        config.write("history_days = 7\n")  # a week of slots: a longer parse and write
        config.write('[log]\nlevel = "debug"\n')
    return path


def stored(db: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(price slots, successful fetch runs) as on disk."""
    with read_only(db) as connection:
        slots = connection.execute(
            "SELECT valid_from, valid_to, price, fetched_at FROM price_slots"
            " WHERE provider_id = 'octopus_agile' AND region = 'C' ORDER BY valid_from"
        ).fetchall()
        runs = connection.execute(
            "SELECT started_at_ms, slots, window_start_ms, window_end_ms FROM fetch_runs"
            " WHERE provider_id = 'octopus_agile' AND outcome = 'ok' ORDER BY started_at_ms"
        ).fetchall()
    return slots, runs


def half_stored(db: Path) -> list[str]:
    """What would show a fetch stored in part: empty when every fetch is whole or absent."""
    slots, runs = stored(db)
    problems = []
    seconds = {started // 1000 for started, *_ in runs}
    strays = [row for row in slots if row[3] not in seconds]
    if strays:
        problems.append(f"{len(strays)} slots of no successful fetch, e.g. {strays[0]}")
    wrong = [row for row in slots if row[2] != default_price("C", _at(row[0]))]
    if wrong:
        problems.append(f"{len(wrong)} slots priced unlike the API, e.g. {wrong[0]}")
    if runs:
        started, count, window_start, window_end = runs[-1]
        served = [
            int(moment.timestamp())
            for moment in half_hours(_at(window_start / 1000), _at(window_end / 1000))
        ]
        written = [row[0] for row in slots if row[3] == started // 1000]
        if (served, len(served)) != (written, count):
            problems.append(
                f"last fetch wrote {len(written)} slots, recorded {count}, the API served"
                f" {len(served)}"
            )
    return problems


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def newer_than(seen: list[aiomqtt.Message]) -> Callable[[aiomqtt.Message], bool]:
    """A message received after those ``seen`` (payloads carry no time of publication)."""
    before = {id(message) for message in seen}
    return lambda message: id(message) not in before


def stored_now(db: Path) -> float | None:
    """The stored price of the slot containing now, or None."""
    now = int(time.time())
    with read_only(db) as connection:
        row = connection.execute(
            "SELECT price FROM price_slots WHERE provider_id = 'octopus_agile' AND region = 'C'"
            " AND valid_from <= ? AND valid_to > ?",
            (now, now),
        ).fetchone()
    return None if row is None else float(row[0])


async def new_status(client: Collector, topic: str, value: bytes, seen: int) -> None:
    """Wait for ``value`` on ``topic`` after the first ``seen`` status messages."""

    def later(message: aiomqtt.Message) -> bool:
        return message.payload == value and client.on(topic).index(message) >= seen

    await client.wait_for(topic, later, within=15)


class TestKill9:
    async def test_kill9_during_fetches_loses_nothing_and_restarts_from_the_store(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """Kill -9 at seeded points of slow fetches: sound file, whole fetches, will, restart."""
        rng = random.Random(SEED)
        # The first kill comes once a fetch is stored (something to restart from); then kills
        # while the page streams in, and right after its last byte (parse, validate, store).
        kills: list[tuple[str, float]] = [("stored", 0.0)] + [
            ("streaming", rng.uniform(0.0, STREAM_SECONDS))
            if rng.random() < 0.5
            else ("received", rng.uniform(0.0, 0.05))
            for _ in range(ROUNDS)
        ]
        db = tmp_path / "config" / "energyd.db"
        log = tmp_path / "energyd.log"
        status = f"{base_topic}/status"
        current = f"{base_topic}/prices/octopus_agile/C/current"
        expected: list[tuple[Any, ...]] = []
        actual: list[tuple[Any, ...]] = []
        async with slow_api() as api, collect(mosquitto.port, f"{base_topic}/#") as client:
            slow = config_for(tmp_path, "slow", mosquitto.port, base_topic, api.url)
            for phase, delay in kills:
                api.clear()
                async with subprocess_daemon(slow, log) as process:
                    await new_status(client, status, b"online", len(client.on(status)))
                    if phase == "stored":
                        await client.wait_for(current, lambda m: payload(m)["available"], within=15)
                    else:
                        await client.publish(f"{base_topic}/request/refresh", b"{}")
                        async with asyncio.timeout(10):
                            await (api.started if phase == "streaming" else api.sent).wait()
                        await asyncio.sleep(delay)
                    seen = len(client.on(status))
                    process.send_signal(signal.SIGKILL)
                    async with asyncio.timeout(10):
                        code = await process.wait()
                await new_status(client, status, b"offline", seen)
                will = await retained(mosquitto.port, status)
                sound, problems, price = integrity(db), half_stored(db), stored_now(db)
                before = client.on(current)
                api.state.down = True  # the same API, unreachable: a restart in an outage
                async with subprocess_daemon(slow, log) as process:
                    fresh = await client.wait_for(current, newer_than(before), within=15)
                    refresh = await ask(client, base_topic, "refresh", {})
                    process.send_signal(signal.SIGTERM)
                    async with asyncio.timeout(10):
                        await process.wait()
                api.state.down = False
                assert price is not None, "nothing stored to restart from"
                expected.append((-signal.SIGKILL, (b"offline", True), "ok", [], price, True))
                actual.append(
                    (
                        code,
                        will,
                        sound,
                        problems,
                        payload(fresh)["price"],
                        "ProviderConnectionError"
                        == refresh["error"]["details"]["runs"][0]["error_type"],
                    )
                )
        assert expected == actual
