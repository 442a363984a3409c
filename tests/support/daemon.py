"""Run the whole daemon in-process for end-to-end tests (real broker, fake Octopus API)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from energyd.app import run_daemon
from energyd.config import Settings, load_settings

__all__ = ["daemon_settings", "running"]


def daemon_settings(
    tmp_path: Path, port: int, base_topic: str, base_url: str, **extra: Any
) -> Settings:
    """Settings for a daemon on ``port`` under ``base_topic`` fetching from ``base_url``;
    ``extra`` sections are merged key by key over these."""
    sections: dict[str, Any] = {
        "energy": {
            "provider_id": "octopus_agile",
            "providers": {
                "octopus_agile": {
                    "region": "C",
                    "base_url": base_url,
                    "retry_base_seconds": 0.01,
                    "retry_budget_seconds": 1,
                }
            },
        },
        "mqtt": {
            "host": "127.0.0.1",
            "port": port,
            "base_topic": base_topic,
            "client_id": f"{base_topic}-daemon",
            "reconnect_min_seconds": 0.05,
            "reconnect_max_seconds": 0.5,
        },
        "refresh": {"retry_min_seconds": 5, "fetch_timeout_seconds": 10},
    }
    for name, value in extra.items():
        merged = sections.get(name)
        sections[name] = {**merged, **value} if isinstance(merged, dict) else value
    return load_settings(None, config_dir=tmp_path / "config", **sections)


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    """The daemon as a task for the duration of the block; cancelled (clean stop) after it."""
    task = asyncio.create_task(run_daemon(settings, handle_signals=False), name="test.daemon")
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
