"""The kit's conformance suite, run for the Octopus Agile plugin on its recorded answers.

The fetch resolves the recorded AGILE-FLEX-22-11-25 product detail to region J's tariff and
reads its recorded unit-rate page (whose absolute ``next`` link is followed to an empty last
page). The error cases answer on the unit-rate endpoint, reached directly by a tariff code.
"""

from __future__ import annotations

import json
import re

import pytest

from energyd.exceptions import ProviderServerError
from energyd.providers.kit.testing import ERROR_CASES, Conformance, Recorded
from tests.support.octopus_data import API, FIXTURES, page, rates_url, utc
from tests.support.plugins import octopus_agile

FLEX = "AGILE-FLEX-22-11-25"
TARIFF = f"E-1R-{FLEX}-J"
RATES = rates_url(API, FLEX, TARIFF)
RATES_ANY_QUERY = re.compile(re.escape(RATES) + r"(\?.*)?$")


def octopus() -> Conformance:
    """Octopus region J on 7 May 2024, 19:30-22:00 UTC (the recorded unit-rate page)."""
    return Conformance(
        provider=octopus_agile().OctopusAgileProvider,
        region="J",
        config={"region": "J", "product_code": FLEX},
        window=(utc(2024, 5, 7, 19, 30), utc(2024, 5, 7, 22)),
        recorded=[
            Recorded.file(f"{API}/v1/products/{FLEX}/", FIXTURES / f"product_detail_{FLEX}.json"),
            Recorded(f"{RATES}?page=2", json.dumps(page([]))),
            Recorded.file(
                RATES_ANY_QUERY, FIXTURES / f"standard_unit_rates_{TARIFF}_page1_truncated.json"
            ),
        ],
        endpoint=RATES_ANY_QUERY,
        bad_configs=[
            {},
            {"region": "I"},
            {"region": "J", "tariff_code": "E-1R-AGILE-24-10-01-C"},
            {"region": "J", "base_url": "file:///etc"},
            {"region": "J", "retry_attempts": 0},
        ],
        error_config={"region": "J", "tariff_code": TARIFF, "retry_attempts": 1},
        # Octopus has no credentials: a refused request is trouble on its side (403: the CDN).
        expect={"401": ProviderServerError, "403": ProviderServerError},
    )


class TestConformance:
    def test_metadata(self) -> None:
        """Metadata: id pattern, ISO currency, a real timezone, positive slot length."""
        octopus().check_metadata()

    def test_config(self) -> None:
        """validate_config: {} for the good config, {field: reason} for each bad one."""
        octopus().check_config()

    async def test_fetch(self) -> None:
        """The recorded answers give the window's five half-hours, aware and ascending."""
        case = octopus()

        slots = await case.check_fetch()

        assert case.window == (slots[0].valid_from, slots[-1].valid_to)
        assert 5 == len(slots)

    @pytest.mark.parametrize("error", list(ERROR_CASES))
    async def test_error(self, error: str) -> None:
        """Each failing answer maps onto energyd's error tree (Octopus's 401/403: server)."""
        await octopus().check_error(error)
