"""Pure time helpers: slot boundaries on a minute grid, aware datetimes only."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from energyd.domain.time import iso_utc, next_boundary, slot_floor


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


class TestIsoUtc:
    def test_text_of_every_kind_of_moment(self) -> None:
        """Whole minutes (kept once written), seconds, microseconds and other zones all give
        the UTC text, written again the same."""
        london = ZoneInfo("Europe/London")
        moments = [
            utc(2026, 11, 25, 15, 30),
            utc(2026, 11, 25, 15, 30, 7),
            utc(2026, 11, 25, 15, 30, 0, 250),
            datetime(2026, 7, 1, 12, 0, tzinfo=london),
        ]
        expected = [
            "2026-11-25T15:30:00Z",
            "2026-11-25T15:30:07Z",
            "2026-11-25T15:30:00.000250Z",
            "2026-07-01T11:00:00Z",
        ]
        assert expected == [iso_utc(m) for m in moments]
        assert expected == [iso_utc(m) for m in moments]

    def test_a_dst_fold_is_two_moments(self) -> None:
        """01:30 on the night the clocks go back is two instants an hour apart: two texts,
        whether written in UTC (kept) first or in the local zone."""
        first = datetime(2026, 10, 25, 1, 30, tzinfo=ZoneInfo("Europe/London"))
        second = first.replace(fold=1)
        texts = [iso_utc(first.astimezone(UTC)), iso_utc(second.astimezone(UTC))]
        texts += [iso_utc(first), iso_utc(second)]
        assert ["2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"] * 2 == texts

    def test_naive_refused(self) -> None:
        """A naive moment is refused however often it is asked for."""
        for _ in range(2):
            with pytest.raises(ValueError, match="timezone-aware"):
                iso_utc(datetime(2026, 11, 25, 15, 30))
