"""Run ``python -m energyd`` as a user would: a subprocess, a config file, a clean environment."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["ROOT", "energyd_env", "start_energyd", "write_config"]

ROOT = Path(__file__).resolve().parents[2]

#: Variables of the calling process that must not leak into the child: its own energyd
#: settings, and systemd's notification/watchdog/socket-activation hand-over.
_NOT_INHERITED = {"WATCHDOG_PID", "WATCHDOG_USEC", "NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS"}


def energyd_env(**extra: str) -> dict[str, str]:
    """This process's environment without ``ENERGYD_*`` and systemd's variables, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ENERGYD_") and key not in _NOT_INHERITED
    }
    return env | extra


def write_config(
    path: Path,
    *,
    config_dir: Path,
    base_url: str | None = None,
    mqtt_port: int | None = None,
    base_topic: str | None = None,
    provider: str = "",
    region: str = "C",
) -> Path:
    """A TOML config for Agile ``region`` (``provider``: extra lines for its section)."""
    lines = [
        f'config_dir = "{config_dir}"',
        "[energy.providers.octopus_agile]",
        f'region = "{region}"',
    ]
    if base_url is not None:
        lines.append(f'base_url = "{base_url}"')
    if provider:
        lines.append(provider)
    if mqtt_port is not None:
        lines += ["[mqtt]", 'host = "127.0.0.1"', f"port = {mqtt_port}"]
        if base_topic is not None:
            lines += [f'base_topic = "{base_topic}"', f'client_id = "{base_topic}-proc"']
    path.write_text("\n".join(lines) + "\n")
    return path


async def start_energyd(
    config: Path, *args: str, env: dict[str, str] | None = None, **streams: Any
) -> asyncio.subprocess.Process:
    """``python -m energyd --config CONFIG ARGS...`` from the repository root."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "energyd", "--config", str(config), *args),
        cwd=ROOT,
        env=energyd_env() if env is None else env,
        **streams,
    )
