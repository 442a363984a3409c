"""Provider selection and run-time setting overrides."""

from __future__ import annotations

import pytest

from energyd.config import EnergySettings, ProviderSettings
from energyd.core.selection import apply_overrides, check_setting_key, resolve
from energyd.exceptions import ConfigError

ENERGY = EnergySettings(
    provider_id="octopus_agile",
    providers={
        "octopus_agile": ProviderSettings(region="C"),
        "octopus_agile_export": ProviderSettings(
            plugin="octopus_agile", region="C", direction="export"
        ),
        "spare": ProviderSettings(enabled=False, region="A"),
    },
)


class TestResolve:
    def test_selected_first_disabled_left_out(self) -> None:
        """The selected provider comes first; disabled ones do not run."""
        assert ["octopus_agile", "octopus_agile_export"] == [s.key for s in resolve(ENERGY)]

    def test_plugin_and_config(self) -> None:
        """An alias entry runs another plugin with its own config."""
        export = resolve(ENERGY)[1]
        assert ("octopus_agile", "C") == (export.plugin_id, export.region)
        assert {"region": "C", "direction": "export"} == dict(export.config)

    def test_selected_runs_even_if_disabled(self) -> None:
        """Selecting a disabled provider runs it."""
        energy = apply_overrides(ENERGY, {"energy.provider_id": "spare"})
        assert "spare" == resolve(energy)[0].key


class TestOverrides:
    def test_set_a_provider_key(self) -> None:
        """A dotted key changes one provider setting."""
        energy = apply_overrides(ENERGY, {"energy.providers.octopus_agile.region": "J"})
        assert "J" == energy.providers["octopus_agile"].region

    def test_none_removes_a_key(self) -> None:
        """None removes an override key from the provider's config."""
        energy = apply_overrides(ENERGY, {"energy.providers.octopus_agile_export.direction": None})
        assert "direction" not in resolve(energy)[1].config

    def test_object_merges(self) -> None:
        """An object under energy.providers.<id> merges key by key (new providers too)."""
        energy = apply_overrides(
            ENERGY, {"energy.providers.new_one": {"plugin": "octopus_agile", "region": "A"}}
        )
        assert "A" == energy.providers["new_one"].region

    def test_unknown_provider_selected(self) -> None:
        """Selecting a provider that has no section is a configuration error naming it."""
        with pytest.raises(ConfigError, match="nope"):
            apply_overrides(ENERGY, {"energy.provider_id": "nope"})

    @pytest.mark.parametrize(
        "key", ["mqtt.host", "energy", "energy.providers.Bad.region", "energy.providers.a.b.c"]
    )
    def test_only_energy_keys(self, key: str) -> None:
        """Only energy.provider_id and energy.providers.* may change at run time."""
        with pytest.raises(ConfigError, match="cannot be changed"):
            check_setting_key(key)
