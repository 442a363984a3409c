"""The standing windows (``prices.windows``) and the last one chosen of each.

Once a window has started it is kept until it ends (:func:`energyd.domain.figures.keep_started`),
so an "in window now" switch never flickers. That memory is application state, not MQTT
state: the retained topics, the ``figures`` operation (HTTP, MQTT, command line) and Home
Assistant's discovery all read the windows from one :class:`StandingWindows`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from energyd.config import WindowSettings
from energyd.domain.figures import Window

__all__ = ["StandingWindows"]


class StandingWindows:
    """The configured windows per provider, and the window last chosen per provider/region."""

    def __init__(self, windows: tuple[WindowSettings, ...], selected: Callable[[], str]) -> None:
        self._windows = windows
        self._selected = selected
        self._chosen: dict[tuple[str, str], dict[str, Window | None]] = {}

    def settings_for(self, key: str) -> list[WindowSettings]:
        """The standing windows computed for provider ``key`` (without ``provider``: the
        selected one)."""
        selected = self._selected()
        return [w for w in self._windows if (w.provider or selected) == key]

    def previous(self, key: str, region: str) -> Mapping[str, Window | None]:
        """The windows last chosen for ``key``/``region`` (name -> window)."""
        return dict(self._chosen.get((key, region), {}))

    def remember(self, key: str, region: str, chosen: Mapping[str, Window | None]) -> None:
        """Keep what was chosen now: the next computation keeps a started window."""
        self._chosen[(key, region)] = dict(chosen)

    def forget(self, key: str, region: str) -> None:
        """A provider/region that no longer runs."""
        self._chosen.pop((key, region), None)
