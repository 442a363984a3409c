"""The command argument models: what a request may say before any handler runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from energyd.mqtt.handlers import CheapestArgs, PricesArgs


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
