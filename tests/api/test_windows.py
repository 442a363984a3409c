"""The standing windows: which provider each belongs to, and the memory that keeps a started one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from energyd.api.windows import StandingWindows
from energyd.config import WindowSettings
from energyd.domain.figures import find_window
from energyd.providers.base import EnergyPriceSlot

START = datetime(2026, 3, 2, tzinfo=UTC)
NIGHT = WindowSettings(name="night", minutes=60)
EXPORT = WindowSettings(name="export_peak", provider="export", minutes=60)


def windows(selected: list[str]) -> StandingWindows:
    return StandingWindows((NIGHT, EXPORT), lambda: selected[0])


class TestSettings:
    def test_a_window_without_provider_follows_the_selected_one(self) -> None:
        """A window without provider belongs to whichever provider is selected now."""
        selected = ["agile"]
        standing = windows(selected)
        assert (["night"], ["export_peak"]) == (
            [w.name for w in standing.settings_for("agile")],
            [w.name for w in standing.settings_for("export")],
        )
        selected[0] = "other"
        assert ([], ["night"]) == (
            standing.settings_for("agile"),
            [w.name for w in standing.settings_for("other")],
        )


class TestMemory:
    def test_remember_previous_forget(self) -> None:
        """What was chosen is kept per provider and region until that pair stops running."""
        slots = [
            EnergyPriceSlot(
                START + timedelta(minutes=30 * i), START + timedelta(minutes=30 * (i + 1)), 1.0
            )
            for i in range(4)
        ]
        window = find_window(slots, 60, START, START + timedelta(hours=2))
        standing = windows(["agile"])
        assert {} == standing.previous("agile", "C")
        standing.remember("agile", "C", {"night": window})
        assert ({"night": window}, {}) == (
            standing.previous("agile", "C"),
            standing.previous("agile", "A"),
        )
        standing.forget("agile", "C")
        assert {} == standing.previous("agile", "C")
