"""The core never waits for its followers: a fetch or a settings change marks the change on
the service's events and returns, whether or not a publisher is there to take it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from energyd.app import build
from energyd.config import load_settings
from energyd.core.events import Changes
from tests.support.plugin_files import good_plugin, write_plugin


def settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_settings(
        None,
        config_dir=tmp_path / "config",
        energy={"provider_id": "demo", "providers": {"demo": {"region": "C"}}},
    )


class TestNothingWaitsForFollowers:
    async def test_refresh_returns_with_the_change_pending(self, tmp_path: Path) -> None:
        """A refresh with no publisher running returns at once; the feed holds the change."""
        bundled = tmp_path / "bundled"
        write_plugin(bundled, "demo_provider.py", good_plugin("demo"))
        async with build(settings(tmp_path), bundled_dir=bundled) as parts:
            feed = parts.service.events.feed("nobody-reads-this")
            runs = await asyncio.wait_for(parts.service.refresh(), 5)
            assert ["ok"] == [run.outcome.value for run in runs]
            assert Changes(prices=frozenset({"demo"})) == feed.take_nowait()

    async def test_a_burst_of_refreshes_is_one_round(self, tmp_path: Path) -> None:
        """Five refreshes and a settings change while the follower is busy: one round."""
        bundled = tmp_path / "bundled"
        write_plugin(bundled, "demo_provider.py", good_plugin("demo"))
        async with build(settings(tmp_path), bundled_dir=bundled) as parts:
            feed = parts.service.events.feed("publisher")
            for _ in range(5):
                await parts.service.refresh()
            await parts.service.change_settings({"energy.providers.demo.region": "A"})
            assert Changes(everything=True, prices=frozenset({"demo"})) == feed.take_nowait()
            assert not feed.take_nowait()
