"""The kit's conformance suite, run for the generic HTTP / JSON plugin configured for three real
APIs on their recorded answers: EnergyZero (an object with ``Prices[]``), easyEnergy (a bare
list) and Energy-Charts (parallel arrays through ``zip``, whose 404 means "not yet")."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from energyd.exceptions import ProviderNotPublishedError
from energyd.providers.kit.testing import ERROR_CASES, Conformance, Recorded
from tests.support.plugins import load_bundled_plugin

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "http_json"
ONE_TRY = {"retry_attempts": 1}


def endpoint(url: str) -> re.Pattern[str]:
    return re.compile(re.escape(url) + r"(\?.*)?$")


def case(
    url: str,
    fixture: str,
    config: dict[str, Any],
    window: tuple[datetime, datetime],
    expect: dict[str, Any] | None = None,
) -> Conformance:
    plugin = load_bundled_plugin("http_json_provider.py")
    full = {"region": "X", "url": url, "cache_seconds": 0, **config}
    return Conformance(
        provider=plugin.HttpJsonProvider,
        region="X",
        config=full,
        window=window,
        recorded=[Recorded.file(endpoint(url), FIXTURES / fixture)],
        endpoint=endpoint(url),
        bad_configs=[
            {},
            {**full, "url": "file:///etc/passwd"},
            {**full, "items": "Prices["},
            {**full, "unit": "cents"},
            {**full, "headers": {"Authorization": "Bearer written-out"}},
            {**full, "token": "x"},
        ],
        error_config={**full, **ONE_TRY},
        expect=expect or {},
    )


def energyzero() -> Conformance:
    """EnergyZero, the recorded Amsterdam day 7 Dec 2022 (23:00Z to 23:00Z)."""
    return case(
        "https://api.energyzero.nl/v1/energyprices",
        "energyzero_today_energy.json",
        {
            "query": {"fromDate": "{start}", "tillDate": "{end}", "interval": "4"},
            "items": "Prices",
            "start": "readingDate",
            "value": "price",
            "unit": "per_kwh",
            "timezone": "Europe/Amsterdam",
        },
        (datetime(2022, 12, 6, 23, tzinfo=UTC), datetime(2022, 12, 7, 23, tzinfo=UTC)),
    )


def easyenergy() -> Conformance:
    """easyEnergy, the recorded Amsterdam day 20 Jan 2023."""
    return case(
        "https://mijn.easyenergy.com/nl/api/tariff/getapxtariffs",
        "easyenergy_today_energy.json",
        {
            "query": {"startTimestamp": "{start}", "endTimestamp": "{end}"},
            "start": "Timestamp",
            "value": "TariffUsage",
            "unit": "per_kwh",
            "timezone": "Europe/Amsterdam",
        },
        (datetime(2023, 1, 19, 23, tzinfo=UTC), datetime(2023, 1, 20, 23, tzinfo=UTC)),
    )


def energy_charts() -> Conformance:
    """Energy-Charts DE-LU, the recorded 10 and 11 Dec 2024; its 404 is "not published"."""
    return case(
        "https://api.energy-charts.info/price",
        "price_DE-LU_2024-12-10_11_hourly.json",
        {
            "query": {"bzn": "DE-LU", "start": "{start_local}", "end": "{end_local}"},
            "items": "zip(unix_seconds, price)",
            "start": "[0]",
            "value": "[1]",
            "time_format": "epoch_s",
            "unit": "per_mwh",
            "timezone": "Europe/Berlin",
            "not_published_statuses": [404],
        },
        (datetime(2024, 12, 9, 23, tzinfo=UTC), datetime(2024, 12, 11, 23, tzinfo=UTC)),
        expect={"404": ProviderNotPublishedError},
    )


CASES = {"energyzero": energyzero, "easyenergy": easyenergy, "energy_charts": energy_charts}


@pytest.fixture(params=list(CASES))
def conformance(request: pytest.FixtureRequest) -> Conformance:
    return CASES[request.param]()


class TestConformance:
    def test_metadata(self, conformance: Conformance) -> None:
        """Metadata: id pattern, ISO currency, a real timezone, positive slot length."""
        conformance.check_metadata()

    def test_config(self, conformance: Conformance) -> None:
        """validate_config: {} for the good config, {field: reason} for each bad one."""
        conformance.check_config()

    async def test_fetch(self, conformance: Conformance) -> None:
        """Recorded answers give aware, ascending, whole-minute slots covering the window."""
        slots = await conformance.check_fetch()
        assert conformance.window == (slots[0].valid_from, slots[-1].valid_to)

    @pytest.mark.parametrize("error", list(ERROR_CASES))
    async def test_error(self, conformance: Conformance, error: str) -> None:
        """Each failing answer maps onto energyd's error tree."""
        await conformance.check_error(error)
