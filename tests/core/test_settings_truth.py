"""Settings that are what they seem: regions normalised once, prices only from the configured
source, run-time overrides logged, resettable and never a typo persisted.

The real Octopus plugin against loopback stand-ins of its API, a real SQLite file, the parts
the daemon builds (:func:`energyd.app.build`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog

from energyd.app import Components
from energyd.config import Settings, load_settings
from energyd.domain.health import HealthState
from energyd.domain.records import FetchOutcome
from energyd.exceptions import ConfigError, ProviderConfigError
from tests.support.broker import MosquittoBroker, collect
from tests.support.daemon import daemon_settings, running
from tests.support.fake_octopus import RunningFake, make_app, serve
from tests.support.rig import daemon_parts

DAY = timedelta(days=1)


def octopus(tmp_path: Path, base_url: str, **provider: Any) -> Settings:
    entry = {"region": "C", "base_url": base_url, "retry_budget_seconds": 0, **provider}
    return load_settings(
        None,
        config_dir=tmp_path / "config",
        energy={"providers": {"octopus_agile": entry}},
    )


@contextlib.asynccontextmanager
async def stand_in(price: float) -> AsyncIterator[RunningFake]:
    """An Octopus stand-in whose every half-hour costs ``price``."""
    async with serve(make_app(lambda region, moment: price)) as fake:
        yield fake


async def price_now(parts: Components) -> float | None:
    slot = await parts.service.slot_at(parts.service.spec(), datetime.now(UTC))
    return None if slot is None else slot.price_pence


class TestRegionsNormalisedOnce:
    async def test_a_lower_case_region_is_the_canonical_one_everywhere(
        self, tmp_path: Path, fake_api: RunningFake
    ) -> None:
        """``region = "_c"`` is ``C`` in the spec, the store, the settings and the runs."""
        async with daemon_parts(octopus(tmp_path, fake_api.url, region="_c")) as parts:
            service = parts.service
            (run,) = await service.refresh()
            counts = await parts.store.counts()
            view = service.settings_view()["energy"]["providers"]["octopus_agile"]
            assert ("C", "C", "C") == (service.spec().region, run.region, view["region"])
            assert {("octopus_agile", "C")} == set(counts)

    async def test_settings_set_normalises_too(self, tmp_path: Path, fake_api: RunningFake) -> None:
        """``settings/set`` of ``j`` runs region J (never a ``.../j/...`` series)."""
        async with daemon_parts(octopus(tmp_path, fake_api.url)) as parts:
            reply = await parts.service.change_settings(
                {"energy.providers.octopus_agile.region": "j"}
            )
            assert "J" == parts.service.spec().region
            assert ["J"] == [run["region"] for run in reply["runs"]]
            assert {("octopus_agile", "J")} == set(await parts.store.counts())

    async def test_topics_carry_the_canonical_region(
        self, tmp_path: Path, mosquitto: MosquittoBroker, base_topic: str, fake_api: RunningFake
    ) -> None:
        """`region = "c"` publishes under ``.../C/...``."""
        settings = daemon_settings(
            tmp_path,
            mosquitto.port,
            base_topic,
            fake_api.url,
            energy={"providers": {"octopus_agile": {"region": "c", "base_url": fake_api.url}}},
        )
        async with collect(mosquitto.port, f"{base_topic}/#") as client, running(settings):
            current = await client.wait_for(
                f"{base_topic}/prices/octopus_agile/C/current",
                lambda m: bool(m.payload) and json.loads(m.payload).get("price") is not None,
                within=10,
            )
        assert isinstance(json.loads(current.payload)["price"], float)
        assert [] == [m.topic.value for m in client.messages if "/c/" in m.topic.value]


class TestSourceIdentity:
    async def test_the_stand_ins_prices_are_not_served_by_the_real_run(
        self, tmp_path: Path
    ) -> None:
        """The README's stand-in recipe, then a real run on the same folder: the stand-in's
        prices are not the real API's, so nothing is served (and health is not ok) until the
        real API answers."""
        async with stand_in(1.5) as fake, daemon_parts(octopus(tmp_path, fake.url)) as parts:
            (run,) = await parts.service.refresh()
            assert (FetchOutcome.OK, 1.5) == (run.outcome, await price_now(parts))
        async with daemon_parts(octopus(tmp_path, "http://127.0.0.1:9")) as parts:
            spec = parts.service.spec()
            assert None is await price_now(parts)
            assert HealthState.OK != (await parts.service.health(spec)).state
            now = datetime.now(UTC)
            assert [] == await parts.service.slots(spec, now - timedelta(days=1), now + DAY)

    @pytest.mark.parametrize(
        "change",
        [
            {"base_url": "other"},
            {"direction": "export"},
            {"product_code": "AGILE-FLEX-22-11-25"},
            {"tariff_code": "E-1R-AGILE-FLEX-22-11-25-C"},
        ],
        ids=["base_url", "direction", "product", "tariff"],
    )
    async def test_another_source_never_serves_the_old_prices(
        self, tmp_path: Path, change: dict[str, str]
    ) -> None:
        """After a change of API, direction, product or tariff the old prices are not
        current; the new source's are, once fetched."""
        async with (
            stand_in(1.5) as first,
            stand_in(30.0) as second,
            daemon_parts(octopus(tmp_path, first.url)) as parts,
        ):
            await parts.service.refresh()
            assert 1.5 == await price_now(parts)
            value = second.url if change.get("base_url") == "other" else None
            key, raw = next(iter(change.items()))
            await parts.service.set_settings(
                {f"energy.providers.octopus_agile.{key}": value or raw}
            )
            assert None is await price_now(parts)
            if key == "base_url":
                (run,) = await parts.service.refresh()
                assert (FetchOutcome.OK, 30.0) == (run.outcome, await price_now(parts))

    async def test_a_knob_that_changes_no_source_keeps_the_prices(
        self, tmp_path: Path, fake_api: RunningFake
    ) -> None:
        """Page size and retries decide how prices are fetched, not which: kept."""
        async with daemon_parts(octopus(tmp_path, fake_api.url)) as parts:
            await parts.service.refresh()
            before = await price_now(parts)
            await parts.service.set_settings(
                {"energy.providers.octopus_agile": {"page_size": 100, "retry_attempts": 2}}
            )
            assert before is not None
            assert before == await price_now(parts)


class TestOverrides:
    async def test_in_force_at_start_is_logged_and_reset_restores_the_file(
        self, tmp_path: Path, fake_api: RunningFake
    ) -> None:
        """An override outlives a restart (and says so in the log, with the file's value it
        hides); a reset of the key brings the file's value back, persistently."""
        settings = octopus(tmp_path, fake_api.url)
        async with daemon_parts(settings) as parts:
            await parts.service.set_settings({"energy.providers.octopus_agile.region": "J"})
        with structlog.testing.capture_logs() as logs:
            async with daemon_parts(settings) as parts:
                assert "J" == parts.service.spec().region
                reply = await parts.service.reset_settings(
                    ["energy.providers.octopus_agile.region"]
                )
                assert "C" == parts.service.spec().region
        (logged,) = [e for e in logs if e["event"] == "settings.override_in_force"]
        assert ("energy.providers.octopus_agile.region", "J", "C") == (
            logged["key"],
            logged["value"],
            logged["file_value"],
        )
        assert (["energy.providers.octopus_agile.region"], []) == (
            reply["reset"],
            reply["overrides"],
        )
        async with daemon_parts(settings) as parts:
            assert ("C", []) == (
                parts.service.spec().region,
                parts.service.settings_view()["overrides"],
            )

    async def test_reset_all_and_a_key_not_overridden(
        self, tmp_path: Path, fake_api: RunningFake
    ) -> None:
        """``None`` drops every override; a key that is no override is refused by name."""
        async with daemon_parts(octopus(tmp_path, fake_api.url)) as parts:
            service = parts.service
            with pytest.raises(ConfigError, match=r"energy\.provider_id: not overridden"):
                await service.reset_settings(["energy.provider_id"])
            await service.set_settings(
                {
                    "energy.providers.octopus_agile.region": "A",
                    "energy.providers.octopus_agile.page_size": 50,
                }
            )
            reply = await service.reset_settings(["energy.providers.octopus_agile"])
            assert 2 == len(reply["reset"])
            await service.set_settings({"energy.providers.octopus_agile.region": "A"})
            assert ["energy.providers.octopus_agile.region"] == (
                await service.reset_settings(None)
            )["reset"]
            assert {} == await parts.store.get_overrides()

    async def test_a_misspelt_key_is_refused_and_not_persisted(
        self, tmp_path: Path, fake_api: RunningFake
    ) -> None:
        """``regoin`` is refused with a suggestion; nothing reaches the store."""
        async with daemon_parts(octopus(tmp_path, fake_api.url)) as parts:
            with pytest.raises(ProviderConfigError, match="did you mean 'region'"):
                await parts.service.set_settings({"energy.providers.octopus_agile.regoin": "J"})
            assert {} == await parts.store.get_overrides()


class TestEnvironmentTypos:
    async def test_the_daemon_logs_a_variable_that_maps_to_nothing(
        self,
        tmp_path: Path,
        mosquitto: MosquittoBroker,
        base_topic: str,
        fake_api: RunningFake,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """ENERGYD_MQTT_HOST (one underscore) is ignored, and the daemon's log says so."""
        monkeypatch.setenv("ENERGYD_MQTT_HOST", "broker.lan")
        settings = daemon_settings(tmp_path, mosquitto.port, base_topic, fake_api.url)
        with structlog.testing.capture_logs() as logs:
            async with (
                collect(mosquitto.port, f"{base_topic}/status") as client,
                running(settings),
            ):
                await client.wait_for_payload(f"{base_topic}/status", b"online", within=10)
        (warned,) = [e for e in logs if e["event"] == "config.unknown_env"]
        assert ("ENERGYD_MQTT_HOST", "names no setting; did you mean ENERGYD_MQTT__HOST?") == (
            warned["variable"],
            warned["problem"],
        )
