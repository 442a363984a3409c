"""Octopus Agile plugin: what it says about itself and how it checks its configuration."""

from __future__ import annotations

import ast
import inspect
from typing import Any

import pytest

from energyd.providers.base import EnergyPriceProvider
from energyd.providers.loader import read_required_kit
from tests.support.octopus_data import REGIONS
from tests.support.plugins import BUNDLED_PLUGINS, octopus_agile

PLUGIN_FILE = BUNDLED_PLUGINS / "octopus_agile_provider.py"


def validate(config: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = octopus_agile().OctopusAgileProvider().validate_config(config)
    return errors


class TestMetadata:
    def test_version_is_a_static_literal(self) -> None:
        """``__version__`` is a literal the loader can read with ast, and metadata repeats it."""
        tree = ast.parse(PLUGIN_FILE.read_text(encoding="utf-8"))
        literals = [
            node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
            and isinstance(node.value, ast.Constant)
        ]

        assert ["3.1.0"] == literals
        assert "3.1.0" == octopus_agile().OctopusAgileProvider().get_metadata().version

    def test_built_on_kit_5(self) -> None:
        """``REQUIRES_KIT = 5`` (a products list kept for a day, per request): read
        statically."""
        assert 5 == read_required_kit(PLUGIN_FILE)

    def test_one_concrete_provider_class(self) -> None:
        """The file defines exactly one concrete EnergyPriceProvider subclass."""
        module = octopus_agile()
        classes = [
            value.__name__
            for value in vars(module).values()
            if inspect.isclass(value)
            and issubclass(value, EnergyPriceProvider)
            and value.__module__ == module.__name__
            and not inspect.isabstract(value)
        ]

        assert ["OctopusAgileProvider"] == classes

    def test_metadata(self) -> None:
        """Id, name, currency and the Agile market rhythm in Europe/London."""
        meta = octopus_agile().OctopusAgileProvider().get_metadata()

        expected = (
            "octopus_agile",
            "Octopus Energy",
            "GBP",
            30,
            "Europe/London",
            "16:00",
            "23:00",
            False,
        )
        actual = (
            meta.provider_id,
            meta.display_name,
            meta.currency,
            meta.slot_minutes,
            meta.market_timezone,
            meta.publish_time_local,
            meta.day_start_local,
            meta.requires_api_key,
        )
        assert expected == actual

    def test_regions(self) -> None:
        """All 14 regions, each with a name."""
        meta = octopus_agile().OctopusAgileProvider().get_metadata()

        assert REGIONS == tuple(meta.supported_regions)
        assert set(REGIONS) == set(meta.region_names)
        assert "London" == meta.region_names["C"]

    def test_config_schema_lists_every_key(self) -> None:
        """The schema documents each config key and requires region."""
        schema = octopus_agile().OctopusAgileProvider().get_metadata().config_schema

        expected = {
            "region",
            "family",
            "product_code",
            "tariff_code",
            "direction",
            "fuel",
            "payment_method",
            "api_key",
            "account_number",
            "base_url",
            "page_size",
            "max_pages",
            "retry_attempts",
            "retry_base_seconds",
            "retry_budget_seconds",
        }
        assert expected == set(schema["properties"])
        assert ["region"] == schema["required"]

    def test_schema_and_validator_come_from_the_same_fields(self) -> None:
        """The schema is the config fields' own, so it cannot disagree with validate_config."""
        module = octopus_agile()
        schema = module.OctopusAgileProvider().get_metadata().config_schema

        assert module.FIELDS.schema() == schema

    def test_region_enum_is_canonical_and_marked_normalised(self) -> None:
        """The enum lists the canonical letters; ``c`` and ``_C`` are accepted and normalised."""
        schema = octopus_agile().OctopusAgileProvider().get_metadata().config_schema
        region = schema["properties"]["region"]
        parsed = {octopus_agile().FIELDS.parse({"region": raw})["region"] for raw in ("c", "_C")}

        assert (list(REGIONS), True, {"C"}) == (region["enum"], region["x-normalised"], parsed)

    def test_schema_defaults_are_the_parsed_defaults(self) -> None:
        """Every default the schema publishes is the value an unset key parses to."""
        module = octopus_agile()
        properties = module.FIELDS.schema()["properties"]
        settings = module.FIELDS.parse({"region": "A"})

        expected = {key: spec["default"] for key, spec in properties.items() if "default" in spec}
        assert expected == {key: settings[key] for key in expected}


class TestValidConfig:
    @pytest.mark.parametrize(
        "config",
        [
            {"region": "C"},
            {"region": "c"},
            {"region": "_C"},
            {"region": " j "},
            {"region": "C", "product_code": "AGILE-24-10-01"},
            {"region": "C", "tariff_code": "E-1R-AGILE-24-10-01-C"},
            {"region": "C", "tariff_code": "e-1r-agile-outgoing-19-05-13-c", "direction": "export"},
            {"region": "C", "direction": "EXPORT"},
            {"region": "C", "base_url": "http://127.0.0.1:8080/"},
            {"region": "C", "base_url": "https://proxy.example/octopus"},
            {"region": "C", "page_size": 1, "max_pages": 1, "retry_attempts": 1},
            {"region": "C", "page_size": "100", "retry_base_seconds": "0.5"},
            {"region": "C", "retry_base_seconds": 0, "retry_budget_seconds": 0},
            {"region": "C", "product_code": None, "tariff_code": ""},
        ],
    )
    def test_valid(self, config: dict[str, Any]) -> None:
        """Good configurations have no errors."""
        assert {} == validate(config)

    def test_normalised(self) -> None:
        """Region, codes, direction and base_url are normalised."""
        settings = octopus_agile().FIELDS.parse(
            {
                "region": "_c",
                "tariff_code": " e-1r-agile-24-10-01-c ",
                "direction": " Export ",
                "base_url": "HTTPS://api.octopus.energy/",
                "page_size": "250",
            }
        )

        expected = ("C", "E-1R-AGILE-24-10-01-C", "export", "https://api.octopus.energy", 250)
        keys = ("region", "tariff_code", "direction", "base_url", "page_size")
        assert expected == tuple(settings[key] for key in keys)

    def test_blank_values_mean_unset(self) -> None:
        """An empty or blank optional value (an unset environment variable) takes the default."""
        blank = {"region": "C", "product_code": " ", "direction": "", "base_url": " "}
        settings = octopus_agile().FIELDS.parse({**blank, "page_size": "", "retry_attempts": ""})

        expected = (None, "import", "https://api.octopus.energy", 1500, 4)
        keys = ("product_code", "direction", "base_url", "page_size", "retry_attempts")
        assert expected == tuple(settings[key] for key in keys)

    def test_defaults(self) -> None:
        """Unset keys take the documented defaults (README, "Octopus Agile")."""
        settings = octopus_agile().FIELDS.parse({"region": "A"})

        expected = (None, None, "import", "https://api.octopus.energy", 1500, 20, 4, 2.0, 60.0)
        keys = (
            "product_code",
            "tariff_code",
            "direction",
            "base_url",
            "page_size",
            "max_pages",
            "retry_attempts",
            "retry_base_seconds",
            "retry_budget_seconds",
        )
        assert expected == tuple(settings[key] for key in keys)


class TestInvalidConfig:
    @pytest.mark.parametrize(
        ("config", "field"),
        [
            ({}, "region"),
            ({"region": ""}, "region"),
            ({"region": "I"}, "region"),
            ({"region": "Z"}, "region"),
            ({"region": "CC"}, "region"),
            ({"region": 3}, "region"),
            ({"region": "C", "base_url": "ftp://api.octopus.energy"}, "base_url"),
            ({"region": "C", "base_url": "api.octopus.energy"}, "base_url"),
            ({"region": "C", "base_url": "https://"}, "base_url"),
            ({"region": "C", "base_url": "https://x.example/?key=1"}, "base_url"),
            ({"region": "C", "base_url": "http://x.example:99999"}, "base_url"),
            ({"region": "C", "base_url": 8080}, "base_url"),
            ({"region": "C", "tariff_code": "E-1R-AGILE-24-10-01-J"}, "tariff_code"),
            ({"region": "C", "tariff_code": "E-1R-AGILE-24-10-01-I"}, "tariff_code"),
            ({"region": "C", "tariff_code": "E-2R-AGILE-24-10-01-C"}, "tariff_code"),
            ({"region": "C", "tariff_code": "AGILE-24-10-01"}, "tariff_code"),
            ({"region": "C", "product_code": "AGILE 24/10"}, "product_code"),
            ({"region": "C", "direction": "outgoing"}, "direction"),
            ({"region": "C", "direction": 1}, "direction"),
            ({"region": "C", "page_size": 0}, "page_size"),
            ({"region": "C", "page_size": 1501}, "page_size"),
            ({"region": "C", "page_size": 10.5}, "page_size"),
            ({"region": "C", "page_size": True}, "page_size"),
            ({"region": "C", "max_pages": 0}, "max_pages"),
            ({"region": "C", "retry_attempts": 0}, "retry_attempts"),
            ({"region": "C", "retry_attempts": "many"}, "retry_attempts"),
            ({"region": "C", "retry_base_seconds": -1}, "retry_base_seconds"),
            ({"region": "C", "retry_base_seconds": float("nan")}, "retry_base_seconds"),
            ({"region": "C", "retry_budget_seconds": float("inf")}, "retry_budget_seconds"),
        ],
    )
    def test_invalid(self, config: dict[str, Any], field: str) -> None:
        """Each bad value is reported under its own key, and only there."""
        errors = validate(config)

        assert [field] == list(errors)
        assert errors[field]

    def test_mismatched_tariff_region_explained(self) -> None:
        """The mismatch message names both regions."""
        errors = validate({"region": "C", "tariff_code": "E-1R-AGILE-24-10-01-J"})

        assert "region J but region is C" in errors["tariff_code"]

    def test_missing_region_lists_the_letters(self) -> None:
        """The missing-region message tells the user what to write: every letter with its
        name, and how to find theirs by postcode."""
        message = validate({})["region"]

        assert message.startswith("required: one of A (Eastern England), B (East Midlands), C")
        assert "P (Northern Scotland)" in message
        assert 'energyd region --postcode "SW1A 1AA"' in message

    def test_a_misspelt_key_is_refused_with_a_suggestion(self) -> None:
        """``prodcut_code`` is not silently ignored (the default product would be fetched)."""
        errors = validate({"region": "C", "prodcut_code": "AGILE-24-10-01", "token": "x"})

        assert "did you mean 'product_code'?" in errors["prodcut_code"]
        assert errors["token"].startswith("unknown key")

    def test_several_errors_at_once(self) -> None:
        """All problems are reported together."""
        errors = validate({"region": "X", "direction": "up", "base_url": "nope", "max_pages": -1})

        assert {"region", "direction", "base_url", "max_pages"} == set(errors)
