"""The kit's Pacer: request spacing, a short answer cache, one request for many askers, and
retries that keep to the spacing (HTTP at the transport with aioresponses)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aioresponses import aioresponses

from energyd.exceptions import (
    ProviderDataError,
    ProviderNotPublishedError,
    ProviderRateLimitError,
    ProviderServerError,
    RequestSpacingError,
)
from energyd.providers.kit.http import HttpApi, HttpResponse
from energyd.providers.kit.pacing import Pacer
from energyd.providers.kit.retry import Retrier, RetryPolicy, is_transient

API = "https://api.example.test"
PRICES = re.compile(re.escape(API + "/prices") + r"(\?.*)?$")


class Clock:
    """A monotonic clock that moves only when told (or slept on)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def session(http_mock: aioresponses) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as live:
        yield live


def api(session: aiohttp.ClientSession, pacer: Pacer, budget: float = 60.0) -> HttpApi:
    policy = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01, budget_seconds=budget)
    return HttpApi(session, base_url=API, retrier=Retrier(policy, name="t"), pacer=pacer)


def calls(mock: aioresponses) -> int:
    return sum(len(found) for found in mock.requests.values())


class TestSpacing:
    async def test_a_short_wait_is_slept(self, clock: Clock) -> None:
        pacer = Pacer(spacing=2.0, clock=clock, sleep=clock.sleep)
        await pacer.turn()
        clock.now += 0.5
        await pacer.turn()
        assert [1.5] == clock.slept

    async def test_a_long_wait_fails_fast_with_retry_after(self, clock: Clock) -> None:
        pacer = Pacer(spacing=60.0, clock=clock, sleep=clock.sleep, name="eds")
        await pacer.turn()
        clock.now += 15
        with pytest.raises(RequestSpacingError, match="one request every 60 s") as caught:
            await pacer.turn()
        assert (45.0, []) == (caught.value.retry_after, clock.slept)
        assert isinstance(caught.value, ProviderRateLimitError)
        assert not is_transient(caught.value)  # no retry sleeps on it: the scheduler waits
        clock.now += 45
        await pacer.turn()  # the minute is over

    async def test_no_spacing_no_waiting(self, clock: Clock) -> None:
        pacer = Pacer(clock=clock, sleep=clock.sleep)
        for _ in range(5):
            await pacer.turn()
        assert [] == clock.slept


class TestSharing:
    async def test_the_same_get_within_the_cache_time_is_one_request(
        self, session: aiohttp.ClientSession, http_mock: aioresponses, clock: Clock
    ) -> None:
        http_mock.get(PRICES, payload={"p": 1}, repeat=True)
        pacer = Pacer(cache_seconds=60, clock=clock, sleep=clock.sleep)
        first = await api(session, pacer).get_json("/prices", params={"day": "1"})
        again = await api(session, pacer).get_json("/prices", params={"day": "1"})
        other = await api(session, pacer).get_json("/prices", params={"day": "2"})
        assert ({"p": 1}, {"p": 1}, {"p": 1}, 2) == (first, again, other, calls(http_mock))
        clock.now += 61
        await api(session, pacer).get_json("/prices", params={"day": "1"})
        assert 3 == calls(http_mock)

    async def test_askers_in_flight_share_one_request(
        self, session: aiohttp.ClientSession, http_mock: aioresponses, clock: Clock
    ) -> None:
        """Two feeds asking at the same moment (DK1 and DK2 of one answer) make one request,
        even with a spacing that would refuse the second."""
        http_mock.get(PRICES, payload={"p": 1}, repeat=True)
        pacer = Pacer(spacing=60, cache_seconds=60, clock=clock, sleep=clock.sleep)
        both = await asyncio.gather(
            api(session, pacer).get_json("/prices"), api(session, pacer).get_json("/prices")
        )
        assert ([{"p": 1}, {"p": 1}], 1) == (list(both), calls(http_mock))

    async def test_a_failure_is_not_kept(
        self, session: aiohttp.ClientSession, http_mock: aioresponses, clock: Clock
    ) -> None:
        http_mock.get(PRICES, status=404)
        http_mock.get(PRICES, payload={"p": 2})
        pacer = Pacer(cache_seconds=60, clock=clock, sleep=clock.sleep)
        with pytest.raises(ProviderNotPublishedError):
            await api(session, pacer).get_json("/prices", empty_statuses=(404,))
        assert {"p": 2} == await api(session, pacer).get_json("/prices")

    @pytest.mark.parametrize(
        ("body", "read"),
        [(b"<html>busy</html>", "json"), (b"{not json", "json"), (b"<unclosed", "xml")],
    )
    async def test_a_garbage_answer_is_not_kept(
        self,
        session: aiohttp.ClientSession,
        http_mock: aioresponses,
        clock: Clock,
        body: bytes,
        read: str,
    ) -> None:
        """A 200 whose body does not decode failed: the next call asks the source again."""
        http_mock.get(PRICES, body=body)
        http_mock.get(PRICES, body=b'{"p": 4}' if read == "json" else b"<ok/>")
        pacer = Pacer(cache_seconds=60, clock=clock, sleep=clock.sleep)
        get = "get_json" if read == "json" else "get_xml"
        with pytest.raises(ProviderDataError):
            await getattr(api(session, pacer), get)("/prices")
        answer = await getattr(api(session, pacer), get)("/prices")
        assert ({"p": 4} if read == "json" else "ok") == (answer if read == "json" else answer.tag)
        assert 2 == calls(http_mock)

    async def test_cache_if_keeps_what_it_allows_only(
        self, session: aiohttp.ClientSession, http_mock: aioresponses, clock: Clock
    ) -> None:
        http_mock.get(PRICES, payload={"entries": []})
        http_mock.get(PRICES, payload={"entries": [1]}, repeat=True)
        pacer = Pacer(cache_seconds=60, clock=clock, sleep=clock.sleep)

        def has_entries(resp: HttpResponse) -> bool:
            return bool(resp.json(dict)["entries"])

        for expected in ([], [1], [1]):
            body = await api(session, pacer).get_json("/prices", cache_if=has_entries)
            assert expected == body["entries"]
        assert 2 == calls(http_mock)


class TestAnswersKeptPerRequest:
    """A request may keep its answer longer than the plugin's cache (a products list for a
    day) and may refuse a kept answer older than it can use (a rollover check)."""

    async def test_kept_for_its_own_lifetime(
        self, session: aiohttp.ClientSession, http_mock: aioresponses, clock: Clock
    ) -> None:
        """``cache_seconds=`` on a plugin without a cache: reused for that long, then asked."""
        http_mock.get(PRICES, payload={"p": 1}, repeat=True)
        pacer = Pacer(clock=clock, sleep=clock.sleep)
        for _ in range(3):
            await api(session, pacer).get_json("/prices", cache_seconds=86400)
            clock.now += 3600
        assert 1 == calls(http_mock)
        clock.now += 86400
        await api(session, pacer).get_json("/prices", cache_seconds=86400)
        assert 2 == calls(http_mock)

    async def test_other_requests_keep_the_plugins_default(
        self, session: aiohttp.ClientSession, http_mock: aioresponses, clock: Clock
    ) -> None:
        """A long-lived answer does not make the plugin's other answers live longer."""
        http_mock.get(PRICES, payload={"p": 1}, repeat=True)
        pacer = Pacer(cache_seconds=30, clock=clock, sleep=clock.sleep)
        await api(session, pacer).get_json("/prices", params={"list": "1"}, cache_seconds=600)
        await api(session, pacer).get_json("/prices", params={"day": "1"})
        clock.now += 31
        await api(session, pacer).get_json("/prices", params={"list": "1"}, cache_seconds=600)
        await api(session, pacer).get_json("/prices", params={"day": "1"})
        assert 3 == calls(http_mock)

    async def test_zero_keeps_nothing(
        self, session: aiohttp.ClientSession, http_mock: aioresponses, clock: Clock
    ) -> None:
        http_mock.get(PRICES, payload={"p": 1}, repeat=True)
        pacer = Pacer(cache_seconds=60, clock=clock, sleep=clock.sleep)
        await api(session, pacer).get_json("/prices", cache_seconds=0)
        await api(session, pacer).get_json("/prices", cache_seconds=0)
        assert 2 == calls(http_mock)

    async def test_max_age_refuses_an_older_answer_and_renews_it(
        self, session: aiohttp.ClientSession, http_mock: aioresponses, clock: Clock
    ) -> None:
        """A check wanting an answer at most 300 s old asks again; the fresh answer then
        serves the others too."""
        http_mock.get(PRICES, payload={"p": 1}, repeat=True)
        pacer = Pacer(clock=clock, sleep=clock.sleep)
        await api(session, pacer).get_json("/prices", cache_seconds=86400)
        clock.now += 200
        await api(session, pacer).get_json("/prices", cache_seconds=86400, max_age=300)
        assert 1 == calls(http_mock)  # young enough
        clock.now += 200
        await api(session, pacer).get_json("/prices", cache_seconds=86400, max_age=300)
        assert 2 == calls(http_mock)  # 400 s old: asked again
        await api(session, pacer).get_json("/prices", cache_seconds=86400)
        assert 2 == calls(http_mock)

    async def test_pages_are_kept_alike(
        self, session: aiohttp.ClientSession, http_mock: aioresponses, clock: Clock
    ) -> None:
        """``paginate(cache_seconds=)``: every page of a list reused, none asked twice."""
        listing = re.compile(re.escape(API + "/list") + r"(\?.*)?$")
        http_mock.get(listing, payload={"results": [1], "next": f"{API}/list?page=2"})
        http_mock.get(listing, payload={"results": [2], "next": None})
        pacer = Pacer(clock=clock, sleep=clock.sleep)
        first = await api(session, pacer).paginate("/list", cache_seconds=600)
        again = await api(session, pacer).paginate("/list", cache_seconds=600)
        assert ([1, 2], [1, 2], 2) == (first, again, calls(http_mock))

    async def test_askers_in_flight_share_one_long_lived_request(
        self, session: aiohttp.ClientSession, http_mock: aioresponses, clock: Clock
    ) -> None:
        """Four feeds discovering at once: one request, every one of them answered."""
        http_mock.get(PRICES, payload={"p": 1}, repeat=True)
        pacer = Pacer(clock=clock, sleep=clock.sleep)
        answers = await asyncio.gather(
            *(api(session, pacer).get_json("/prices", cache_seconds=86400) for _ in range(4))
        )
        assert ([{"p": 1}] * 4, 1) == (list(answers), calls(http_mock))


class TestRetries:
    async def test_a_retry_the_spacing_would_refuse_gives_the_real_error(
        self, session: aiohttp.ClientSession, http_mock: aioresponses, clock: Clock
    ) -> None:
        """A 503 with one request a minute allowed: no second request, no sleeping out the
        minute; the 503 is what the caller hears."""
        http_mock.get(PRICES, status=503, repeat=True)
        pacer = Pacer(spacing=60, clock=clock, sleep=clock.sleep)
        with pytest.raises(ProviderServerError) as caught:
            await api(session, pacer, budget=30).get_json("/prices")
        assert (503, 1, []) == (caught.value.status, calls(http_mock), clock.slept)

    async def test_a_short_spacing_lets_retries_through(
        self, session: aiohttp.ClientSession, http_mock: aioresponses, clock: Clock
    ) -> None:
        http_mock.get(PRICES, status=503)
        http_mock.get(PRICES, payload={"p": 3})
        pacer = Pacer(spacing=1.0, clock=clock, sleep=clock.sleep)
        assert {"p": 3} == await api(session, pacer).get_json("/prices")
        assert 2 == calls(http_mock)
        assert 1 == len(clock.slept)  # the pacer's own short wait
        assert 0.9 < clock.slept[0] <= 1.0
