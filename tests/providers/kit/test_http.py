"""The kit's HTTP path: status -> error mapping, strict bodies, pagination, scrubbed logs.

HTTP is mocked at the transport (aioresponses); nothing of ours is mocked.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
import structlog
from aioresponses import aioresponses
from yarl import URL

from energyd.exceptions import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderDataError,
    ProviderEmptyError,
    ProviderError,
    ProviderFetchError,
    ProviderNotFoundError,
    ProviderNotPublishedError,
    ProviderRateLimitError,
    ProviderServerError,
)
from energyd.providers.kit.http import (
    HttpApi,
    error_for_status,
    parse_retry_after,
    parse_xml,
    rebase_url,
    retry_after_from_headers,
    scrub_url,
)
from energyd.providers.kit.retry import Retrier, RetryPolicy

BASE = "https://api.example.test"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
UTF16_DOCTYPE = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY a "b">]><d>&a;</d>'


@pytest.fixture
async def session(http_mock: aioresponses) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def api(session: aiohttp.ClientSession) -> HttpApi:
    return HttpApi(session, base_url=BASE + "/", timeout=5.0, name="test")


def any_query(path: str) -> re.Pattern[str]:
    return re.compile(re.escape(BASE + path) + r"(\?.*)?$")


class TestStatusMapping:
    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            (401, ProviderAuthError),
            (403, ProviderAuthError),
            (404, ProviderNotFoundError),
            (400, ProviderFetchError),
            (422, ProviderFetchError),
            (500, ProviderServerError),
            (503, ProviderServerError),
            (304, ProviderServerError),
            (429, ProviderRateLimitError),
        ],
    )
    def test_each_status_maps_onto_the_tree(
        self, status: int, expected: type[ProviderError]
    ) -> None:
        """Every failing status becomes exactly one kind of error, carrying the status."""
        error = error_for_status(status, {}, "GET /x")
        assert expected is type(error)
        assert status == getattr(error, "status", None)

    @pytest.mark.parametrize("status", [200, 201, 204])
    def test_success_is_no_error(self, status: int) -> None:
        """2xx answers raise nothing."""
        assert error_for_status(status, {}, "GET /x") is None

    @pytest.mark.parametrize("status", [404, 204])
    def test_not_yet_statuses_are_empty_answers(self, status: int) -> None:
        """Per call, a status can mean "not published yet"."""
        error = error_for_status(status, {}, "GET /price", empty_statuses=(404, 204))
        assert isinstance(error, ProviderNotPublishedError)  # a ProviderEmptyError too
        assert isinstance(error, ProviderEmptyError)
        assert f"GET /price: HTTP {status}: not published yet" == str(error)

    async def test_an_accepted_status_gives_its_body(
        self, api: HttpApi, http_mock: aioresponses
    ) -> None:
        """A market that explains a refusal in the body (ENTSO-E's 400 acknowledgement)
        gets the response instead of an error; other failures still raise."""
        http_mock.get(BASE + "/doc", status=400, body=b"<Acknowledgement/>")
        http_mock.get(BASE + "/doc", status=500)
        resp = await api.get("/doc", accept_statuses=(400,))
        assert (400, b"<Acknowledgement/>") == (resp.status, resp.body)
        with pytest.raises(ProviderServerError):
            await api.get("/doc", accept_statuses=(400,))

    def test_429_carries_retry_after(self) -> None:
        """The Retry-After seconds travel with the error."""
        error = error_for_status(429, {"Retry-After": "120"}, "GET /x")
        assert isinstance(error, ProviderRateLimitError)
        assert 120 == error.retry_after
        assert "GET /x: HTTP 429 too many requests, retry after 120 s" == str(error)

    @pytest.mark.parametrize("status", [400, 401, 403, 418])
    def test_server_statuses_are_server_errors(self, status: int) -> None:
        """A market's own "busy" statuses become ProviderServerError, carrying the status."""
        error = error_for_status(status, {}, "GET /x", server_statuses=(400, 401, 403, 418))
        assert (ProviderServerError, status) == (type(error), getattr(error, "status", None))
        assert f"GET /x: HTTP {status} (counted as a server error)" == str(error)

    def test_success_and_empty_statuses_win_over_server_statuses(self) -> None:
        """A 2xx is no error and an empty status stays "not published yet"."""
        options: dict[str, Any] = {"empty_statuses": (404,), "server_statuses": (200, 404)}
        assert error_for_status(200, {}, "GET /x", **options) is None
        assert isinstance(error_for_status(404, {}, "GET /x", **options), ProviderEmptyError)


class TestRetryAfter:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("120", 120.0),
            (" 0 ", 0.0),
            ("1.5", 1.5),
            ("-3", None),
            ("nan", None),
            ("inf", None),
            ("soon", None),
            ("", None),
            (None, None),
        ],
    )
    def test_delta_seconds(self, value: str | None, expected: float | None) -> None:
        """Non-negative numbers are seconds; anything else is unknown."""
        assert expected == parse_retry_after(value, NOW)

    def test_http_dates_count_from_now(self) -> None:
        """An HTTP-date in 90 s means 90 s."""
        value = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
        assert 90.0 == parse_retry_after(value, NOW)

    def test_past_http_dates_mean_now(self) -> None:
        """A date already past means no wait."""
        assert 0.0 == parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", NOW)

    def test_ratelimit_reset_is_a_fallback(self) -> None:
        """Without Retry-After, RateLimit-Reset (delta seconds) is honoured."""
        assert 30.0 == retry_after_from_headers({"RateLimit-Reset": "30"}, NOW)

    def test_x_ratelimit_reset_may_be_an_epoch(self) -> None:
        """A large X-RateLimit-Reset is an epoch timestamp, counted from now."""
        reset = str(int(NOW.timestamp()) + 45)
        assert 45.0 == retry_after_from_headers({"X-RateLimit-Reset": reset}, NOW)

    def test_retry_after_wins(self) -> None:
        """Retry-After is read before the RateLimit headers."""
        headers = {"Retry-After": "5", "RateLimit-Reset": "30"}
        assert 5.0 == retry_after_from_headers(headers, NOW)


class TestJson:
    async def test_a_json_object_is_returned(self, api: HttpApi, http_mock: aioresponses) -> None:
        """get_json decodes the body and sends params and an Accept header."""
        http_mock.get(any_query("/price"), payload={"price": [1.5]})
        assert {"price": [1.5]} == await api.get_json("/price", params={"bzn": "DE-LU"})
        ((method, url), calls) = next(iter(http_mock.requests.items()))
        assert ("GET", URL(BASE + "/price?bzn=DE-LU")) == (method, url)
        assert "application/json" == calls[0].kwargs["headers"]["Accept"]

    @pytest.mark.parametrize(
        "body",
        [b'{"price": NaN}', b'{"price": Infinity}', b'{"price": -Infinity}', b'{"price": 1e400}'],
    )
    async def test_nan_and_infinity_are_refused(
        self, api: HttpApi, http_mock: aioresponses, body: bytes
    ) -> None:
        """JSON's non-finite extensions are data errors, not prices."""
        http_mock.get(BASE + "/p", body=body)
        with pytest.raises(ProviderDataError, match="not JSON"):
            await api.get_json("/p")

    @pytest.mark.parametrize("body", [b"<html>busy</html>", b"", b"\xff\xfe{", b'{"a": 1'])
    async def test_non_json_bodies_are_data_errors(
        self, api: HttpApi, http_mock: aioresponses, body: bytes
    ) -> None:
        """HTML, empty, undecodable and truncated bodies fail as data errors."""
        http_mock.get(BASE + "/p", body=body, content_type="text/html")
        with pytest.raises(ProviderDataError) as caught:
            await api.get_json("/p")
        assert isinstance(caught.value.__cause__, ValueError)

    async def test_the_top_level_type_can_be_required(
        self, api: HttpApi, http_mock: aioresponses
    ) -> None:
        """expect=dict refuses a list."""
        http_mock.get(BASE + "/p", payload=[1, 2])
        with pytest.raises(ProviderDataError, match="unexpected JSON list"):
            await api.get_json("/p", expect=dict)

    async def test_post_json_sends_a_body(self, api: HttpApi, http_mock: aioresponses) -> None:
        """post_json posts JSON (GraphQL, say) and decodes the answer."""
        http_mock.post(BASE + "/gql", payload={"data": {}})
        assert {"data": {}} == await api.post_json("/gql", json={"query": "{ viewer }"})
        ((method, _), calls) = next(iter(http_mock.requests.items()))
        assert ("POST", {"query": "{ viewer }"}) == (method, calls[0].kwargs["json"])


class TestFailures:
    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            (401, ProviderAuthError),
            (403, ProviderAuthError),
            (404, ProviderNotFoundError),
            (418, ProviderFetchError),
            (500, ProviderServerError),
            (429, ProviderRateLimitError),
        ],
    )
    async def test_statuses_raise_their_errors(
        self, api: HttpApi, http_mock: aioresponses, status: int, expected: type[ProviderError]
    ) -> None:
        """A failing status raises the mapped error, naming the request."""
        http_mock.get(BASE + "/p", status=status, headers={"Retry-After": "7"})
        with pytest.raises(expected, match=rf"^GET /p: HTTP {status}"):
            await api.get_json("/p")

    async def test_not_published_statuses_are_per_call(
        self, api: HttpApi, http_mock: aioresponses
    ) -> None:
        """empty_statuses=(404,) turns 404 into ProviderEmptyError for that call only."""
        http_mock.get(BASE + "/p", status=404, repeat=True)
        with pytest.raises(ProviderEmptyError, match="not published yet"):
            await api.get_json("/p", empty_statuses=(404,))
        with pytest.raises(ProviderNotFoundError):
            await api.get_json("/p")

    async def test_connection_errors_are_translated(
        self, api: HttpApi, http_mock: aioresponses
    ) -> None:
        """aiohttp's errors become ProviderConnectionError, the original kept as cause."""
        http_mock.get(BASE + "/p", exception=aiohttp.ClientConnectionError("refused"))
        with pytest.raises(ProviderConnectionError, match="GET /p: refused") as caught:
            await api.get_json("/p")
        assert isinstance(caught.value.__cause__, aiohttp.ClientConnectionError)

    async def test_every_request_runs_under_the_timeout(
        self, session: aiohttp.ClientSession, http_mock: aioresponses
    ) -> None:
        """A server slower than the timeout is a connection error, raised in time."""

        async def slow(url: URL, **kwargs: Any) -> None:
            await asyncio.sleep(5)

        http_mock.get(BASE + "/p", callback=slow)
        api = HttpApi(session, base_url=BASE, timeout=0.05)
        async with asyncio.timeout(2):
            with pytest.raises(ProviderConnectionError, match=r"no answer within 0\.05 s"):
                await api.get_json("/p")

    async def test_oversized_bodies_are_refused(
        self, session: aiohttp.ClientSession, http_mock: aioresponses
    ) -> None:
        """A body beyond max_body_bytes is a data error."""
        http_mock.get(BASE + "/p", body=b"x" * 2048)
        api = HttpApi(session, base_url=BASE, max_body_bytes=1024)
        with pytest.raises(ProviderDataError, match="larger than 1024 bytes"):
            await api.get_text("/p")


class TestRetries:
    async def test_transient_failures_are_retried_through_the_retrier(
        self, session: aiohttp.ClientSession, http_mock: aioresponses
    ) -> None:
        """503 then 200: one retry, the answer returned."""
        http_mock.get(BASE + "/p", status=503)
        http_mock.get(BASE + "/p", payload={"ok": True})
        sleeps: list[float] = []

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        retrier = Retrier(RetryPolicy(base_delay=1), rng=random.Random(3), sleep=sleep)
        api = HttpApi(session, base_url=BASE, retrier=retrier)
        assert {"ok": True} == await api.get_json("/p")
        assert 1 == len(sleeps)

    async def test_server_statuses_are_retried_with_retry_statuses(
        self, session: aiohttp.ClientSession, http_mock: aioresponses
    ) -> None:
        """A CDN's 403 as a server status, retried by a policy naming it; a 400 is not."""
        http_mock.get(BASE + "/p", status=403)
        http_mock.get(BASE + "/p", payload={"ok": True})
        http_mock.get(BASE + "/q", status=400, repeat=True)

        async def sleep(seconds: float) -> None:
            pass

        policy = RetryPolicy(base_delay=0, retry_statuses=frozenset({403}))
        retrier = Retrier(policy, sleep=sleep)
        api = HttpApi(session, base_url=BASE, retrier=retrier, server_statuses={400, 403})
        assert {"ok": True} == await api.get_json("/p")
        with pytest.raises(ProviderServerError) as caught:
            await api.get_json("/q")
        assert 400 == caught.value.status
        assert [2, 1] == [len(calls) for calls in http_mock.requests.values()]


class TestXmlAndText:
    async def test_xml_is_parsed(self, api: HttpApi, http_mock: aioresponses) -> None:
        """get_xml returns the root element."""
        http_mock.get(BASE + "/a44", body=b"<doc><p>1.5</p></doc>", content_type="text/xml")
        root = await api.get_xml("/a44")
        assert ("doc", "1.5") == (root.tag, root.findtext("p"))

    @pytest.mark.parametrize(
        "body",
        [
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><d>&a;&a;</d>',
            b'<!DOCTYPE d SYSTEM "file:///etc/passwd"><d/>',
            UTF16_DOCTYPE.encode("utf-16"),
        ],
        ids=["internal-entity", "external-dtd", "utf-16"],
    )
    def test_doctypes_and_entities_are_refused(self, body: bytes) -> None:
        """No DOCTYPE, so no entity expansion and no external fetch, in any encoding."""
        with pytest.raises(ProviderDataError):
            parse_xml(body)

    async def test_malformed_xml_is_a_data_error(
        self, api: HttpApi, http_mock: aioresponses
    ) -> None:
        """A truncated document fails as data."""
        http_mock.get(BASE + "/a44", body=b"<doc><p>", content_type="text/xml")
        with pytest.raises(ProviderDataError, match="not well-formed XML"):
            await api.get_xml("/a44")

    async def test_text_uses_the_declared_charset(
        self, api: HttpApi, http_mock: aioresponses
    ) -> None:
        """get_text decodes with the Content-Type charset."""
        http_mock.get(
            BASE + "/omie",
            body="Preu;€".encode("cp1252"),
            content_type="text/plain; charset=cp1252",
        )
        assert "Preu;€" == await api.get_text("/omie")

    async def test_undecodable_text_is_a_data_error(
        self, api: HttpApi, http_mock: aioresponses
    ) -> None:
        """Bytes that are not the declared charset fail as data."""
        http_mock.get(BASE + "/t", body=b"\xff\xfe\xfa", content_type="text/plain")
        with pytest.raises(ProviderDataError, match="not utf-8 text"):
            await api.get_text("/t")


class TestPagination:
    async def test_pages_are_followed_and_concatenated(
        self, api: HttpApi, http_mock: aioresponses
    ) -> None:
        """results of every page, in order, following next links."""
        http_mock.get(
            BASE + "/rates/?page_size=2",
            payload={"results": [1, 2], "next": BASE + "/rates/?page=2&page_size=2"},
        )
        http_mock.get(BASE + "/rates/?page=2&page_size=2", payload={"results": [3], "next": None})
        assert [1, 2, 3] == await api.paginate("/rates/", params={"page_size": "2"})

    async def test_next_links_stay_on_the_base_url(
        self, session: aiohttp.ClientSession, http_mock: aioresponses
    ) -> None:
        """A proxy passing the upstream's absolute links through: they are rebased onto us."""
        mirror = "http://127.0.0.1:8080/octopus"
        api = HttpApi(session, base_url=mirror)
        http_mock.get(
            mirror + "/v1/rates/",
            payload={"results": ["a"], "next": "https://api.octopus.energy/v1/rates/?page=2"},
        )
        http_mock.get(mirror + "/v1/rates/?page=2", payload={"results": ["b"], "next": None})
        assert ["a", "b"] == await api.paginate("/v1/rates/")

    async def test_looping_links_are_a_data_error(
        self, api: HttpApi, http_mock: aioresponses
    ) -> None:
        """A next link back to a page already read stops the walk."""
        http_mock.get(BASE + "/r/", payload={"results": [1], "next": BASE + "/r/"}, repeat=True)
        with pytest.raises(ProviderDataError, match="links loop"):
            await api.paginate("/r/")

    async def test_max_pages_bounds_the_walk(self, api: HttpApi, http_mock: aioresponses) -> None:
        """More pages than max_pages is a data error, not an endless fetch."""
        for n in range(1, 4):
            http_mock.get(
                BASE + ("/r/" if n == 1 else f"/r/?page={n}"),
                payload={"results": [n], "next": f"/r/?page={n + 1}"},
            )
        with pytest.raises(ProviderDataError, match="more than max_pages=3 pages"):
            await api.paginate("/r/", max_pages=3)

    @pytest.mark.parametrize("body", [{"results": {}}, {"results": [], "next": 5}, {"count": 0}])
    async def test_malformed_pages_are_data_errors(
        self, api: HttpApi, http_mock: aioresponses, body: dict[str, Any]
    ) -> None:
        """results must be a list and next a URL."""
        http_mock.get(BASE + "/r/", payload=body)
        with pytest.raises(ProviderDataError):
            await api.paginate("/r/")


class TestRebaseUrl:
    @pytest.mark.parametrize(
        ("link", "base", "expected"),
        [
            ("?page=2", BASE, BASE + "/r/?page=2"),
            (BASE + "/r/?page=2", BASE, BASE + "/r/?page=2"),
            (
                "https://api.octopus.energy/v1/r/?page=2",
                "http://m:1/o",
                "http://m:1/o/v1/r/?page=2",
            ),
            ("https://up.test/o/v1/r/?page=2", "http://m:1/o", "http://m:1/o/v1/r/?page=2"),
        ],
    )
    def test_links_are_resolved_onto_the_base(self, link: str, base: str, expected: str) -> None:
        """Relative links resolve; foreign origins move onto the base (with its prefix)."""
        assert expected == rebase_url(link, BASE + "/r/", base)

    @pytest.mark.parametrize("link", ["ftp://x.test/r", "javascript:alert(1)"])
    def test_non_http_links_are_refused(self, link: str) -> None:
        """Only http(s) links are followed."""
        with pytest.raises(ProviderDataError):
            rebase_url(link, BASE + "/r/", BASE)


class TestScrubbing:
    def test_secret_query_values_and_user_info_are_removed(self) -> None:
        """token/key-like values become ***; user and password vanish."""
        url = (
            "https://user:pw@web-api.test:8443/api?securityToken=abc123&documentType=A44&api_key=k"
        )
        expected = "https://web-api.test:8443/api?securityToken=***&documentType=A44&api_key=***"
        assert expected == scrub_url(url)

    async def test_logs_never_carry_secrets(self, api: HttpApi, http_mock: aioresponses) -> None:
        """The request log event has fields, and no secret anywhere in them."""
        http_mock.get(any_query("/api"), payload={})
        with structlog.testing.capture_logs() as logs:
            await api.get_json("/api", params={"securityToken": "s3cr3t", "in_Domain": "10Y"})
        (event,) = [e for e in logs if e["event"] == "provider.http"]
        assert {"securityToken": "***", "in_Domain": "10Y"} == event["params"]
        assert (200, "GET", "test") == (event["status"], event["method"], event["provider"])
        assert "s3cr3t" not in repr(logs)

    async def test_error_messages_never_carry_secrets(
        self, api: HttpApi, http_mock: aioresponses
    ) -> None:
        """A foreign error message quoting the URL is scrubbed before it is raised."""
        http_mock.get(
            any_query("/api"),
            exception=aiohttp.ClientConnectionError(f"cannot reach {BASE}/api?token=s3cr3t"),
        )
        with pytest.raises(ProviderConnectionError) as caught:
            await api.get_json("/api", params={"token": "s3cr3t"})
        assert "s3cr3t" not in str(caught.value)
