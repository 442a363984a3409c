"""Failover (:mod:`energyd.core.fallbacks`), cross-checks, forecasts and per-config metadata
through the price service, on the real loader and a real SQLite store (plugins written out as
files, loaded as the daemon loads them)."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from energyd.domain.figures import period_stats, slot_json
from energyd.providers.base import HealthState
from tests.support.market_plugins import service_rig

# Quarter-hour prices of ``price`` in ``currency`` (config), with no price for the UTC hours
# listed in ``gap`` and forecasts (with a band) from ``estimate_after`` hours ahead of the
# fetch's start. ``slot_minutes`` in the config changes the slot length (``metadata_for``).
PLUGIN = textwrap.dedent(
    """\
    from datetime import timedelta

    from providers.energy.base import (
        EnergyPriceProvider,
        EnergyPriceSlot,
        EnergyProviderMetadata,
    )

    __version__ = "1.0.0"
    REQUIRES_KIT = 4


    class Gappy(EnergyPriceProvider):
        def get_metadata(self):
            return EnergyProviderMetadata(
                provider_id="gappy", display_name="Gappy", version=__version__,
                currency="EUR", slot_minutes=15, market_timezone="Europe/Berlin",
                publish_time_local="13:00",
            )

        def metadata_for(self, region, config):
            meta = self.get_metadata()
            return EnergyProviderMetadata(
                provider_id=meta.provider_id, display_name=meta.display_name,
                version=meta.version, currency=meta.currency,
                slot_minutes=int(config.get("slot_minutes", 15)),
                market_timezone="Europe/Berlin", publish_time_local=None,
            )

        def currency_for(self, region, config):
            return config.get("currency", "EUR")

        def validate_config(self, config):
            return {} if config.get("region") else {"region": "required"}

        async def fetch_prices(self, region, start_utc, end_utc, config):
            step = timedelta(minutes=int(config.get("slot_minutes", 15)))
            gap = set(config.get("gap", []))
            guess_from = config.get("estimate_after")
            out = []
            moment = start_utc
            while moment < end_utc:
                if moment.hour not in gap:
                    guess = guess_from is not None and moment >= end_utc - timedelta(
                        hours=guess_from
                    )
                    price = float(config.get("price", 10.0))
                    out.append(
                        EnergyPriceSlot(
                            moment, moment + step, price, config.get("currency", "EUR"),
                            estimate=guess,
                            estimate_low_pence=price - 2 if guess else None,
                            estimate_high_pence=price + 3 if guess else None,
                        )
                    )
                moment += step
            return out
    """
)
PLUGINS = {"gappy_provider.py": PLUGIN}


def now_hour() -> int:
    return datetime.now(UTC).hour


async def test_a_gap_is_filled_from_the_fallback_named_as_its_source(tmp_path: Path) -> None:
    """No own price for now: the fallback's, through the primary's formula, naming the
    fallback; the primary's own slots elsewhere stay its own. Health: degraded, serving the
    fallback since the gap began, and the 10 % disagreement elsewhere named."""
    providers: dict[str, dict[str, Any]] = {
        "de": {
            "plugin": "gappy",
            "region": "DE",
            "price": 10.0,
            "gap": [now_hour()],
            "fallbacks": ["backup"],
            "tariff": {"adders": {"grid": 5.0}},
        },
        "backup": {"plugin": "gappy", "region": "DE", "price": 11.0},
    }
    async with service_rig(tmp_path, PLUGINS, providers) as rig:
        service = rig.service
        await service.refresh()
        now = datetime.now(UTC)
        spec = service.spec("de")
        current = await service.slot_at(spec, now)
        assert current is not None
        assert ("backup", 16.0, 11.0) == (current.source, current.price_pence, current.market_pence)
        hour = now.replace(minute=0, second=0, microsecond=0)
        served = await service.slots(spec, hour - timedelta(hours=1), hour + timedelta(hours=2))
        sources = {(s.valid_from.hour, s.source) for s in served}
        assert {(hour.hour, "backup")} == {item for item in sources if item[1] is not None}
        assert (hour - timedelta(hours=1)).hour in {h for h, src in sources if src is None}
        assert "backup" == slot_json(current).get("source")
        report = await service.health(spec, now)
        assert HealthState.DEGRADED == report.state
        failover = report.as_json()["failover"]
        assert failover is not None
        assert ("backup", hour.isoformat().replace("+00:00", "Z")) == (
            failover["serving"],
            failover["since"],
        )
        assert failover["disagreement_count"] > 0
        first = failover["disagreements"][0]
        assert (10.0, 11.0, "backup") == (first["price"], first["other"], first["source"])
        assert "prices from fallback backup since" in report.message
        # the fallback itself is healthy and knows nothing of it
        backup = await service.health(service.spec("backup"), now)
        assert (HealthState.OK, None) == (backup.state, backup.as_json()["failover"])


async def test_agreeing_sources_and_own_price_keep_health_ok(tmp_path: Path) -> None:
    providers: dict[str, dict[str, Any]] = {
        "de": {"plugin": "gappy", "region": "DE", "price": 10.0, "fallbacks": ["backup"]},
        "backup": {"plugin": "gappy", "region": "DE", "price": 10.3},  # 3 %: agrees
    }
    async with service_rig(tmp_path, PLUGINS, providers) as rig:
        await rig.service.refresh()
        report = await rig.service.health(rig.service.spec("de"))
        assert HealthState.OK == report.state, report.message
        failover = report.as_json()["failover"]
        assert failover is not None
        assert (None, 0, []) == (
            failover["serving"],
            failover["disagreement_count"],
            failover["problems"],
        )


async def test_a_fallback_in_another_currency_is_not_used(tmp_path: Path) -> None:
    """A SEK fallback cannot fill a EUR feed: no price for now, and health says why."""
    providers: dict[str, dict[str, Any]] = {
        "de": {"plugin": "gappy", "region": "DE", "gap": [now_hour()], "fallbacks": ["se"]},
        "se": {"plugin": "gappy", "region": "SE3", "currency": "SEK", "price": 90.0},
    }
    async with service_rig(tmp_path, PLUGINS, providers) as rig:
        await rig.service.refresh()
        spec = rig.service.spec("de")
        assert await rig.service.slot_at(spec, datetime.now(UTC)) is None
        report = await rig.service.health(spec)
        assert HealthState.STALE == report.state
        assert "fallback se quotes SEK, not EUR: not used" in report.message


async def test_a_fallback_without_cross_check_is_not_compared(tmp_path: Path) -> None:
    providers: dict[str, dict[str, Any]] = {
        "de": {
            "plugin": "gappy",
            "region": "DE",
            "fallbacks": [{"provider": "flat", "cross_check": False}],
        },
        "flat": {"plugin": "gappy", "region": "DE", "price": 30.0},
    }
    async with service_rig(tmp_path, PLUGINS, providers) as rig:
        await rig.service.refresh()
        report = await rig.service.health(rig.service.spec("de"))
        assert HealthState.OK == report.state, report.message


async def test_forecasts_are_stored_marked_and_counted(tmp_path: Path) -> None:
    """Estimates keep their flag and band through the store, the series say so, the figures
    count their minutes, and the scheduler learns where the first one starts."""
    providers = {"de": {"plugin": "gappy", "region": "DE", "estimate_after": 2}}
    async with service_rig(tmp_path, PLUGINS, providers) as rig:
        service = rig.service
        run = (await service.refresh())[0]
        assert run.window_end is not None
        spec = service.spec("de")
        served = await service.slots(spec, run.window_end - timedelta(hours=3), run.window_end)
        estimates = [s for s in served if s.estimate]
        assert 8 == len(estimates)
        assert {"estimate": True, "low": 8.0, "high": 13.0}.items() <= slot_json(
            estimates[0]
        ).items()
        assert not any(s.provisional for s in estimates)  # a forecast is not a late final
        assert "estimate" not in slot_json(served[0])
        first = await service.first_estimate(spec, datetime.now(UTC))
        assert estimates[0].valid_from == first
        stats = period_stats(
            served, run.window_end - timedelta(hours=3), run.window_end, datetime.now(UTC)
        )
        assert 120 == stats.as_json()["estimated_minutes"]


async def test_metadata_for_sets_the_slot_length_of_one_config(tmp_path: Path) -> None:
    """The same plugin runs a quarter-hourly and an hourly config side by side."""
    providers: dict[str, dict[str, Any]] = {
        "quarter": {"plugin": "gappy", "region": "DE"},
        "hourly": {"plugin": "gappy", "region": "DE", "slot_minutes": 60},
    }
    async with service_rig(tmp_path, PLUGINS, providers) as rig:
        service = rig.service
        assert (15, 60) == (
            service.runtime("quarter").slot_minutes,
            service.runtime("hourly").slot_minutes,
        )
        # publish_time_local None for these configs: no publication rhythm
        assert service.calendar(service.spec("hourly")).publish_time is None
