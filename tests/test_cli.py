"""The command line, run as a user would: a subprocess, a config file, no broker."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.support.fake_octopus import RunningFake
from tests.support.process import start_energyd


@pytest.fixture
def config(tmp_path: Path, fake_api: RunningFake) -> Path:
    path = tmp_path / "energyd.toml"
    path.write_text(
        f'config_dir = "{tmp_path / "config"}"\n'
        "[energy.providers.octopus_agile]\n"
        f'region = "C"\nbase_url = "{fake_api.url}"\n'
        '[mqtt]\npassword = "hunter2"\n'
    )
    return path


async def energyd(config: Path, *args: str) -> tuple[int, str, str]:
    process = await start_energyd(
        config, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


class TestFetchAndPrices:
    async def test_fetch_prints_a_table_and_stores(self, config: Path) -> None:
        """`energyd fetch` needs no broker, prints a table and fills the store."""
        code, out, _ = await energyd(config, "fetch")
        assert 0 == code
        assert "octopus_agile C: ok" in out
        assert "start (Europe/London)" in out
        code, out, _ = await energyd(config, "prices", "--json", "--hours", "1")
        assert 0 == code
        slots = json.loads(out)
        assert 2 <= len(slots) <= 3
        assert "GBP" == slots[0]["currency"]

    async def test_fetch_failure_exits_1(self, tmp_path: Path) -> None:
        """An unreachable provider makes `fetch` exit 1 with the typed error."""
        path = tmp_path / "down.toml"
        path.write_text(
            f'config_dir = "{tmp_path / "c"}"\n[energy.providers.octopus_agile]\n'
            'region = "C"\nbase_url = "http://127.0.0.1:9"\nretry_budget_seconds = 0.5\n'
        )
        code, out, _ = await energyd(path, "fetch")
        assert 1 == code
        assert "ProviderConnectionError" in out


class TestProviders:
    async def test_status_and_update(self, config: Path) -> None:
        """Plugin status is reported; a bad name is refused with exit 1."""
        code, out, _ = await energyd(config, "providers", "status")
        assert 0 == code
        assert "up_to_date" == json.loads(out)["plugins"][0]["status"]
        code, out, err = await energyd(config, "providers", "update", "../evil_provider.py")
        assert 1 == code
        assert "PluginNameError" in err
        code, out, _ = await energyd(config, "providers", "update-all")
        assert 0 == code


class TestCheckConfig:
    async def test_ok_and_secrets_hidden(self, config: Path) -> None:
        """check-config prints the effective settings without the password."""
        code, out, _ = await energyd(config, "check-config")
        assert 0 == code
        assert "hunter2" not in out
        assert "C" == json.loads(out)["settings"]["energy"]["providers"]["octopus_agile"]["region"]
