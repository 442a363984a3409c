"""The argument models: what a request may say on any surface before an operation runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from energyd.api.arguments import (
    MAX_AUDIT,
    MAX_WINDOW,
    Arguments,
    AuditArgs,
    CheapestArgs,
    NoArgs,
    PricesArgs,
    SettingsResetArgs,
    SettingsSetArgs,
    check_period,
    check_slot_multiple,
    parse_arguments,
)
from energyd.exceptions import CommandError

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)


class TestMoments:
    @pytest.mark.parametrize(
        "value",
        [
            "9999-12-31T23:00:00Z",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-23:59",
            "1969-12-31T23:59:59Z",
            "2200-01-01T00:00:00Z",
        ],
    )
    def test_out_of_range_refused(self, value: str) -> None:
        """Datetimes near datetime's own limits are refused before any arithmetic overflows."""
        with pytest.raises(ValidationError):
            PricesArgs.model_validate({"start": value})
        with pytest.raises(ValidationError):
            CheapestArgs.model_validate({"minutes": 60, "earliest": value})

    def test_in_range_as_utc(self) -> None:
        """An ordinary datetime with an offset is taken, as UTC."""
        args = PricesArgs.model_validate({"start": "2026-03-29T02:30:00+02:00"})
        assert datetime(2026, 3, 29, 0, 30, tzinfo=UTC) == args.start

    def test_local_times_still_accepted(self) -> None:
        """cheapest's "HH:MM" form is unaffected."""
        args = CheapestArgs.model_validate({"minutes": 60, "earliest": "00:00", "latest": "07:00"})
        assert ("00:00", "07:00") == (args.earliest, args.latest)


class TestPriceWindow:
    def test_default_is_the_next_24_hours(self) -> None:
        """Without start, end or hours: now to now + 24 h."""
        assert (NOW, NOW + timedelta(hours=24)) == PricesArgs().window(NOW)

    def test_hours_from_start(self) -> None:
        """hours counts from start."""
        args = PricesArgs.model_validate({"start": "2026-03-29T00:00:00Z", "hours": 1.5})
        start = datetime(2026, 3, 29, tzinfo=UTC)
        assert (start, start + timedelta(hours=1.5)) == args.window(NOW)

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (
                {"start": "2026-03-30T00:00:00Z", "end": "2026-03-29T00:00:00Z"},
                "end must be after start",
            ),
            (
                {"start": "2026-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"},
                "window longer than 31 days",
            ),
        ],
    )
    def test_refused_windows(self, data: dict[str, str], message: str) -> None:
        """A reversed or too long window is invalid_argument with the message of old."""
        with pytest.raises(CommandError) as caught:
            PricesArgs.model_validate(data).window(NOW)
        assert ("invalid_argument", message) == (caught.value.code, caught.value.message)

    @pytest.mark.parametrize(
        "data",
        [
            {"end": "2026-03-30T00:00:00Z", "hours": 2},
            {"day": "today", "hours": 2},
            {"day": "tomorrow", "start": "2026-03-30T00:00:00Z"},
            {"day": "monday"},
            {"hours": 0},
            {"hours": MAX_WINDOW.days * 24 + 1},
        ],
    )
    def test_conflicting_or_bad_forms(self, data: dict[str, object]) -> None:
        """end with hours, day with a window, another day or hours out of range are refused."""
        with pytest.raises(ValidationError):
            PricesArgs.model_validate(data)

    def test_day(self) -> None:
        """day alone is accepted; the operation resolves it in the market's calendar."""
        assert "tomorrow" == PricesArgs.model_validate({"day": "tomorrow"}).day


class TestCheapestPeriod:
    def test_longer_than_the_limit_refused(self) -> None:
        """A period over 31 days is refused with the cheapest command's message."""
        with pytest.raises(CommandError) as caught:
            check_period(NOW, NOW + MAX_WINDOW + timedelta(minutes=1))
        assert "the period must be positive and under 31 days" == caught.value.message

    def test_mixed_forms_refused(self) -> None:
        """earliest and latest are both local times or both datetimes."""
        with pytest.raises(ValidationError):
            CheapestArgs.model_validate(
                {"minutes": 60, "earliest": "00:00", "latest": "2026-03-29T07:00:00Z"}
            )


class TestSettingsForms:
    def test_key_and_value(self) -> None:
        """{"key", "value"} is one change."""
        args = SettingsSetArgs.model_validate({"key": "energy.provider_id", "value": "demo"})
        assert {"energy.provider_id": "demo"} == args.changes()

    def test_values(self) -> None:
        """{"values": {...}} is every change given."""
        values = {"energy.provider_id": "demo", "energy.providers.demo.region": "A"}
        assert values == SettingsSetArgs.model_validate({"values": values}).changes()

    @pytest.mark.parametrize(
        "data", [{}, {"key": "energy.provider_id", "values": {}}, {"values": ["x"]}]
    )
    def test_neither_or_both_refused(self, data: dict[str, object]) -> None:
        """Exactly one of the two forms."""
        with pytest.raises(ValidationError):
            SettingsSetArgs.model_validate(data)


class TestParse:
    def test_refusal_names_each_field(self) -> None:
        """A refusal is invalid_argument, "invalid arguments: <field>: <reason>", the reason
        per field."""
        with pytest.raises(CommandError) as caught:
            parse_arguments(AuditArgs, {"limit": MAX_AUDIT + 1})
        reason = "expected a number of at most 1000, got 1001"
        assert ("invalid_argument", f"invalid arguments: limit: {reason}", {"limit": reason}) == (
            caught.value.code,
            caught.value.message,
            caught.value.details,
        )

    def test_unknown_keys_refused(self) -> None:
        """Every model refuses keys it does not have, saying which it takes."""
        with pytest.raises(CommandError) as caught:
            parse_arguments(NoArgs, {"surprise": 1})
        assert {"surprise": "unknown key; this takes no keys"} == caught.value.details
        with pytest.raises(CommandError) as caught:
            parse_arguments(AuditArgs, {"zzz": 1})
        assert {"zzz": "unknown key; this takes limit"} == caught.value.details

    def test_code_of_the_surface(self) -> None:
        """A surface may give its own code (HTTP bodies: invalid_payload)."""
        with pytest.raises(CommandError) as caught:
            parse_arguments(AuditArgs, {"limit": "x"}, "invalid_payload")
        assert "invalid_payload" == caught.value.code


class TestPlainMessages:
    """Refusals speak the user's language: the field, what it takes, what was given."""

    @pytest.mark.parametrize(
        ("model", "data", "expected"),
        [
            (
                CheapestArgs,
                {"minutes": 60, "earliest": "25:00"},
                {
                    "earliest": "expected HH:MM (market time) or an ISO 8601 datetime with an"
                    ' offset, got "25:00"'
                },
            ),
            (CheapestArgs, {"minutes": "abc"}, {"minutes": 'expected a whole number, got "abc"'}),
            (CheapestArgs, {"minutes": 1.5}, {"minutes": "expected a whole number, got 1.5"}),
            (CheapestArgs, {}, {"minutes": "required"}),
            (
                CheapestArgs,
                {"minutes": 0},
                {"minutes": "expected a number greater than 0, got 0"},
            ),
            (
                CheapestArgs,
                {"minutes": 60, "mode": "middling"},
                {"mode": "expected 'cheapest' or 'most_expensive', got \"middling\""},
            ),
            (
                CheapestArgs,
                {"minutes": 60, "contiguous": "maybe"},
                {"contiguous": 'expected true or false, got "maybe"'},
            ),
            (
                PricesArgs,
                {"start": "2026-01-01T00:00:00"},
                {
                    "start": "expected an ISO 8601 datetime with an offset, e.g."
                    ' 2026-01-01T00:00:00Z, got "2026-01-01T00:00:00"'
                },
            ),
            (
                PricesArgs,
                {"start": "9999-12-31T23:00:00Z"},
                {"start": 'must be from 1970 to 2199, got "9999-12-31T23:00:00Z"'},
            ),
            (
                PricesArgs,
                {"end": "2026-03-30T00:00:00Z", "hours": 2},
                {"arguments": "give end or hours, not both"},
            ),
            (SettingsSetArgs, {"values": ["x"]}, {"values": "expected an object, got a list"}),
        ],
    )
    def test_field_expected_given(
        self, model: type[Arguments], data: dict[str, object], expected: dict[str, str]
    ) -> None:
        """Each reason names what the field takes and what was given, no validator tags
        (constrained-str, function-after[...], value_error)."""
        with pytest.raises(CommandError) as caught:
            parse_arguments(model, data)
        assert expected == caught.value.details
        for word in ("constrained-str", "function-after", "Value error", "Input should"):
            assert word not in caught.value.message

    def test_unknown_key_did_you_mean(self) -> None:
        """A near miss of a key is refused naming the key it probably is, listed first."""
        with pytest.raises(CommandError) as caught:
            parse_arguments(CheapestArgs, {"minute": 60, "earlist": "00:00"})
        assert {
            "minute": "unknown key; did you mean 'minutes'?",
            "earlist": "unknown key; did you mean 'earliest'?",
            "minutes": "required",
        } == caught.value.details
        assert (
            "invalid arguments: minute: unknown key; did you mean 'minutes'? (and 2 more)"
            == caught.value.message
        )

    def test_long_values_are_cut(self) -> None:
        """A long value is quoted shortened, so a reply never echoes a whole payload."""
        with pytest.raises(CommandError) as caught:
            parse_arguments(AuditArgs, {"limit": "x" * 5000})
        assert 'expected a whole number, got "' + "x" * 36 + "..." == caught.value.details["limit"]


class TestSettingsReset:
    def test_keys_or_all(self) -> None:
        """{"keys": [...]} resets those keys, {"all": true} every override."""
        keys = ["energy.providers.demo.region"]
        assert keys == SettingsResetArgs.model_validate({"keys": keys}).selected()
        assert SettingsResetArgs.model_validate({"all": True}).selected() is None

    @pytest.mark.parametrize(
        ("data", "field"),
        [
            ({}, "arguments"),
            ({"all": False}, "arguments"),
            ({"keys": ["a"], "all": True}, "arguments"),
            ({"keys": []}, "keys"),
            ({"keys": [""]}, "keys.0"),
            ({"keys": "energy.provider_id"}, "keys"),
            ({"key": ["energy.provider_id"]}, "key"),
        ],
    )
    def test_exactly_one_form(self, data: dict[str, object], field: str) -> None:
        """Neither, both, an empty list or an empty key are refused, named."""
        with pytest.raises(CommandError) as caught:
            parse_arguments(SettingsResetArgs, data)
        assert field in caught.value.details


class TestSlotMultiples:
    @pytest.mark.parametrize(("minutes", "slot"), [(30, 30), (60, 30), (45, 15), (15, 15)])
    def test_whole_slots_pass(self, minutes: int, slot: int) -> None:
        """A whole number of slots is taken as it is."""
        assert minutes == check_slot_multiple(minutes, slot, "demo")

    @pytest.mark.parametrize(
        ("minutes", "slot", "options"), [(45, 30, "30 or 60"), (20, 30, "30"), (50, 15, "45 or 60")]
    )
    def test_part_slots_refused(self, minutes: int, slot: int, options: str) -> None:
        """Part of a slot is refused naming the slot length and the nearest lengths."""
        with pytest.raises(CommandError) as caught:
            check_slot_multiple(minutes, slot, "demo")
        assert (
            "invalid_argument",
            f"invalid arguments: minutes: {minutes} is not a whole number of demo's"
            f" {slot}-minute slots; give {options}",
            {"minutes": f"expected a multiple of {slot} (the slot length), got {minutes}"},
        ) == (caught.value.code, caught.value.message, caught.value.details)
