"""Provider faults: a price is known, then the API fails in each way we know of.

For every fault the ``refresh`` reply is an error run of a plausible type within the fetch
bound, the retained current price stays, health turns ``degraded`` and the store keeps every
price slot as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from tests.faults.support_faults import ask, payload, price_at, price_rows
from tests.support.broker import MosquittoBroker, collect
from tests.support.daemon import daemon_settings, running
from tests.support.fake_octopus import STATE, FakeOctopusState, RunningFake, make_app, serve

FETCH_TIMEOUT = 2.0
HTTP_TIMEOUT = 1.0
SLACK_MS = 300.0  # the bound is on the plugin call; recording the run comes on top
UNIT_RATES = "/standard-unit-rates/"


@dataclass
class Fault:
    """How the fake answers unit-rate requests (``mode``) and what the run should say."""

    mode: str
    error_types: frozenset[str]
    status: int | None = None
    http_timeout: float = HTTP_TIMEOUT


FAULTS = {
    "http_500": Fault("status", frozenset({"ProviderServerError"}), 500),
    "http_502": Fault("status", frozenset({"ProviderServerError"}), 502),
    "http_503": Fault("status", frozenset({"ProviderServerError"}), 503),
    "http_429_retry_after": Fault("status", frozenset({"ProviderRateLimitError"}), 429),
    # one request runs into http_timeout_seconds, or the whole fetch into fetch_timeout_seconds
    "http_timeout": Fault("slow", frozenset({"ProviderConnectionError", "TimeoutError"})),
    # a request allowed longer than the whole fetch: fetch_timeout_seconds ends it
    "fetch_timeout": Fault("slow", frozenset({"TimeoutError"}), http_timeout=4 * FETCH_TIMEOUT),
    "malformed_json": Fault("malformed", frozenset({"ProviderDataError"})),
    "html_200": Fault("html", frozenset({"ProviderDataError"})),
    "empty_results": Fault("empty", frozenset({"ProviderEmptyError", "SlotValidationError"})),
}


@dataclass
class FaultyApi:
    """The fake Octopus API with a switch for the unit-rates answer."""

    running: RunningFake
    mode: str = "normal"
    released: asyncio.Event | None = None

    @property
    def state(self) -> FakeOctopusState:
        return self.running.state


@contextlib.asynccontextmanager
async def faulty_api() -> AsyncIterator[FaultyApi]:
    app = make_app()
    holder: list[FaultyApi] = []
    released = asyncio.Event()

    @web.middleware
    async def faults(request: web.Request, handler: Handler) -> web.StreamResponse:
        mode = holder[0].mode
        if UNIT_RATES not in request.path or mode == "normal":
            return await handler(request)
        if mode == "slow":  # longer than both timeouts; released at the end of the test
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(released.wait(), 5 * FETCH_TIMEOUT)
            return web.json_response({"count": 0, "next": None, "results": []})
        if mode == "malformed":
            return web.Response(
                body=b'{"count": 3, "results": [{"value_inc_vat": ',
                status=200,
                content_type="application/json",
            )
        if mode == "html":
            html = "<!DOCTYPE html><html><body><h1>Service unavailable</h1></body></html>"
            return web.Response(text=html, status=200, content_type="text/html")
        if mode == "empty":
            return web.json_response({"count": 0, "next": None, "previous": None, "results": []})
        raise AssertionError(f"unknown mode {mode}")

    app.middlewares.append(faults)  # inside the fake's own status injection
    async with serve(app) as running_fake:
        api = FaultyApi(running_fake, released=released)
        holder.append(api)
        assert app[STATE] is api.state
        try:
            yield api
        finally:
            released.set()


def inject(api: FaultyApi, fault: Fault) -> None:
    if fault.mode == "status":
        assert fault.status is not None
        api.state.retry_after = "30"  # longer than the retry budget: no waiting it out
        api.state.faults.extend([fault.status] * 20)  # more than every retry
    else:
        api.mode = fault.mode


def heal(api: FaultyApi) -> None:
    api.state.faults.clear()
    api.mode = "normal"


class TestProviderFaults:
    @pytest.mark.parametrize("name", list(FAULTS))
    async def test_fault_keeps_the_known_price(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, name: str
    ) -> None:
        """The fetch fails fast and typed; price, store and a degraded health remain."""
        fault = FAULTS[name]
        current = f"{base_topic}/prices/octopus_agile/C/current"
        providers = f"{base_topic}/providers"
        async with faulty_api() as api:
            settings = daemon_settings(
                tmp_path,
                mosquitto.port,
                base_topic,
                api.running.url,
                refresh={
                    "fetch_timeout_seconds": FETCH_TIMEOUT,
                    "http_timeout_seconds": fault.http_timeout,
                    "retry_min_seconds": 600,
                },
            )
            db = settings.db_path
            async with running(settings), collect(mosquitto.port, f"{base_topic}/#") as client:
                before = payload(
                    await client.wait_for(current, lambda m: payload(m)["available"], within=10)
                )
                await client.wait_for(
                    providers, lambda m: payload(m)["providers"][0]["health"]["state"] == "ok"
                )
                rows_before = price_rows(db, "octopus_agile")
                inject(api, fault)
                reply = await ask(client, base_topic, "refresh", {"provider": "octopus_agile"})
                heal(api)
                (run,) = reply["error"]["details"]["runs"]
                health = payload(  # the retained health names the error in its message
                    await client.wait_for(
                        providers,
                        lambda m: run["error"] in payload(m)["providers"][0]["health"]["message"],
                    )
                )["providers"][0]["health"]
            async with collect(mosquitto.port, current) as fresh:
                after = payload(await fresh.wait_for(current))
            rows_after = price_rows(db, "octopus_agile")
        assert ("error", "fetch_failed", "error") == (
            reply["status"],
            reply["error"]["code"],
            run["outcome"],
        ), reply
        assert run["error_type"] in fault.error_types, run
        assert run["duration_ms"] <= FETCH_TIMEOUT * 1000 + SLACK_MS, run
        if fault.status == 429:
            assert "retry after 30 s" in run["error"]
        assert (True, price_at(after["valid_from"])) == (after["available"], after["price"])
        if before["valid_from"] == after["valid_from"]:  # no slot boundary passed meanwhile
            assert before["price"] == after["price"]
        assert "degraded" == health["state"], health
        assert 0 < len(rows_before)
        assert rows_before == rows_after
