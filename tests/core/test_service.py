"""The price service with real plugins files, a real loader and a real SQLite store."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from energyd.app import Components
from energyd.config import Settings, load_settings
from energyd.core.service import PriceService
from energyd.domain.records import FetchOutcome
from energyd.exceptions import ConfigError, ProviderConfigError
from energyd.providers.base import HealthState
from tests.support.plugin_files import good_plugin
from tests.support.rig import daemon_parts

# A plugin whose behaviour is chosen by its config: "mode" = good | naive | nan | crash | slow.
CONFIGURABLE = textwrap.dedent(
    """\
    import asyncio
    import math
    from datetime import timedelta

    from providers.energy.base import EnergyPriceProvider, EnergyPriceSlot, EnergyProviderMetadata

    __version__ = "2.0.0"


    class Configurable(EnergyPriceProvider):
        def get_metadata(self):
            return EnergyProviderMetadata(
                provider_id="configurable", display_name="Configurable", version=__version__,
                market_timezone="Europe/London", publish_time_local="16:00",
                day_start_local="23:00",
            )

        def source_identity(self, region, config):
            return f"configurable {region}"  # "mode" and "price" steer the test, not the source

        def validate_config(self, config):
            if config.get("region") not in ("A", "C"):
                return {"region": "must be A or C"}
            return {}

        async def fetch_prices(self, region, start_utc, end_utc, config):
            mode = config.get("mode", "good")
            if mode == "crash":
                raise RuntimeError("plugin bug")
            if mode == "slow":
                await asyncio.sleep(30)
            slots = []
            moment = start_utc
            price = float(config.get("price", 10.0))
            while moment < end_utc:
                valid_from = moment.replace(tzinfo=None) if mode == "naive" else moment
                value = math.nan if (mode == "nan" and len(slots) == 5) else price
                slots.append(EnergyPriceSlot(valid_from, moment + timedelta(minutes=30), value))
                moment += timedelta(minutes=30)
            return slots
    """
)


#: The daemon's parts over the two plugins below, as :func:`energyd.app.build` makes them.
Rig = Components


def make_settings(tmp_path: Path, **provider: object) -> Settings:
    return load_settings(
        None,
        config_dir=tmp_path / "config",
        energy={
            "provider_id": "configurable",
            "providers": {"configurable": {"region": "C", **provider}},
        },
        refresh={"fetch_timeout_seconds": 0.5},
    )


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    plugins = {"configurable_provider.py": CONFIGURABLE, "demo_provider.py": good_plugin("demo")}
    async with daemon_parts(make_settings(tmp_path), plugins) as parts:
        yield parts


async def use_mode(rig: Rig, mode: str) -> None:
    await rig.service.set_settings({"energy.providers.configurable.mode": mode})


class TestFetch:
    async def test_good_fetch_stores_the_window(self, rig: Rig) -> None:
        """A fetch stores every slot of the market window and records the run."""
        (run,) = await rig.service.refresh()
        assert FetchOutcome.OK == run.outcome
        assert run.window_start is not None
        assert run.window_end is not None
        expected = (run.window_end - run.window_start) / timedelta(minutes=30)
        assert expected == run.slots
        stored = await rig.store.slots("configurable", "C", run.window_start, run.window_end)
        assert run.slots == len(stored)

    async def test_refetch_updates_never_duplicates(self, rig: Rig) -> None:
        """Fetching again with new prices updates the same slots."""
        (first,) = await rig.service.refresh()
        await rig.service.set_settings({"energy.providers.configurable.price": 33.0})
        (second,) = await rig.service.refresh()
        assert first.window_start is not None
        assert first.window_end is not None
        stored = await rig.store.slots("configurable", "C", first.window_start, first.window_end)
        assert first.slots == len(stored)
        assert {33.0} == {slot.price_pence for slot in stored}
        assert FetchOutcome.OK == second.outcome

    @pytest.mark.parametrize(
        ("mode", "error_type"),
        [
            ("naive", "SlotValidationError"),
            ("nan", "SlotValidationError"),
            ("crash", "RuntimeError"),
            ("slow", "TimeoutError"),
        ],
    )
    async def test_bad_fetch_keeps_known_prices(self, rig: Rig, mode: str, error_type: str) -> None:
        """Garbage, a crash or a hang fails the fetch whole; known prices stay untouched."""
        (good,) = await rig.service.refresh()
        assert good.window_start is not None
        assert good.window_end is not None
        before = await rig.store.slots("configurable", "C", good.window_start, good.window_end)
        await use_mode(rig, mode)
        (bad,) = await rig.service.refresh()
        assert (FetchOutcome.ERROR, error_type) == (bad.outcome, bad.error_type)
        after = await rig.store.slots("configurable", "C", good.window_start, good.window_end)
        assert before == after
        last = await rig.store.last_fetch("configurable", "C")
        assert last is not None
        assert FetchOutcome.ERROR == last.outcome

    async def test_health_follows_fetches(self, rig: Rig) -> None:
        """Unknown before the first fetch, ok after it, degraded when the next one fails."""
        spec = rig.service.spec()
        assert HealthState.UNKNOWN == (await rig.service.health(spec)).state
        await rig.service.refresh()
        assert HealthState.OK == (await rig.service.health(spec)).state
        await use_mode(rig, "crash")
        await rig.service.refresh()
        report = await rig.service.health(rig.service.spec())
        assert HealthState.DEGRADED == report.state
        assert "plugin bug" in report.message


class TestSettings:
    async def test_plugin_validates_and_nothing_is_persisted(self, rig: Rig) -> None:
        """A region the plugin refuses is an error per field; nothing changes."""
        with pytest.raises(ProviderConfigError) as caught:
            await rig.service.set_settings({"energy.providers.configurable.region": "Z"})
        assert {"energy.providers.configurable.region": "must be A or C"} == caught.value.errors
        assert {} == await rig.store.get_overrides()
        assert "C" == rig.service.spec().region

    async def test_unknown_key_refused(self, rig: Rig) -> None:
        """Only energy settings may change at run time."""
        with pytest.raises(ConfigError):
            await rig.service.set_settings({"mqtt.host": "elsewhere"})

    async def test_changes_survive_a_restart(self, rig: Rig, tmp_path: Path) -> None:
        """A setting changed at run time is applied again by a new service on the same store."""
        await rig.service.set_settings(
            {"energy.providers.demo": {"region": "A"}, "energy.provider_id": "demo"}
        )
        # built by hand on purpose: a second service over the same open store and loader
        async with aiohttp.ClientSession() as session:
            again = PriceService(make_settings(tmp_path), rig.store, rig.loader, session)
            await again.start()
        assert ("demo", "A") == (again.spec().key, again.spec().region)

    async def test_secrets_redacted_in_view(self, rig: Rig) -> None:
        """A provider api_key set at run time is not shown back."""
        await rig.service.set_settings({"energy.providers.configurable.api_key": "s3cret"})
        view = rig.service.settings_view()
        assert "s3cret" not in repr(view)


class TestProblems:
    async def test_broken_plugin_reported_not_fatal(self, rig: Rig) -> None:
        """A provider whose plugin fails to load is reported; fetching it records the error."""
        (rig.settings.plugin_dir / "configurable_provider.py").write_text("import nope\n")
        rig.loader.reload()
        spec = rig.service.spec()
        problem = rig.service.problem(spec)
        assert problem is not None
        assert "nope" in problem
        run = await rig.service.fetch(spec)
        assert FetchOutcome.ERROR == run.outcome
        assert HealthState.ERROR == (await rig.service.health(spec)).state


class TestSettingsBesideABrokenPlugin:
    async def test_unrelated_change_is_not_blocked(self, rig: Rig) -> None:
        """One provider's broken plugin does not refuse a region change of another provider."""
        await rig.service.set_settings({"energy.providers.demo": {"region": "A"}})
        (rig.settings.plugin_dir / "configurable_provider.py").write_text("import nope\n")
        rig.loader.reload()
        await rig.service.set_settings({"energy.providers.demo.region": "B"})
        assert "B" == rig.service.spec("demo").region

    async def test_change_of_the_broken_provider_is_refused(self, rig: Rig) -> None:
        """Changing the provider whose plugin is broken still names the missing plugin."""
        (rig.settings.plugin_dir / "configurable_provider.py").write_text("import nope\n")
        rig.loader.reload()
        with pytest.raises(ProviderConfigError) as caught:
            await rig.service.set_settings({"energy.providers.configurable.region": "A"})
        assert ["energy.providers.configurable"] == list(caught.value.errors)
