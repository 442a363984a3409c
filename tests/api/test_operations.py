"""The operations every surface calls, on real parts: a SQLite store file, the plugin loader
with test plugins, the price service (no broker)."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from energyd.api.arguments import (
    AuditArgs,
    CheapestArgs,
    FiguresArgs,
    HealthArgs,
    NoArgs,
    PricesArgs,
    RefreshArgs,
    SettingsSetArgs,
    UpdateArgs,
)
from energyd.api.errors import to_command_error
from energyd.api.figures import FigureSource
from energyd.api.operations import Operations
from energyd.app import Components
from energyd.config import Settings, load_settings
from energyd.core.service import PriceService
from energyd.core.store import PriceStore
from energyd.domain.figures import window_period
from energyd.domain.time import iso_utc, slot_floor
from energyd.exceptions import (
    CommandError,
    PluginNameError,
    ProviderConfigError,
    UnknownProviderError,
)
from energyd.mqtt.client import MqttStats
from energyd.providers.management import ProviderManager
from tests.support.plugin_files import good_plugin
from tests.support.rig import daemon_parts

# Prices rise through each UTC day, one step a half-hour: 0.0 at 00:00 .. 47.0 at 23:30.
# "mode": "crash" makes a fetch fail (known prices stay: the provider is then degraded).
HOURLY = textwrap.dedent(
    """\
    from datetime import timedelta

    from providers.energy.base import EnergyPriceProvider, EnergyPriceSlot, EnergyProviderMetadata

    __version__ = "1.0.0"


    class Hourly(EnergyPriceProvider):
        def get_metadata(self):
            return EnergyProviderMetadata(
                provider_id="hourly", display_name="Hourly", version=__version__,
                supported_regions=("A", "C"), market_timezone="Europe/London",
                publish_time_local="00:00",
            )

        def source_identity(self, region, config):
            return f"hourly {region}"  # "mode" steers the test, not where prices come from

        def validate_config(self, config):
            return {} if config.get("region") in ("A", "C") else {"region": "must be A or C"}

        async def fetch_prices(self, region, start_utc, end_utc, config):
            if config.get("mode") == "crash":
                raise RuntimeError("plugin bug")
            slots = []
            moment = start_utc
            while moment < end_utc:
                price = float(moment.hour * 2 + moment.minute // 30)
                slots.append(EnergyPriceSlot(moment, moment + timedelta(minutes=30), price))
                moment += timedelta(minutes=30)
            return slots
    """
)


def price_at(moment: datetime) -> float:
    """What the HOURLY plugin charges for the slot starting at ``moment``."""
    return float(moment.hour * 2 + moment.minute // 30)


@dataclass
class Rig:
    settings: Settings
    store: PriceStore
    service: PriceService
    manager: ProviderManager
    figures: FigureSource
    ops: Operations
    parts: Components


@dataclass
class Broker:
    """A stand-in for the MQTT connection."""

    connected: bool
    stats: Any = field(default_factory=MqttStats)


def make_settings(tmp_path: Path, **extra: Any) -> Settings:
    providers: dict[str, Any] = {"hourly": {"region": "C"}, **extra.pop("providers", {})}
    return load_settings(
        None,
        config_dir=tmp_path / "config",
        energy={"provider_id": "hourly", "providers": providers},
        refresh={"fetch_timeout_seconds": 5},
        prices={"windows": [{"name": "next_2h", "minutes": 120}]},
        **extra,
    )


PLUGINS = {"hourly_provider.py": HOURLY, "demo_provider.py": good_plugin("demo")}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
async def rig(settings: Settings) -> AsyncIterator[Rig]:
    async with daemon_parts(settings, PLUGINS) as parts:
        yield Rig(
            settings,
            parts.store,
            parts.service,
            parts.manager,
            parts.figures,
            parts.operations(),
            parts,
        )


@pytest.fixture
async def fetched(rig: Rig) -> Rig:
    (run,) = await rig.service.refresh()
    assert "ok" == run.outcome.value
    return rig


class TestRefresh:
    async def test_runs_of_every_provider(self, rig: Rig) -> None:
        """refresh fetches every running provider and answers its runs."""
        reply = await rig.ops.refresh(RefreshArgs())
        assert [("hourly", "C", "ok")] == [
            (r["provider"], r["region"], r["outcome"]) for r in reply["runs"]
        ]

    async def test_unknown_provider(self, rig: Rig) -> None:
        """A provider that does not run is an UnknownProviderError (unknown_provider)."""
        with pytest.raises(UnknownProviderError):
            await rig.ops.refresh(RefreshArgs(provider="nope"))


class TestPrices:
    async def test_default_window(self, fetched: Rig) -> None:
        """Without arguments: the next 24 hours, as stored."""
        reply = await fetched.ops.prices(PricesArgs())
        start = datetime.fromisoformat(reply["start"])
        end = datetime.fromisoformat(reply["end"])
        stored = await fetched.store.slots("hourly", "C", start, end)
        assert (timedelta(hours=24), [iso_utc(s.valid_from) for s in stored]) == (
            end - start,
            [s["start"] for s in reply["slots"]],
        )
        assert ("hourly", "C", "GBP") == (reply["provider"], reply["region"], reply["currency"])

    async def test_explicit_window(self, fetched: Rig) -> None:
        """start and hours select that window; prices are the plugin's."""
        start = slot_floor(datetime.now(UTC), 30)
        reply = await fetched.ops.prices(PricesArgs(start=start, hours=1))
        assert [(iso_utc(start), price_at(start))] == [
            (s["start"], s["price"]) for s in reply["slots"][:1]
        ]
        assert 2 == len(reply["slots"])

    @pytest.mark.parametrize("day", ["today", "tomorrow"])
    async def test_day_of_the_market(self, fetched: Rig, day: str) -> None:
        """day is the market's local day (Europe/London here), with its date."""
        spec = fetched.service.spec()
        calendar = fetched.service.calendar(spec)
        local = calendar.local_date(datetime.now(UTC)) + timedelta(days=day == "tomorrow")
        start, end = calendar.day_bounds(local)
        reply = await fetched.ops.prices(PricesArgs(day=day))
        assert (local.isoformat(), iso_utc(start), iso_utc(end)) == (
            reply["date"],
            reply["start"],
            reply["end"],
        )
        assert len(await fetched.store.slots("hourly", "C", start, end)) == len(reply["slots"])
        assert reply["slots"]

    async def test_reversed_window(self, rig: Rig) -> None:
        """A window that ends before it starts is invalid_argument."""
        now = datetime.now(UTC)
        with pytest.raises(CommandError) as caught:
            await rig.ops.prices(PricesArgs(start=now, end=now - timedelta(hours=1)))
        assert "end must be after start" == caught.value.message


class TestCheapest:
    async def test_cheapest_hour_of_a_period(self, fetched: Rig) -> None:
        """The cheapest hour between two datetimes is found in the stored prices."""
        start = slot_floor(datetime.now(UTC), 30) + timedelta(hours=1)
        end = start + timedelta(hours=3)
        reply = await fetched.ops.cheapest(CheapestArgs(minutes=60, earliest=start, latest=end))
        candidates = [start + timedelta(minutes=30 * i) for i in range(5)]
        best = min(candidates, key=lambda s: price_at(s) + price_at(s + timedelta(minutes=30)))
        assert (True, iso_utc(best), iso_utc(best + timedelta(hours=1))) == (
            reply["available"],
            reply["start"],
            reply["end"],
        )
        assert (iso_utc(start), iso_utc(end), None) == (
            reply["period_start"],
            reply["period_end"],
            reply["name"],
        )
        assert "active" not in reply

    async def test_local_times(self, fetched: Rig) -> None:
        """ "HH:MM" times are the market's: the period is the next 00:00 .. 07:00 UK."""
        reply = await fetched.ops.cheapest(
            CheapestArgs(minutes=60, earliest="00:00", latest="07:00", mode="most_expensive")
        )
        calendar = fetched.service.calendar(fetched.service.spec())
        period = window_period(datetime.now(UTC), calendar, "00:00", "07:00")
        assert (iso_utc(period[0]), iso_utc(period[1]), "most_expensive") == (
            reply["period_start"],
            reply["period_end"],
            reply["mode"],
        )

    async def test_period_too_long(self, rig: Rig) -> None:
        """A period over 31 days is invalid_argument."""
        now = datetime.now(UTC)
        args = CheapestArgs(minutes=60, earliest=now, latest=now + timedelta(days=40))
        with pytest.raises(CommandError) as caught:
            await rig.ops.cheapest(args)
        assert "invalid_argument" == caught.value.code


class TestFigures:
    async def test_level_stats_and_windows(self, fetched: Rig) -> None:
        """The figures of the provider now: its level, three periods and each window."""
        reply = await fetched.ops.figures(FiguresArgs())
        now_slot = slot_floor(datetime.now(UTC), 30)
        assert price_at(now_slot) == reply["level"]["price"]
        assert ["today", "tomorrow", "next_24h"] == list(reply["stats"])
        assert [("next_2h", True)] == [(w["name"], w["available"]) for w in reply["windows"]]

    async def test_the_windows_chosen_are_kept(self, fetched: Rig) -> None:
        """The figures operation and the publisher share the standing windows' memory."""
        reply = await fetched.ops.figures(FiguresArgs(provider="hourly"))
        (window,) = reply["windows"]
        chosen = fetched.figures.windows.previous("hourly", "C")["next_2h"]
        assert chosen is not None
        assert (window["start"], window["end"]) == (iso_utc(chosen.start), iso_utc(chosen.end))

    async def test_without_a_source(self, rig: Rig) -> None:
        """Operations without a figures source answer not_available."""
        # built by hand on purpose: the daemon's operations always have the figures source
        ops = Operations(rig.service, rig.manager, rig.store)
        with pytest.raises(CommandError) as caught:
            await ops.figures(FiguresArgs())
        assert "not_available" == caught.value.code
        assert {"figures": False} == {"figures": (await ops.info(NoArgs()))["figures"]}


class TestSettings:
    async def test_both_forms_change_and_fetch(self, rig: Rig) -> None:
        """{"key", "value"} and {"values"} are persisted, applied and fetched alike."""
        one = SettingsSetArgs(key="energy.providers.hourly.region", value="A")
        reply = await rig.ops.settings_set(one)
        assert ("A", ["A"]) == (
            reply["energy"]["providers"]["hourly"]["region"],
            [r["region"] for r in reply["runs"]],
        )
        many = SettingsSetArgs(values={"energy.providers.hourly.region": "C"})
        await rig.ops.settings_set(many)
        assert {"energy.providers.hourly.region": "C"} == await rig.store.get_overrides()
        view = await rig.ops.settings_get(NoArgs())
        assert ["energy.providers.hourly.region"] == view["overrides"]

    async def test_plugin_refusal_is_invalid_config(self, rig: Rig) -> None:
        """The plugin's refusal is a ProviderConfigError: invalid_config, per field."""
        args = SettingsSetArgs(values={"energy.providers.hourly.region": "Z"})
        with pytest.raises(ProviderConfigError) as caught:
            await rig.ops.settings_set(args)
        error = to_command_error(caught.value)
        assert ("invalid_config", {"energy.providers.hourly.region": "must be A or C"}) == (
            error.code,
            error.details,
        )


class TestPluginsAndAudit:
    async def test_actions_are_audited_with_the_actor(self, rig: Rig) -> None:
        """Reload and update-all write audit records naming who asked."""
        await rig.ops.providers_reload(NoArgs(), actor="cli")
        await rig.ops.providers_update_all(NoArgs(), actor="mqtt")
        reply = await rig.ops.audit(AuditArgs(limit=2))
        assert [("update_all", "mqtt"), ("reload", "cli")] == [
            (r["action"], r["actor"]) for r in reply["records"]
        ]
        assert 1 == len((await rig.ops.audit(AuditArgs(limit=1)))["records"])

    async def test_a_bad_name_is_refused_and_audited(self, rig: Rig) -> None:
        """A plugin name that is not *_provider.py is a PluginNameError (invalid_name)."""
        with pytest.raises(PluginNameError):
            await rig.ops.providers_update(UpdateArgs(name="../evil.py"), actor="http")
        (record,) = (await rig.ops.audit(AuditArgs(limit=1)))["records"]
        assert ("update", False, "http") == (record["action"], record["ok"], record["actor"])

    async def test_status(self, rig: Rig) -> None:
        """providers_status lists the plugin files and the running providers."""
        reply = await rig.ops.providers_status(NoArgs())
        assert (["demo_provider.py", "hourly_provider.py"], ["hourly"]) == (
            [p["file"] for p in reply["plugins"]],
            [p["id"] for p in reply["providers"]],
        )


class TestHealth:
    async def test_healthy_after_a_fetch(self, fetched: Rig) -> None:
        """With prices for now, the store open and the plugins loaded, health and readiness
        both say healthy, naming the same parts."""
        health = await fetched.ops.health(HealthArgs())
        ready = await fetched.ops.readiness(NoArgs())
        assert (True, "ready") == (health["ok"], ready["status"])
        assert ready["checks"] == health["checks"]
        assert ["store", "plugins", "prices", "mqtt"] == list(ready["checks"])
        assert {"hourly": "ok"} == {k: p["state"] for k, p in health["providers"].items()}
        assert (False, str(fetched.store.path)) == (health["mqtt_connected"], health["store"])
        assert {"lag_seconds", "max_lag_seconds", "blocked_by"} <= set(health["event_loop"])
        assert "probes" not in health

    async def test_not_healthy_before_any_fetch(self, rig: Rig) -> None:
        """Without a price for now: not ok, and the prices part names the provider."""
        health = await rig.ops.health(HealthArgs())
        assert (False, ["hourly"], "unknown") == (
            health["ok"],
            health["checks"]["prices"]["failing"],
            health["checks"]["prices"]["state"],
        )

    async def test_degraded_counts_as_healthy(self, fetched: Rig) -> None:
        """A failed fetch with a price for now known is degraded: still healthy."""
        await fetched.service.set_settings({"energy.providers.hourly.mode": "crash"})
        await fetched.service.refresh()
        health = await fetched.ops.health(HealthArgs())
        assert ("degraded", True) == (health["providers"]["hourly"]["state"], health["ok"])

    async def test_a_broken_provider_fails_both(self, tmp_path: Path) -> None:
        """A provider without a plugin fails health and readiness alike, named in both."""
        settings = make_settings(tmp_path, providers={"ghost": {"plugin": "nope", "region": "C"}})
        async with daemon_parts(settings, PLUGINS) as parts:
            await parts.service.refresh("hourly")
            ops = parts.operations()
            health = await ops.health(HealthArgs())
            ready = await ops.readiness(NoArgs())
        assert (False, "not_ready") == (health["ok"], ready["status"])
        assert ["ghost"] == ready["checks"]["prices"]["failing"]
        assert "no plugin for: ghost" in ready["checks"]["plugins"]["detail"]
        assert ready["checks"] == health["checks"]
        assert ("ok", "error") == (
            health["providers"]["hourly"]["state"],
            health["providers"]["ghost"]["state"],
        )

    async def test_a_disconnected_broker_fails_both(self, fetched: Rig) -> None:
        """The broker is a part: disconnected, neither is healthy."""
        ops = fetched.parts.operations(broker=Broker(False))
        health = await ops.health(HealthArgs())
        assert (False, False, False) == (
            health["ok"],
            health["mqtt_connected"],
            health["checks"]["mqtt"]["ok"],
        )
        assert "not_ready" == (await ops.readiness(NoArgs()))["status"]
        connected = fetched.parts.operations(broker=Broker(True))
        assert (await connected.health(HealthArgs()))["mqtt_connected"]

    async def test_a_closed_store_fails_without_raising(self, fetched: Rig) -> None:
        """A store that cannot answer fails its part; the assessment itself does not fail."""
        await fetched.store.__aexit__(None, None, None)
        ready = await fetched.ops.readiness(NoArgs())
        assert (False, False) == (ready["checks"]["store"]["ok"], ready["checks"]["prices"]["ok"])

    async def test_probe(self, fetched: Rig) -> None:
        """probe runs each plugin's health check."""
        health = await fetched.ops.health(HealthArgs(probe=True))
        assert ["hourly"] == list(health["probes"])


class TestInfo:
    async def test_info(self, rig: Rig) -> None:
        """Version, figures available, the selected and the running providers."""
        reply = await rig.ops.info(NoArgs())
        assert (True, "hourly", ["hourly"]) == (
            reply["figures"],
            reply["selected"],
            reply["providers"],
        )
