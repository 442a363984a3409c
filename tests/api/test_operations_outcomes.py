"""Operations that must not say ``ok`` when the user gets nothing, or something else than
asked: a failed refresh, a cheapest window of part slots, run-time overrides reset."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from energyd.api.arguments import CheapestArgs, RefreshArgs, SettingsResetArgs, SettingsSetArgs
from energyd.api.errors import http_status, to_command_error
from energyd.app import Components
from energyd.exceptions import CommandError, ConfigError
from tests.api.test_operations import PLUGINS, make_settings
from tests.support.market_plugins import market_plugin
from tests.support.rig import daemon_parts

QUARTERS = market_plugin("quarters", slot_minutes=15)


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[Components]:
    """The hourly test market (30-minute slots) and one of 15-minute slots, both running."""
    settings = make_settings(tmp_path, providers={"quarters": {"region": "DE"}})
    plugins = {**PLUGINS, "quarters_provider.py": QUARTERS}
    async with daemon_parts(settings, plugins) as built:
        yield built


class TestFailedRefresh:
    async def test_a_failed_fetch_is_an_error_with_the_runs(self, parts: Components) -> None:
        """A refresh whose fetch fails raises fetch_failed (HTTP 502) naming the provider and
        its error; details.runs holds every run, the good one too."""
        await parts.service.set_settings({"energy.providers.hourly.mode": "crash"})
        with pytest.raises(CommandError) as caught:
            await parts.operations().refresh(RefreshArgs())
        error = caught.value
        runs = {run["provider"]: run for run in error.details["runs"]}  # type: ignore[index]
        assert ("fetch_failed", 502, ["hourly", "quarters"]) == (
            error.code,
            http_status(error.code),
            sorted(runs),
        )
        assert ("error", "ok") == (runs["hourly"]["outcome"], runs["quarters"]["outcome"])
        assert runs["hourly"]["error_type"] is not None
        assert runs["hourly"]["error"] is not None
        assert error.message.startswith("fetch failed: hourly C: ")
        assert runs["hourly"]["error"] in error.message
        assert "quarters" not in error.message

    async def test_a_good_fetch_is_ok(self, parts: Components) -> None:
        """Every fetch succeeding: the runs, as before."""
        reply = await parts.operations().refresh(RefreshArgs(provider="quarters"))
        assert [("quarters", "ok")] == [(r["provider"], r["outcome"]) for r in reply["runs"]]


class TestCheapestMinutes:
    @pytest.mark.parametrize(
        ("provider", "minutes"), [("hourly", 60), ("hourly", 90), ("quarters", 45)]
    )
    async def test_whole_slots_are_served(
        self, parts: Components, provider: str, minutes: int
    ) -> None:
        """A whole number of the provider's slots is a window of exactly that length."""
        await parts.service.refresh()
        reply = await parts.operations().cheapest(CheapestArgs(provider=provider, minutes=minutes))
        assert (True, minutes) == (reply["available"], reply["minutes"])

    @pytest.mark.parametrize(
        ("provider", "minutes", "slot"), [("hourly", 45, 30), ("quarters", 50, 15)]
    )
    async def test_part_slots_are_refused(
        self, parts: Components, provider: str, minutes: int, slot: int
    ) -> None:
        """Minutes that are not whole slots are invalid_argument naming the slot length."""
        with pytest.raises(CommandError) as caught:
            await parts.operations().cheapest(CheapestArgs(provider=provider, minutes=minutes))
        assert "invalid_argument" == caught.value.code
        assert f"{provider}'s {slot}-minute slots" in caught.value.message


class TestSettingsReset:
    async def test_one_key_then_the_file_applies(self, parts: Components) -> None:
        """Resetting an override drops it from the store and the file's value applies."""
        ops = parts.operations()
        key = "energy.providers.hourly.region"
        await ops.settings_set(SettingsSetArgs(key=key, value="A"))
        reply = await ops.settings_reset(SettingsResetArgs(keys=[key]))
        assert ([key], [], "C") == (
            reply["reset"],
            reply["overrides"],
            reply["energy"]["providers"]["hourly"]["region"],
        )
        assert [("hourly", "C")] == [(r["provider"], r["region"]) for r in reply["runs"]]
        assert {} == await parts.store.get_overrides()
        assert "C" == parts.service.spec("hourly").region

    async def test_all(self, parts: Components) -> None:
        """all: every override goes."""
        ops = parts.operations()
        await ops.settings_set(
            SettingsSetArgs(
                values={"energy.providers.hourly.region": "A", "energy.provider_id": "quarters"}
            )
        )
        reply = await ops.settings_reset(SettingsResetArgs(all=True))
        assert (["energy.provider_id", "energy.providers.hourly.region"], []) == (
            reply["reset"],
            reply["overrides"],
        )
        assert {} == await parts.store.get_overrides()

    async def test_a_key_not_overridden_is_refused(self, parts: Components) -> None:
        """A key without an override is invalid_setting naming it; nothing is dropped."""
        ops = parts.operations()
        await ops.settings_set(SettingsSetArgs(key="energy.providers.hourly.region", value="A"))
        with pytest.raises(ConfigError) as caught:
            await ops.settings_reset(SettingsResetArgs(keys=["energy.providers.hourly.regoin"]))
        error = to_command_error(caught.value)
        assert ("invalid_setting", ["energy.providers.hourly.regoin"]) == (
            error.code,
            list(error.details),  # type: ignore[call-overload]
        )
        assert {"energy.providers.hourly.region": "A"} == await parts.store.get_overrides()
