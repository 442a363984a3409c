"""The kit's path expressions: JMESPath compiled once, refused early with a reason, run-time
refusals as data errors, ``zip`` for parallel arrays, and the config field."""

from __future__ import annotations

from typing import Any

import pytest

from energyd.exceptions import ProviderConfigError, ProviderDataError
from energyd.providers import base
from energyd.providers.kit.config import ConfigFields
from energyd.providers.kit.paths import JsonPath, PathExpression, compile_path

ESIOS = {
    "indicator": {
        "values": [
            {"value": 101.5, "geo_name": "Península"},
            {"value": 111.5, "geo_name": "Canarias"},
            {"value": 99.0, "geo_name": "Península"},
        ]
    }
}


class TestSearching:
    def test_a_path_selects_a_value(self) -> None:
        """A dotted path reaches into nested objects."""
        assert 101.5 == compile_path("indicator.values[0].value").search(ESIOS)

    def test_a_filter_keeps_the_matching_entries(self) -> None:
        """A filter on geo_name keeps the Peninsula's prices only."""
        found = compile_path("indicator.values[?geo_name=='Península'].value").search(ESIOS)
        assert [101.5, 99.0] == found

    def test_nothing_matching_is_none(self) -> None:
        """A key the answer lacks selects None, not an error."""
        assert None is compile_path("Prices").search({"prices": []})

    def test_zip_pairs_parallel_arrays(self) -> None:
        """zip(a, b) pairs element by element (Energy-Charts' unix_seconds / price)."""
        body = {"unix_seconds": [1, 2, 3], "price": [10.5, None, 12.0]}
        assert [[1, 10.5], [2, None], [3, 12.0]] == compile_path("zip(unix_seconds, price)").search(
            body
        )

    def test_zip_of_arrays_of_different_lengths_is_a_data_error(self) -> None:
        """Arrays of different lengths are refused, never cut short."""
        with pytest.raises(ProviderDataError, match="different lengths"):
            compile_path("zip(a, b)").search({"a": [1, 2], "b": [1]})

    def test_a_type_refusal_at_run_time_is_a_data_error(self) -> None:
        """sum() of strings: the answer is not what the expression expects."""
        with pytest.raises(ProviderDataError, match="prices"):
            compile_path("sum(a)").search({"a": ["x"]}, "prices")

    def test_an_expression_is_compiled_once(self) -> None:
        """The same text gives the same compiled expression."""
        assert compile_path("a.b") is compile_path("a.b")
        assert isinstance(compile_path("a.b"), PathExpression)


class TestRefusedExpressions:
    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            ("Prices[", "not a JMESPath expression"),
            ("", "an empty expression"),
            ("   ", "an empty expression"),
            ("frobnicate(a)", "unknown function frobnicate()"),
            ("length(a, b)", "length() takes 1 argument(s), not 2"),
            ("zip(a)", "zip() takes at least 2 argument(s), not 1"),
            ("x" * 1001, "longer than 1000 characters"),
        ],
    )
    def test_a_bad_expression_is_a_config_error_with_its_reason(
        self, text: str, reason: str
    ) -> None:
        """Refused when compiled, naming why; errors carry it under "path"."""
        with pytest.raises(ProviderConfigError) as caught:
            compile_path(text)
        assert reason in caught.value.errors["path"]


class TestTheConfigField:
    def test_a_valid_expression_is_kept_as_text(self) -> None:
        """The setting holds the expression's text."""
        fields = ConfigFields(items=JsonPath(required=True))
        assert "Prices[*]" == fields.parse({"items": " Prices[*] "})["items"]

    @pytest.mark.parametrize("value", ["Prices[", 42, "nope(a)"])
    def test_a_bad_expression_is_reported_under_its_key(self, value: Any) -> None:
        """validate_config names the key and the reason."""
        errors = ConfigFields(items=JsonPath(required=True)).validate({"items": value})
        assert ["items"] == list(errors)

    def test_the_schema_says_jmespath(self) -> None:
        """The JSON schema marks the string as a JMESPath expression."""
        schema = JsonPath(default="@").schema()
        assert ("string", "jmespath", "@") == (
            schema["type"],
            schema["format"],
            schema["default"],
        )

    def test_plugins_reach_it_through_the_facade(self) -> None:
        """providers.energy.base re-exports the paths module's names."""
        assert (base.compile_path, base.JsonPath) == (compile_path, JsonPath)
        assert {"compile_path", "JsonPath", "PathExpression"} <= set(base.KIT)
