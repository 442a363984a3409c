"""Serve an aiohttp app on 127.0.0.1 and a free port: what every loopback stand-in of a price
API (tests/support/fake_*.py) runs on; and the faults they all inject, answered alike."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Literal

from aiohttp import web

__all__ = ["Fault", "answer_fault", "run_by_hand", "serve_on_loopback"]

#: What a stand-in's ``state.faults`` holds: an HTTP status to answer (429 with
#: ``Retry-After``), ``"hang"`` (no answer until the hang time passes or the stand-in stops:
#: the client's timeout) or ``"garbage"`` (HTTP 200 with a broken body).
Fault = int | Literal["hang", "garbage"]


@contextlib.asynccontextmanager
async def serve_on_loopback(
    app: web.Application, release: asyncio.Event | None = None
) -> AsyncIterator[str]:
    """Serve ``app`` until the block ends; yields its base URL (``http://127.0.0.1:<port>``).
    ``release`` (the stand-in's) is set when the block ends, so a hung request ends and the
    server stops at once."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}"
    finally:
        if release is not None:
            release.set()
        await runner.cleanup()


def run_by_hand(app: web.Application, port: int, banner: str) -> None:
    """Serve a stand-in on 127.0.0.1:``port`` until interrupted (``python -m
    tests.support.fake_<id>``), saying first what to configure (``banner``)."""
    print(banner, flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


async def answer_fault(
    fault: object,
    *,
    retry_after: str,
    hang_seconds: float,
    release: asyncio.Event,
    garbage: web.Response,
) -> web.Response:
    """The answer of one injected :data:`Fault`; ``release`` ends a hang early (set it when
    the stand-in stops, so the server stops at once)."""
    if fault == "hang":
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(release.wait(), hang_seconds)
        return web.Response(status=504, text="hung")
    if fault == "garbage":
        return garbage
    if isinstance(fault, bool) or not isinstance(fault, int):
        raise ValueError(f"unknown fault {fault!r}")
    headers = {"Retry-After": retry_after} if fault == 429 else {}
    return web.Response(status=fault, text="injected fault", headers=headers)
