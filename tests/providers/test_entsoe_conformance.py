"""The kit's conformance suite, run for the ENTSO-E plugin on its recorded answers.

Two cases: DE-LU 2-3 Feb 2026 (two auctions, 15 minutes) and BE 6-8 Oct 2024 (A03 compressed
quarter hours, then an hourly day). ENTSO-E answers every error case as the kit's table
says (a 404 was its outage answer after the 2026-09 migration: not found, not "not yet").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from energyd.providers.kit.testing import ERROR_CASES, Conformance, Recorded
from tests.support.fake_entsoe import FIXTURES
from tests.support.plugins import load_bundled_plugin

ENDPOINT = re.compile(re.escape("https://web-api.tp.entsoe.eu/api") + r"(\?.*)?$")
TOKEN = "5e1f0c2a-77d4-4c1b-9a3e-0d6b8f2c4e19"


def _case(region: str, fixture: str, window: tuple[datetime, datetime]) -> Conformance:
    plugin = load_bundled_plugin("entsoe_provider.py")
    config = {"region": region, "security_token": TOKEN}
    return Conformance(
        provider=plugin.EntsoeProvider,
        region=region,
        config=config,
        window=window,
        recorded=[Recorded.file(ENDPOINT, FIXTURES / fixture, content_type="text/xml")],
        endpoint=ENDPOINT,
        bad_configs=[
            {},
            {"region": region},
            {"region": "XX", "security_token": TOKEN},
            {**config, "base_url": "file:///etc"},
            {**config, "security_token": "two words"},
        ],
        error_config={**config, "retry_attempts": 1},
    )


def de_lu() -> Conformance:
    """DE-LU, SDAC and EXAA for 2 and 3 Feb 2026."""
    window = (datetime(2026, 2, 2, 6, tzinfo=UTC), datetime(2026, 2, 3, 18, tzinfo=UTC))
    return _case("DE-LU", "A44_DE-LU_PT15M_seq1-seq2_2026-02-02_03.xml", window)


def belgium() -> Conformance:
    """BE, two compressed quarter-hour days and an hourly one, 6-8 Oct 2024."""
    window = (datetime(2024, 10, 6, 1, tzinfo=UTC), datetime(2024, 10, 8, 20, tzinfo=UTC))
    return _case("BE", "A44_BE_PT15M-A03-compressed_then_PT60M_2024-10-06_08.xml", window)


CASES: dict[str, Callable[[], Conformance]] = {"entsoe_de_lu": de_lu, "entsoe_be": belgium}


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
        """Recorded answers give aware, ascending, whole-minute slots inside the window."""
        slots = await case.check_fetch()
        assert case.window == (slots[0].valid_from, slots[-1].valid_to)

    @pytest.mark.parametrize("error", list(ERROR_CASES))
    async def test_error(self, case: Conformance, error: str) -> None:
        """Each failing answer maps onto energyd's error tree."""
        if error in case.skip:
            pytest.skip(f"{error} does not apply")
        await case.check_error(error)
