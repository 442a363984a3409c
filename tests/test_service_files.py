"""The service files: the systemd unit, the example configs, the Dockerfile and its entrypoint.

scripts/check-service lints them with systemd-analyze, hadolint and shellcheck; these tests
check what energyd relies on, and run the entrypoint's start-up steps in a temporary folder
standing in for the /config volume.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from energyd.config import load_settings

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "systemd" / "energyd.service"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
BUNDLED = ROOT / "bundled_config" / "providers" / "energy"


def unit_entries(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values in order]}} (keys may repeat in systemd)."""
    sections: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        sections[section][key.strip()].append(value.strip())
    return sections


def seconds(value: str) -> float:
    """A systemd time span such as ``60s``, ``2min`` or ``1min 30s`` in seconds."""
    units = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "ms": 0.001}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        total += float(number) * units[unit]
    return total


@pytest.fixture(scope="module")
def service() -> dict[str, list[str]]:
    return unit_entries(UNIT)["Service"]


class TestSystemdUnit:
    def test_notify_type_with_a_watchdog(self, service: dict[str, list[str]]) -> None:
        """Type=notify, only the main process may notify, and a watchdog is set."""
        assert (["notify"], ["main"]) == (service["Type"], service["NotifyAccess"])
        assert 10 <= seconds(service["WatchdogSec"][-1])

    def test_restarts_on_failure_but_not_on_a_bad_config(
        self, service: dict[str, list[str]]
    ) -> None:
        """Crashes and watchdog kills restart it; exit code 2 (invalid config) does not."""
        assert (["on-failure"], ["2"]) == (service["Restart"], service["RestartPreventExitStatus"])

    def test_runs_the_daemon_with_the_etc_config(self, service: dict[str, list[str]]) -> None:
        """ExecStart runs `energyd --config /etc/energyd/energyd.toml run`."""
        command = shlex.split(service["ExecStart"][-1])
        assert ["--config", "/etc/energyd/energyd.toml", "run"] == command[1:]
        assert "energyd" == Path(command[0]).name

    def test_state_directory_is_the_config_dir(self, service: dict[str, list[str]]) -> None:
        """A dynamic user; database and plugins in StateDirectory via ENERGYD_CONFIG_DIR."""
        assert ["yes"] == service["DynamicUser"]
        assert (["energyd"], ["energyd"]) == (
            service["StateDirectory"],
            service["ConfigurationDirectory"],
        )
        assert "ENERGYD_CONFIG_DIR=%S/energyd" in service["Environment"]

    def test_hardening_is_switched_on(self, service: dict[str, list[str]]) -> None:
        """The main sandboxing switches are set (systemd-analyze security scores them)."""
        wanted = {
            "NoNewPrivileges": "yes",
            "ProtectSystem": "strict",
            "ProtectHome": "yes",
            "PrivateTmp": "yes",
            "PrivateDevices": "yes",
            "MemoryDenyWriteExecute": "yes",
            "CapabilityBoundingSet": "",
            "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
            "SystemCallArchitectures": "native",
        }
        assert wanted == {key: service[key][-1] for key in wanted}


class TestExampleConfigs:
    def test_systemd_example_with_the_unit_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """/etc/energyd/energyd.toml is valid; ENERGYD_CONFIG_DIR puts the db in the state dir."""
        monkeypatch.setenv("ENERGYD_CONFIG_DIR", "/var/lib/energyd")
        settings = load_settings(ROOT / "systemd" / "energyd.toml")
        assert Path("/var/lib/energyd/energyd.db") == settings.db_path
        assert Path("/var/lib/energyd/providers/energy") == settings.plugin_dir

    def test_environment_config_dir_wins_over_the_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """ENERGYD_CONFIG_DIR (pydantic-settings env) overrides config_dir from the file."""
        path = tmp_path / "energyd.toml"
        path.write_text('config_dir = "/somewhere/else"\n')
        monkeypatch.setenv("ENERGYD_CONFIG_DIR", "/config")
        assert Path("/config") == load_settings(path).config_dir

    def test_container_example_talks_to_the_compose_broker(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The container's example config is valid and points at the `mosquitto` service."""
        monkeypatch.setenv("ENERGYD_CONFIG_DIR", "/config")
        settings = load_settings(ROOT / "docker" / "energyd.toml")
        assert ("mosquitto", Path("/config/energyd.db")) == (
            settings.mqtt.host,
            settings.db_path,
        )


class TestDockerfile:
    def test_copied_sources_exist(self) -> None:
        """Every COPY source from the build context is in the repository."""
        text = (ROOT / "Dockerfile").read_text()
        sources = [
            part
            for line in text.splitlines()
            if line.startswith("COPY ") and "--from=" not in line
            for part in line.split()[1:-1]
            if not part.startswith("--")
        ]
        missing = [source for source in sources if not (ROOT / source).exists()]
        assert ([], True) == (missing, "docker/entrypoint.sh" in sources)


def entrypoint(tmp_path: Path, *command: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run docker/entrypoint.sh with tmp_path/config as /config and this venv on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGYD_")}
    env |= {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "ENERGYD_CONFIG_DIR": str(tmp_path / "config"),
        "ENERGYD_CONFIG": str(tmp_path / "config" / "energyd.toml"),
        "ENERGYD_EXAMPLE_CONFIG": str(ROOT / "docker" / "energyd.toml"),
        **extra,
    }
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def folder(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


class TestEntrypointPlugins:
    def test_empty_volume_gets_the_bundled_plugins(self, tmp_path: Path) -> None:
        """A fresh /config gets every bundled plugin, byte for byte."""
        result = entrypoint(tmp_path, "true")
        assert 0 == result.returncode, result.stderr
        assert folder(BUNDLED) == folder(tmp_path / "config" / "providers" / "energy")

    def test_a_users_changed_plugin_is_never_overwritten(self, tmp_path: Path) -> None:
        """A deployed plugin the user edited stays as the user left it."""
        deployed = tmp_path / "config" / "providers" / "energy"
        deployed.mkdir(parents=True)
        (deployed / "octopus_agile_provider.py").write_text("# my own version\n")
        assert 0 == entrypoint(tmp_path, "true").returncode
        assert {"octopus_agile_provider.py": b"# my own version\n"} == folder(deployed)

    def test_a_folder_with_plugins_is_left_alone(self, tmp_path: Path) -> None:
        """A folder holding the user's own plugin gets nothing added."""
        deployed = tmp_path / "config" / "providers" / "energy"
        deployed.mkdir(parents=True)
        (deployed / "my_tariff_provider.py").write_text("# mine\n")
        assert 0 == entrypoint(tmp_path, "true").returncode
        assert {"my_tariff_provider.py": b"# mine\n"} == folder(deployed)

    def test_other_files_do_not_count_as_plugins(self, tmp_path: Path) -> None:
        """A folder with only non-plugin files is filled, and those files are kept."""
        deployed = tmp_path / "config" / "providers" / "energy"
        deployed.mkdir(parents=True)
        (deployed / "NOTES.txt").write_text("hello\n")
        assert 0 == entrypoint(tmp_path, "true").returncode
        assert {"NOTES.txt": b"hello\n"} | folder(BUNDLED) == folder(deployed)


class TestEntrypointConfig:
    def test_missing_config_becomes_the_example(self, tmp_path: Path) -> None:
        """No energyd.toml in the volume: the example is copied there to edit."""
        assert 0 == entrypoint(tmp_path, "true").returncode
        example = (ROOT / "docker" / "energyd.toml").read_bytes()
        assert example == (tmp_path / "config" / "energyd.toml").read_bytes()

    def test_an_existing_config_is_kept(self, tmp_path: Path) -> None:
        """The user's energyd.toml is never replaced."""
        config = tmp_path / "config" / "energyd.toml"
        config.parent.mkdir()
        config.write_text("[log]\nlevel = 'debug'\n")
        assert 0 == entrypoint(tmp_path, "true").returncode
        assert "[log]\nlevel = 'debug'\n" == config.read_text()

    def test_without_an_example_it_runs_on_env_and_defaults(self, tmp_path: Path) -> None:
        """No file and no example: ENERGYD_CONFIG is dropped so the daemon can still start."""
        result = entrypoint(
            tmp_path,
            *("sh", "-c", 'echo "${ENERGYD_CONFIG-unset}"'),
            ENERGYD_EXAMPLE_CONFIG=str(tmp_path / "none.toml"),
        )
        assert ("unset\n", False) == (
            result.stdout,
            (tmp_path / "config" / "energyd.toml").exists(),
        )


class TestEntrypointCommands:
    def test_the_example_asks_for_a_region(self, tmp_path: Path) -> None:
        """The container's example config has no region: the first start exits 2 saying
        which key and how to find the value (a restart loop of a wrong price would be worse)."""
        result = entrypoint(tmp_path, "check-config")
        assert 2 == result.returncode
        assert "energy.providers.octopus_agile.region: required" in result.stderr
        assert "C (London)" in result.stderr

    def test_another_command_is_executed_as_given(self, tmp_path: Path) -> None:
        """A command that is no energyd subcommand runs as it is (a shell, a tool)."""
        result = entrypoint(tmp_path, "echo", "hello", "there")
        assert (0, "hello there\n") == (result.returncode, result.stdout)

    def test_options_then_a_subcommand_go_to_energyd(self, tmp_path: Path) -> None:
        """`--log-level warning check-config` runs energyd with the volume's settings (the
        region from the environment: the example leaves it to the user)."""
        region = {"ENERGYD_ENERGY__PROVIDERS__OCTOPUS_AGILE__REGION": "J"}
        result = entrypoint(tmp_path, "--log-level", "warning", "check-config", **region)
        assert 0 == result.returncode, result.stderr
        assert f'"config_dir": "{tmp_path / "config"}"' in result.stdout
