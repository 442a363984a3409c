"""The provider registry: metadata read once per plugin load, runtimes of plugin-less
providers, level bands per provider and per currency (real plugin files, real loader)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog

from energyd.app import wire
from energyd.config import LevelBand
from energyd.core.registry import choose_levels
from energyd.domain.levels import FALLBACK_BANDS, PriceBand, default_bands
from energyd.exceptions import ConfigError
from tests.support.broker import MosquittoBroker
from tests.support.market_plugins import ServiceRig, market_plugin, metadata_calls, service_rig
from tests.support.rig import running

PLUGINS = {
    "eur_market_provider.py": market_plugin("eur_market"),
    "gbp_market_provider.py": market_plugin(
        "gbp_market", currency="GBP", slot_minutes=30, market_timezone="Europe/London"
    ),
    "chf_market_provider.py": market_plugin(
        "chf_market", currency="CHF", slot_minutes=60, market_timezone="Europe/Zurich"
    ),
}
PROVIDERS: dict[str, dict[str, Any]] = {
    "eur_market": {"region": "DE"},
    "gbp_market": {"region": "C"},
    "chf_market": {"region": "DE"},
    "missing": {"plugin": "nowhere", "region": "X"},
}
EUR_BANDS = [("negative", 0.0), ("cheap", 10.0), ("normal", 25.0), ("expensive", None)]


def bands(levels: Any) -> list[tuple[str, float | None]]:
    return [(band.name, band.below) for band in levels]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[ServiceRig]:
    async with service_rig(tmp_path, PLUGINS, PROVIDERS) as running:
        yield running


class TestMetadataReadOnce:
    async def test_publishing_and_health_never_ask_the_plugin_again(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str
    ) -> None:
        """Fetches, publishes, health, overview, figures and boundaries: get_metadata ran
        once per plugin, when the loader loaded it."""
        mqtt_settings = {"host": "127.0.0.1", "port": mosquitto.port, "base_topic": base_topic}
        async with service_rig(tmp_path, PLUGINS, PROVIDERS, mqtt=mqtt_settings) as rig:
            await self._exercise(rig)

    async def _exercise(self, rig: ServiceRig) -> None:
        wiring = wire(rig)
        publisher, scheduler = wiring.publisher, wiring.scheduler
        plugins = {key: rig.loader.providers[key] for key in ("eur_market", "gbp_market")}
        async with running(wiring, "mqtt"):
            await rig.service.refresh()
            now = datetime.now(UTC)
            for _ in range(5):
                await publisher.publish_all()
                await publisher.publish_prices(now=now)
                await rig.service.overview()
                await scheduler._next_boundary(now)
                for spec in rig.service.specs():
                    await rig.service.health(spec)
                    await rig.service.price_window(spec, now, now + timedelta(hours=6))
                    rig.service.calendar(spec)
                    rig.service.metadata(spec)
            await rig.service.refresh()
        assert {"eur_market": 1, "gbp_market": 1} == {
            key: metadata_calls(plugin) for key, plugin in plugins.items()
        }

    async def test_a_reload_reads_the_new_metadata(self, rig: ServiceRig) -> None:
        """After a reload the registry holds the new instance and what it said, once."""
        deployed = rig.settings.plugin_dir / "eur_market_provider.py"
        deployed.write_text(market_plugin("eur_market", version="1.1.0"), encoding="utf-8")
        before = rig.service.metadata(rig.service.spec("eur_market"))
        assert before is not None
        assert "1.0.0" == before.version
        rig.loader.reload()
        runtime = rig.service.runtime("eur_market")
        assert runtime.metadata is not None
        assert "1.1.0" == runtime.metadata.version
        assert runtime.plugin is rig.loader.providers["eur_market"]
        assert 1 == metadata_calls(runtime.plugin)

    async def test_the_calendar_is_built_once(self, rig: ServiceRig) -> None:
        """Every use gets the same MarketCalendar object, in the market's own zone."""
        spec = rig.service.spec("eur_market")
        first, second = rig.service.calendar(spec), rig.service.calendar(spec)
        assert first is second
        assert "Europe/Berlin" == first.zone.key


class TestRuntime:
    async def test_a_running_provider_knows_its_market(self, rig: ServiceRig) -> None:
        """Currency and slot length come from the plugin's metadata."""
        runtime = rig.service.runtime("eur_market")
        assert ("EUR", 15, True) == (runtime.currency, runtime.slot_minutes, runtime.spec.selected)

    async def test_without_a_plugin_nothing_is_guessed(self, rig: ServiceRig) -> None:
        """A provider whose plugin is not loaded has no currency, no slot length, UTC days."""
        runtime = rig.service.runtime("missing")
        expected = (None, None, None, None, "UTC")
        actual = (
            runtime.loaded,
            runtime.metadata,
            runtime.currency,
            runtime.slot_minutes,
            runtime.calendar.zone.key,
        )
        assert expected == actual

    async def test_running_order_is_the_specs_order(self, rig: ServiceRig) -> None:
        """runtimes() lists what specs() lists: the selected provider first, then by key."""
        keys = [runtime.key for runtime in rig.service.runtimes()]
        assert ["eur_market", "chf_market", "gbp_market", "missing"] == keys
        assert keys == [spec.key for spec in rig.service.specs()]

    async def test_unknown_provider(self, rig: ServiceRig) -> None:
        """Asking for a provider that does not run is an error naming the running ones."""
        with pytest.raises(Exception, match="no running provider 'nope'"):
            rig.service.runtime("nope")


class TestLevelsPerCurrency:
    async def test_each_provider_gets_its_currencys_bands(self, rig: ServiceRig) -> None:
        """EUR in c/kWh, GBP as before (p/kWh); CHF and no plugin: only negative / normal."""
        levels = {runtime.key: bands(runtime.levels) for runtime in rig.service.runtimes()}
        assert EUR_BANDS == levels["eur_market"]
        assert bands(default_bands("GBP")) == levels["gbp_market"]
        assert bands(FALLBACK_BANDS) == levels["chf_market"]
        assert bands(FALLBACK_BANDS) == levels["missing"]

    async def test_a_currency_without_defaults_is_named_in_the_log(self, tmp_path: Path) -> None:
        """CHF without configured levels: the log says so and which key to set."""
        with structlog.testing.capture_logs() as logs:
            async with service_rig(tmp_path, PLUGINS, PROVIDERS) as running:
                running.service.runtimes()
        said = [(e["provider"], e["hint"]) for e in logs if e["event"] == "levels.no_defaults"]
        assert [("chf_market", "set energy.providers.chf_market.levels")] == said


class TestLevelsConfigured:
    async def test_prices_levels_apply_to_every_provider(self, tmp_path: Path) -> None:
        """The global prices.levels (backwards compatible) wins over the currency defaults."""
        overall = [{"name": "low", "below": 15}, {"name": "high"}]
        async with service_rig(tmp_path, PLUGINS, PROVIDERS, prices={"levels": overall}) as r:
            levels = {runtime.key: bands(runtime.levels) for runtime in r.service.runtimes()}
        assert {key: [("low", 15.0), ("high", None)] for key in PROVIDERS} == levels

    async def test_a_providers_own_levels_win(self, tmp_path: Path) -> None:
        """energy.providers.<key>.levels wins over prices.levels, for that provider only."""
        own = [{"name": "free", "below": 1}, {"name": "paid"}]
        providers = {**PROVIDERS, "eur_market": {"region": "DE", "levels": own}}
        overall = [{"name": "low", "below": 15}, {"name": "high"}]
        async with service_rig(tmp_path, PLUGINS, providers, prices={"levels": overall}) as r:
            eur = bands(r.service.runtime("eur_market").levels)
            gbp = bands(r.service.runtime("gbp_market").levels)
            config = dict(r.service.spec("eur_market").config)
        assert [("free", 1.0), ("paid", None)] == eur
        assert [("low", 15.0), ("high", None)] == gbp
        assert {"region": "DE"} == config  # the plugin never sees `levels`

    async def test_settings_set_changes_the_bands(self, rig: ServiceRig) -> None:
        """A run-time change of energy.providers.<key>.levels applies at once and persists."""
        value = [{"name": "cheap", "below": 5}, {"name": "dear"}]
        await rig.service.set_settings({"energy.providers.eur_market.levels": value})
        assert [("cheap", 5.0), ("dear", None)] == bands(rig.service.runtime("eur_market").levels)
        assert value == (await rig.store.get_overrides())["energy.providers.eur_market.levels"]

    async def test_removing_them_restores_the_defaults(self, rig: ServiceRig) -> None:
        """Setting the key to null takes the currency's defaults again."""
        value = [{"name": "cheap", "below": 5}, {"name": "dear"}]
        await rig.service.set_settings({"energy.providers.eur_market.levels": value})
        await rig.service.set_settings({"energy.providers.eur_market.levels": None})
        assert EUR_BANDS == bands(rig.service.runtime("eur_market").levels)

    @pytest.mark.parametrize(
        "value",
        [
            [{"name": "a", "below": 5}],
            [{"name": "a", "below": 5}, {"name": "b", "below": 3}, {"name": "c"}],
            [{"name": "a"}, {"name": "b"}],
            [{"name": "Not Valid", "below": 1}, {"name": "b"}],
            [{"name": "a", "below": 1}, {"name": "a"}],
            [],
            "cheap",
        ],
    )
    async def test_settings_set_refuses_bad_bands(self, rig: ServiceRig, value: Any) -> None:
        """A band ladder that does not climb is refused, naming the key; nothing persisted."""
        with pytest.raises(ConfigError) as caught:
            await rig.service.set_settings({"energy.providers.eur_market.levels": value})
        assert all(k.startswith("energy.providers.eur_market.levels") for k in caught.value.errors)
        assert {} == await rig.store.get_overrides()
        assert EUR_BANDS == bands(rig.service.runtime("eur_market").levels)


class TestChooseLevels:
    def test_own_first(self) -> None:
        """A provider's own bands win over the global ones and the currency's."""
        own = (LevelBand(name="a", below=1.0), LevelBand(name="b"))
        overall = (LevelBand(name="x"),)
        assert own == choose_levels(own, overall, "EUR")

    def test_then_the_global_ones(self) -> None:
        """Without own bands, prices.levels."""
        overall = (LevelBand(name="x"),)
        assert overall == choose_levels(None, overall, "EUR")

    @pytest.mark.parametrize("currency", ["GBP", "EUR", "SEK", "NOK", "DKK", "JPY", None])
    def test_then_the_currencys(self, currency: str | None) -> None:
        """Without any configured, the currency's defaults (fallback for others)."""
        expected: tuple[PriceBand, ...] = default_bands(currency)
        assert expected == choose_levels(None, None, currency)


class TestPriceWindowUnit:
    @pytest.mark.parametrize(
        ("key", "unit"),
        [
            ("eur_market", "c/kWh"),
            ("gbp_market", "p/kWh"),
            ("chf_market", "Rp/kWh"),
            ("missing", None),
        ],
    )
    async def test_the_reply_names_its_unit(
        self, rig: ServiceRig, key: str, unit: str | None
    ) -> None:
        """A price window says its unit (the status page shows it), from the provider's
        currency; a provider without a plugin has none rather than a guess."""
        start = datetime(2030, 1, 1, tzinfo=UTC)
        reply = await rig.service.price_window(
            rig.service.spec(key), start, start + timedelta(hours=1)
        )
        assert unit == reply["unit"]
