"""The kit's conformance suite, run for the generic HTTP / JSON plugin configured for four real
APIs on their recorded answers: EnergyZero (an object with ``Prices[]``), easyEnergy (a bare
list), Energy-Charts (parallel arrays through ``zip``, whose 404 means "not yet") and smard.de
in two steps (an index, then two files; the built smard-style series cut in two)."""

from __future__ import annotations

import json
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


SMARD = "https://www.smard.de/app/chart_data/4169/DE-LU"


def smard() -> Conformance:
    """smard.de DE-LU hourly, 10 and 11 Dec 2024: the index lists three files, the last two
    (10 Dec; 11 Dec and 24 null hours) are read; every request fails alike in the errors."""
    plugin = load_bundled_plugin("http_json_provider.py")
    path = FIXTURES / "smard_style_4169_DE-LU_hour_built.json"
    series = json.loads(path.read_text(encoding="utf-8"))["series"]
    first, second = series[:24], series[24:]
    week = 7 * 24 * 3600 * 1000
    index = {"timestamps": [first[0][0] - week, first[0][0], second[0][0]]}
    config = {
        "region": "DE-LU",
        "index_url": f"{SMARD}/index_hour.json",
        "index_items": "timestamps[-2:]",
        "url": f"{SMARD}/4169_DE-LU_hour_{{index}}.json",
        "items": "series",
        "start": "[0]",
        "value": "[1]",
        "time_format": "epoch_ms",
        "unit": "per_mwh",
        "timezone": "Europe/Berlin",
        "cache_seconds": 0,
        "request_spacing_seconds": 0,
    }

    def answer(name: str, body: object) -> Recorded:
        return Recorded(re.compile(re.escape(f"{SMARD}/{name}") + "$"), json.dumps(body))

    return Conformance(
        provider=plugin.HttpJsonProvider,
        region="DE-LU",
        config=config,
        window=(datetime(2024, 12, 9, 23, tzinfo=UTC), datetime(2024, 12, 11, 23, tzinfo=UTC)),
        recorded=[
            answer("index_hour.json", index),
            *(
                answer(f"4169_DE-LU_hour_{part[0][0]}.json", {"series": part})
                for part in (first, second)
            ),
        ],
        endpoint=re.compile(re.escape(SMARD) + r"/.*"),
        bad_configs=[
            {**config, "url": f"{SMARD}/latest.json"},
            {k: v for k, v in config.items() if k not in ("index_url", "index_items")},
            {**config, "index_url": "file:///etc/passwd"},
            {**config, "index_items": "timestamps[-2:"},
        ],
        error_config={**config, **ONE_TRY},
    )


CASES = {
    "energyzero": energyzero,
    "easyenergy": easyenergy,
    "energy_charts": energy_charts,
    "smard": smard,
}


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
