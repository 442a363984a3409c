"""The derived figures of a provider at a moment: level, statistics, standing windows.

:class:`FigureSource` reads the known slots and lays them out with
:func:`energyd.api.derived.derive`; the MQTT state publisher publishes what it builds, and the
``figures`` operation answers with the same figures. Both build them for the moment the
state is for (:meth:`FigureSource.moment`: the last boundary passed), not the instant they
happen to run, so the same prices give the same figures until the next boundary.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from energyd.api.derived import Derived, derive
from energyd.api.replies import FiguresReply
from energyd.api.windows import StandingWindows
from energyd.config import PricesSettings
from energyd.core.registry import ProviderRuntime
from energyd.core.selection import ProviderSpec
from energyd.core.service import PriceService
from energyd.domain.calendar import MarketCalendar
from energyd.domain.figures import state_moment
from energyd.providers.base import EnergyPriceSlot

__all__ = ["HORIZON", "FigureSource"]

#: How far ahead the known slots reach (Agile publishes at most ~31 h ahead).
HORIZON = timedelta(days=3)
#: Day starts remembered (markets x days) before the memo starts over.
_DAYS_KEPT = 64


class FigureSource:
    """Builds the derived figures of each running provider; remembers the standing windows."""

    def __init__(self, service: PriceService, prices: PricesSettings | None = None) -> None:
        self._service = service
        self.prices = prices or PricesSettings()
        self.windows = StandingWindows(self.prices.windows, lambda: service.energy.provider_id)
        #: The start of each market's local day (a zone lookup: a boundary of 100 feeds asks
        #: it 100 times), the last few kept.
        self._days: dict[tuple[MarketCalendar, date], datetime] = {}

    async def known(
        self, spec: ProviderSpec | ProviderRuntime, now: datetime
    ) -> list[EnergyPriceSlot]:
        """The slots the figures are built from: today's market day up to :data:`HORIZON`."""
        return (await self.known_at(spec, now))[0]

    async def known_at(
        self, spec: ProviderSpec | ProviderRuntime, now: datetime
    ) -> tuple[list[EnergyPriceSlot], datetime]:
        """:meth:`known`, and the moment state at ``now`` is built for: the last slot edge,
        ``slot_minutes`` boundary or local midnight passed
        (:func:`energyd.domain.figures.state_moment`)."""
        runtime = self._service.runtime(spec)
        today = self._day_start(runtime.calendar, now)
        slots = await self._service.slots(runtime, today, now + HORIZON)
        moment = state_moment(slots, now, slot_minutes=runtime.slot_minutes, day_start=today)
        return slots, moment

    def _day_start(self, calendar: MarketCalendar, now: datetime) -> datetime:
        day = (calendar, calendar.local_date(now))
        start = self._days.get(day)
        if start is None:
            if len(self._days) > _DAYS_KEPT:
                self._days.clear()
            start = self._days[day] = calendar.day_bounds(day[1])[0]
        return start

    def derive(
        self,
        spec: ProviderSpec | ProviderRuntime,
        slots: list[EnergyPriceSlot],
        now: datetime,
        *,
        series: bool = True,
    ) -> Derived:
        """Every derived payload of ``spec`` at ``now`` (without ``series``: only those a slot
        boundary changes); the standing windows chosen are remembered (a started one is kept
        next time)."""
        runtime = self._service.runtime(spec)
        spec = runtime.spec
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
            series=series,
        )
        self.windows.remember(spec.key, spec.region, derived.windows)
        return derived

    async def figures(self, spec: ProviderSpec, now: datetime) -> FiguresReply:
        """``{"level", "stats": {period: ...}, "windows": [...]}`` as published; a figure that
        cannot be built is null (``level``, a period) or left out (a window)."""
        runtime = self._service.runtime(spec)
        slots, moment = await self.known_at(runtime, now)
        return self.derive(runtime, slots, moment).figures
