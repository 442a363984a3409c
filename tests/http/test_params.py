"""Query strings and JSON bodies into the argument models (energyd.http.params; pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from multidict import MultiDict

from energyd.api.arguments import AuditArgs, CheapestArgs, PricesArgs, SettingsSetArgs
from energyd.exceptions import CommandError
from energyd.http.params import body_args, decode_json, query_args


class TestQuery:
    def test_a_space_in_a_datetime_is_a_plus(self) -> None:
        """An unencoded '+' of an offset arrives as a space; it is read as the '+'."""
        args = query_args(PricesArgs, MultiDict(start="2026-01-01T01:00:00 01:00"))
        assert datetime(2026, 1, 1, tzinfo=UTC) == args.start

    def test_empty_values_are_left_out(self) -> None:
        """provider= (empty) is the default, as it always was."""
        args = query_args(PricesArgs, MultiDict(provider="", start="", hours="2"))
        assert (None, None, 2.0) == (args.provider, args.start, args.hours)

    def test_other_keys_are_ignored(self) -> None:
        """A key the model does not have (a cache buster) is not an error."""
        assert 5 == query_args(AuditArgs, MultiDict(limit="5", _="1712345678")).limit

    def test_the_first_value_counts(self) -> None:
        """A repeated key: the first value."""
        assert 3 == query_args(AuditArgs, MultiDict([("limit", "3"), ("limit", "9")])).limit

    def test_text_becomes_typed_values(self) -> None:
        """Numbers, booleans and local times are read from their text."""
        query = MultiDict(minutes="90", contiguous="false", earliest="00:00", latest="07:00")
        args = query_args(CheapestArgs, query)
        assert (90, False, "00:00", "07:00") == (
            args.minutes,
            args.contiguous,
            args.earliest,
            args.latest,
        )

    @pytest.mark.parametrize(
        "query",
        [{"limit": "0"}, {"limit": "1e3"}, {"limit": "1" * 5000}, {"limit": "x"}],
    )
    def test_refusals_are_invalid_argument(self, query: dict[str, str]) -> None:
        """A value the model refuses is invalid_argument, named per field."""
        with pytest.raises(CommandError) as caught:
            query_args(AuditArgs, MultiDict(query))
        assert ("invalid_argument", ["limit"]) == (
            caught.value.code,
            list(caught.value.details),
        )


class TestBody:
    def test_an_object_is_the_arguments(self) -> None:
        """A JSON object body is validated by the model."""
        args = body_args(SettingsSetArgs, b'{"values": {"energy.provider_id": "demo"}}')
        assert {"energy.provider_id": "demo"} == args.changes()

    @pytest.mark.parametrize(
        "data", [b"[]", b'"x"', b'{"values": {}, "extra": 1}', b'{"values": [1]}']
    )
    def test_refusals_are_invalid_payload(self, data: bytes) -> None:
        """Not an object, or not what the model takes: invalid_payload."""
        with pytest.raises(CommandError) as caught:
            body_args(SettingsSetArgs, data)
        assert "invalid_payload" == caught.value.code

    @pytest.mark.parametrize(
        "data", [b"{", b"\xff", b'{"a": NaN}', b'{"a": 1e999}', b'{"a": "\\ud800"}']
    )
    def test_strict_json(self, data: bytes) -> None:
        """Not UTF-8, not JSON, not finite, or a lone surrogate: invalid_json."""
        with pytest.raises(CommandError) as caught:
            decode_json(data)
        assert "invalid_json" == caught.value.code
