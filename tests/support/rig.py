"""The daemon's own parts for a test: built by the composition root (:func:`energyd.app.build`
and :func:`energyd.app.wire`), never wired by hand, so a test runs what the daemon runs.

``daemon_parts`` gives the :class:`~energyd.app.Components` over the test's settings and plugin
files; ``running`` runs the chosen loops of a :class:`~energyd.app.Wiring` the way
:func:`energyd.app.run_daemon` starts them, and cancels them at exit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

from energyd.app import Components, Wiring, build
from energyd.config import Settings
from tests.support.plugin_files import write_plugin

__all__ = ["LOOPS", "daemon_parts", "running"]

Loop = Callable[[Wiring], Coroutine[Any, Any, None]]

#: The loops a test may run, by name: the first four as ``run_daemon`` runs them; ``boundary``
#: is the scheduler's slot-boundary loop alone (``scheduler`` runs it beside the fetch loop).
LOOPS: dict[str, Loop] = {
    "mqtt": lambda wiring: wiring.mqtt.run(),
    "publisher": lambda wiring: wiring.publisher.follow(
        wiring.changes, before=wiring.discovery.on_change
    ),
    "scheduler": lambda wiring: wiring.scheduler.run(),
    "retire": lambda wiring: wiring.publisher.retire_loop(),
    "boundary": lambda wiring: wiring.scheduler.boundary_loop(),
}


@contextlib.asynccontextmanager
async def daemon_parts(
    settings: Settings, plugins: Mapping[str, str] | None = None, *, check_config: bool = True
) -> AsyncIterator[Components]:
    """The started parts ``build`` gives the daemon over ``settings``: the shipped plugins, or
    ``plugins`` (file name -> source) written into ``bundled`` beside the config folder."""
    bundled_dir: Path | None = None
    if plugins is not None:
        bundled_dir = settings.config_dir.parent / "bundled"
        for name, source in plugins.items():
            write_plugin(bundled_dir, name, source)
    async with build(settings, bundled_dir=bundled_dir, check_config=check_config) as parts:
        yield parts


@contextlib.asynccontextmanager
async def running(wiring: Wiring, *loops: str) -> AsyncIterator[dict[str, asyncio.Task[None]]]:
    """Run the named :data:`LOOPS` of ``wiring`` in one TaskGroup (their tasks, by name);
    they are cancelled at exit, and one that fails fails the test."""
    unknown = set(loops) - set(LOOPS)
    if unknown:
        raise ValueError(f"no such loop: {', '.join(sorted(unknown))}")
    async with asyncio.TaskGroup() as group:
        tasks = {
            name: group.create_task(LOOPS[name](wiring), name=f"test.{name}") for name in loops
        }
        try:
            yield tasks
        finally:
            for task in tasks.values():
                task.cancel()
