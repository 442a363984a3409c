"""The kit's conformance suite, run for the Tibber plugin on its recorded quarter-hourly answer.

Tibber is one GraphQL endpoint asked with POST; the kit's error cases are registered for GET,
so :class:`PostConformance` registers every canned answer for POST. Every entry of the kit's
error table applies as it is (a 404 is a wrong URL, a 401 / 403 a refused token; Tibber's own
"not yet" is ``tomorrow: []``, never a status).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from energyd.providers.contract import EnergyPriceSlot
from energyd.providers.kit.testing import ERROR_CASES, Conformance, Recorded
from tests.support.fake_tibber import FIXTURES, QUARTER_HOURLY_FIXTURE
from tests.support.plugins import load_bundled_plugin

ENDPOINT = re.compile(re.escape("https://api.tibber.com/v1-beta/gql") + "$")
CONFIG = {"region": "DE", "token": "a-personal-token"}
#: The recorded local days 19 and 20 Sep 2025 (+02:00).
WINDOW = (datetime(2025, 9, 18, 22, tzinfo=UTC), datetime(2025, 9, 20, 22, tzinfo=UTC))


@dataclasses.dataclass(frozen=True)
class PostConformance(Conformance):
    """The kit's suite with every canned answer registered for POST."""

    async def _fetch(
        self, responses: Sequence[Recorded], config: Mapping[str, Any]
    ) -> list[EnergyPriceSlot]:
        posts = [dataclasses.replace(response, method="POST") for response in responses]
        return await super()._fetch(posts, config)


def tibber() -> Conformance:
    plugin = load_bundled_plugin("tibber_provider.py")
    return PostConformance(
        provider=plugin.TibberProvider,
        region="DE",
        config=CONFIG,
        window=WINDOW,
        recorded=[Recorded.file(ENDPOINT, FIXTURES / f"{QUARTER_HOURLY_FIXTURE}.json")],
        endpoint=ENDPOINT,
        bad_configs=[
            {},
            {"region": "DE"},
            {"region": "AT", "token": "t"},
            {"region": "DE", "token": "t", "base_url": "file:///etc"},
            {"region": "DE", "token": "t", "resolution": "daily"},
            {"region": "DE", "token": "t", "security_token": "x"},
        ],
        error_config={**CONFIG, "retry_attempts": 1},
    )


CASE = tibber()


class TestConformance:
    def test_metadata(self) -> None:
        """Metadata: id pattern, ISO currency, a real timezone, positive slot length."""
        CASE.check_metadata()

    def test_config(self) -> None:
        """validate_config: {} for the good config, {field: reason} for each bad one."""
        CASE.check_config()

    async def test_fetch(self) -> None:
        """The recorded answer gives aware, ascending quarter hours covering both days."""
        slots = await CASE.check_fetch()
        assert (WINDOW, 192) == ((slots[0].valid_from, slots[-1].valid_to), len(slots))

    @pytest.mark.parametrize("error", list(ERROR_CASES))
    async def test_error(self, error: str) -> None:
        """Each failing answer maps onto energyd's error tree."""
        await CASE.check_error(error)
