"""The argument models: what a request may say on any surface before an operation runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from energyd.api.arguments import (
    MAX_AUDIT,
    MAX_WINDOW,
    AuditArgs,
    CheapestArgs,
    NoArgs,
    PricesArgs,
    SettingsSetArgs,
    check_period,
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
        """A refusal is invalid_argument, "invalid arguments", the reason per field."""
        with pytest.raises(CommandError) as caught:
            parse_arguments(AuditArgs, {"limit": MAX_AUDIT + 1})
        assert ("invalid_argument", "invalid arguments", ["limit"]) == (
            caught.value.code,
            caught.value.message,
            list(caught.value.details),
        )

    def test_unknown_keys_refused(self) -> None:
        """Every model refuses keys it does not have."""
        with pytest.raises(CommandError) as caught:
            parse_arguments(NoArgs, {"surprise": 1})
        assert {"surprise": "Extra inputs are not permitted"} == caught.value.details

    def test_code_of_the_surface(self) -> None:
        """A surface may give its own code (HTTP bodies: invalid_payload)."""
        with pytest.raises(CommandError) as caught:
            parse_arguments(AuditArgs, {"limit": "x"}, "invalid_payload")
        assert "invalid_payload" == caught.value.code
