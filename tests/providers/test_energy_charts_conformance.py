"""The kit's conformance suite, run for the Energy-Charts plugin on its recorded answers.

Another plugin runs the same suite by adding a :class:`Conformance` case to ``CASES``
(its recorded responses, a config, a window, where it differs from the error table).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from energyd.exceptions import ProviderNotPublishedError
from energyd.providers.kit.testing import ERROR_CASES, Conformance, Recorded
from tests.support.fake_energy_charts import FIXTURES
from tests.support.plugins import load_bundled_plugin

PRICE = re.compile(re.escape("https://api.energy-charts.info/price") + r"(\?.*)?$")


def energy_charts() -> Conformance:
    """Energy-Charts on 10-11 Dec 2024 (DE-LU); a 404 there means "not published yet"."""
    plugin = load_bundled_plugin("energy_charts_provider.py")
    return Conformance(
        provider=plugin.EnergyChartsProvider,
        region="DE-LU",
        config={"region": "DE-LU"},
        window=(datetime(2024, 12, 10, 6, tzinfo=UTC), datetime(2024, 12, 11, 18, tzinfo=UTC)),
        recorded=[Recorded.file(PRICE, FIXTURES / "price_DE-LU_2024-12-10_11_hourly.json")],
        endpoint=PRICE,
        bad_configs=[{}, {"region": "XX"}, {"region": "DE-LU", "base_url": "file:///etc"}],
        error_config={"region": "DE-LU", "retry_attempts": 1},
        expect={"404": ProviderNotPublishedError},
    )


CASES = {"energy_charts": energy_charts}
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
        """Recorded answers give aware, ascending, whole-minute slots inside the window."""
        slots = await case.check_fetch()
        assert case.window == (slots[0].valid_from, slots[-1].valid_to)

    @pytest.mark.parametrize("error", list(ERROR_CASES))
    async def test_error(self, case: Conformance, error: str) -> None:
        """Each failing answer maps onto energyd's error tree."""
        if error in case.skip:
            pytest.skip(f"{error} does not apply")
        await case.check_error(error)
