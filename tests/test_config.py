"""Configuration: TOML file, ENERGYD_* environment, validation errors naming the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from energyd.config import load_settings
from energyd.exceptions import ConfigError

GOOD = """
config_dir = "/tmp/energyd-test"
[energy]
provider_id = "octopus_agile"
[energy.providers.octopus_agile]
region = "C"
product_code = "AGILE-24-10-01"
[mqtt]
host = "broker.lan"
password = "hunter2"
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("ENERGYD_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "energyd.toml"
    path.write_text(text)
    return path


class TestSources:
    def test_file(self, tmp_path: Path) -> None:
        """Values come from the TOML file; plugin keys are kept for the plugin."""
        settings = load_settings(write(tmp_path, GOOD))
        assert "broker.lan" == settings.mqtt.host
        assert {"region": "C", "product_code": "AGILE-24-10-01"} == (
            settings.energy.providers["octopus_agile"].plugin_config()
        )

    def test_env_wins_over_file_nested(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """ENERGYD_* variables, nested with __, override the file key by key."""
        monkeypatch.setenv("ENERGYD_MQTT__PORT", "1884")
        monkeypatch.setenv("ENERGYD_ENERGY__PROVIDERS__OCTOPUS_AGILE__REGION", "J")
        settings = load_settings(write(tmp_path, GOOD))
        assert 1884 == settings.mqtt.port
        assert "J" == settings.energy.providers["octopus_agile"].region
        assert (
            "AGILE-24-10-01"
            == settings.energy.providers["octopus_agile"].plugin_config()["product_code"]
        )

    def test_config_path_from_env(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """ENERGYD_CONFIG names the file when no path is given."""
        monkeypatch.setenv("ENERGYD_CONFIG", str(write(tmp_path, GOOD)))
        assert "broker.lan" == load_settings().mqtt.host

    def test_relative_db_path_under_config_dir(self, tmp_path: Path) -> None:
        """A relative storage.path is taken from config_dir."""
        settings = load_settings(write(tmp_path, GOOD))
        assert Path("/tmp/energyd-test/energyd.db") == settings.db_path


class TestErrors:
    @pytest.mark.parametrize(
        ("text", "key"),
        [
            ("[mqtt]\nport = 70000\n", "mqtt.port"),
            ("[mqtt]\nbase_topic = 'a/#'\n", "mqtt.base_topic"),
            ("[energy]\nprovider_id = 'missing'\n", "energy"),
            ("[storage]\nretention_days = 0\n", "storage.retention_days"),
            ("[nonsense]\nx = 1\n", "nonsense"),
            ("[refresh]\nretry_min_seconds = 10\nretry_max_seconds = 5\n", "refresh"),
        ],
    )
    def test_invalid_names_the_key(self, tmp_path: Path, text: str, key: str) -> None:
        """Each error names the dotted key and the reason."""
        with pytest.raises(ConfigError) as caught:
            load_settings(write(tmp_path, text))
        assert any(k.startswith(key) for k in caught.value.errors), caught.value.errors

    def test_missing_file(self, tmp_path: Path) -> None:
        """A config path that does not exist is an error, not silently ignored."""
        with pytest.raises(ConfigError, match="does not exist"):
            load_settings(tmp_path / "nope.toml")

    def test_bad_toml(self, tmp_path: Path) -> None:
        """A file that is not TOML is reported as such."""
        with pytest.raises(ConfigError, match="not valid TOML"):
            load_settings(write(tmp_path, "this is = = not toml"))


class TestSecrets:
    def test_redacted(self, tmp_path: Path) -> None:
        """Passwords never appear in the redacted view."""
        view = load_settings(write(tmp_path, GOOD)).redacted()
        assert "**********" == view["mqtt"]["password"]
        assert "hunter2" not in repr(view)


class TestFallbacks:
    def energy(self, **primary: object) -> dict[str, object]:
        return {
            "provider_id": "de",
            "providers": {
                "de": {"plugin": "energy_charts", "region": "DE-LU", **primary},
                "de_entsoe": {"plugin": "entsoe", "region": "DE-LU"},
                "flat": {"plugin": "fixed", "region": "home"},
                "off": {"plugin": "fixed", "region": "home", "enabled": False},
            },
        }

    def test_keys_and_tables(self) -> None:
        """A key is short for a table; the cross-check tolerance has defaults."""
        settings = load_settings(
            None,
            energy=self.energy(
                fallbacks=["de_entsoe", {"provider": "flat", "cross_check": False}],
                cross_check={"percent": 8},
            ),
        )
        entry = settings.energy.providers["de"]
        assert [("de_entsoe", True), ("flat", False)] == [
            (f.provider, f.cross_check) for f in entry.fallbacks
        ]
        assert (8.0, 0.5) == (entry.cross_check.percent, entry.cross_check.minimum)
        assert "fallbacks" not in entry.plugin_config()  # the daemon's, not the plugin's

    @pytest.mark.parametrize(
        ("fallbacks", "reason"),
        [
            (["nope"], "'nope' has no [energy.providers.nope] section"),
            (["de"], "a provider cannot be its own fallback"),
            (["de_entsoe", "de_entsoe"], "'de_entsoe' is named twice"),
            (["off"], "'off' is not enabled (a fallback must run)"),
        ],
    )
    def test_refused(self, fallbacks: list[str], reason: str) -> None:
        with pytest.raises(ConfigError, match=re.escape(reason)):
            load_settings(None, energy=self.energy(fallbacks=fallbacks))
