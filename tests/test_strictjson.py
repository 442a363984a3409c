"""Strict JSON for untrusted input: only values a reply can echo back."""

from __future__ import annotations

import pytest

from energyd import strictjson


class TestLoads:
    @pytest.mark.parametrize("text", ["1e400", "[-1e400]", '{"a": NaN}', "Infinity", "-Infinity"])
    def test_refused(self, text: str) -> None:
        """Numbers a float cannot hold, and JSON's missing constants, are refused."""
        with pytest.raises(ValueError, match=r"out of range|not valid JSON"):
            strictjson.loads(text)

    def test_ordinary_values(self) -> None:
        """Big finite numbers and long integers are kept as they are."""
        assert [1.5e308, 10**400, "x"] == strictjson.loads("[1.5e308, 1" + "0" * 400 + ', "x"]')


class TestLoneSurrogate:
    @pytest.mark.parametrize(
        ("text", "found"),
        [
            ('"\\ud800"', "\\ud800"),
            ('{"\\udfff": 1}', "\\udfff"),
            ('[[{"a": ["b", "\\ud83d"]}]]', "\\ud83d"),
        ],
    )
    def test_found_anywhere(self, text: str, found: str) -> None:
        """A lone surrogate in a value, a key or deep inside is named."""
        assert found == strictjson.lone_surrogate(strictjson.loads(text))

    def test_pair_is_not_lone(self) -> None:
        """A surrogate pair is one proper character."""
        assert strictjson.lone_surrogate(strictjson.loads('"\\ud83d\\ude00"')) is None

    def test_deep_nesting_without_recursion(self) -> None:
        """A structure as deep as the parser allows is walked without a RecursionError."""
        value: object = "\ud800"
        for _ in range(100_000):
            value = [value]
        assert "\\ud800" == strictjson.lone_surrogate(value)
