"""The Tibber plugin: parsing recorded answers, homes, the hourly fallback, errors, its requests,
and a loopback stand-in."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
import structlog
from aioresponses import aioresponses

from energyd.exceptions import (
    ProviderAuthError,
    ProviderConfigError,
    ProviderDataError,
    ProviderEmptyError,
    ProviderFetchError,
    ProviderNotPublishedError,
    ProviderRateLimitError,
    ProviderServerError,
)
from energyd.providers.base import HttpResponse, Pacer
from energyd.providers.validation import validate_slots
from tests.support.fake_tibber import (
    FIXTURES,
    HOURLY_FIXTURE,
    QUARTER_HOURLY_FIXTURE,
    RunningFake,
    day_starts,
    load_fixture,
    price_of,
    serve,
)
from tests.support.plugins import BUNDLED_PLUGINS, load_bundled_plugin

API = "https://api.tibber.com/v1-beta/gql"
GQL = re.compile(re.escape(API) + "$")
BERLIN = ZoneInfo("Europe/Berlin")
QUARTER = timedelta(minutes=15)
HOUR = timedelta(hours=1)
TOKEN = "tibber-secret-token-0123456789"
FAST = {"retry_base_seconds": 0.001, "retry_budget_seconds": 5}
CONFIG = {"region": "DE", "token": TOKEN, **FAST}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def berlin_day(day: date) -> tuple[datetime, datetime]:
    starts = day_starts(day, BERLIN, 60)
    return starts[0], starts[-1] + HOUR


def entries(
    day: date, resolution: str = "QUARTER_HOURLY", currency: str | None = "EUR", home: int = 0
) -> list[dict[str, Any]]:
    """A day's price entries as Tibber sends them (the stand-in's prices), local offsets."""
    minutes = 15 if resolution == "QUARTER_HOURLY" else 60
    rows = []
    for start in day_starts(day, BERLIN, minutes):
        row: dict[str, Any] = {
            **price_of(resolution, start, BERLIN, home),
            "startsAt": start.astimezone(BERLIN).isoformat(timespec="milliseconds"),
            "level": "NORMAL",
        }
        if currency is not None:
            row["currency"] = currency
        rows.append(row)
    return rows


def home(
    home_id: str = "foo-bar",
    nickname: str | None = "my-alias",
    today: list[Any] | None = None,
    tomorrow: list[Any] | None = None,
    subscribed: bool = True,
) -> dict[str, Any]:
    info = {"today": today or [], "tomorrow": tomorrow or []}
    return {
        "id": home_id,
        "appNickname": nickname,
        "currentSubscription": {"priceInfo": info} if subscribed else None,
    }


def answer(*homes: dict[str, Any], errors: list[Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"data": {"viewer": {"homes": list(homes)}}}
    if errors is not None:
        body["errors"] = errors
    return body


def graphql_error(message: str, code: str, path: list[Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "extensions": {"code": code}}
    if path is not None:
        error["path"] = path
    return error


def response(body: Any, status: int = 200) -> HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpResponse(status, {}, raw, API, "POST")


@dataclass
class FakeTime:
    """A pacer clock that only moves when the pacer sleeps (no real waiting in tests)."""

    now: float = 1000.0
    waits: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(round(seconds, 3))
        self.now += seconds


def fake_time(provider: Any) -> FakeTime:
    pacer: Pacer = provider.pacer
    fake = FakeTime()
    pacer.clock = fake.clock
    pacer.sleep = fake.sleep
    return fake


@pytest.fixture(scope="module")
def plugin() -> Any:
    """The bundled plugin module, loaded standalone like the daemon does."""
    return load_bundled_plugin("tibber_provider.py")


@pytest.fixture
async def provider(plugin: Any, http_mock: aioresponses) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession() as session:
        instance = plugin.TibberProvider()
        instance.attach(session, timeout=5.0)
        instance.fake_time = fake_time(instance)
        yield instance


def posted(http_mock: aioresponses) -> list[Any]:
    """Every request made (aioresponses call records), in order."""
    return [call for calls in http_mock.requests.values() for call in calls]


def resolutions(http_mock: aioresponses) -> list[str]:
    """The resolution each request asked for."""
    found = []
    for call in posted(http_mock):
        match = re.search(r"resolution: (\w+)", call.kwargs["json"]["query"])
        assert match is not None
        found.append(match.group(1))
    return found


DAY = date(2026, 1, 14)
NEXT = DAY + timedelta(days=1)
WINDOW = (berlin_day(DAY)[0], berlin_day(NEXT)[1])


class TestParsingRecordedAnswers:
    def test_the_quarter_hourly_answer_is_192_quarter_hours(self, plugin: Any) -> None:
        """19 / 20 Sep 2025: 96 + 96 quarter hours from 22:00Z, total x 100 in cents."""
        homes, errors = plugin.read_answer(
            HttpResponse(200, {}, (FIXTURES / f"{QUARTER_HOURLY_FIXTURE}.json").read_bytes(), API),
            TOKEN,
        )
        assert ({}, ["foo-bar"], ["my-alias"]) == (
            errors,
            [h.id for h in homes],
            [h.nickname for h in homes],
        )
        slots, today = plugin.parse_price_info(homes[0].price_info, "EUR", 15)
        assert (192, 96) == (len(slots), today)
        assert utc(2025, 9, 18, 22) == slots[0].valid_from
        assert utc(2025, 9, 20, 22) == slots[-1].valid_to
        assert {QUARTER} == {slot.duration for slot in slots}
        assert [26.88, 26.88, 26.88, 26.88, 26.69] == [s.price_pence for s in slots[:5]]
        assert {None} == {slot.energy_pence for slot in slots}  # not asked in that recording
        assert len(slots) == len(validate_slots(slots, *(utc(2025, 9, 18), utc(2025, 9, 21))))

    def test_the_hourly_answer_before_publication_is_today_only(self, plugin: Any) -> None:
        """27 Oct 2023, tomorrow []: 24 hours of today, nothing after."""
        info = load_fixture(HOURLY_FIXTURE)["data"]["viewer"]["home"]["currentSubscription"]
        slots, today = plugin.parse_price_info(info["priceInfo"], "NOK", 60)
        assert (24, 24) == (len(slots), today)
        assert (utc(2023, 10, 26, 22), utc(2023, 10, 27, 22)) == (
            slots[0].valid_from,
            slots[-1].valid_to,
        )
        assert {HOUR} == {slot.duration for slot in slots}
        assert 87.24 == slots[0].price_pence

    def test_total_and_energy_become_minor_units(self, plugin: Any) -> None:
        """price_pence = total x 100 (VAT included), energy_pence = energy x 100, no exc-VAT."""
        row = {"total": 0.3553, "energy": 0.1309, "tax": 0.2244}
        row_at: dict[str, Any] = {**row, "startsAt": "2024-06-12T22:00:00.000+02:00"}
        (slot,) = plugin.parse_price_info({"today": [row_at]}, "EUR", 15)[0]
        assert (35.53, 13.09, None) == (
            slot.price_pence,
            slot.energy_pence,
            slot.price_pence_exc_vat,
        )
        assert (utc(2024, 6, 12, 20), utc(2024, 6, 12, 20, 15)) == (slot.valid_from, slot.valid_to)


class TestSlots:
    @pytest.mark.parametrize(
        ("day", "quarters", "hours"),
        [(date(2026, 3, 29), 92, 23), (date(2026, 10, 25), 100, 25), (date(2026, 1, 14), 96, 24)],
    )
    def test_clock_change_days(self, plugin: Any, day: date, quarters: int, hours: int) -> None:
        """Europe/Berlin: 92 / 100 quarter hours and 23 / 25 hours, each its own length."""
        for resolution, minutes, count in (("QUARTER_HOURLY", 15, quarters), ("HOURLY", 60, hours)):
            info = {"today": entries(day, resolution)}
            slots, _ = plugin.parse_price_info(info, "EUR", minutes)
            assert count == len(slots)
            assert {timedelta(minutes=minutes)} == {slot.duration for slot in slots}
            assert berlin_day(day) == (slots[0].valid_from, slots[-1].valid_to)

    def test_a_missing_entry_leaves_a_hole_not_a_longer_slot(self, plugin: Any) -> None:
        """The slot before a missing quarter hour lasts 15 minutes, the next starts later."""
        rows = entries(DAY)[:8]
        del rows[4]
        slots, _ = plugin.parse_price_info({"today": rows}, "EUR", 15)
        assert [QUARTER] * 7 == [slot.duration for slot in slots]
        assert slots[4].valid_from - slots[3].valid_to == QUARTER

    def test_today_and_tomorrow_join_and_are_sorted(self, plugin: Any) -> None:
        """Entries out of order are sorted; tomorrow follows today without a gap."""
        info = {"today": entries(DAY)[::-1], "tomorrow": entries(NEXT)}
        slots, today = plugin.parse_price_info(info, "EUR", 15)
        assert (192, 96) == (len(slots), today)
        assert all(a.valid_to == b.valid_from for a, b in itertools.pairwise(slots))

    def test_an_answer_without_currency_is_accepted(self, plugin: Any) -> None:
        """The recorded bodies never asked for currency: its absence is no error."""
        slots, _ = plugin.parse_price_info({"today": entries(DAY, currency=None)}, "EUR", 15)
        assert 96 == len(slots)


class TestMalformedAnswers:
    @pytest.mark.parametrize(
        ("change", "reason"),
        [
            ({"total": "0.3"}, "total is not a number"),
            ({"total": None}, "total is not a number"),
            ({"total": True}, "total is not a number"),
            ({"energy": "x"}, "energy is not a number"),
            ({"startsAt": "2026-01-14T00:00:00"}, "no UTC offset"),
            ({"startsAt": "yesterday"}, "not an ISO 8601"),
            ({"startsAt": "2026-01-14T00:00:30+01:00"}, "is not a minute"),
            ({"currency": "SEK"}, "the region's currency is EUR"),
        ],
    )
    def test_one_bad_entry_fails_the_whole_answer(
        self, plugin: Any, change: dict[str, Any], reason: str
    ) -> None:
        """Never half a result: one bad entry is a data error for the whole answer."""
        rows = entries(DAY)
        rows[5] = {**rows[5], **change}
        with pytest.raises(ProviderDataError, match=reason):
            plugin.parse_price_info({"today": rows}, "EUR", 15)

    @pytest.mark.parametrize(
        "info",
        [
            {"today": "none"},
            {"today": [None]},
            {"today": [1, 2]},
            {"today": [], "tomorrow": {"a": 1}},
        ],
    )
    def test_lists_of_the_wrong_shape(self, plugin: Any, info: dict[str, Any]) -> None:
        with pytest.raises(ProviderDataError):
            plugin.parse_price_info(info, "EUR", 15)

    def test_two_prices_for_one_start(self, plugin: Any) -> None:
        rows = entries(DAY)
        with pytest.raises(ProviderDataError, match="two prices start"):
            plugin.parse_price_info({"today": rows, "tomorrow": rows[:1]}, "EUR", 15)

    @pytest.mark.parametrize(
        "body",
        [
            b"<html>maintenance</html>",
            b'{"data": {"viewer": {"homes": [{"id": "a"',
            [],
            {},
            {"data": None},
            {"data": {"viewer": {"homes": {"id": "a"}}}},
            {"data": {"viewer": {"homes": [{"appNickname": "no id"}]}}},
            {"data": {"viewer": {"homes": [{"id": "a", "currentSubscription": 3}]}}},
            {"data": {"viewer": {"homes": [{"id": "a", "currentSubscription": {"priceInfo": 1}}]}}},
            {"data": {"viewer": {"homes": []}}, "errors": "broken"},
        ],
    )
    def test_garbage_answers_are_data_errors(self, plugin: Any, body: Any) -> None:
        with pytest.raises(ProviderDataError):
            plugin.read_answer(response(body), TOKEN)

    async def test_a_currency_mismatch_names_the_region(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A Swedish home configured as DE: refused, and the message says what to check."""
        http_mock.post(GQL, payload=answer(home(today=entries(DAY, currency="SEK"))))
        with pytest.raises(ProviderDataError, match="is region the home's country"):
            await provider.fetch_prices("DE", *WINDOW, CONFIG)


class TestGraphQLErrors:
    @pytest.mark.parametrize(
        ("error", "status", "expected"),
        [
            (graphql_error("invalid token", "UNAUTHENTICATED"), 200, ProviderAuthError),
            (graphql_error('"exp" claim timestamp check failed', "X"), 200, ProviderAuthError),
            (graphql_error("Invalid Compact JWS", "INTERNAL_SERVER_ERROR"), 200, ProviderAuthError),
            (graphql_error("Context creation failed", "UNAUTHENTICATED"), 400, ProviderAuthError),
            (graphql_error("went wrong", "INTERNAL_SERVER_ERROR"), 200, ProviderServerError),
            (graphql_error("Cannot query", "GRAPHQL_VALIDATION_FAILED"), 400, ProviderFetchError),
            (graphql_error("odd", "SOMETHING_NEW"), 200, ProviderDataError),
        ],
    )  # fmt: skip
    async def test_errors_map_onto_the_tree(
        self,
        provider: Any,
        http_mock: aioresponses,
        error: dict[str, Any],
        status: int,
        expected: type[Exception],
    ) -> None:
        """A refused token is an auth error, Tibber's internal error a server error, a refused
        query a fetch error (HTTP 400), anything else bad data."""
        http_mock.post(GQL, status=status, payload={"errors": [error], "data": None})
        with pytest.raises(expected) as caught:
            await provider.fetch_prices("DE", *WINDOW, CONFIG)
        assert type(caught.value) is expected
        assert TOKEN not in str(caught.value)

    async def test_the_token_is_never_in_a_message_or_log(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Even when Tibber's message echoes it, the token is replaced by ***."""
        error = graphql_error(f"token {TOKEN} expired", "UNAUTHENTICATED")
        http_mock.post(GQL, payload={"errors": [error]})
        with structlog.testing.capture_logs() as logs, pytest.raises(ProviderAuthError) as caught:
            await provider.fetch_prices("DE", *WINDOW, CONFIG)
        assert TOKEN not in str(caught.value)
        assert "***" in str(caught.value)
        assert TOKEN not in repr(logs)
        assert TOKEN not in provider.source_identity("DE", CONFIG)
        assert TOKEN not in repr(provider.source_notes("DE", CONFIG))

    async def test_an_error_about_another_home_is_ignored(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Home 1 failing (its path) does not stop home 0's prices; home 1's own fetch fails."""
        error = graphql_error("No active subscription", "SOMETHING", ["viewer", "homes", 1, "x"])
        body = answer(home(today=entries(DAY)), None, errors=[error])  # type: ignore[arg-type]
        http_mock.post(GQL, payload=body, repeat=True)
        slots = await provider.fetch_prices("DE", *WINDOW, {**CONFIG, "home_id": "foo-bar"})
        assert 96 == len(slots)

    async def test_an_error_about_the_chosen_home_fails(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        error = graphql_error(
            "Something went wrong", "INTERNAL_SERVER_ERROR", ["viewer", "homes", 0]
        )
        body = answer(home(today=entries(DAY)), errors=[error])
        http_mock.post(GQL, payload=body)
        with pytest.raises(ProviderServerError):
            await provider.fetch_prices("DE", *WINDOW, CONFIG)

    async def test_a_429_keeps_its_retry_after(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Beyond the retry budget: raised at once with Tibber's Retry-After for the planner."""
        http_mock.post(GQL, status=429, headers={"Retry-After": "600"})
        with pytest.raises(ProviderRateLimitError) as caught:
            await provider.fetch_prices("DE", *WINDOW, CONFIG)
        assert 600 == caught.value.retry_after

    async def test_a_504_html_page_is_retried(self, provider: Any, http_mock: aioresponses) -> None:
        """Tibber's gateway time-out (HTML) is a server error the kit retries."""
        http_mock.post(GQL, status=504, body="<html>504 Gateway Time-out</html>")
        http_mock.post(GQL, payload=answer(home(today=entries(DAY))))
        slots = await provider.fetch_prices("DE", *WINDOW, CONFIG)
        assert (96, 2) == (len(slots), len(posted(http_mock)))

    async def test_a_504_beyond_the_retries_is_a_server_error(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        http_mock.post(GQL, status=504, body="<html>504</html>", repeat=True)
        with pytest.raises(ProviderServerError):
            await provider.fetch_prices("DE", *WINDOW, {**CONFIG, "retry_attempts": 2})


class TestHomes:
    async def test_a_single_home_needs_no_id(self, provider: Any, http_mock: aioresponses) -> None:
        http_mock.post(GQL, payload=answer(home(today=entries(DAY))))
        assert 96 == len(await provider.fetch_prices("DE", *WINDOW, CONFIG))
        assert "foo-bar" == provider.source_notes("DE", CONFIG)["home"]

    async def test_several_homes_without_an_id_list_them(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """The error names every home by id and nickname, and the key to set."""
        body = answer(home("h-1", "Cabin"), home("h-2", None))
        http_mock.post(GQL, payload=body)
        with pytest.raises(ProviderConfigError) as caught:
            await provider.fetch_prices("DE", *WINDOW, CONFIG)
        assert "set home_id to one of h-1 (Cabin), h-2" in str(caught.value)
        assert {"home_id"} == set(caught.value.errors)

    async def test_an_unknown_id_lists_the_homes(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        http_mock.post(GQL, payload=answer(home("h-1", "Cabin")))
        with pytest.raises(ProviderConfigError, match=r"'h-9' is not a home .*h-1 \(Cabin\)"):
            await provider.fetch_prices("DE", *WINDOW, {**CONFIG, "home_id": "h-9"})

    async def test_the_home_is_chosen_by_id(self, provider: Any, http_mock: aioresponses) -> None:
        """Ids compare without case; the second home's prices (a cent more) are used."""
        body = answer(home("h-1", today=entries(DAY)), home("H-2", today=entries(DAY, home=1)))
        http_mock.post(GQL, payload=body)
        slots = await provider.fetch_prices("DE", *WINDOW, {**CONFIG, "home_id": "h-2"})
        first = price_of("QUARTER_HOURLY", WINDOW[0], BERLIN, home=1)
        assert round(first["total"] * 100, 6) == slots[0].price_pence

    async def test_no_homes(self, provider: Any, http_mock: aioresponses) -> None:
        http_mock.post(GQL, payload=answer())
        with pytest.raises(ProviderConfigError, match="has no homes"):
            await provider.fetch_prices("DE", *WINDOW, CONFIG)

    async def test_a_home_without_subscription_is_a_fault_not_a_wait(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """No active contract: shown as a fault (not 'not published yet') with the reason."""
        http_mock.post(GQL, payload=answer(home(subscribed=False)))
        with pytest.raises(ProviderEmptyError, match="no active subscription") as caught:
            await provider.fetch_prices("DE", *WINDOW, CONFIG)
        assert not isinstance(caught.value, ProviderNotPublishedError)


class TestHourlyFallback:
    async def test_an_empty_quarter_hourly_answer_falls_back_to_hourly(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """QUARTER_HOURLY today [] -> HOURLY asked, hourly slots (not cut), logged once,
        noted; the next fetch falls back again without logging it again."""
        empty = answer(home())
        empty["data"]["viewer"]["homes"][0]["currentSubscription"]["priceInfo"]["current"] = None
        hourly = answer(home(today=entries(DAY, "HOURLY"), tomorrow=entries(NEXT, "HOURLY")))
        http_mock.post(GQL, payload=empty)
        http_mock.post(GQL, payload=hourly)
        with structlog.testing.capture_logs() as logs:
            slots = await provider.fetch_prices("DE", *WINDOW, CONFIG)
            assert (48, {HOUR}) == (len(slots), {slot.duration for slot in slots})
            provider.fake_time.now += 61  # past the answer cache
            http_mock.post(GQL, payload=empty)
            http_mock.post(GQL, payload=hourly)
            assert 48 == len(await provider.fetch_prices("DE", *WINDOW, CONFIG))
        assert ["QUARTER_HOURLY", "HOURLY"] * 2 == resolutions(http_mock)
        assert 1 == sum(event["event"] == "tibber.hourly_fallback" for event in logs)
        note = provider.source_notes("DE", CONFIG)["resolution"]
        assert "hourly (quarter-hourly answered nothing)" == note
        first = price_of("HOURLY", WINDOW[0], BERLIN)
        assert (round(first["total"] * 100, 6), round(first["energy"] * 100, 6)) == (
            slots[0].price_pence,
            slots[0].energy_pence,
        )
        assert [1.0] == provider.fake_time.waits[:1]  # the second request waited its turn

    async def test_quarter_hours_coming_back_end_the_fallback(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        http_mock.post(GQL, payload=answer(home()))
        http_mock.post(GQL, payload=answer(home(today=entries(DAY, "HOURLY"))))
        await provider.fetch_prices("DE", *WINDOW, CONFIG)
        provider.fake_time.now += 61
        http_mock.post(GQL, payload=answer(home(today=entries(DAY))))
        with structlog.testing.capture_logs() as logs:
            slots = await provider.fetch_prices("DE", *WINDOW, CONFIG)
        assert ({QUARTER}, ["tibber.quarter_hourly_back"]) == (
            {slot.duration for slot in slots},
            [e["event"] for e in logs if e["event"].startswith("tibber.")],
        )
        assert "quarter-hourly" == provider.source_notes("DE", CONFIG)["resolution"]

    async def test_tomorrow_missing_is_no_reason_to_fall_back(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        http_mock.post(GQL, payload=answer(home(today=entries(DAY))))
        assert 96 == len(await provider.fetch_prices("DE", *WINDOW, CONFIG))
        assert ["QUARTER_HOURLY"] == resolutions(http_mock)

    async def test_hourly_configured_asks_hourly_only(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        http_mock.post(GQL, payload=answer(home(today=entries(DAY, "HOURLY"))))
        config = {**CONFIG, "resolution": "hourly"}
        assert 24 == len(await provider.fetch_prices("DE", *WINDOW, config))
        assert ["HOURLY"] == resolutions(http_mock)
        assert "hourly (configured)" == provider.source_notes("DE", config)["resolution"]

    async def test_both_empty_is_not_published(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Nothing at either resolution: waiting, never price 0, no fallback claimed."""
        http_mock.post(GQL, payload=answer(home()), repeat=True)
        with pytest.raises(ProviderNotPublishedError):
            await provider.fetch_prices("DE", *WINDOW, CONFIG)
        assert "quarter-hourly" == provider.source_notes("DE", CONFIG)["resolution"]


class TestNotYet:
    async def test_tomorrow_alone_before_publication_says_when_to_ask(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """tomorrow [] and a window of tomorrow only: not published, retry at 13:00 today."""
        today = datetime.now(BERLIN).date()
        tomorrow = today + timedelta(days=1)
        http_mock.post(GQL, payload=answer(home(today=entries(today))))
        with pytest.raises(ProviderNotPublishedError) as caught:
            await provider.fetch_prices("DE", *berlin_day(tomorrow), CONFIG)
        publication = datetime.combine(today, datetime.min.time().replace(hour=13), BERLIN)
        expected = publication if publication > datetime.now(UTC) else None
        assert expected == caught.value.retry_at

    async def test_today_is_returned_while_tomorrow_is_not_out(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        http_mock.post(GQL, payload=answer(home(today=entries(DAY))))
        slots = await provider.fetch_prices("DE", *WINDOW, CONFIG)
        assert berlin_day(DAY) == (slots[0].valid_from, slots[-1].valid_to)


class TestRequests:
    async def test_one_post_with_the_bearer_token_and_the_fields(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        http_mock.post(GQL, payload=answer(home(today=entries(DAY), tomorrow=entries(NEXT))))
        assert 192 == len(await provider.fetch_prices("DE", *WINDOW, CONFIG))
        (call,) = posted(http_mock)
        query = call.kwargs["json"]["query"]
        assert f"Bearer {TOKEN}" == call.kwargs["headers"]["Authorization"]
        assert "priceInfo(resolution: QUARTER_HOURLY)" in query
        for part in ("today { total energy tax startsAt currency level }", "tomorrow {", "homes"):
            assert part in query
        assert query.count("{") == query.count("}")

    async def test_feeds_of_one_token_share_an_answer_for_a_minute(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Two homes of one token: one request; after 60 s a new one; another token asks."""
        body = answer(home("h-1", today=entries(DAY)), home("h-2", today=entries(DAY, home=1)))
        http_mock.post(GQL, payload=body, repeat=True)
        one = await provider.fetch_prices("DE", *WINDOW, {**CONFIG, "home_id": "h-1"})
        two = await provider.fetch_prices("DE", *WINDOW, {**CONFIG, "home_id": "h-2"})
        assert (1, True) == (len(posted(http_mock)), one[0].price_pence < two[0].price_pence)
        await provider.fetch_prices("DE", *WINDOW, {**CONFIG, "home_id": "h-1", "token": "b"})
        assert 2 == len(posted(http_mock))
        provider.fake_time.now += 61
        await provider.fetch_prices("DE", *WINDOW, {**CONFIG, "home_id": "h-1"})
        assert 3 == len(posted(http_mock))

    async def test_an_error_answer_is_not_reused(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        http_mock.post(GQL, payload={"errors": [graphql_error("x", "INTERNAL_SERVER_ERROR")]})
        http_mock.post(GQL, payload=answer(home(today=entries(DAY))))
        with pytest.raises(ProviderServerError):
            await provider.fetch_prices("DE", *WINDOW, CONFIG)
        assert 96 == len(await provider.fetch_prices("DE", *WINDOW, CONFIG))

    async def test_base_url_replaces_the_host(self, provider: Any, http_mock: aioresponses) -> None:
        http_mock.post("http://127.0.0.1:9/v1-beta/gql", payload=answer(home(today=entries(DAY))))
        config = {**CONFIG, "base_url": "http://127.0.0.1:9/"}
        assert 96 == len(await provider.fetch_prices("DE", *WINDOW, config))


class TestConfigAndMetadata:
    def test_the_countries_are_the_regions(self, plugin: Any) -> None:
        meta = plugin.TibberProvider().get_metadata()
        assert (("DE", "NL", "NO", "SE"), True) == (meta.supported_regions, meta.requires_api_key)

    @pytest.mark.parametrize(
        ("region", "currency", "zone"),
        [
            ("DE", "EUR", "Europe/Berlin"),
            ("NL", "EUR", "Europe/Amsterdam"),
            ("NO", "NOK", "Europe/Oslo"),
            ("SE", "SEK", "Europe/Stockholm"),
        ],
    )
    def test_the_config_decides_currency_zone_and_slot_length(
        self, plugin: Any, region: str, currency: str, zone: str
    ) -> None:
        provider = plugin.TibberProvider()
        config = {"region": region, "token": TOKEN}
        meta = provider.metadata_for(region, config)
        assert (currency, zone, 15, "13:00", "00:00") == (
            provider.currency_for(region, config),
            meta.market_timezone,
            meta.slot_minutes,
            meta.publish_time_local,
            meta.day_start_local,
        )
        hourly = provider.metadata_for(region, {**config, "resolution": "HOURLY"})
        assert (60, "tibber") == (hourly.slot_minutes, hourly.provider_id)

    @pytest.mark.parametrize(
        ("config", "errors"),
        [
            ({"region": "DE", "token": TOKEN}, set()),
            ({"region": "se", "token": TOKEN, "resolution": "Quarter-Hourly"}, set()),
            ({"region": "DE"}, {"token"}),
            ({"region": "DE", "token": "two words"}, {"token"}),
            ({"region": "AT", "token": TOKEN}, {"region"}),
            ({"region": "DE", "token": TOKEN, "resolution": "5min"}, {"resolution"}),
            ({"region": "DE", "token": TOKEN, "base_url": "ftp://x"}, {"base_url"}),
            ({"region": "DE", "token": TOKEN, "homeid": "x"}, {"homeid"}),
        ],
    )
    def test_validate_config(self, plugin: Any, config: dict[str, Any], errors: set[str]) -> None:
        assert errors == set(plugin.TibberProvider().validate_config(config))

    def test_the_token_is_secret_and_no_part_of_the_source(self, plugin: Any) -> None:
        """A new token keeps the stored prices; another home or resolution does not."""
        provider = plugin.TibberProvider()
        schema = provider.get_metadata().config_schema
        assert schema["properties"]["token"]["writeOnly"] is True
        assert {"region", "token"} == set(schema["required"])
        errors = provider.validate_config({"region": "DE", "token": "a b"})
        assert "a b" not in errors["token"]
        same = provider.source_identity("DE", {"region": "DE", "token": "other"})
        assert provider.source_identity("DE", CONFIG) == same
        for change in ({"home_id": "h-2"}, {"resolution": "hourly"}, {"region": "SE"}):
            region = change.get("region", "DE")
            assert provider.source_identity("DE", CONFIG) != provider.source_identity(
                region, {**CONFIG, **change}
            )

    def test_the_region_and_resolution_are_normalised(self, plugin: Any) -> None:
        config = {"region": "sweden", "token": TOKEN, "resolution": "QUARTER_HOURLY"}
        normal = plugin.TibberProvider().normalise_config(config)
        assert ("SE", "quarter_hourly") == (normal["region"], normal["resolution"])

    def test_the_pacing(self, plugin: Any) -> None:
        """A minute of cache, 1 s between requests (less than the kit waits for a turn)."""
        cls = plugin.TibberProvider
        assert (60.0, 1.0) == (cls.cache_seconds, cls.request_spacing_seconds)
        assert cls.request_spacing_seconds <= Pacer().max_wait

    def test_the_plugin_stays_small_and_standalone(self, plugin: Any) -> None:
        """Under 500 lines, kit 4, importing only the standard library and the base."""
        source = (BUNDLED_PLUGINS / "tibber_provider.py").read_text(encoding="utf-8")
        imports = {
            m.group(1).split(".")[0]
            for m in re.finditer(r"^(?:from|import) ([\w.]+)", source, re.MULTILINE)
        }
        assert len(source.splitlines()) < 500
        stdlib = {"__future__", "collections", "dataclasses", "datetime", "hashlib"}
        stdlib |= {"itertools", "math", "re", "typing", "zoneinfo"}
        assert stdlib | {"providers"} == imports
        assert (4, "1.0.0") == (plugin.REQUIRES_KIT, plugin.__version__)


# -- against the loopback stand-in -------------------------------------------------------------


@pytest.fixture
async def stand_in() -> AsyncIterator[RunningFake]:
    async with serve() as running:
        yield running


@pytest.fixture
async def loaded(plugin: Any) -> AsyncIterator[Any]:
    """A provider from the plugin file loaded as the daemon loads it, over real HTTP."""
    async with aiohttp.ClientSession() as session:
        instance = plugin.TibberProvider()
        instance.attach(session, timeout=5.0)
        instance.fake_time = fake_time(instance)
        yield instance


def config_for(fake: RunningFake, **extra: Any) -> dict[str, Any]:
    return {"region": "DE", **fake.config(), **FAST, **extra}


class TestAgainstTheStandIn:
    @pytest.mark.parametrize(("day", "count"), [(date(2026, 3, 29), 92), (date(2026, 10, 25), 100)])
    async def test_clock_change_days(
        self, loaded: Any, stand_in: RunningFake, day: date, count: int
    ) -> None:
        stand_in.state.today = day
        slots = await loaded.fetch_prices("DE", *berlin_day(day), config_for(stand_in))
        assert (count, {QUARTER}) == (len(slots), {slot.duration for slot in slots})

    async def test_the_current_price_and_health(self, loaded: Any, stand_in: RunningFake) -> None:
        now = datetime.now(UTC)
        slot = await loaded.get_current_price("DE", config_for(stand_in), now=now)
        assert slot is not None
        assert slot.contains(now)
        expected = price_of("QUARTER_HOURLY", slot.valid_from, BERLIN)
        assert (round(expected["total"] * 100, 6), round(expected["energy"] * 100, 6)) == (
            slot.price_pence,
            slot.energy_pence,
        )
        loaded.fake_time.now += 61
        assert (await loaded.health_check("DE", config_for(stand_in))).ok

    async def test_an_empty_quarter_hourly_answer_gives_hours(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        stand_in.state.quarter_hourly_empty = True
        today = datetime.now(BERLIN).date()
        slots = await loaded.fetch_prices("DE", *berlin_day(today), config_for(stand_in))
        assert {HOUR} == {slot.duration for slot in slots}
        assert ["QUARTER_HOURLY", "HOURLY"] == stand_in.state.requests

    async def test_several_homes(self, loaded: Any, stand_in: RunningFake) -> None:
        stand_in.state.homes = [("h-1", "Flat"), ("h-2", "Cabin")]
        today = datetime.now(BERLIN).date()
        with pytest.raises(ProviderConfigError, match=r"h-1 \(Flat\), h-2 \(Cabin\)"):
            await loaded.fetch_prices("DE", *berlin_day(today), config_for(stand_in))
        slots = await loaded.fetch_prices(
            "DE", *berlin_day(today), config_for(stand_in, home_id="h-2")
        )
        expected = price_of("QUARTER_HOURLY", slots[0].valid_from, BERLIN, home=1)
        assert round(expected["total"] * 100, 6) == slots[0].price_pence

    async def test_a_wrong_token(self, loaded: Any, stand_in: RunningFake) -> None:
        today = datetime.now(BERLIN).date()
        with pytest.raises(ProviderAuthError, match="UNAUTHENTICATED"):
            await loaded.fetch_prices(
                "DE", *berlin_day(today), config_for(stand_in, token="not-it")
            )

    async def test_tomorrow_not_yet(self, loaded: Any, stand_in: RunningFake) -> None:
        today = datetime.now(BERLIN).date()
        stand_in.state.published_until = berlin_day(today)[1]
        start, _ = berlin_day(today)
        slots = await loaded.fetch_prices(
            "DE", start, start + timedelta(days=2), config_for(stand_in)
        )
        assert berlin_day(today) == (slots[0].valid_from, slots[-1].valid_to)

    @pytest.mark.parametrize(
        ("fault", "error"),
        [
            (429, ProviderRateLimitError),
            (504, ProviderServerError),
            ("garbage", ProviderDataError),
            ("internal", ProviderServerError),
        ],
    )
    async def test_faults(
        self, loaded: Any, stand_in: RunningFake, fault: int | str, error: type[Exception]
    ) -> None:
        stand_in.state.faults.extend([fault] * 3)
        today = datetime.now(BERLIN).date()
        with pytest.raises(error):
            await loaded.fetch_prices(
                "DE", *berlin_day(today), config_for(stand_in, retry_attempts=1)
            )

    async def test_a_504_then_prices(self, loaded: Any, stand_in: RunningFake) -> None:
        """The gateway's HTML 504 is retried by the kit; the next answer is used."""
        stand_in.state.faults.append(504)
        today = datetime.now(BERLIN).date()
        slots = await loaded.fetch_prices("DE", *berlin_day(today), config_for(stand_in))
        assert ["fault 504", "QUARTER_HOURLY"] == stand_in.state.requests
        assert slots

    async def test_the_stand_in_answers_only_the_fields_asked(self, stand_in: RunningFake) -> None:
        """Like GraphQL: the recorded query (total startsAt) gets entries of those two keys."""
        query = (
            "{viewer{homes{id appNickname currentSubscription{priceInfo(resolution: "
            "QUARTER_HOURLY){today{total startsAt} tomorrow{total startsAt}}}}}}"
        )
        async with aiohttp.ClientSession() as session:
            headers = {"Authorization": f"Bearer {stand_in.state.token}"}
            url = stand_in.url + "/v1-beta/gql"
            async with session.post(url, json={"query": query}, headers=headers) as resp:
                body = await resp.json()
        (found,) = body["data"]["viewer"]["homes"]
        recorded = load_fixture(QUARTER_HOURLY_FIXTURE)["data"]["viewer"]["homes"][0]
        assert set(recorded) == set(found)
        today = found["currentSubscription"]["priceInfo"]["today"]
        assert {"total", "startsAt"} == set(today[0])
