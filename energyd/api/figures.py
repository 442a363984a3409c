"""The derived figures of a provider at a moment: level, statistics, standing windows.

:class:`FigureSource` reads the known slots and lays them out with
:func:`energyd.api.derived.derive`; the MQTT state publisher publishes what it builds, and the
``figures`` operation answers with the same figures.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from energyd.api.derived import Derived, derive
from energyd.api.replies import FiguresReply
from energyd.api.windows import StandingWindows
from energyd.config import PricesSettings
from energyd.core.selection import ProviderSpec
from energyd.core.service import PriceService
from energyd.providers.base import EnergyPriceSlot

__all__ = ["HORIZON", "FigureSource"]

#: How far ahead the known slots reach (Agile publishes at most ~31 h ahead).
HORIZON = timedelta(days=3)


class FigureSource:
    """Builds the derived figures of each running provider; remembers the standing windows."""

    def __init__(self, service: PriceService, prices: PricesSettings | None = None) -> None:
        self._service = service
        self.prices = prices or PricesSettings()
        self.windows = StandingWindows(self.prices.windows, lambda: service.energy.provider_id)

    async def known(self, spec: ProviderSpec, now: datetime) -> list[EnergyPriceSlot]:
        """The slots the figures are built from: today's market day up to :data:`HORIZON`."""
        calendar = self._service.calendar(spec)
        today_start = calendar.day_bounds(calendar.local_date(now))[0]
        return await self._service.slots(spec, today_start, now + HORIZON)

    def derive(self, spec: ProviderSpec, slots: list[EnergyPriceSlot], now: datetime) -> Derived:
        """Every derived payload of ``spec`` at ``now``; the standing windows chosen are
        remembered (a started one is kept next time)."""
        runtime = self._service.runtime(spec)
        derived = derive(
            provider=spec.key,
            region=spec.region,
            currency=runtime.currency,
            slots=slots,
            calendar=runtime.calendar,
            levels=runtime.levels,
            windows=self.windows.settings_for(spec.key),
            previous=self.windows.previous(spec.key, spec.region),
            now=now,
            hourly=runtime.hourly,
        )
        self.windows.remember(spec.key, spec.region, derived.windows)
        return derived

    async def figures(self, spec: ProviderSpec, now: datetime) -> FiguresReply:
        """``{"level", "stats": {period: ...}, "windows": [...]}`` as published; a figure that
        cannot be built is null (``level``, a period) or left out (a window)."""
        return self.derive(spec, await self.known(spec, now), now).figures
