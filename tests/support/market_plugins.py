"""Plugin files of markets other than Agile: another currency, another slot length.

``market_plugin`` writes a complete v1 plugin (as the contract shows one) whose currency,
slot length and market zone are chosen by the test. It counts its ``get_metadata`` calls on
the instance (``metadata_calls``), so a test can check that the daemon asks only once per
load. Its price is the provider config's ``price`` (default ``price``), VAT included.
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from energyd.app import Components
from energyd.config import load_settings
from tests.support.rig import daemon_parts

__all__ = ["ServiceRig", "market_plugin", "metadata_calls", "service_rig"]


def market_plugin(
    provider_id: str = "eur_market",
    *,
    currency: str = "EUR",
    slot_minutes: int = 15,
    market_timezone: str = "Europe/Berlin",
    price: float = 8.5,
    version: str = "1.0.0",
) -> str:
    """A plugin answering ``slot_minutes`` slots in ``currency`` of a midnight-based
    day-ahead market in ``market_timezone`` (published at 13:00 local time)."""
    return textwrap.dedent(
        f'''\
        """Test market {provider_id}: {currency}, {slot_minutes}-minute slots."""

        from datetime import timedelta

        from providers.energy.base import (
            EnergyPriceProvider,
            EnergyPriceSlot,
            EnergyProviderMetadata,
        )

        __version__ = "{version}"

        STEP = timedelta(minutes={slot_minutes})


        class MarketProvider(EnergyPriceProvider):
            metadata_calls = 0

            def get_metadata(self):
                self.metadata_calls += 1
                return EnergyProviderMetadata(
                    provider_id="{provider_id}",
                    display_name="{provider_id} day-ahead",
                    version=__version__,
                    supported_regions=("DE", "NL"),
                    currency="{currency}",
                    slot_minutes={slot_minutes},
                    market_timezone="{market_timezone}",
                    publish_time_local="13:00",
                )

            def validate_config(self, config):
                return {{}} if config.get("region") else {{"region": "required"}}

            async def fetch_prices(self, region, start_utc, end_utc, config):
                price = float(config.get("price", {price!r}))
                slots = []
                moment = start_utc
                while moment < end_utc:
                    slots.append(EnergyPriceSlot(moment, moment + STEP, price, "{currency}"))
                    moment += STEP
                return slots
        '''
    )


def metadata_calls(plugin: object) -> int:
    """How often ``get_metadata`` of a :func:`market_plugin` instance has run."""
    calls = getattr(plugin, "metadata_calls", None)
    if not isinstance(calls, int):
        raise TypeError(f"{type(plugin).__name__} is not a market_plugin")
    return calls


#: The parts of a daemon over market plugins, as :func:`energyd.app.build` makes them.
ServiceRig = Components


@contextlib.asynccontextmanager
async def service_rig(
    tmp_path: Path,
    plugins: Mapping[str, str],
    providers: Mapping[str, Mapping[str, Any]],
    **sections: Any,
) -> AsyncIterator[ServiceRig]:
    """The daemon's started parts over ``plugins`` (file name -> source, loaded by the real
    loader) and a real SQLite store; the first of ``providers`` is selected."""
    settings = load_settings(
        None,
        config_dir=tmp_path / "config",
        energy={"provider_id": next(iter(providers)), "providers": dict(providers)},
        **sections,
    )
    async with daemon_parts(settings, plugins) as parts:
        yield parts
