"""Declarative config fields: one declaration gives validation, parsing and the JSON schema."""

from __future__ import annotations

from typing import Any

import pytest

from energyd.exceptions import ProviderConfigError
from energyd.providers.kit.config import (
    Choice,
    ConfigFields,
    Flag,
    Integer,
    Number,
    Settings,
    Text,
    Url,
    normalise_base_url,
)


def region_letter(value: str) -> str:
    """``"c"`` / ``"_C"`` -> ``"C"`` (the Octopus convention)."""
    return value.upper().removeprefix("_")


FIELDS = ConfigFields(
    region=Choice(("A", "B", "C"), required=True, normalise=region_letter, description="GSP"),
    direction=Choice(("import", "export"), default="import", normalise=str.lower),
    product_code=Text(r"[A-Z0-9]+(?:-[A-Z0-9]+)*", normalise=str.upper, example="AGILE-24-10-01"),
    base_url=Url(default="https://api.octopus.energy"),
    page_size=Integer(1, 1500, default=1500),
    retry_budget_seconds=Number(0, 3600, default=60.0),
    strict=Flag(default=False),
)


class TestValidation:
    def test_a_good_config_has_no_errors(self) -> None:
        """Every field valid: an empty dict."""
        assert {} == FIELDS.validate({"region": "C", "page_size": 100})

    @pytest.mark.parametrize("raw", ["c", "_C", " C ", "_c"])
    def test_normalisers_run_before_the_check(self, raw: str) -> None:
        """Lower case, a leading underscore and blanks are normalised away."""
        assert "C" == FIELDS.parse({"region": raw})["region"]

    @pytest.mark.parametrize("missing", [{}, {"region": None}, {"region": "  "}])
    def test_required_fields_must_be_set(self, missing: dict[str, Any]) -> None:
        """Missing, None and blank mean not set."""
        assert {"region": "required: one of A B C"} == FIELDS.validate(missing)

    def test_unknown_choices_name_the_allowed_ones(self) -> None:
        """An unknown value lists what is allowed."""
        expected = {"region": "unknown value 'Z'; expected one of A B C"}
        assert expected == FIELDS.validate({"region": "Z"})

    def test_near_misses_get_a_did_you_mean(self) -> None:
        """A close value is suggested."""
        errors = FIELDS.validate({"region": "C", "direction": "exprot"})
        assert (
            "unknown value 'exprot' (did you mean 'export'?); expected one of import export"
            == (errors["direction"])
        )

    def test_unknown_keys_are_reported_with_a_suggestion(self) -> None:
        """A misspelt key is reported with the closest known one."""
        assert {"page_sise": "unknown key; did you mean 'page_size'?"} == FIELDS.validate(
            {"region": "C", "page_sise": 10}
        )

    def test_unknown_keys_without_a_close_match_list_the_known_ones(self) -> None:
        """A key like nothing known lists every known key."""
        reason = FIELDS.validate({"region": "C", "zzz": 1})["zzz"]
        assert reason.startswith("unknown key; known: region, direction, product_code")

    def test_unknown_keys_can_be_ignored(self) -> None:
        """unknown="ignore" leaves foreign keys alone."""
        lenient = ConfigFields(FIELDS.fields, unknown="ignore")
        assert {} == lenient.validate({"region": "C", "zzz": 1})

    def test_region_is_always_accepted(self) -> None:
        """The daemon passes region to every plugin, declared or not."""
        assert {} == ConfigFields(strict=Flag()).validate({"region": "X"})

    @pytest.mark.parametrize(
        ("key", "value", "reason"),
        [
            ("page_size", 0, "must be a whole number from 1 to 1500, got 0"),
            ("page_size", 1.5, "must be a whole number from 1 to 1500, got 1.5"),
            ("page_size", True, "is a boolean, not a number"),
            ("page_size", "ten", "'ten' is not a number"),
            ("retry_budget_seconds", float("inf"), "inf is not a finite number"),
            ("retry_budget_seconds", -1, "must be a number from 0 to 3600, got -1"),
            ("product_code", "agile 24", "'AGILE 24' is not a value like AGILE-24-10-01"),
            ("product_code", 12, "12 is not a string"),
            (
                "base_url",
                "ftp://x",
                "must be an http:// or https:// URL without query, e.g. https://api.octopus.energy",
            ),
            ("strict", "maybe", "'maybe' is not true or false"),
        ],
    )
    def test_each_kind_explains_a_refusal(self, key: str, value: object, reason: str) -> None:
        """Every field kind says what is wrong and what it expects."""
        assert {key: reason} == FIELDS.validate({"region": "C", key: value})

    def test_secret_fields_never_echo_the_value(self) -> None:
        """A secret's value never appears in a reason."""
        fields = ConfigFields(token=Text(r"[a-f0-9]{32}", secret=True))
        assert {"token": "*** is not a value matching [a-f0-9]{32}"} == fields.validate(
            {"token": "hunter2"}
        )

    def test_checks_across_fields_run_once_fields_are_valid(self) -> None:
        """A cross-field check sees parsed settings and adds its reasons."""

        def same_region(settings: Settings) -> dict[str, str]:
            code = settings.optional_text("product_code") or ""
            if code and not code.endswith(settings.text("region")):
                return {"product_code": f"{code} is not for region {settings['region']}"}
            return {}

        fields = ConfigFields(FIELDS.fields, checks=[same_region])
        assert {"product_code": "X-B is not for region C"} == fields.validate(
            {"region": "c", "product_code": "x-b"}
        )
        assert {} == fields.validate({"region": "c", "product_code": "x-c"})


class TestParsing:
    def test_defaults_are_filled_in(self) -> None:
        """parse gives every declared field, defaults included."""
        expected = {
            "region": "A",
            "direction": "import",
            "product_code": None,
            "base_url": "https://api.octopus.energy",
            "page_size": 1500,
            "retry_budget_seconds": 60.0,
            "strict": False,
        }
        assert expected == dict(FIELDS.parse({"region": "a"}))

    def test_strings_from_the_environment_are_converted(self) -> None:
        """Numbers and flags given as strings (environment variables) are converted."""
        settings = FIELDS.parse(
            {"region": "B", "page_size": "100", "retry_budget_seconds": "2.5", "strict": "yes"}
        )
        assert (100, 2.5, True) == (
            settings.integer("page_size"),
            settings.number("retry_budget_seconds"),
            settings.flag("strict"),
        )

    def test_invalid_configs_raise_with_every_reason(self) -> None:
        """parse raises ProviderConfigError carrying the {field: reason} map."""
        with pytest.raises(ProviderConfigError) as caught:
            FIELDS.parse({"page_size": 0})
        assert {"region", "page_size"} == set(caught.value.errors)

    def test_typed_getters_refuse_the_wrong_type(self) -> None:
        """Settings.integer on a text field is a TypeError (a plugin bug)."""
        with pytest.raises(TypeError):
            FIELDS.parse({"region": "A"}).integer("region")

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("https://api.octopus.energy/", "https://api.octopus.energy"),
            ("HTTP://127.0.0.1:8080/mirror/", "http://127.0.0.1:8080/mirror"),
            ("https://x.test/?a=1", None),
            ("https://x.test/#top", None),
            ("https://:80", None),
            ("http://x.test:0", None),
            ("", None),
        ],
    )
    def test_base_urls_are_normalised(self, raw: str, expected: str | None) -> None:
        """Trailing slashes go, scheme is lower-cased; query, fragment, no host are refused."""
        assert expected == normalise_base_url(raw)


class TestSchema:
    def test_the_schema_comes_from_the_same_fields(self) -> None:
        """Types, bounds, defaults, required and enums all come from the declaration."""
        schema = FIELDS.schema()
        assert "object" == schema["type"]
        assert ["region"] == schema["required"]
        assert {
            "type": "string",
            "enum": ["A", "B", "C"],
            "description": "GSP",
            "x-normalised": True,
        } == schema["properties"]["region"]
        assert {"type": "integer", "minimum": 1, "maximum": 1500, "default": 1500} == schema[
            "properties"
        ]["page_size"]
        assert {"type": "string", "format": "uri", "default": "https://api.octopus.energy"} == (
            schema["properties"]["base_url"]
        )
        assert {"type": "boolean", "default": False} == schema["properties"]["strict"]

    def test_every_schema_property_is_a_field_the_validator_knows(self) -> None:
        """Schema and validator cannot disagree on the keys."""
        assert list(FIELDS.fields) == list(FIELDS.schema()["properties"])

    def test_fields_can_be_extended(self) -> None:
        """``|`` adds fields and keeps checks and options."""
        more = FIELDS | {"extra": Integer(0, 1)}
        assert "extra" in more
        assert {"extra": "must be a whole number from 0 to 1, got 2"} == more.validate(
            {"region": "A", "extra": 2}
        )

    def test_a_field_must_be_a_field(self) -> None:
        """Declaring something that is not a Field fails at once."""
        with pytest.raises(TypeError, match="not a Field"):
            ConfigFields(region="A")  # type: ignore[arg-type]
