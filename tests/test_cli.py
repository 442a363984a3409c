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
        assert {"up_to_date"} == {p["status"] for p in json.loads(out)["plugins"]}
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


class TestReads:
    async def test_prices_of_tomorrow(self, config: Path) -> None:
        """`prices --day tomorrow` prints the market's next local day as stored."""
        await energyd(config, "fetch")
        code, out, _ = await energyd(config, "prices", "--day", "tomorrow", "--json")
        assert 0 == code
        rows = json.loads(out)
        assert 44 <= len(rows) <= 48  # the local day but its last hour (published later)
        code, out, err = await energyd(config, "prices", "--day", "today", "--hours", "2")
        assert (2, "") == (code, out)
        assert "not allowed with argument" in err

    async def test_cheapest_figures_and_audit(self, config: Path) -> None:
        """cheapest, figures and audit print tables, or the operation's reply with --json."""
        await energyd(config, "fetch")
        code, out, _ = await energyd(
            config, "cheapest", "--minutes", "180", "--earliest", "00:00", "--latest", "07:00"
        )
        assert 0 == code
        assert out.startswith("cheapest 180 min (contiguous) between ")
        code, out, _ = await energyd(config, "cheapest", "--minutes", "60", "--json")
        assert (0, True, 2) == (code, json.loads(out)["available"], len(json.loads(out)["slots"]))
        code, out, _ = await energyd(config, "figures", "--json")
        assert (0, ["today", "tomorrow", "next_24h"]) == (code, list(json.loads(out)["stats"]))
        code, out, _ = await energyd(config, "figures")
        assert out.startswith("level: ")
        await energyd(config, "providers", "reload")
        code, out, _ = await energyd(config, "audit", "--json", "--limit", "1")
        assert (0, [("reload", "cli")]) == (
            code,
            [(r["action"], r["actor"]) for r in json.loads(out)["records"]],
        )

    async def test_refused_arguments_exit_2(self, config: Path) -> None:
        """Arguments an operation refuses are a usage error, named per field."""
        code, out, err = await energyd(config, "cheapest", "--minutes", "0")
        assert (2, "") == (code, out)
        assert "invalid_argument: invalid arguments" in err
        assert "minutes:" in err

    async def test_health_exit_code_follows_ok(self, config: Path) -> None:
        """`health` exits 1 before any fetch (no price for now), 0 after one."""
        code, out, _ = await energyd(config, "health")
        assert 1 == code
        assert "healthy: no" in out
        await energyd(config, "fetch")
        code, out, _ = await energyd(config, "health", "--json")
        body = json.loads(out)
        assert (0, True, False) == (code, body["ok"], body["mqtt_connected"])
        assert "no MQTT client in this process" == body["checks"]["mqtt"]["detail"]

    async def test_settings_get(self, config: Path) -> None:
        """`settings get` prints the effective settings without the password."""
        code, out, _ = await energyd(config, "settings", "get")
        assert 0 == code
        assert "hunter2" not in out
        assert "C" == json.loads(out)["energy"]["providers"]["octopus_agile"]["region"]
