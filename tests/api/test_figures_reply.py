"""The ``figures`` reply (:attr:`Derived.figures`) is the published payloads themselves: the
level, each period's statistics and the standing windows, with a figure that could not be
built null (level, a period) or left out (a window)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from energyd.api import derived as derived_module
from energyd.api.derived import PERIODS, Derived, derive
from energyd.config import WindowSettings
from energyd.domain.calendar import MarketCalendar
from energyd.domain.levels import default_bands
from energyd.providers.base import EnergyPriceSlot

LONDON = MarketCalendar.of("Europe/London")
NOW = datetime(2026, 11, 25, 10, 7, tzinfo=UTC)
WINDOWS = [
    WindowSettings(name="first", minutes=60),
    WindowSettings(name="second", minutes=120, mode="most_expensive"),
]


def half_hours() -> list[EnergyPriceSlot]:
    start = LONDON.day_bounds(LONDON.local_date(NOW))[0]
    step = timedelta(minutes=30)
    return [
        EnergyPriceSlot(start + i * step, start + (i + 1) * step, float(i % 48)) for i in range(96)
    ]


def run() -> Derived:
    return derive(
        provider="p",
        region="C",
        currency="GBP",
        slots=half_hours(),
        calendar=LONDON,
        levels=default_bands("GBP"),
        windows=WINDOWS,
        previous={},
        now=NOW,
    )


def from_payloads(derived: Derived) -> dict[str, Any]:
    """The reply as read off the topics (what the ``figures`` operation answered before)."""
    payloads = derived.payloads
    windows = [payloads.get(f"windows/{w.name}") for w in WINDOWS]
    return {
        "level": payloads.get("level"),
        "stats": {name: payloads.get(f"stats/{name}") for name in PERIODS},
        "windows": [window for window in windows if window is not None],
    }


@pytest.fixture
def failing(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Name ``"level"``, ``"stats"`` or a window in the set: building it raises."""
    broken: set[str] = set()
    level_payload = derived_module._level_payload
    stats_payload = derived_module._stats_payload
    standing = derived_module.standing_window_payload

    def level(*args: Any) -> Any:
        if "level" in broken:
            raise ValueError("no level")
        return level_payload(*args)

    def stats(head: Any, name: str, *args: Any) -> Any:
        if name in broken:
            raise ValueError(f"no {name}")
        return stats_payload(head, name, *args)

    def window(head: Any, *, name: str, **kwargs: Any) -> Any:
        if name in broken:
            raise ValueError(f"no {name}")
        return standing(head, name=name, **kwargs)

    monkeypatch.setattr(derived_module, "_level_payload", level)
    monkeypatch.setattr(derived_module, "_stats_payload", stats)
    monkeypatch.setattr(derived_module, "standing_window_payload", window)
    return broken


class TestFiguresReply:
    def test_everything_built(self) -> None:
        """The reply is the payloads, in the periods' and the windows' order."""
        derived = run()
        assert from_payloads(derived) == derived.figures
        assert ["first", "second"] == [w["name"] for w in derived.figures["windows"]]
        assert list(PERIODS) == list(derived.figures["stats"])

    def test_the_same_objects_as_published(self) -> None:
        derived = run()
        assert derived.figures["level"] is derived.payloads["level"]
        assert derived.figures["windows"][1] is derived.payloads["windows/second"]

    @pytest.mark.parametrize(
        "broken",
        [{"level"}, {"tomorrow"}, {"first"}, {"second"}, {"level", "today", "first", "second"}],
        ids=str,
    )
    def test_what_cannot_be_built(self, failing: set[str], broken: set[str]) -> None:
        """A level or period that raises is null, a window that raises is left out; the
        topics that raised are the errors."""
        failing.update(broken)
        derived = run()
        assert from_payloads(derived) == derived.figures
        topics = {"level": "level", "today": "stats/today", "tomorrow": "stats/tomorrow"}
        named = {topics.get(name, f"windows/{name}") for name in broken}
        assert named == set(derived.errors)
        assert ("level" in broken) == (derived.figures["level"] is None)
        windows = [w["name"] for w in derived.figures["windows"]]
        assert [w.name for w in WINDOWS if w.name not in broken] == windows
