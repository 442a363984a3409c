"""A loopback stand-in of Amber Electric's REST API (aiohttp.web), for tests and trying energyd.

Built on the recorded bodies in ``tests/fixtures/amber/`` (5-minute and 30-minute answers of a
South Australian site), shifted in time so that the ``CurrentInterval`` is the interval that
holds *now*:

- ``GET /v1/sites``: ``state.sites`` in the swagger's shape (``id``, ``nmi``, ``channels``,
  ``network``, ``status``, ``activeFrom``); by default one active site, :data:`SITE_ID`;
- ``GET /v1/sites/{id}/prices/current?previous=P&next=N&resolution=5|30``: for every channel
  of the recorded body (``general``, ``controlledLoad``, ``feedIn``, in that order unless
  ``state.shuffle``) P ``ActualInterval`` rows, the ``CurrentInterval`` and N
  ``ForecastInterval`` rows. The k-th row away from now takes the recorded row of its kind
  k places away, cycling through the recorded ones when more are asked than were recorded,
  with its times moved: ``startTime`` ``HH:MM:01Z``, ``endTime`` ``HH:MM:00Z``, ``nemTime`` the
  end at ``+10:00``, ``date`` its NEM date (so the one-second gaps are there, as in reality);
- ``state.current_estimate`` overrides the current interval's ``estimate`` (the 5-minute
  recording has ``false``, the 30-minute one ``true``);
- ``Authorization: Bearer <state.token>`` is required (else 401, as Amber answers a bad key);
  an unknown site is 404;
- ``RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` / ``-Policy`` on every answer, counting
  ``state.limit`` requests per ``state.window_seconds`` on the stand-in's clock (a test's
  virtual clock); when none is left: 429 with those headers (``Remaining: 0``) and no
  ``Retry-After``, like Amber's gateway;
- ``state.faults``: the next requests are answered with these, in order: an HTTP status (429
  with ``Retry-After: state.retry_after``), ``"hang"`` or ``"garbage"`` (HTTP 200 with a
  truncated JSON list);
- ``state.requests``: every request's path and query; ``state.served``: the last prices body.

Run it by hand: ``python -m tests.support.fake_amber --port 8085`` (127.0.0.1 only), then set
``base_url = "http://127.0.0.1:8085"`` and ``token = "psk_test_token_0123456789"`` for the
amber provider.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.support.loopback import answer_fault, run_by_hand, serve_on_loopback

__all__ = [
    "FIXTURES",
    "FIXTURE_5MIN",
    "FIXTURE_30MIN",
    "GARBAGE",
    "SITE_ID",
    "STATE",
    "TOKEN",
    "FakeAmberState",
    "RunningFake",
    "load_fixture",
    "make_app",
    "prices_body",
    "serve",
    "site",
]

#: Recorded responses of the real API (see the README there).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "amber"
FIXTURE_5MIN = "prices_current_5min_prev6_next6_2025-04-10T03-21"
FIXTURE_30MIN = "prices_current_30min_prev48_next48_2025-04-10T03-51"
SITE_ID = "01J0AMBERSTANDIN0000000000"
TOKEN = "psk_test_token_0123456789"
NEM = timezone(timedelta(hours=10))
#: The body of the ``"garbage"`` fault: JSON cut off mid-row.
GARBAGE = b'[{"type":"ActualInterval","date":"2025-04-10","duration":5,"startTime":"2025-04-'

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Fault = int | str
Row = dict[str, Any]


def load_fixture(name: str) -> list[Row]:
    """A recorded response from tests/fixtures/amber/ (``name`` without ``.json``)."""
    data: list[Row] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def site(
    site_id: str = SITE_ID,
    nmi: str = "2001000000",
    status: str = "active",
    channels: Sequence[str] = ("general", "controlledLoad", "feedIn"),
) -> Row:
    """One ``/v1/sites`` entry in the swagger's shape."""
    identifiers = {"general": "E1", "controlledLoad": "E2", "feedIn": "B1"}
    return {
        "id": site_id,
        "nmi": nmi,
        "channels": [
            {"identifier": identifiers.get(kind, "E9"), "type": kind, "tariff": "SAPN_RTOU"}
            for kind in channels
        ],
        "network": "SA Power Networks",
        "status": status,
        "activeFrom": "2024-11-01",
    }


@dataclass(frozen=True)
class _Templates:
    """The recorded rows of one channel, by kind."""

    actual: list[Row]
    current: Row
    forecast: list[Row]


def _templates(recorded: Sequence[Row]) -> dict[str, _Templates]:
    channels: dict[str, _Templates] = {}
    for name in dict.fromkeys(row["channelType"] for row in recorded):
        rows = [row for row in recorded if row["channelType"] == name]
        (current,) = [row for row in rows if row["type"] == "CurrentInterval"]
        channels[name] = _Templates(
            actual=[row for row in rows if row["type"] == "ActualInterval"],
            current=current,
            forecast=[row for row in rows if row["type"] == "ForecastInterval"],
        )
    return channels


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _moved(template: Row, start: datetime, minutes: int) -> Row:
    row = copy.deepcopy(template)
    end = start + timedelta(minutes=minutes)
    row["duration"] = minutes
    row["startTime"] = _stamp(start + timedelta(seconds=1))
    row["endTime"] = _stamp(end)
    row["nemTime"] = end.astimezone(NEM).isoformat()
    row["date"] = (end - timedelta(seconds=1)).astimezone(NEM).date().isoformat()
    return row


def prices_body(
    recorded: Sequence[Row],
    now: datetime,
    minutes: int,
    previous: int,
    following: int,
    *,
    current_estimate: bool | None = None,
) -> list[Row]:
    """The answer of ``/prices/current`` at ``now``: every recorded channel's rows moved so
    that the current interval holds ``now`` (see the module doc)."""
    step = timedelta(minutes=minutes)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    current = epoch + (now - epoch) // step * step
    body: list[Row] = []
    for rows in _templates(recorded).values():
        for k in range(previous, 0, -1):  # oldest first, as Amber sends them
            template = rows.actual[-1 - (k - 1) % len(rows.actual)]
            body.append(_moved(template, current - k * step, minutes))
        now_row = _moved(rows.current, current, minutes)
        if current_estimate is not None:
            now_row["estimate"] = current_estimate
        body.append(now_row)
        for k in range(1, following + 1):
            template = rows.forecast[(k - 1) % len(rows.forecast)]
            body.append(_moved(template, current + k * step, minutes))
    return body


@dataclass
class FakeAmberState:
    """What a test sees and steers."""

    token: str = TOKEN
    sites: list[Row] = field(default_factory=lambda: [site()])
    requests: list[str] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    retry_after: str = "30"
    current_estimate: bool | None = None
    #: Send the rows in a random channel order (Amber's order is not stable).
    shuffle: bool = False
    limit: int = 50
    window_seconds: float = 300.0
    used: int = 0
    window_start: float | None = None
    hang_seconds: float = 30.0
    #: The last prices answer served (a test's expectation of what was published).
    served: list[Row] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)


STATE = web.AppKey("amber_state", FakeAmberState)
#: The rate-limit headers of the request being answered.
_QUOTA = web.RequestKey("amber_quota", dict)


def make_app(
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> web.Application:
    """The stand-in API; ``clock`` runs the rate-limit window, ``wall_clock`` says "now"."""
    state = FakeAmberState()
    recorded = {5: load_fixture(FIXTURE_5MIN), 30: load_fixture(FIXTURE_30MIN)}

    def quota_headers() -> dict[str, str]:
        now = clock()
        if state.window_start is None or now - state.window_start >= state.window_seconds:
            state.window_start, state.used = now, 0
        reset = max(0, round(state.window_start + state.window_seconds - now))
        return {
            "RateLimit-Limit": str(state.limit),
            "RateLimit-Remaining": str(max(0, state.limit - state.used)),
            "RateLimit-Reset": str(reset),
            "RateLimit-Policy": f"{state.limit};w={int(state.window_seconds)}",
        }

    async def sites(request: web.Request) -> web.Response:
        return web.json_response(state.sites, headers=request[_QUOTA])

    async def prices(request: web.Request) -> web.Response:
        headers = request[_QUOTA]
        if request.match_info["site"] not in {entry["id"] for entry in state.sites}:
            return web.json_response({"message": "Site not found"}, status=404, headers=headers)
        try:
            previous = int(request.query.get("previous", "0"))
            following = int(request.query.get("next", "0"))
            minutes = int(request.query.get("resolution", "30"))
        except ValueError:
            return web.json_response({"message": "Bad request"}, status=400, headers=headers)
        if minutes not in recorded or previous < 0 or following < 0:
            return web.json_response({"message": "Bad request"}, status=400, headers=headers)
        body = prices_body(
            recorded[minutes],
            wall_clock(),
            minutes,
            previous,
            following,
            current_estimate=state.current_estimate,
        )
        if state.shuffle:
            random.Random(len(state.requests)).shuffle(body)
        state.served = body
        return web.json_response(body, headers=headers)

    @web.middleware
    async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
        state.requests.append(request.path_qs)
        if state.faults:
            return await answer_fault(
                state.faults.popleft(),
                retry_after=state.retry_after,
                hang_seconds=state.hang_seconds,
                release=state.released,
                garbage=web.Response(body=GARBAGE, content_type="application/json"),
            )
        if request.headers.get("Authorization") != f"Bearer {state.token}":
            return web.json_response({"message": "Unauthorized"}, status=401)
        headers = quota_headers()
        if state.used >= state.limit:
            return web.json_response({"message": "Too Many Requests"}, status=429, headers=headers)
        state.used += 1
        request[_QUOTA] = quota_headers()
        return await handler(request)

    app = web.Application(middlewares=[gate])
    app[STATE] = state
    app.router.add_get("/v1/sites", sites)
    app.router.add_get("/v1/sites/{site}/prices/current", prices)
    return app


@dataclass
class RunningFake:
    """The stand-in served on loopback: its root URL (the plugin's ``base_url``) and state."""

    url: str
    state: FakeAmberState


@contextlib.asynccontextmanager
async def serve(app: web.Application | None = None) -> AsyncIterator[RunningFake]:
    """Serve ``app`` (default: ``make_app()``) on 127.0.0.1 and a free port."""
    app = app or make_app()
    state = app[STATE]
    async with serve_on_loopback(app, state.released) as url:
        yield RunningFake(url, state)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the stand-in on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(description="Amber Electric API stand-in on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8085, help="TCP port (default 8085)")
    args = parser.parse_args(argv)
    banner = f"fake Amber API: base_url = http://127.0.0.1:{args.port}, token = {TOKEN}"
    run_by_hand(make_app(), args.port, banner)


if __name__ == "__main__":
    main()
