"""Change notifications: marks coalesce per consumer, nothing waits for a consumer."""

from __future__ import annotations

import asyncio

from energyd.core.events import Changes, Events


class TestCoalescing:
    async def test_a_burst_is_one_round(self) -> None:
        """Ten price changes of two providers while nobody looks arrive as one Changes."""
        events = Events()
        feed = events.feed("publisher")
        for _ in range(5):
            events.prices_changed("a")
            events.prices_changed("b")
        assert Changes(prices=frozenset({"a", "b"})) == await feed.take()
        assert not feed.pending

    async def test_kinds_accumulate(self) -> None:
        """A boundary, a settings change and a fetch in one round are all reported."""
        events = Events()
        feed = events.feed("publisher")
        events.boundary()
        events.everything_changed()
        events.prices_changed("a")
        assert Changes(everything=True, boundary=True, prices=frozenset({"a"})) == (
            feed.take_nowait()
        )
        assert not feed.take_nowait()

    async def test_each_feed_sees_every_change(self) -> None:
        """Two consumers each get their own copy; one taking does not empty the other."""
        events = Events()
        first, second = events.feed("one"), events.feed("two")
        events.prices_changed("a")
        assert Changes(prices=frozenset({"a"})) == first.take_nowait()
        assert Changes(prices=frozenset({"a"})) == second.take_nowait()

    async def test_take_waits_for_a_change(self) -> None:
        """take() blocks until something is marked, then returns it."""
        events = Events()
        feed = events.feed("publisher")
        waiting = asyncio.create_task(feed.take())
        await asyncio.sleep(0.01)
        assert not waiting.done()
        events.boundary()
        assert Changes(boundary=True) == await asyncio.wait_for(waiting, 1)

    async def test_a_feed_created_later_misses_earlier_changes(self) -> None:
        """A feed sees changes from its creation on."""
        events = Events()
        events.prices_changed("a")
        feed = events.feed("late")
        assert not feed.take_nowait()
