"""Setting energyd up, as a new user does: a region to find, a config to check, typos to catch.

Each runs the command line in a subprocess with a clean environment (no ``ENERGYD_*`` of
this process), against the Octopus stand-in on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path

from tests.support.fake_octopus import RunningFake
from tests.support.process import ROOT, energyd_env, start_energyd


async def energyd(
    config: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    process = await start_energyd(
        config, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def files_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


class TestMissingRegion:
    async def test_no_region_is_exit_2_naming_the_key_the_names_and_the_lookup(
        self, tmp_path: Path
    ) -> None:
        """No region anywhere: not London in silence, but exit 2 telling how to find it."""
        config = tmp_path / "energyd.toml"
        config.write_text('config_dir = "state"\n')
        code, _, err = await energyd(config, "check-config")
        assert 2 == code
        assert "energy.providers.octopus_agile.region: required: one of A (Eastern" in err
        assert "C (London)" in err
        assert 'energyd region --postcode "SW1A 1AA"' in err
        code, _, err = await energyd(config, "run")
        assert (2, True) == (code, "C (London)" in err)

    async def test_the_region_of_a_postcode(self, tmp_path: Path, fake_api: RunningFake) -> None:
        """`energyd region --postcode` asks the grid-supply-point endpoint; it works before a
        region is configured, and says which line to write."""
        config = tmp_path / "energyd.toml"
        config.write_text(
            f'config_dir = "state"\n[energy.providers.octopus_agile]\nbase_url = "{fake_api.url}"\n'
        )
        code, out, _ = await energyd(config, "region", "--postcode", "sw1a 1aa")
        assert 0 == code
        assert out.startswith("C (London)\n")
        assert '[energy.providers.octopus_agile] region = "C"' in out
        assert "/v1/industry/grid-supply-points/?postcode=SW1A+1AA" in fake_api.state.requests
        code, out, _ = await energyd(config, "region", "--postcode", "ZZ1 1ZZ", "--json")
        found = json.loads(out)
        assert (0, ["D", "E"]) == (code, found["regions"])
        assert "Merseyside and North Wales" == found["names"]["D"]
        code, out, _ = await energyd(config, "region", "--postcode", "XX9 9XX")
        assert (1, True) == (code, "no region found" in out)
        assert not (tmp_path / "state").exists()


class TestCheckConfigWritesNothing:
    async def test_no_database_no_plugins_and_the_paths_it_would_use(self, tmp_path: Path) -> None:
        """check-config validates with the bundled plugins read in place: afterwards the
        config folder does not exist. It prints the paths, resolved against the config file's
        folder (not the working directory)."""
        folder = tmp_path / "etc"
        folder.mkdir()
        config = folder / "energyd.toml"
        config.write_text(
            'config_dir = "./state"\n[energy.providers.octopus_agile]\nregion = "c"\n'
            '[storage]\npath = "prices.db"\n'
        )
        code, out, _ = await energyd(config, "check-config")
        assert 0 == code
        report = json.loads(out)
        assert str(config) == report["config_file"]
        assert str(folder / "state") == report["config_dir"]
        assert str(folder / "state" / "prices.db") == report["database"]
        assert str(folder / "state" / "providers" / "energy") == report["plugin_dir"]
        assert (False, False, None) == (
            report["database_exists"],
            report["plugins_deployed"],
            report["overrides"],
        )
        assert "C" == report["settings"]["energy"]["providers"]["octopus_agile"]["region"]
        assert not (folder / "state").exists()
        assert ["energyd.toml"] == files_under(folder)
        assert not (ROOT / "state").exists()

    async def test_an_existing_database_is_read_not_touched(
        self, tmp_path: Path, fake_api: RunningFake
    ) -> None:
        """With a database there, check-config lists its overrides and changes no file."""
        config = tmp_path / "energyd.toml"
        config.write_text(
            f'config_dir = "state"\n[energy.providers.octopus_agile]\nregion = "C"\n'
            f'base_url = "{fake_api.url}"\n'
        )
        assert 0 == (await energyd(config, "fetch"))[0]
        db = tmp_path / "state" / "energyd.db"
        with contextlib.closing(sqlite3.connect(db)) as conn, conn:
            conn.execute(
                "INSERT INTO settings_overrides VALUES"
                " ('energy.providers.octopus_agile.region', '\"J\"', 0)"
            )
        before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "state").iterdir()}
        code, out, _ = await energyd(config, "check-config")
        after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "state").iterdir()}
        assert (0, {"energy.providers.octopus_agile.region": "J"}) == (
            code,
            json.loads(out)["overrides"],
        )
        assert before == after


class TestTypos:
    async def test_a_single_underscore_variable_is_warned_about(self, tmp_path: Path) -> None:
        """ENERGYD_MQTT_HOST maps to nothing: the warning names the variable it meant."""
        config = tmp_path / "energyd.toml"
        config.write_text('config_dir = "state"\n[energy.providers.octopus_agile]\nregion = "C"\n')
        env = energyd_env(ENERGYD_MQTT_HOST="broker.lan")
        code, _, err = await energyd(config, "check-config", env=env)
        assert 0 == code
        assert "ENERGYD_MQTT_HOST names no setting; did you mean ENERGYD_MQTT__HOST?" in err

    async def test_a_misspelt_plugin_key_is_exit_2_with_a_suggestion(self, tmp_path: Path) -> None:
        """``prodcut_code`` would have fetched the default product: refused instead."""
        config = tmp_path / "energyd.toml"
        config.write_text(
            'config_dir = "state"\n[energy.providers.octopus_agile]\nregion = "C"\n'
            'prodcut_code = "AGILE-24-10-01"\n'
        )
        code, _, err = await energyd(config, "check-config")
        assert 2 == code
        assert (
            "energy.providers.octopus_agile.prodcut_code: unknown key; did you mean 'product_code'?"
        ) in err

    async def test_a_window_of_a_missing_or_disabled_provider_is_exit_2(
        self, tmp_path: Path
    ) -> None:
        """A standing window naming no running provider is an error, not a silent no-op."""
        config = tmp_path / "energyd.toml"
        base = (
            'config_dir = "state"\n[energy.providers.octopus_agile]\nregion = "C"\n'
            '[energy.providers.octopus_agile_export]\nplugin = "octopus_agile"\n'
            'direction = "export"\nregion = "C"\nenabled = false\n'
        )
        config.write_text(
            base + '[[prices.windows]]\nname = "night"\nminutes = 60\nprovider = "octopus_agle"\n'
        )
        code, _, err = await energyd(config, "check-config")
        assert 2 == code
        assert "prices.windows.0.provider ('night'): no provider 'octopus_agle'" in err
        assert "did you mean 'octopus_agile'?" in err
        config.write_text(
            base
            + '[[prices.windows]]\nname = "x"\nminutes = 60\nprovider = "octopus_agile_export"\n'
        )
        code, _, err = await energyd(config, "check-config")
        assert (2, True) == (code, "'octopus_agile_export' is disabled" in err)
