"""The kit's conformance suite, run for the fixed / time-of-use plugin.

The plugin has no API: there is no recorded answer to replay and no failing answer to map, so
the suite's HTTP error cases do not apply (all skipped). Its fetch runs under the suite's
transport mock with nothing registered, so any request would fail the check.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from energyd.providers.kit.testing import ERROR_CASES, Conformance
from tests.support.plugins import load_bundled_plugin

#: Where a request would go, if the plugin made one (it must not).
NOWHERE = re.compile(r"^https?://.*$")


def fixed(config: dict[str, object], window: tuple[datetime, datetime]) -> Conformance:
    plugin = load_bundled_plugin("fixed_provider.py")
    return Conformance(
        provider=plugin.FixedProvider,
        region="home",
        config=config,
        window=window,
        recorded=[],
        endpoint=NOWHERE,
        bad_configs=[
            {},
            {**config, "timezone": "Mars/Olympus"},
            {**config, "slot_minutes": 45},
            {**config, "zones": [{"price": 1, "from": "00:10"}]},
            {**config, "token": "x"},
        ],
        skip=list(ERROR_CASES),
    )


def economy_7() -> Conformance:
    """An Economy 7-like tariff, the UK autumn clock-change day (50 half-hours)."""
    return fixed(
        {
            "region": "home",
            "price": 24.5,
            "currency": "EUR",  # the metadata's currency: the suite checks slots against it
            "timezone": "Europe/London",
            "zones": [{"name": "night", "price": 9.0, "from": "00:30", "to": "07:30"}],
        },
        (datetime(2026, 10, 24, 23, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC)),
    )


def flat_quarter_hours() -> Conformance:
    """A flat tariff in 15-minute slots, Berlin's spring clock-change day."""
    return fixed(
        {"region": "home", "price": 32.1, "timezone": "Europe/Berlin", "slot_minutes": 15},
        (datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 22, tzinfo=UTC)),
    )


CASES = {"economy_7": economy_7, "flat_quarter_hours": flat_quarter_hours}


@pytest.fixture(params=list(CASES))
def case(request: pytest.FixtureRequest) -> Conformance:
    return CASES[request.param]()


class TestConformance:
    def test_metadata(self, case: Conformance) -> None:
        """Metadata: id pattern, ISO currency, a real timezone, positive slot length."""
        case.check_metadata()

    def test_config(self, case: Conformance) -> None:
        """validate_config: {} for the good config, {field: reason} for each bad one."""
        case.check_config()

    async def test_fetch(self, case: Conformance) -> None:
        """Generated slots are aware, ascending, whole-minute and cover the window exactly."""
        slots = await case.check_fetch()
        assert case.window == (slots[0].valid_from, slots[-1].valid_to)

    def test_no_error_cases(self, case: Conformance) -> None:
        """No API, so no HTTP error case applies."""
        assert [] == case.error_cases()
