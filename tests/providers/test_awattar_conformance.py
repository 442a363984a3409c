"""The kit's conformance suite, run for the aWATTar plugin on its recorded answers (DE and AT).

aWATTar answers "not yet" with fewer rows (HTTP 200), never with a status, so every entry of
the kit's error table applies as it is: a 404 is a wrong URL (ProviderNotFoundError), not
"not published yet".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from energyd.providers.kit.testing import ERROR_CASES, Conformance, Recorded
from tests.support.fake_awattar import FIXTURES
from tests.support.plugins import load_bundled_plugin


def endpoint(country: str) -> re.Pattern[str]:
    host = re.escape(f"https://api.awattar.{country}/v1/marketdata")
    return re.compile(host + r"(\?.*)?$")


def awattar(country: str, fixture: str, window: tuple[datetime, datetime]) -> Conformance:
    plugin = load_bundled_plugin("awattar_provider.py")
    region = country.upper()
    return Conformance(
        provider=plugin.AwattarProvider,
        region=region,
        config={"region": region},
        window=window,
        recorded=[Recorded.file(endpoint(country), FIXTURES / f"{fixture}.json")],
        endpoint=endpoint(country),
        bad_configs=[
            {},
            {"region": "FR"},
            {"region": region, "base_url": "file:///etc"},
            {"region": region, "token": "x"},
        ],
        error_config={"region": region, "retry_attempts": 1},
    )


def awattar_de() -> Conformance:
    """DE on 26 Oct 2023, the recorded answer before publication (09:00Z to 22:00Z)."""
    return awattar(
        "de",
        "marketdata_DE_before-publication_2023-10-26T09Z-22Z",
        (datetime(2023, 10, 26, 9, tzinfo=UTC), datetime(2023, 10, 26, 22, tzinfo=UTC)),
    )


def awattar_at() -> Conformance:
    """AT, the recorded default window 23 Sep 2021 13:00Z to 24 Sep 13:00Z."""
    return awattar(
        "at",
        "marketdata_AT_default-window_2021-09-23T13Z_24h",
        (datetime(2021, 9, 23, 13, tzinfo=UTC), datetime(2021, 9, 24, 13, tzinfo=UTC)),
    )


CASES = {"awattar_de": awattar_de, "awattar_at": awattar_at}


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
        """Recorded answers give aware, ascending, whole-minute slots covering the window."""
        slots = await case.check_fetch()
        assert case.window == (slots[0].valid_from, slots[-1].valid_to)

    @pytest.mark.parametrize("error", list(ERROR_CASES))
    async def test_error(self, case: Conformance, error: str) -> None:
        """Each failing answer maps onto energyd's error tree."""
        await case.check_error(error)
