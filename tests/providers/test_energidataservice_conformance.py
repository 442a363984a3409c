"""The kit's conformance suite, run for the Energi Data Service plugin on its recorded answer.

The recorded DayAheadPrices answer holds one DK2 record (2025-09-27T21:00 UTC, an hourly
slot then); the suite's error table applies unchanged: the API has no "not yet" status
(fewer records instead), so its 404 is "not found" as everywhere.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from energyd.providers.kit.testing import ERROR_CASES, Conformance, Recorded
from tests.support.fake_energidataservice import FIXTURES
from tests.support.plugins import load_bundled_plugin

DATASET = re.compile(
    re.escape("https://api.energidataservice.dk/dataset/DayAheadPrices") + r"(\?.*)?$"
)


def energidataservice() -> Conformance:
    """DK2 on 2025-09-27 21:00-22:00 UTC from the recorded single-record answer."""
    plugin = load_bundled_plugin("energidataservice_provider.py")
    return Conformance(
        provider=plugin.EnergiDataServiceProvider,
        region="DK2",
        config={"region": "DK2"},
        window=(datetime(2025, 9, 27, 21, tzinfo=UTC), datetime(2025, 9, 27, 22, tzinfo=UTC)),
        recorded=[
            Recorded.file(DATASET, FIXTURES / "DayAheadPrices_DK2_single-record_2025-09-27.json")
        ],
        endpoint=DATASET,
        bad_configs=[
            {},
            {"region": "DK3"},
            {"region": "DK1", "currency": "SEK"},
            {"region": "DK1", "base_url": "file:///etc"},
            {"region": "DK1", "token": "x"},
        ],
        error_config={"region": "DK2", "retry_attempts": 1},
    )


CASES = {"energidataservice": energidataservice}
NAMES = list(CASES)


@pytest.fixture(params=NAMES)
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
        """The recorded answer gives the one hourly DK2 slot, exactly the window."""
        slots = await case.check_fetch()
        assert case.window == (slots[0].valid_from, slots[-1].valid_to)
        assert [74.095126] == [slot.price_pence for slot in slots]

    @pytest.mark.parametrize("error", list(ERROR_CASES))
    async def test_error(self, case: Conformance, error: str) -> None:
        """Each failing answer maps onto energyd's error tree."""
        if error in case.skip:
            pytest.skip(f"{error} does not apply")
        await case.check_error(error)
