"""The Amber Electric plugin: recorded answers parsed exactly, feed-in as earnings, forecasts
marked, its requests (window, sites, rate limit), and the loopback stand-in."""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import aiohttp
import pytest
import structlog
from aioresponses import aioresponses
from yarl import URL

from energyd.exceptions import (
    ProviderAuthError,
    ProviderConfigError,
    ProviderDataError,
    ProviderNotFoundError,
    ProviderNotPublishedError,
    ProviderRateLimitError,
    RequestSpacingError,
)
from energyd.providers.base import EnergyPriceSlot
from energyd.providers.validation import validate_slots
from tests.support import fake_amber
from tests.support.fake_amber import FIXTURE_5MIN, FIXTURE_30MIN, load_fixture
from tests.support.plugins import load_bundled_plugin

API = "https://api.amber.com.au"
SITE = "01ABCDEFGHJKMNPQRSTVWXYZ01"
PRICES = re.compile(re.escape(f"{API}/v1/sites/{SITE}/prices/current") + r"(\?.*)?$")
SITES = f"{API}/v1/sites"
TOKEN = "psk_secret_0123456789abcdef"
CONFIG: dict[str, Any] = {
    "region": "SA",
    "token": TOKEN,
    "site_id": SITE,
    "retry_attempts": 1,
}
#: The 5-minute recording was made during 2025-04-09T17:20Z-17:25Z (its current interval).
NOW_5 = datetime(2025, 4, 9, 17, 22, 30, tzinfo=UTC)
#: The 30-minute one during 2025-04-09T17:00Z-17:30Z.
NOW_30 = datetime(2025, 4, 9, 17, 10, tzinfo=UTC)
MIN5 = timedelta(minutes=5)


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 4, day, hour, minute, tzinfo=UTC)


class Clock:
    """Monotonic seconds for the plugin's pacer; its sleeps move it instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)


@pytest.fixture(scope="module")
def plugin() -> ModuleType:
    return load_bundled_plugin("amber_provider.py")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


@pytest.fixture
def make(
    plugin: ModuleType, clock: Clock, session: aiohttp.ClientSession
) -> Callable[[datetime], Any]:
    """A provider attached to ``session``, on ``clock``, whose wall clock says ``now``."""

    def build(now: datetime) -> Any:
        provider = plugin.AmberProvider()
        provider.now = lambda: now
        provider.pacer.clock = clock
        provider.pacer.sleep = clock.sleep
        provider.attach(session, timeout=5)
        return provider

    return build


def body(name: str) -> bytes:
    return (fake_amber.FIXTURES / f"{name}.json").read_bytes()


def answer(
    mock: aioresponses,
    payload: bytes | list[Any] | dict[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> None:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    mock.get(
        PRICES, body=raw, status=status, headers=headers or {}, content_type="application/json"
    )


def rows(name: str, channel: str) -> list[dict[str, Any]]:
    return [row for row in load_fixture(name) if row["channelType"] == channel]


def asked(mock: aioresponses) -> list[URL]:
    return [url for (_, url), calls in mock.requests.items() for _ in calls]


async def fetch(
    provider: Any, start: datetime, end: datetime, /, **config: Any
) -> list[EnergyPriceSlot]:
    return list(await provider.fetch_prices("SA", start, end, {**CONFIG, **config}))


# -- recorded answers -------------------------------------------------------------------------


class TestRecorded:
    async def test_general_five_minute_prices(self, make: Any, http_mock: aioresponses) -> None:
        """The 5-minute recording: 13 general slots, times on the minute, Amber's prices."""
        answer(http_mock, body(FIXTURE_5MIN))
        slots = await fetch(make(NOW_5), utc(9, 16, 50), utc(9, 17, 55))
        expected = [
            (utc(9, 16, 50), 24.19947, False),
            (utc(9, 16, 55), 23.22912, False),
            (utc(9, 17, 0), 24.81558, False),
            (utc(9, 17, 5), 23.87658, False),
            (utc(9, 17, 10), 23.10363, False),
            (utc(9, 17, 15), 23.127, False),
            (utc(9, 17, 20), 23.22571, False),  # the current interval, estimate: false
            (utc(9, 17, 25), 22.59563, True),  # forecasts: advancedPrice.predicted
            (utc(9, 17, 30), 22.55365, True),
            (utc(9, 17, 35), 22.48517, True),
            (utc(9, 17, 40), 22.3016, True),
            (utc(9, 17, 45), 22.37225, True),
            (utc(9, 17, 50), 22.50966, True),
        ]
        assert expected == [(s.valid_from, s.price_pence, s.estimate) for s in slots]
        assert all(s.valid_to - s.valid_from == MIN5 for s in slots)
        assert {"AUD"} == {s.currency for s in slots}

    @pytest.mark.parametrize(("name", "now"), [(FIXTURE_5MIN, NOW_5), (FIXTURE_30MIN, NOW_30)])
    async def test_intervals_meet(
        self, make: Any, http_mock: aioresponses, name: str, now: datetime
    ) -> None:
        """HH:MM:01 starts become HH:MM:00: each slot starts where the one before ends."""
        answer(http_mock, body(name))
        slots = await fetch(make(now), utc(8, 0), utc(11, 0), resolution=30 if "30" in name else 5)
        assert all(a.valid_to == b.valid_from for a, b in itertools.pairwise(slots))
        assert all(s.valid_from.second == 0 == s.valid_to.second for s in slots)
        validate_slots(slots, utc(8, 0), utc(11, 0), currency="AUD")

    async def test_forecast_band(self, make: Any, http_mock: aioresponses) -> None:
        """A forecast carries Amber's low / high band; final prices carry none."""
        answer(http_mock, body(FIXTURE_5MIN))
        slots = await fetch(make(NOW_5), utc(9, 17, 15), utc(9, 17, 30))
        assert [(False, None, None), (False, None, None), (True, 21.76897, 23.43691)] == [
            (s.estimate, s.estimate_low_pence, s.estimate_high_pence) for s in slots
        ]

    async def test_feed_in_is_what_the_user_earns(self, make: Any, http_mock: aioresponses) -> None:
        """feedIn: Amber's negative perKwh (the user is paid) is published as a positive
        earning, forecasts as -predicted with the band negated and in order."""
        answer(http_mock, body(FIXTURE_5MIN))
        slots = await fetch(make(NOW_5), utc(9, 16, 50), utc(9, 17, 55), channel="feedIn")
        recorded = rows(FIXTURE_5MIN, "feedIn")
        assert 13 == len(slots) == len(recorded)
        for slot, row in zip(slots, recorded, strict=True):
            if row["type"] == "ForecastInterval":
                band = row["advancedPrice"]
                assert (True, -band["predicted"]) == (slot.estimate, slot.price_pence)
                assert (-band["low"], -band["high"]) == (
                    slot.estimate_low_pence,
                    slot.estimate_high_pence,
                )
            else:
                assert (False, -row["perKwh"]) == (slot.estimate, slot.price_pence)
        assert all(slot.price_pence > 0 for slot in slots)  # paid for exporting: positive
        assert 9.98931 == slots[0].price_pence
        validate_slots(slots, utc(9, 16, 50), utc(9, 17, 55), currency="AUD")

    async def test_feed_in_that_costs_is_negative(self, make: Any, http_mock: aioresponses) -> None:
        """The 30-minute forecast of 2025-04-10T02:00Z pays to export (predicted +2.09 c):
        published as a negative earning, band low <= high."""
        answer(http_mock, body(FIXTURE_30MIN))
        slots = await fetch(
            make(NOW_30), utc(10, 2), utc(10, 2, 30), channel="feedIn", resolution=30
        )
        (slot,) = slots
        assert (True, -2.09087, -5.07216, 1.48042) == (
            slot.estimate,
            slot.price_pence,
            slot.estimate_low_pence,
            slot.estimate_high_pence,
        )

    async def test_estimated_current_interval(self, make: Any, http_mock: aioresponses) -> None:
        """The 30-minute recording's current interval says estimate: true: a marked estimate
        with its band; the actual intervals before it are final."""
        answer(http_mock, body(FIXTURE_30MIN))
        slots = await fetch(make(NOW_30), utc(9, 16, 30), utc(9, 18), resolution=30)
        assert [
            (utc(9, 16, 30), 23.03034, False, None, None),
            (utc(9, 17), 23.45736, True, 23.31958, 23.59756),
            (utc(9, 17, 30), 22.41988, True, 21.42402, 23.60099),
        ] == [
            (
                s.valid_from,
                s.price_pence,
                s.estimate,
                s.estimate_low_pence,
                s.estimate_high_pence,
            )
            for s in slots
        ]

    async def test_thirty_minute_counts(self, make: Any, http_mock: aioresponses) -> None:
        """Every channel of the 30-minute recording: 48 final, 1 + 48 estimates, 30 min each."""
        for channel in ("general", "controlledLoad", "feedIn"):
            answer(http_mock, body(FIXTURE_30MIN))
            slots = await fetch(make(NOW_30), utc(8, 0), utc(11, 0), resolution=30, channel=channel)
            assert (97, 48) == (len(slots), sum(not s.estimate for s in slots)), channel
            assert {timedelta(minutes=30)} == {s.duration for s in slots}

    async def test_channel_order_does_not_matter(self, make: Any, http_mock: aioresponses) -> None:
        """Rows picked by channelType: a reversed answer gives the same slots."""
        answer(http_mock, body(FIXTURE_5MIN))
        answer(http_mock, list(reversed(load_fixture(FIXTURE_5MIN))))
        window = (utc(9, 16, 50), utc(9, 17, 55))
        first = await fetch(make(NOW_5), *window, channel="controlledLoad")
        second = await fetch(make(NOW_5), *window, channel="controlledLoad")
        assert first == second
        assert 13 == len(first)

    async def test_forecast_without_advanced_price(
        self, make: Any, http_mock: aioresponses
    ) -> None:
        """A forecast without advancedPrice: perKwh, still an estimate, no band; with only a
        ``range``, that is the band."""
        recorded = load_fixture(FIXTURE_5MIN)
        forecasts = [r for r in recorded if r["type"] == "ForecastInterval"]
        del forecasts[0]["advancedPrice"]
        del forecasts[1]["advancedPrice"]
        forecasts[1]["range"] = {"min": 20.0, "max": 30.0}
        answer(http_mock, recorded)
        slots = await fetch(make(NOW_5), utc(9, 17, 25), utc(9, 17, 35))
        assert [(23.63095, True, None, None), (23.63095, True, 20.0, 30.0)] == [
            (s.price_pence, s.estimate, s.estimate_low_pence, s.estimate_high_pence) for s in slots
        ]


# -- what is refused --------------------------------------------------------------------------


def _edited(edit: Callable[[list[Any]], object]) -> list[Any]:
    recorded: list[Any] = copy.deepcopy(load_fixture(FIXTURE_5MIN))
    edit(recorded)
    return recorded


GARBAGE: dict[str, bytes | list[Any]] = {
    "truncated": fake_amber.GARBAGE,
    "an object": b'{"message": "maintenance"}',
    "a row that is no object": _edited(lambda r: r.append("interval")),
    "an unknown type": _edited(lambda r: r[3].update(type="PastInterval")),
    "a start off the minute": _edited(lambda r: r[2].update(startTime="2025-04-09T17:00:30Z")),
    "a start without offset": _edited(lambda r: r[2].update(startTime="2025-04-09T17:00:01")),
    "an end off the minute": _edited(lambda r: r[2].update(endTime="2025-04-09T17:05:01Z")),
    "a price that is text": _edited(lambda r: r[5].update(perKwh="23.1")),
    "a price that is null": _edited(lambda r: r[5].update(perKwh=None)),
    "a wrong duration": _edited(lambda r: r[4].update(duration=30)),
    "estimate not a flag": _edited(lambda r: r[6].update(estimate="no")),
    "a band that is no object": _edited(lambda r: r[8].update(advancedPrice=[1, 2, 3])),
    "no channelType": _edited(lambda r: r[1].pop("channelType")),
    "two rows of one interval": _edited(lambda r: r.insert(1, copy.deepcopy(r[0]))),
    # a broken row of another channel refuses the whole answer too
    "a broken feedIn row": _edited(lambda r: r[-1].update(perKwh="x")),
}


class TestRefused:
    @pytest.mark.parametrize("case", list(GARBAGE))
    async def test_garbage_refuses_the_whole_answer(
        self, make: Any, http_mock: aioresponses, case: str
    ) -> None:
        """A malformed answer is ProviderDataError, never half a result."""
        answer(http_mock, GARBAGE[case])
        with pytest.raises(ProviderDataError):
            await fetch(make(NOW_5), utc(9, 16, 50), utc(9, 17, 55))

    async def test_empty_answer_is_not_published(self, make: Any, http_mock: aioresponses) -> None:
        """No interval at all: "not published yet", asked again within a few minutes."""
        answer(http_mock, [])
        with pytest.raises(ProviderNotPublishedError) as caught:
            await fetch(make(NOW_5), utc(9, 16, 50), utc(9, 17, 55))
        assert caught.value.retry_at is not None
        assert caught.value.retry_at - NOW_5 < timedelta(minutes=5)

    async def test_site_without_the_channel(self, make: Any, http_mock: aioresponses) -> None:
        """feedIn asked of a site whose answer has no feedIn rows: a config error naming
        the channels it has."""
        answer(http_mock, [r for r in load_fixture(FIXTURE_5MIN) if r["channelType"] != "feedIn"])
        with pytest.raises(ProviderConfigError, match="controlledLoad, general") as caught:
            await fetch(make(NOW_5), utc(9, 16, 50), utc(9, 17, 55), channel="feedIn")
        assert "channel" in caught.value.errors

    async def test_bad_token(self, make: Any, http_mock: aioresponses) -> None:
        """401: ProviderAuthError; the token is in no message and no log event."""
        answer(http_mock, {"message": "Unauthorized"}, status=401)
        with structlog.testing.capture_logs() as logs, pytest.raises(ProviderAuthError) as caught:
            await fetch(make(NOW_5), utc(9, 16, 50), utc(9, 17, 55))
        assert TOKEN not in str(caught.value)
        assert TOKEN not in repr(logs)
        (url,) = asked(http_mock)
        assert TOKEN not in str(url)

    async def test_unknown_site(self, make: Any, http_mock: aioresponses) -> None:
        """404 for the site: ProviderNotFoundError."""
        answer(http_mock, {"message": "Site not found"}, status=404)
        with pytest.raises(ProviderNotFoundError):
            await fetch(make(NOW_5), utc(9, 16, 50), utc(9, 17, 55))


# -- the request ------------------------------------------------------------------------------


class TestRequest:
    async def test_window_becomes_previous_and_next(
        self, make: Any, http_mock: aioresponses
    ) -> None:
        """previous / next count the intervals from the window's start to the current one and
        from it to the window's end; the token goes in the Authorization header only."""
        answer(http_mock, body(FIXTURE_5MIN))
        await fetch(make(NOW_5), utc(9, 16, 50), utc(9, 17, 55))
        ((key, calls),) = http_mock.requests.items()
        assert {"previous": "6", "next": "6", "resolution": "5"} == dict(key[1].query)
        assert f"Bearer {TOKEN}" == calls[0].kwargs["headers"]["Authorization"]

    async def test_window_is_clipped(self, make: Any, http_mock: aioresponses) -> None:
        """At most 48 h back and forecast_hours ahead (default 24 h: 48 intervals after the
        current one begun 10 minutes ago)."""
        answer(http_mock, body(FIXTURE_30MIN))
        await fetch(make(NOW_30), utc(1, 0), utc(20, 0), resolution=30)
        answer(http_mock, body(FIXTURE_30MIN))
        await fetch(make(NOW_30), utc(1, 0), utc(20, 0), resolution=30, forecast_hours=3)
        queries = [dict(url.query) for url in asked(http_mock)]
        assert [("96", "48"), ("96", "6")] == [(q["previous"], q["next"]) for q in queries]

    async def test_history_is_not_asked_again(
        self, make: Any, clock: Clock, http_mock: aioresponses
    ) -> None:
        """Once a feed has its final prices, the next fetch (within the hour) asks back only
        to where they ended; an hour later the whole window again."""
        provider = make(NOW_5)
        for _ in range(3):
            answer(http_mock, body(FIXTURE_5MIN))
        previous: list[str] = []
        for skip in (0, 60, 3600):  # past the answer cache, then past the hour
            clock.now += skip
            known = set(http_mock.requests)
            await fetch(provider, utc(9, 12), utc(9, 18))
            new = set(http_mock.requests) - known
            previous.append(dict(new.pop()[1].query)["previous"] if new else "again")
        # 12:00 -> 17:20 is 64 intervals; the finals end at 17:25, one interval of slack
        assert ["64", "0", "again"] == previous
        assert 3 == len(asked(http_mock))

    async def test_current_price_asks_for_one_interval(
        self, make: Any, http_mock: aioresponses
    ) -> None:
        """get_current_price (and so the health check) asks previous=0&next=0."""
        answer(http_mock, body(FIXTURE_5MIN))
        slot = await make(NOW_5).get_current_price("SA", CONFIG, now=NOW_5)
        assert (utc(9, 17, 20), 23.22571) == (slot.valid_from, slot.price_pence)
        (url,) = asked(http_mock)
        assert ("0", "0") == (url.query["previous"], url.query["next"])

    async def test_two_channels_share_one_answer(self, make: Any, http_mock: aioresponses) -> None:
        """general and feedIn feeds of one site asking together: one request."""
        provider = make(NOW_5)
        answer(http_mock, body(FIXTURE_5MIN))
        general = await fetch(provider, utc(9, 16, 50), utc(9, 17, 55))
        feed_in = await fetch(provider, utc(9, 16, 50), utc(9, 17, 55), channel="feedIn")
        assert (13, 13, 1) == (len(general), len(feed_in), len(asked(http_mock)))


# -- sites ------------------------------------------------------------------------------------


def sites_answer(mock: aioresponses, *sites: dict[str, Any]) -> None:
    mock.get(SITES, payload=list(sites), headers={"RateLimit-Remaining": "40"})


class TestSites:
    async def test_one_site_is_used(self, make: Any, http_mock: aioresponses) -> None:
        """Without site_id the token's one site is found (and the list kept for an hour)."""
        provider = make(NOW_5)
        sites_answer(http_mock, fake_amber.site(SITE))
        answer(http_mock, body(FIXTURE_5MIN))
        answer(http_mock, body(FIXTURE_5MIN))
        config = {k: v for k, v in CONFIG.items() if k != "site_id"}
        slots = await provider.fetch_prices("SA", utc(9, 17), utc(9, 17, 30), config)
        provider.pacer.clock.now += 60
        await provider.fetch_prices("SA", utc(9, 17), utc(9, 17, 30), config)
        assert 6 == len(slots)
        assert ["/v1/sites", *[f"/v1/sites/{SITE}/prices/current"] * 2] == [
            url.path for url in asked(http_mock)
        ]
        assert SITE in provider.source_notes("SA", config)["site"]

    async def test_one_active_site_among_closed(self, make: Any, http_mock: aioresponses) -> None:
        """A closed old site and the active one: the active one."""
        sites_answer(
            http_mock,
            fake_amber.site("01OLDSITE00000000000000000", "2001999999", "closed"),
            fake_amber.site(SITE),
        )
        answer(http_mock, body(FIXTURE_5MIN))
        config = {k: v for k, v in CONFIG.items() if k != "site_id"}
        assert await make(NOW_5).fetch_prices("SA", utc(9, 17), utc(9, 17, 30), config)

    async def test_several_sites_need_a_site_id(self, make: Any, http_mock: aioresponses) -> None:
        """Two active sites and no site_id: a config error listing both ids and NMIs."""
        sites_answer(
            http_mock,
            fake_amber.site("01FIRSTSITE000000000000000", "2001000001"),
            fake_amber.site("01SECONDSITE00000000000000", "2001000002"),
        )
        config = {k: v for k, v in CONFIG.items() if k != "site_id"}
        with pytest.raises(ProviderConfigError) as caught:
            await make(NOW_5).fetch_prices("SA", utc(9, 17), utc(9, 17, 30), config)
        message = str(caught.value)
        for shown in ("01FIRSTSITE", "2001000001", "01SECONDSITE", "2001000002"):
            assert shown in message
        assert "site_id" in caught.value.errors

    async def test_site_id_skips_the_list(self, make: Any, http_mock: aioresponses) -> None:
        """With site_id no /v1/sites request is made."""
        answer(http_mock, body(FIXTURE_5MIN))
        await fetch(make(NOW_5), utc(9, 17), utc(9, 17, 30))
        assert [f"/v1/sites/{SITE}/prices/current"] == [url.path for url in asked(http_mock)]


# -- the rate limit ---------------------------------------------------------------------------


class TestRateLimit:
    async def test_exhausted_window_sends_nothing(
        self, make: Any, clock: Clock, http_mock: aioresponses
    ) -> None:
        """Remaining 0 with Reset 120: the next fetch is refused before any request, with
        retry_after the rest of the window; after it, requests go out again."""
        provider = make(NOW_5)
        quota = {"RateLimit-Limit": "50", "RateLimit-Remaining": "0", "RateLimit-Reset": "120"}
        answer(http_mock, body(FIXTURE_5MIN), headers=quota)
        answer(http_mock, body(FIXTURE_5MIN), headers={**quota, "RateLimit-Remaining": "49"})
        await fetch(provider, utc(9, 17), utc(9, 17, 30))
        clock.now += 30
        with pytest.raises(RequestSpacingError) as caught:
            await fetch(provider, utc(9, 17), utc(9, 17, 30))
        assert 90 == caught.value.retry_after
        assert 1 == len(asked(http_mock))
        clock.now += 91
        await fetch(provider, utc(9, 17), utc(9, 17, 30))
        assert 2 == len(asked(http_mock))
        notes = provider.source_notes("SA", CONFIG)
        assert "49 of 50 requests left" == notes["rate_limit"]

    async def test_short_reset_is_waited(
        self, make: Any, clock: Clock, http_mock: aioresponses
    ) -> None:
        """Remaining 0 with Reset 3 (within the pacer's 5 s): slept out, then sent."""
        provider = make(NOW_5)
        answer(
            http_mock,
            body(FIXTURE_5MIN),
            headers={"RateLimit-Remaining": "0", "RateLimit-Reset": "3"},
        )
        answer(http_mock, body(FIXTURE_5MIN))
        await fetch(provider, utc(9, 17), utc(9, 17, 30))
        await fetch(provider, utc(9, 17), utc(9, 17, 35))  # another window: not the cache
        assert 2 == len(asked(http_mock))
        assert [3.0] == [round(s, 3) for s in clock.slept if s > 2.5]

    async def test_429_uses_rate_limit_reset(self, make: Any, http_mock: aioresponses) -> None:
        """429 without Retry-After: retry_after from RateLimit-Reset, one request, no retry
        within the fetch."""
        answer(
            http_mock,
            {"message": "Too Many Requests"},
            status=429,
            headers={"RateLimit-Remaining": "0", "RateLimit-Reset": "42"},
        )
        with pytest.raises(ProviderRateLimitError) as caught:
            await fetch(make(NOW_5), utc(9, 17), utc(9, 17, 30), retry_attempts=4)
        assert 42 == caught.value.retry_after
        assert 1 == len(asked(http_mock))


# -- config -----------------------------------------------------------------------------------


class TestConfig:
    @pytest.mark.parametrize(
        ("config", "field"),
        [
            ({"region": "SA"}, "token"),
            ({"region": "WA", "token": TOKEN}, "region"),
            ({"region": "SA", "token": TOKEN, "channel": "export"}, "channel"),
            ({"region": "SA", "token": TOKEN, "resolution": 15}, "resolution"),
            ({"region": "SA", "token": TOKEN, "forecast_hours": 100}, "forecast_hours"),
            ({"region": "SA", "token": TOKEN, "site_id": "my site"}, "site_id"),
            ({"region": "SA", "token": TOKEN, "base_url": "ftp://x"}, "base_url"),
        ],
    )
    def test_refused(self, plugin: ModuleType, config: dict[str, Any], field: str) -> None:
        """Each bad value is reported under its key."""
        assert field in plugin.AmberProvider().validate_config(config)

    def test_normalised(self, plugin: ModuleType) -> None:
        """Channel names in any case, ACT and NEM region names become canonical."""
        provider = plugin.AmberProvider()
        config = {"region": "act", "token": TOKEN, "channel": "FEEDIN"}
        assert {} == provider.validate_config(config)
        assert {"region": "NSW", "token": TOKEN, "channel": "feedIn"} == (
            provider.normalise_config(config)
        )
        assert "SA" == provider.normalise_config({"region": "sa1", "token": TOKEN})["region"]
        assert (
            "controlledLoad"
            == provider.normalise_config(
                {"region": "SA", "token": TOKEN, "channel": "controlled_load"}
            )["channel"]
        )

    def test_identity_names_the_prices_not_the_token(self, plugin: ModuleType) -> None:
        """Channel, site and resolution are in the identity; the token is not."""
        provider = plugin.AmberProvider()
        identity = provider.source_identity("SA", {**CONFIG, "channel": "feedIn"})
        assert TOKEN not in identity
        assert "channel=feedIn" in identity
        assert SITE in identity
        assert identity != provider.source_identity("SA", CONFIG)

    def test_metadata_follows_resolution(self, plugin: ModuleType) -> None:
        """slot_minutes 5 by default, 30 with resolution = 30; NEM time; rolling."""
        provider = plugin.AmberProvider()
        five = provider.metadata_for("SA", CONFIG)
        thirty = provider.metadata_for("SA", {**CONFIG, "resolution": 30})
        assert (5, 30) == (five.slot_minutes, thirty.slot_minutes)
        assert ("Australia/Brisbane", None, "AUD") == (
            five.market_timezone,
            five.publish_time_local,
            five.currency,
        )
        assert provider.get_metadata().config_schema["properties"]["token"]["writeOnly"]


# -- the stand-in -----------------------------------------------------------------------------


class TestStandIn:
    async def test_counts_down_then_refuses(
        self, make: Any, clock: Clock, session: aiohttp.ClientSession
    ) -> None:
        """The stand-in's RateLimit headers count down; the plugin sends nothing once they
        reach 0, and the stand-in's window reset lets it go on."""
        fake_clock = Clock()
        async with fake_amber.serve(fake_amber.make_app(clock=fake_clock)) as fake:
            fake.state.limit = 3
            now = datetime.now(UTC)
            provider = make(now)
            config = {"base_url": fake.url, "token": fake_amber.TOKEN, "site_id": None}
            window = (now - timedelta(minutes=30), now + timedelta(minutes=30))
            slots = await fetch(provider, *window, **config)
            assert any(s.contains(now) and not s.estimate for s in slots)
            clock.now += 60
            await fetch(provider, *window, **config)  # the stand-in's last request
            clock.now += 60
            with pytest.raises(RequestSpacingError) as caught:
                await fetch(provider, *window, **config)
            assert 3 == len(fake.state.requests)  # /v1/sites + two price answers
            assert caught.value.retry_after is not None
            assert 0 < caught.value.retry_after <= 300
            fake_clock.now += 300
            clock.now += 300
            assert await fetch(provider, *window, **config)

    async def test_shifted_to_now(self, make: Any, session: aiohttp.ClientSession) -> None:
        """The current interval is now, forecasts after it are estimates, the shuffled order
        changes nothing; 30-minute answers come from the 30-minute recording."""
        async with fake_amber.serve() as fake:
            fake.state.shuffle = True
            now = datetime.now(UTC)
            provider = make(now)
            config = {
                "base_url": fake.url,
                "token": fake_amber.TOKEN,
                "site_id": fake_amber.SITE_ID,
            }
            window = (now - timedelta(hours=2), now + timedelta(hours=2))
            slots = await fetch(provider, *window, resolution=30, **config)
            (current,) = [s for s in slots if s.contains(now)]
            assert current.estimate  # the 30-minute recording's current is an estimate
            assert all(s.estimate for s in slots if s.valid_from > now)
            assert all(not s.estimate for s in slots if s.valid_to <= now)
            assert {timedelta(minutes=30)} == {s.duration for s in slots}
            validate_slots(slots, *window, currency="AUD")

    async def test_bad_token_is_401(self, make: Any, session: aiohttp.ClientSession) -> None:
        """A token the stand-in does not know: ProviderAuthError."""
        async with fake_amber.serve() as fake:
            config = {"base_url": fake.url, "token": "psk_wrong", "site_id": fake_amber.SITE_ID}
            with pytest.raises(ProviderAuthError):
                await fetch(make(datetime.now(UTC)), utc(9, 17), utc(9, 18), **config)
