"""Pure time helpers: slot boundaries on a minute grid, aware datetimes only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from energyd.domain.time import next_boundary, slot_floor


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


class TestSlots:
    def test_floor_and_next_boundary(self) -> None:
        """A moment inside a half-hour floors to its start; the next boundary is its end."""
        moment = utc(2026, 11, 25, 15, 47, 12)
        assert utc(2026, 11, 25, 15, 30) == slot_floor(moment, 30)
        assert utc(2026, 11, 25, 16, 0) == next_boundary(moment, 30)
        assert utc(2026, 11, 25, 15, 45) == slot_floor(moment, 15)

    def test_boundary_itself_moves_on(self) -> None:
        """Exactly on a boundary, the next boundary is one slot later."""
        assert utc(2026, 11, 25, 16, 30) == next_boundary(utc(2026, 11, 25, 16, 0), 30)

    def test_naive_rejected(self) -> None:
        """Naive datetimes are refused, never guessed."""
        with pytest.raises(ValueError, match="timezone-aware"):
            slot_floor(datetime(2026, 1, 1), 30)
