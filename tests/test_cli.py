"""The command line, run as a user would: a subprocess, a config file, no broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sqlite3
import sys
from pathlib import Path

import pytest

from tests.support.fake_octopus import RunningFake
from tests.support.process import ROOT, energyd_env, start_energyd


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
        reply = json.loads(out)
        assert 2 <= len(reply["slots"]) <= 3
        assert ("GBP", "p/kWh") == (reply["currency"], reply["unit"])

    async def test_a_price_formula_shows_the_market_price_beside(
        self, tmp_path: Path, fake_api: RunningFake
    ) -> None:
        """With a tariff, the table has the end price and the market price it came from."""
        path = tmp_path / "tariff.toml"
        path.write_text(
            f'config_dir = "{tmp_path / "config"}"\n'
            "[energy.providers.octopus_agile]\n"
            f'region = "C"\nbase_url = "{fake_api.url}"\n'
            "[energy.providers.octopus_agile.tariff]\nadders = { standing = 10.0 }\n"
        )
        code, out, _ = await energyd(path, "fetch")
        assert 0 == code
        code, out, _ = await energyd(path, "prices", "--hours", "1")
        assert 0 == code
        header, first = out.splitlines()[1:3]
        assert header.split()[-2:] == ["price", "market"]
        price, market = (float(cell) for cell in first.split()[-2:])
        assert pytest.approx(market + 10.0, abs=0.002) == price

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
        code, out, _ = await energyd(config, "providers", "status", "--json")
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
        rows = json.loads(out)["slots"]
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


async def energyd_bare(*args: str) -> tuple[int, str, str]:
    """``python -m energyd ARGS...`` exactly as given (no ``--config`` put first)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "energyd",
        *args,
        cwd=ROOT,
        env=energyd_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


class TestGlobalOptionsAnywhere:
    async def test_config_and_log_level_after_the_command(self, config: Path) -> None:
        """--config and --log-level are taken after the (sub)command too."""
        code, out, err = await energyd_bare("fetch", "--config", str(config))
        assert 0 == code, err
        assert "octopus_agile C: ok" in out
        code, out, err = await energyd_bare(
            "providers", "status", "--json", "--config", str(config), "--log-level", "error"
        )
        assert 0 == code, err
        assert "octopus_agile" in {p["provider_id"] for p in json.loads(out)["plugins"]}
        code, out, _ = await energyd_bare("settings", "get", "-c", str(config))
        assert "C" == json.loads(out)["energy"]["providers"]["octopus_agile"]["region"]


class TestPricesOutput:
    async def test_header_names_provider_region_and_unit(self, config: Path) -> None:
        """The prices table starts with the provider, the region and the unit."""
        await energyd(config, "fetch")
        code, out, _ = await energyd(config, "prices", "--hours", "2")
        assert 0 == code
        assert out.startswith("provider octopus_agile, region C, prices in p/kWh: ")

    async def test_json_is_the_reply_of_every_surface(self, config: Path) -> None:
        """prices --json prints the prices reply itself: the slot shape of MQTT and HTTP."""
        await energyd(config, "fetch")
        code, out, _ = await energyd(config, "prices", "--json", "--hours", "2")
        reply = json.loads(out)
        assert (0, ["provider", "region", "currency", "unit", "start", "end", "slots"]) == (
            code,
            list(reply),
        )
        assert {"start", "end", "price"} == set(reply["slots"][0])


class TestProvidersOutput:
    async def test_status_is_a_table(self, config: Path) -> None:
        """providers status prints one row per plugin file, then the running providers."""
        code, out, _ = await energyd(config, "providers", "status")
        assert 0 == code
        lines = out.splitlines()
        assert ["file", "provider", "id", "deployed", "/", "bundled", "state", "kit", "error"] == (
            lines[0].split()
        )
        row = next(line.split() for line in lines if line.startswith("octopus_agile_provider.py"))
        assert ["octopus_agile_provider.py", "octopus_agile"] == row[:2]
        assert ("up_to_date", row[2]) == (row[5], row[4])  # deployed / bundled alike
        selected = "provider octopus_agile region C (selected): "
        assert any(line.startswith(selected) for line in lines)

    async def test_update_by_provider_id(self, config: Path) -> None:
        """providers update takes the provider id; up to date, it says so (exit 0)."""
        code, out, _ = await energyd(config, "providers", "update", "octopus_agile")
        assert (0, "octopus_agile_provider.py", "already up to date") == (
            code,
            json.loads(out)["file"],
            json.loads(out)["message"],
        )


class TestSettingsReset:
    async def test_reset_in_the_database_says_so(self, config: Path) -> None:
        """settings reset drops stored overrides and says a running daemon needs MQTT/HTTP."""
        db = config.parent / "config" / "energyd.db"
        await energyd(config, "settings", "get")
        with contextlib.closing(sqlite3.connect(db)) as conn, conn:
            conn.execute(
                "INSERT INTO settings_overrides VALUES (?, ?, 0)",
                ("energy.providers.octopus_agile.region", '"J"'),
            )
        code, out, _ = await energyd(config, "settings", "get")
        assert (0, "J") == (code, json.loads(out)["energy"]["providers"]["octopus_agile"]["region"])
        code, out, err = await energyd(
            config, "settings", "reset", "energy.providers.octopus_agile.region"
        )
        assert (0, ["energy.providers.octopus_agile.region"]) == (code, json.loads(out)["reset"])
        assert "a running daemon keeps the ones it read at start" in err
        assert "settings/reset" in err
        code, out, _ = await energyd(config, "settings", "get")
        assert ("C", []) == (
            json.loads(out)["energy"]["providers"]["octopus_agile"]["region"],
            json.loads(out)["overrides"],
        )

    async def test_refusals(self, config: Path) -> None:
        """Neither keys nor --all, or a key that is not overridden, exit 2 naming it."""
        code, _, err = await energyd(config, "settings", "reset")
        assert (2, True) == (code, "give the KEY(s) to reset, or --all" in err)
        code, _, err = await energyd(config, "settings", "reset", "energy.provider_id")
        assert (2, True) == (code, "energy.provider_id: not overridden" in err)
        code, out, _ = await energyd(config, "settings", "reset", "--all")
        assert (0, []) == (code, json.loads(out)["reset"])


class TestRun:
    async def test_a_port_in_use_exits_1(self, tmp_path: Path, fake_api: RunningFake) -> None:
        """run with http.port taken: exit 1 (systemd restarts it), naming host:port."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            path = tmp_path / "busy.toml"
            path.write_text(
                f'config_dir = "{tmp_path / "config"}"\n'
                f'[energy.providers.octopus_agile]\nregion = "C"\nbase_url = "{fake_api.url}"\n'
                f'[http]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\n'
            )
            code, _, err = await energyd(path, "run")
        assert 1 == code
        assert f"cannot listen on 127.0.0.1:{port}: address already in use" in err
