"""The kit's conformance suite, run for the Nord Pool plugin on its recorded answers.

Two cases: ``DayAheadPrices`` (resolution 15, the default) fetched from the recorded SE3 EUR
day, and ``DayAheadPriceIndices`` (resolution 60) for metadata, config and the error table
only (its recorded answers are in SEK, the suite checks slots in the metadata's EUR; the
parser tests in test_nordpool.py cover them).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from energyd.providers.base import local_day_window
from energyd.providers.kit.testing import ERROR_CASES, Conformance, Recorded
from tests.support.fake_nordpool import FIXTURES
from tests.support.plugins import load_bundled_plugin

API = "https://dataportal-api.nordpoolgroup.com/api"
PRICES = re.compile(re.escape(API + "/DayAheadPrices") + r"(\?.*)?$")
INDICES = re.compile(re.escape(API + "/DayAheadPriceIndices") + r"(\?.*)?$")
BAD_CONFIGS: list[dict[str, Any]] = [
    {},
    {"region": "SE5"},
    {"region": "SE3", "currency": "GBP"},
    {"region": "SE3", "resolution": 30},
    {"region": "SE3", "base_url": "file:///etc"},
]


def day_ahead_prices() -> Conformance:
    """SE3 on 5 Nov 2024 in EUR (24 hourly entries), the whole CET day."""
    plugin = load_bundled_plugin("nordpool_provider.py")
    return Conformance(
        provider=plugin.NordPoolProvider,
        region="SE3",
        config={"region": "SE3"},
        window=local_day_window(date(2024, 11, 5), "Europe/Berlin"),
        recorded=[Recorded.file(PRICES, FIXTURES / "DayAheadPrices_SE3_EUR_2024-11-05.json")],
        endpoint=PRICES,
        bad_configs=BAD_CONFIGS,
        error_config={"region": "SE3", "retry_attempts": 1},
    )


def hourly_index() -> Conformance:
    """The hourly index endpoint (resolution 60): the same error table applies."""
    plugin = load_bundled_plugin("nordpool_provider.py")
    return Conformance(
        provider=plugin.NordPoolProvider,
        region="SE3",
        config={"region": "SE3", "resolution": 60},
        window=local_day_window(date(2025, 10, 1), "Europe/Berlin"),
        recorded=[],
        endpoint=INDICES,
        bad_configs=BAD_CONFIGS,
        error_config={"region": "SE3", "resolution": 60, "retry_attempts": 1},
    )


CASES = {"nordpool": day_ahead_prices, "nordpool_index60": hourly_index}
FETCHED = ["nordpool"]


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

    @pytest.mark.parametrize("name", FETCHED)
    async def test_fetch(self, name: str) -> None:
        """Recorded answers give aware, ascending, whole-minute slots covering the CET day."""
        case = CASES[name]()
        slots = await case.check_fetch()
        assert case.window == (slots[0].valid_from, slots[-1].valid_to)
        assert 24 == len(slots)

    @pytest.mark.parametrize("error", list(ERROR_CASES))
    async def test_error(self, case: Conformance, error: str) -> None:
        """Each failing answer maps onto energyd's error tree."""
        if error in case.skip:
            pytest.skip(f"{error} does not apply")
        await case.check_error(error)
