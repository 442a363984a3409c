"""The kit's conformance suite, run for the Amber plugin on its recorded answers (5- and
30-minute, general and feedIn).

Amber answers "no such site" with 404 and a bad token with 401, so every entry of the kit's
error table applies as it is; a 429 is never retried within the fetch (its Retry-After, or
RateLimit-Reset, goes to the scheduler)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from energyd.providers.kit.testing import ERROR_CASES, Conformance, Recorded
from tests.support.fake_amber import FIXTURE_5MIN, FIXTURE_30MIN, FIXTURES
from tests.support.plugins import load_bundled_plugin

SITE = "01ABCDEFGHJKMNPQRSTVWXYZ01"
ENDPOINT = re.compile(
    re.escape(f"https://api.amber.com.au/v1/sites/{SITE}/prices/current") + r"(\?.*)?$"
)


def amber(
    fixture: str, now: datetime, window: tuple[datetime, datetime], **extra: Any
) -> Conformance:
    plugin = load_bundled_plugin("amber_provider.py")

    def at_recording() -> Any:
        provider = plugin.AmberProvider()
        provider.now = lambda: now  # the recording's "now": its current interval
        return provider

    config = {"region": "SA", "token": "psk_conformance", "site_id": SITE, **extra}
    return Conformance(
        provider=at_recording,
        region="SA",
        config=config,
        window=window,
        recorded=[Recorded.file(ENDPOINT, FIXTURES / f"{fixture}.json")],
        endpoint=ENDPOINT,
        bad_configs=[
            {},
            {"region": "SA"},
            {"region": "WA", "token": "psk_x"},
            {"region": "SA", "token": "psk_x", "channel": "solar"},
            {"region": "SA", "token": "psk_x", "resolution": 10},
            {"region": "SA", "token": "psk_x", "base_url": "file:///etc"},
            {"region": "SA", "token": "psk_x", "tariff_code": "A100"},
        ],
        error_config={**config, "retry_attempts": 1},
    )


def five_minute_general() -> Conformance:
    """The 5-minute recording: 2025-04-09T16:50Z to 17:55Z."""
    return amber(
        FIXTURE_5MIN,
        datetime(2025, 4, 9, 17, 22, tzinfo=UTC),
        (datetime(2025, 4, 9, 16, 50, tzinfo=UTC), datetime(2025, 4, 9, 17, 55, tzinfo=UTC)),
    )


def thirty_minute_feed_in() -> Conformance:
    """The 30-minute recording's feedIn channel: 2025-04-08T17:00Z to 2025-04-10T17:30Z."""
    return amber(
        FIXTURE_30MIN,
        datetime(2025, 4, 9, 17, 10, tzinfo=UTC),
        (datetime(2025, 4, 8, 17, tzinfo=UTC), datetime(2025, 4, 10, 17, 30, tzinfo=UTC)),
        channel="feedIn",
        resolution=30,
        forecast_hours=48,
    )


CASES = {"five_minute_general": five_minute_general, "thirty_minute_feed_in": thirty_minute_feed_in}


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
        assert any(slot.estimate for slot in slots)
        assert any(not slot.estimate for slot in slots)

    @pytest.mark.parametrize("error", list(ERROR_CASES))
    async def test_error(self, case: Conformance, error: str) -> None:
        """Each failing answer maps onto energyd's error tree."""
        await case.check_error(error)
