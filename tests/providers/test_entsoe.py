"""The ENTSO-E plugin: parsing recorded A44 answers, its quirks and requests, and a stand-in."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
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
    ProviderFetchError,
    ProviderNotPublishedError,
    ProviderRateLimitError,
    ProviderServerError,
)
from energyd.providers.base import EnergyPriceSlot, local_day_window
from energyd.providers.loader import bundled_plugin_dir
from energyd.providers.validation import validate_slots
from tests.support.fake_entsoe import (
    FIXTURES,
    TOKEN,
    RunningFake,
    acknowledgement,
    default_price,
    serve,
)
from tests.support.plugins import load_bundled_plugin

API = "https://web-api.tp.entsoe.eu/api"
ENDPOINT = re.compile(re.escape(API) + r"(\?.*)?$")
SECRET = "5e1f0c2a-77d4-4c1b-9a3e-0d6b8f2c4e19"
CONFIG = {"region": "DE-LU", "security_token": SECRET}
FAST = {**CONFIG, "retry_base_seconds": 0.001, "retry_budget_seconds": 5}
DE_LU = "10Y1001A1001A82H"
HOUR = timedelta(hours=1)
QUARTER = timedelta(minutes=15)
BERLIN = "Europe/Berlin"

BE_HOURLY = "A44_BE_PT60M_2024-10-08.xml"
BE_MIXED = "A44_BE_PT15M-A03-compressed_then_PT60M_2024-10-06_08.xml"
DE_2026 = "A44_DE-LU_PT15M_seq1-seq2_2026-02-02_03.xml"
DE_2024 = "A44_DE-LU_seq1-PT60M_seq2-PT15M_2024-10-06_07.xml"
ACK = "Acknowledgement_no-matching-data_FI_2022-08-08.xml"

#: markets.md §3: the EIC codes listed there (ha_epex_spot MARKET_AREA_MAP).
MARKETS_MD_EICS = {
    "DE-LU": "10Y1001A1001A82H",
    "AT": "10YAT-APG------L",
    "BE": "10YBE----------2",
    "NL": "10YNL----------L",
    "FR": "10YFR-RTE------C",
    "DK1": "10YDK-1--------W",
    "DK2": "10YDK-2--------M",
    "FI": "10YFI-1--------U",
    "SE3": "10Y1001A1001A46L",
    "SE4": "10Y1001A1001A47J",
    "NO1": "10YNO-1--------2",
    "NO2": "10YNO-2--------T",
    "PL": "10YPL-AREA-----S",
    "CZ": "10YCZ-CEPS-----N",
    "ES": "10YES-REE------0",
    "PT": "10YPT-REN------W",
    "IT-North": "10Y1001A1001A73I",
    "EE": "10Y1001A1001A39I",
    "LT": "10YLT-1001A0008Q",
    "LV": "10YLV-1001A00074",
}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def fixture(name: str) -> bytes:
    """A recorded body exactly as stored."""
    return (FIXTURES / name).read_bytes()


def local(tag: str) -> str:
    return tag.rpartition("}")[2]


def recorded_prices(name: str, sequence: str | None) -> list[list[tuple[int, float]]]:
    """Per Period of ``sequence`` (None: series without one): its (position, EUR/MWh)."""
    periods = []
    for series in ET.fromstring(fixture(name)).iter():
        if local(series.tag) != "TimeSeries":
            continue
        seq = next((c.text for c in series if local(c.tag).startswith("classification")), None)
        if seq != sequence:
            continue
        for period in (c for c in series if local(c.tag) == "Period"):
            points = [p for p in period if local(p.tag) == "Point"]
            periods.append([(int(p[0].text or ""), float(p[1].text or "")) for p in points])
    return periods


def cents(mwh: float) -> float:
    return round(mwh / 10, 6)


def without(name: str, drop: set[tuple[str, int]]) -> bytes:
    """The recorded document without some Periods: ``(TimeSeries mRID, Period index)``."""
    root = ET.fromstring(fixture(name))
    for series in [c for c in root if local(c.tag) == "TimeSeries"]:
        mrid = next(c.text for c in series if local(c.tag) == "mRID")
        periods = [c for c in series if local(c.tag) == "Period"]
        for index, period in enumerate(periods):
            if (str(mrid), index) in drop:
                series.remove(period)
        if not [c for c in series if local(c.tag) == "Period"]:
            root.remove(series)
    return ET.tostring(root)


def edited(name: str, old: str, new: str, count: int = -1) -> bytes:
    text = fixture(name).decode("utf-8")
    assert old in text
    return text.replace(old, new, count).encode("utf-8")


@pytest.fixture(scope="module")
def plugin() -> Any:
    """The bundled plugin module, loaded standalone like the daemon does."""
    return load_bundled_plugin("entsoe_provider.py")


class TestParsingRecordedAnswers:
    def test_a_whole_hourly_be_day(self, plugin: Any) -> None:
        """BE 8 Oct 2024, PT60M: 24 hourly slots from 22:00Z, prices in c/kWh."""
        slots = plugin.parse_prices(fixture(BE_HOURLY))
        assert 24 == len(slots)
        assert (
            EnergyPriceSlot(utc(2024, 10, 7, 22), utc(2024, 10, 7, 23), 6.498, "EUR") == (slots[0])
        )
        assert (10.0, 11.547, 5.0) == (
            slots[8].price_pence,
            slots[19].price_pence,
            slots[-1].price_pence,
        )
        assert utc(2024, 10, 8, 22) == slots[-1].valid_to
        assert {HOUR} == {slot.duration for slot in slots}

    def test_a03_positions_are_filled_forward_to_the_periods_end(self, plugin: Any) -> None:
        """BE 6-8 Oct 2024: only every 4th quarter hour is listed (and day 1 ends at position
        93): every quarter hour repeats the last listed price, up to the period's end."""
        slots = plugin.parse_prices(fixture(BE_MIXED))
        assert [QUARTER] * 192 + [HOUR] * 24 == [slot.duration for slot in slots]
        day1 = slots[:96]
        assert [5.535] * 4 + [4.422] * 4 == [s.price_pence for s in day1[:8]]
        assert [-0.001] * 8 + [0.02] == [s.price_pence for s in day1[52:61]]  # 57 omitted too
        assert [5.233] * 4 == [s.price_pence for s in day1[92:]]  # trailing 94-96 omitted
        assert (utc(2024, 10, 5, 22), utc(2024, 10, 6, 22)) == (
            day1[0].valid_from,
            day1[-1].valid_to,
        )
        assert [7.718] * 4 == [s.price_pence for s in slots[188:192]]
        assert plugin.parse_prices(fixture(BE_HOURLY)) == slots[192:]

    def test_two_sequences_sdac_wins_everywhere(self, plugin: Any) -> None:
        """DE-LU 2-3 Feb 2026: EXAA (seq 2) and SDAC (seq 1) for both days -> only SDAC."""
        slots = plugin.parse_prices(fixture(DE_2026), DE_LU)
        sdac = recorded_prices(DE_2026, "1")
        assert [cents(price) for period in sdac for _, price in period] == pytest.approx(
            [slot.price_pence for slot in slots]
        )
        assert (192, {QUARTER}) == (len(slots), {slot.duration for slot in slots})
        assert (10.041, 12.396) == (slots[0].price_pence, slots[96 + 78].price_pence)
        assert (utc(2026, 2, 1, 23), utc(2026, 2, 3, 23)) == (
            slots[0].valid_from,
            slots[-1].valid_to,
        )

    def test_exaa_fills_a_day_sdac_has_not_published(self, plugin: Any) -> None:
        """Without SDAC's 3 Feb (TimeSeries 4), EXAA's stands in; its omitted position 79
        repeats position 78."""
        slots = plugin.parse_prices(without(DE_2026, {("4", 0)}), DE_LU)
        assert 192 == len(slots)
        assert 10.041 == slots[0].price_pence  # 2 Feb: SDAC
        exaa = dict(recorded_prices(DE_2026, "2")[1])
        assert [cents(exaa[1]), cents(exaa[78]), cents(exaa[78]), cents(exaa[80])] == [
            slots[96].price_pence,
            slots[96 + 77].price_pence,
            slots[96 + 78].price_pence,
            slots[96 + 79].price_pence,
        ]
        assert 12.159 == slots[96 + 78].price_pence
        # EXAA's prices stand in until SDAC's replace them: provisional, SDAC's final
        assert ({False}, {True}) == (
            {s.provisional for s in slots[:96]},
            {s.provisional for s in slots[96:]},
        )

    def test_hourly_sdac_beats_quarter_hour_exaa_and_stays_hourly(self, plugin: Any) -> None:
        """DE-LU 6-7 Oct 2024: SDAC hourly (position 15 omitted), EXAA quarter hourly. The
        result is SDAC's 48 hours, not split; the header's one-day interval is not checked."""
        slots = plugin.parse_prices(fixture(DE_2024), DE_LU)
        assert ([HOUR] * 48, utc(2024, 10, 5, 22), utc(2024, 10, 7, 22)) == (
            [slot.duration for slot in slots],
            slots[0].valid_from,
            slots[-1].valid_to,
        )
        assert [-0.001, -0.001, 0.02] == [s.price_pence for s in slots[13:16]]
        assert (6.704, 5.5, 7.912) == (
            slots[0].price_pence,
            slots[24 + 14].price_pence,
            slots[-1].price_pence,
        )

    def test_exaa_quarter_hours_follow_hourly_sdac_where_sdac_ends(self, plugin: Any) -> None:
        """Without SDAC's 7 Oct: 24 SDAC hours, then 96 EXAA quarter hours (position 6
        omitted, so it repeats position 5)."""
        slots = plugin.parse_prices(without(DE_2024, {("1", 1)}), DE_LU)
        assert [HOUR] * 24 + [QUARTER] * 96 == [slot.duration for slot in slots]
        assert [7.991, 6.491, 6.491, 6.31] == [
            slots[24].price_pence,
            slots[28].price_pence,
            slots[29].price_pence,
            slots[30].price_pence,
        ]

    def test_no_matching_data_is_not_published_yet(self, plugin: Any) -> None:
        """The recorded FI acknowledgement (code 999) is "not yet", carrying its text."""
        with pytest.raises(ProviderNotPublishedError, match="No matching data found") as caught:
            plugin.parse_prices(fixture(ACK))
        assert "10YFI-1--------U" in str(caught.value)

    @pytest.mark.parametrize("name", [BE_HOURLY, BE_MIXED, DE_2026, DE_2024])
    def test_the_slots_pass_the_daemons_validation(self, plugin: Any, name: str) -> None:
        """What the parser returns is what the store accepts: no overlap, no duplicate."""
        slots = plugin.parse_prices(fixture(name))
        assert slots == validate_slots(
            slots, slots[0].valid_from, slots[-1].valid_to, currency="EUR"
        )


class TestQuirks:
    @pytest.mark.parametrize(
        "namespace",
        [
            'xmlns="urn:iec62325.351:tc57wg16:451-3:publicationdocument:7:0"',
            'xmlns="urn:example:other"',
            "",
        ],
    )
    def test_any_namespace_version(self, plugin: Any, namespace: str) -> None:
        """Elements are matched by local name: another (or no) namespace parses the same."""
        body = edited(
            DE_2026, 'xmlns="urn:iec62325.351:tc57wg16:451-3:publicationdocument:7:3"', namespace
        )
        assert plugin.parse_prices(fixture(DE_2026)) == plugin.parse_prices(body)

    def test_a_pt30m_period_is_filled_to_its_end(self, plugin: Any) -> None:
        """PT30M: 48 half hours in the day; positions 25-48 repeat position 24 (A03)."""
        slots = plugin.parse_prices(edited(BE_HOURLY, "PT60M", "PT30M"))
        assert ([timedelta(minutes=30)] * 48, 6.498) == (
            [slot.duration for slot in slots],
            slots[0].price_pence,
        )
        assert [5.0] * 25 == [slot.price_pence for slot in slots[23:]]
        assert utc(2024, 10, 7, 22, 30) == slots[0].valid_to

    def test_a01_positions_are_never_filled(self, plugin: Any) -> None:
        """curveType A01 lists every position: one missing is a gap, not a copied price."""
        slots = plugin.parse_prices(edited(BE_MIXED, "<curveType>A03", "<curveType>A01"))
        assert 23 + 24 + 24 == len(slots)
        assert {QUARTER} == {slot.duration for slot in slots[:47]}
        assert utc(2024, 10, 5, 22, 15) == slots[0].valid_to
        assert utc(2024, 10, 5, 23) == slots[1].valid_from

    def test_a_series_of_another_contract_type_is_skipped(self, plugin: Any) -> None:
        """contract_MarketAgreement.type other than A01 (Spain's intraday A07) is not day-ahead."""
        body = edited(BE_HOURLY, "<contract_MarketAgreement.type>A01", "<x>A07", 1)
        body = body.replace(b"A07</contract_MarketAgreement.type>", b"A07</x>")
        assert 24 == len(plugin.parse_prices(body))
        a07 = edited(BE_HOURLY, "type>A01</contract", "type>A07</contract")
        assert [] == plugin.parse_prices(a07)

    @pytest.mark.parametrize(
        ("old", "new"),
        [
            ("<currency_Unit.name>EUR", "<currency_Unit.name>PLN"),
            ("<price_Measure_Unit.name>MWH", "<price_Measure_Unit.name>KWH"),
            ("<currency_Unit.name>EUR</currency_Unit.name>", ""),
            ("<position>9</position>", "<position>0</position>"),
            ("<position>9</position>", "<position>25</position>"),
            ("<position>9</position>", "<position>8</position>"),
            ("<position>9</position>", "<position>nine</position>"),
            ("<price.amount>100</price.amount>", "<price.amount>abc</price.amount>"),
            ("<price.amount>100</price.amount>", "<price.amount>NaN</price.amount>"),
            ("<price.amount>100</price.amount>", "<price.amount></price.amount>"),
            ("<resolution>PT60M", "<resolution>PT7M"),
            ("<resolution>PT60M", "<resolution>P1D"),
            ("<resolution>PT60M", "<resolution>PT0M"),
            (
                "<end>2024-10-08T22:00Z</end>\n            </timeInterval>",
                "<end>2024-10-07T21:00Z</end></timeInterval>",
            ),
            (
                "<start>2024-10-07T22:00Z</start>\n              <end>",
                "<start>yesterday</start><end>",
            ),
            ("<curveType>A03", "<curveType>A05"),
            ("<type>A44", "<type>A65"),
        ],
        ids=[
            "currency",
            "unit",
            "no-currency",
            "position-0",
            "position-beyond",
            "position-twice",
            "position-text",
            "price-text",
            "price-nan",
            "price-empty",
            "resolution-uneven",
            "resolution-day",
            "resolution-zero",
            "end-before-start",
            "start-not-a-time",
            "curve",
            "document-type",
        ],
    )
    def test_garbage_fails_the_whole_answer(self, plugin: Any, old: str, new: str) -> None:
        """Anything malformed or in another unit is a ProviderDataError; nothing half-parsed."""
        with pytest.raises(ProviderDataError):
            plugin.parse_prices(edited(BE_HOURLY, old, new, 1))

    def test_an_a03_period_must_start_with_position_1(self, plugin: Any) -> None:
        """Nothing comes before position 1 to fill it from."""
        root = ET.fromstring(fixture(BE_HOURLY))
        period = next(e for e in root.iter() if local(e.tag) == "Period")
        period.remove(next(e for e in period if local(e.tag) == "Point"))
        with pytest.raises(ProviderDataError, match="without position 1"):
            plugin.parse_prices(ET.tostring(root))

    @pytest.mark.parametrize(
        "body",
        [
            b"<html><body>maintenance</body></html>",
            b"",
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
            b"<Publication_MarketDocument><TimeSeries><Per",
        ],
        ids=["html", "empty", "doctype", "truncated"],
    )
    def test_bodies_that_are_not_a44(self, plugin: Any, body: bytes) -> None:
        with pytest.raises(ProviderDataError):
            plugin.parse_prices(body)

    def test_prices_of_another_zone_are_refused(self, plugin: Any) -> None:
        """A series for another area than asked for is refused, not stored under ours."""
        with pytest.raises(ProviderDataError, match="10YBE"):
            plugin.parse_prices(fixture(BE_HOURLY), DE_LU)

    def test_a_document_without_series_has_no_prices(self, plugin: Any) -> None:
        root = ET.fromstring(fixture(BE_HOURLY))
        for series in [c for c in root if local(c.tag) == "TimeSeries"]:
            root.remove(series)
        assert [] == plugin.parse_prices(ET.tostring(root))

    def test_another_reason_code_is_a_refusal(self, plugin: Any) -> None:
        """A code other than 999 is an error with its code and text, never "not yet"."""
        with pytest.raises(ProviderFetchError, match="reason 101: Bad request") as caught:
            plugin.parse_prices(acknowledgement("Bad request", code="101"))
        assert not isinstance(caught.value, ProviderEmptyError)

    def test_a_999_calling_the_request_invalid_is_a_refusal(self, plugin: Any) -> None:
        """ENTSO-E also says 999 for an unknown area (entsoe-py#311): that is no "not yet"."""
        text = "Delivered Area EIC 10YDE-ENBW-----N is not valid."
        with pytest.raises(ProviderFetchError, match="is not valid") as caught:
            plugin.parse_prices(acknowledgement(text))
        assert not isinstance(caught.value, ProviderEmptyError)

    def test_prefer_sequences_drops_any_overlap(self, plugin: Any) -> None:
        """Sequence 2 keeps only intervals sequence 1 leaves free; nothing overlaps."""
        priced = plugin.Priced
        start = utc(2026, 2, 2, 0)
        prices = [
            priced(start, start + HOUR, 1.0, 1),
            *(priced(start + QUARTER * n, start + QUARTER * (n + 1), 2.0, 2) for n in range(8)),
        ]
        kept = plugin.prefer_sequences(prices)
        assert [(start, 1)] + [(start + QUARTER * n, 2) for n in range(4, 8)] == [
            (p.start, p.sequence) for p in kept
        ]


@pytest.fixture
async def provider(plugin: Any, http_mock: aioresponses) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession() as session:
        instance = plugin.EntsoeProvider()
        instance.attach(session, timeout=5.0)
        yield instance


def requested(http_mock: aioresponses) -> list[URL]:
    return [url for (_, url) in http_mock.requests]


def calls(http_mock: aioresponses) -> int:
    """Requests made (the same URL twice counts twice)."""
    return sum(len(made) for made in http_mock.requests.values())


def berlin_days(first: date, last: date) -> tuple[datetime, datetime]:
    return local_day_window(first, BERLIN)[0], local_day_window(last, BERLIN)[1]


class TestRequests:
    async def test_one_request_covers_the_cet_days_of_the_window_in_utc(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A window inside 2-3 Feb 2026 asks once, from CET midnight (23:00Z) to the end of
        the 3rd, with every A44 parameter; the slots are cut to the window."""
        http_mock.get(ENDPOINT, body=fixture(DE_2026))
        slots = await provider.fetch_prices("DE-LU", utc(2026, 2, 2, 5), utc(2026, 2, 3, 7), CONFIG)
        (url,) = requested(http_mock)
        assert {
            "securityToken": SECRET,
            "documentType": "A44",
            "in_Domain": DE_LU,
            "out_Domain": DE_LU,
            "periodStart": "202602012300",
            "periodEnd": "202602032300",
            "contract_MarketAgreement.type": "A01",
        } == dict(url.query)
        assert API == str(url.with_query(None))
        assert (utc(2026, 2, 2, 5), utc(2026, 2, 3, 7), 104) == (
            slots[0].valid_from,
            slots[-1].valid_to,
            len(slots),
        )

    @pytest.mark.parametrize(
        ("day", "start", "end"),
        [
            (date(2026, 3, 29), "202603282300", "202603292200"),
            (date(2026, 7, 1), "202606302200", "202607012200"),
            (date(2026, 10, 25), "202610242200", "202610252300"),
        ],
    )
    async def test_the_period_is_the_market_day_in_utc(
        self, provider: Any, http_mock: aioresponses, day: date, start: str, end: str
    ) -> None:
        """CET/CEST days, clock changes included (23 and 25 hours), written in UTC."""
        http_mock.get(ENDPOINT, body=fixture(ACK))
        with pytest.raises(ProviderNotPublishedError):
            await provider.fetch_prices("DE-LU", *berlin_days(day, day), CONFIG)
        (url,) = requested(http_mock)
        assert (start, end) == (url.query["periodStart"], url.query["periodEnd"])

    @pytest.mark.parametrize("region", ["de_lu", "De-Lu", DE_LU, "10y1001a1001a82h", "BZN|DE-LU"])
    async def test_the_zone_is_normalised_to_its_eic(
        self, provider: Any, http_mock: aioresponses, region: str
    ) -> None:
        """The user names a zone (any case, _ or -, or its EIC): the API gets the EIC."""
        http_mock.get(ENDPOINT, body=fixture(DE_2026))
        config = {**CONFIG, "region": region}
        await provider.fetch_prices(region, utc(2026, 2, 2), utc(2026, 2, 3), config)
        assert (DE_LU, DE_LU) == tuple(
            requested(http_mock)[0].query[k] for k in ("in_Domain", "out_Domain")
        )
        assert "DE-LU" == provider.normalise_config(config)["region"]

    @pytest.mark.parametrize("status", [200, 400])
    async def test_no_matching_data_with_200_or_400_is_not_yet(
        self, provider: Any, http_mock: aioresponses, status: int
    ) -> None:
        """The 999 acknowledgement means "not yet", whether it comes with 200 or 400."""
        http_mock.get(ENDPOINT, status=status, body=fixture(ACK), content_type="text/xml")
        with pytest.raises(ProviderNotPublishedError, match="No matching data found"):
            await provider.fetch_prices("DE-LU", utc(2026, 2, 2), utc(2026, 2, 3), FAST)
        assert 1 == calls(http_mock)

    @pytest.mark.parametrize("status", [200, 400])
    async def test_a_not_yet_answer_is_never_reused(
        self, provider: Any, http_mock: aioresponses, status: int
    ) -> None:
        """Within the 30 s of the answer cache, a fetch after "not yet" asks again and gets
        the prices that are out now."""
        http_mock.get(ENDPOINT, status=status, body=fixture(ACK), content_type="text/xml")
        http_mock.get(ENDPOINT, body=fixture(DE_2026))
        window = (utc(2026, 2, 2), utc(2026, 2, 3))
        with pytest.raises(ProviderNotPublishedError):
            await provider.fetch_prices("DE-LU", *window, FAST)
        assert await provider.fetch_prices("DE-LU", *window, FAST)
        assert 2 == calls(http_mock)

    async def test_a_400_refusal_carries_its_code_and_text(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """HTTP 400 with another reason code: a ProviderFetchError naming code and text."""
        body = acknowledgement("Invalid combination of parameters", code="101")
        http_mock.get(ENDPOINT, status=400, body=body, content_type="text/xml")
        with pytest.raises(ProviderFetchError, match="reason 101: Invalid combination") as caught:
            await provider.fetch_prices("DE-LU", utc(2026, 2, 2), utc(2026, 2, 3), FAST)
        assert (400, False) == (caught.value.status, isinstance(caught.value, ProviderEmptyError))

    async def test_a_400_without_acknowledgement_stays_a_refusal(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        http_mock.get(
            ENDPOINT, status=400, body="<html>Bad Request</html>", content_type="text/html"
        )
        with pytest.raises(ProviderFetchError) as caught:
            await provider.fetch_prices("DE-LU", utc(2026, 2, 2), utc(2026, 2, 3), FAST)
        assert (400, False) == (caught.value.status, isinstance(caught.value, ProviderEmptyError))

    async def test_401_names_the_token_but_never_shows_it(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A refused token is an auth error that says which setting to fix, without its value."""
        http_mock.get(ENDPOINT, status=401, body="<html>Unauthorized</html>")
        with pytest.raises(ProviderAuthError, match="security_token") as caught:
            await provider.fetch_prices("DE-LU", utc(2026, 2, 2), utc(2026, 2, 3), FAST)
        assert SECRET not in str(caught.value)
        assert 401 == caught.value.status

    async def test_the_token_stays_out_of_logs_and_error_messages(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """The debug log shows securityToken as ***; a server error and a connection error
        quoting the URL carry no token either."""
        http_mock.get(ENDPOINT, status=503, body="down", repeat=True)
        window = (utc(2026, 2, 2), utc(2026, 2, 3))
        with structlog.testing.capture_logs() as logs, pytest.raises(ProviderServerError) as server:
            await provider.fetch_prices("DE-LU", *window, {**FAST, "retry_attempts": 2})
        events = [e for e in logs if e["event"] == "provider.http"]
        assert ["***", "***"] == [e["params"]["securityToken"] for e in events]
        assert SECRET not in repr(logs)
        assert SECRET not in str(server.value)
        http_mock.clear()
        leak = aiohttp.ClientConnectionError(f"cannot reach {API}?securityToken={SECRET}")
        http_mock.get(ENDPOINT, exception=leak)
        with pytest.raises(ProviderConnectionError) as connection:
            await provider.fetch_prices("DE-LU", *window, {**FAST, "retry_attempts": 1})
        assert "cannot reach" in str(connection.value)
        assert SECRET not in str(connection.value)

    async def test_a_429_beyond_the_budget_keeps_its_retry_after(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """A 429 (and the 10-minute ban) reaches the planner with its Retry-After."""
        http_mock.get(ENDPOINT, status=429, headers={"Retry-After": "600"})
        with pytest.raises(ProviderRateLimitError) as caught:
            await provider.fetch_prices("DE-LU", utc(2026, 2, 2), utc(2026, 2, 3), FAST)
        assert 600 == caught.value.retry_after

    async def test_feeds_share_answers_and_requests_are_spaced(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """Within 30 s the same question is answered from the cache; another one waits for
        its 0.2 s turn (400 requests/min per token: markets.md §3)."""
        clock = [1000.0]
        waits: list[float] = []

        async def sleep(seconds: float) -> None:
            waits.append(seconds)
            clock[0] += seconds

        provider.pacer.clock = lambda: clock[0]
        provider.pacer.sleep = sleep
        http_mock.get(ENDPOINT, body=fixture(DE_2026), repeat=True)
        window = (utc(2026, 2, 2), utc(2026, 2, 3))
        first = await provider.fetch_prices("DE-LU", *window, CONFIG)
        assert first == await provider.fetch_prices("DE-LU", *window, CONFIG)
        assert (1, []) == (calls(http_mock), waits)
        await provider.fetch_prices("DE-LU", utc(2026, 2, 2), utc(2026, 2, 4), CONFIG)
        assert (2, [0.2]) == (calls(http_mock), [round(wait, 6) for wait in waits])
        clock[0] += 31
        await provider.fetch_prices("DE-LU", *window, CONFIG)
        assert 3 == calls(http_mock)
        assert (0.2, 30.0) == (provider.request_spacing_seconds, provider.cache_seconds)

    async def test_the_auction_used_is_noted_and_logged(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """With EXAA standing in for 3 Feb, source_notes and the log say so."""
        http_mock.get(ENDPOINT, body=without(DE_2026, {("4", 0)}))
        with structlog.testing.capture_logs() as logs:
            await provider.fetch_prices("DE-LU", utc(2026, 2, 2), utc(2026, 2, 4), CONFIG)
        assert {
            "auction": "SDAC (sequence 1) 2026-02-01T23:00:00Z..2026-02-02T23:00:00Z; "
            "EXAA (sequence 2) 2026-02-02T23:00:00Z..2026-02-03T23:00:00Z"
        } == provider.source_notes("de_lu", CONFIG)
        (event,) = [e for e in logs if e["event"] == "entsoe.fallback_auction"]
        assert ("DE-LU", "EXAA (sequence 2)") == (event["zone"], event["auction"])
        assert {} == provider.source_notes("AT", CONFIG)

    async def test_a_zone_without_sequences_has_one_day_ahead_auction(
        self, provider: Any, http_mock: aioresponses
    ) -> None:
        """BE's series carry no classification sequence: they count as sequence 1."""
        http_mock.get(ENDPOINT, body=fixture(BE_HOURLY))
        config = {**CONFIG, "region": "BE"}
        await provider.fetch_prices("BE", utc(2024, 10, 8), utc(2024, 10, 9), config)
        assert {"auction": "day-ahead 2024-10-07T22:00:00Z..2024-10-08T22:00:00Z"} == (
            provider.source_notes("BE", config)
        )


class TestConfigAndMetadata:
    def test_the_zones_have_names_and_the_eics_of_markets_md(self, plugin: Any) -> None:
        """Every zone has a human name; markets.md §3's EICs are used unchanged."""
        meta = plugin.EntsoeProvider().get_metadata()
        assert set(meta.supported_regions) == set(meta.region_names)
        assert {code: plugin.ZONES[code][0] for code in MARKETS_MD_EICS} == MARKETS_MD_EICS
        wanted = {"SE1", "SE2", "NO3", "NO4", "NO5", "HU", "SI", "SK", "HR", "RO", "BG", "GR", "CH"}
        assert wanted | {"IT-South", "IT-Sicily", "IT-Sardinia"} <= set(meta.supported_regions)
        eics = [eic for eic, _ in plugin.ZONES.values()]
        assert len(eics) == len(set(eics)) == len(meta.supported_regions)

    def test_the_market_rhythm(self, plugin: Any) -> None:
        """EUR, CET/CEST days from midnight, SDAC results ~13:00, 15-minute grid, a token."""
        meta = plugin.EntsoeProvider().get_metadata()
        assert ("entsoe", "EUR", BERLIN, "00:00", "13:00", 15, True) == (
            meta.provider_id,
            meta.currency,
            meta.market_timezone,
            meta.day_start_local,
            meta.publish_time_local,
            meta.slot_minutes,
            meta.requires_api_key,
        )
        assert (3, "1.0.0") == (plugin.REQUIRES_KIT, meta.version)

    def test_the_schema(self, plugin: Any) -> None:
        """region and security_token required; the token write-only; base_url defaulted."""
        schema = plugin.EntsoeProvider().get_metadata().config_schema
        assert ["region", "security_token"] == schema["required"]
        assert schema["properties"]["security_token"]["writeOnly"] is True
        assert API == schema["properties"]["base_url"]["default"]
        assert "Belgium" == schema["properties"]["region"]["x-names"]["BE"]

    @pytest.mark.parametrize(
        ("config", "errors"),
        [
            (CONFIG, set()),
            ({**CONFIG, "region": "it_north"}, set()),
            ({**CONFIG, "region": "10YBE----------2"}, set()),
            ({**CONFIG, "base_url": "http://127.0.0.1:8082/api"}, set()),
            ({**CONFIG, "retry_attempts": 2}, set()),
            ({"region": "DE-LU"}, {"security_token"}),
            ({}, {"region", "security_token"}),
            ({**CONFIG, "region": "DE"}, {"region"}),
            ({**CONFIG, "region": "10YDE-ENBW-----N"}, {"region"}),
            ({**CONFIG, "base_url": "ftp://x"}, {"base_url"}),
            ({**CONFIG, "securityToken": "x"}, {"securityToken"}),
        ],
    )
    def test_validate_config(self, plugin: Any, config: dict[str, Any], errors: set[str]) -> None:
        """Good configs validate clean; each bad key is named; control-area EICs are refused."""
        assert errors == set(plugin.EntsoeProvider().validate_config(config))

    def test_the_token_is_never_shown_and_its_hint_given(self, plugin: Any) -> None:
        provider = plugin.EntsoeProvider()
        bad = provider.validate_config({**CONFIG, "security_token": "my s3cret token"})
        assert "s3cret" not in repr(bad)
        assert "***" in bad["security_token"]
        missing = provider.validate_config({"region": "DE-LU"})
        assert "transparency.entsoe.eu" in missing["security_token"]

    def test_a_new_token_fetches_the_same_prices(self, plugin: Any) -> None:
        """The token is no part of the source identity; the zone and base_url are."""
        provider = plugin.EntsoeProvider()
        ours = provider.source_identity("DE-LU", CONFIG)
        assert ours == provider.source_identity("de_lu", {**CONFIG, "security_token": "other"})
        assert ours != provider.source_identity("AT", {**CONFIG, "region": "AT"})
        assert SECRET not in ours

    def test_the_plugin_stays_standalone(self) -> None:
        """Only the standard library and the base facade are imported."""
        source = (bundled_plugin_dir() / "entsoe_provider.py").read_text(encoding="utf-8")
        imports = {
            m.group(1).split(".")[0]
            for m in re.finditer(r"^(?:from|import) ([\w.]+)", source, re.MULTILINE)
        }
        assert {"__future__", "bisect", "collections", "dataclasses", "datetime", "math", "re",
                "typing", "xml", "providers"} == imports  # fmt: skip
        assert len(source.splitlines()) <= 470


@pytest.fixture
async def stand_in() -> AsyncIterator[RunningFake]:
    async with serve() as running:
        yield running


@pytest.fixture
async def loaded() -> AsyncIterator[Any]:
    """The plugin loaded standalone (as the daemon does), on a real session."""
    fresh = load_bundled_plugin("entsoe_provider.py")
    async with aiohttp.ClientSession() as session:
        provider = fresh.EntsoeProvider()
        provider.attach(session, timeout=2.0)
        yield provider


def config_for(fake: RunningFake, **extra: Any) -> dict[str, Any]:
    return {
        "region": "DE-LU",
        "security_token": TOKEN,
        "base_url": fake.url,
        "retry_base_seconds": 0.001,
        **extra,
    }


def expected(zone: str, slots: list[EnergyPriceSlot], sequence: int = 1) -> list[float]:
    return [round(default_price(zone, s.valid_from, sequence) / 10, 6) for s in slots]


class TestAgainstTheStandIn:
    @pytest.mark.parametrize(
        ("day", "count"),
        [(date(2026, 3, 29), 92), (date(2026, 10, 25), 100), (date(2026, 11, 26), 96)],
    )
    async def test_clock_change_days_have_92_or_100_quarter_hours(
        self, loaded: Any, stand_in: RunningFake, day: date, count: int
    ) -> None:
        """Through real HTTP and A03 compression (the last hour's three repeats left out):
        every quarter hour of the day, priced as the stand-in says."""
        start, end = berlin_days(day, day)
        slots = await loaded.fetch_prices("DE-LU", start, end, config_for(stand_in))
        assert (count, {QUARTER}) == (len(slots), {slot.duration for slot in slots})
        assert slots == validate_slots(slots, start, end, currency="EUR")
        prices = expected("DE-LU", slots)
        assert prices == [slot.price_pence for slot in slots]
        assert [prices[-4]] * 4 == prices[-4:]  # the trailing positions were omitted
        assert 1 == len(stand_in.state.requests)

    async def test_the_stand_in_compresses_as_entsoe_does(self, stand_in: RunningFake) -> None:
        """EXAA first, then SDAC, one Period each; A03 leaves repeats out, trailing ones too."""
        params = {
            "securityToken": TOKEN,
            "documentType": "A44",
            "in_Domain": DE_LU,
            "out_Domain": DE_LU,
            "periodStart": "202603282300",
            "periodEnd": "202603292200",
        }
        async with (
            aiohttp.ClientSession() as session,
            session.get(stand_in.url, params=params) as resp,
        ):
            assert 200 == resp.status
            root = ET.fromstring(await resp.read())
        series = [e for e in root if local(e.tag) == "TimeSeries"]
        sequences = [next(c.text for c in s if local(c.tag).startswith("classif")) for s in series]
        assert ["2", "1"] == sequences
        for one in series:
            points = [e for e in one.iter() if local(e.tag) == "position"]
            positions = [int(e.text or "") for e in points]
            assert (1, True) == (positions[0], positions[-1] < 92)
            assert len(positions) < 92

    async def test_hourly_sdac_before_the_15_minute_switch(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        """30 Sep 2025 DE-LU: SDAC hourly covers the day, EXAA's quarter hours are unused."""
        start, end = berlin_days(date(2025, 9, 30), date(2025, 10, 1))
        slots = await loaded.fetch_prices("DE-LU", start, end, config_for(stand_in))
        assert [HOUR] * 24 + [QUARTER] * 96 == [slot.duration for slot in slots]
        assert expected("DE-LU", slots) == [slot.price_pence for slot in slots]

    async def test_exaa_stands_in_until_sdac_is_published(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        """Before ~13:00: tomorrow from EXAA. After SDAC (and the 30 s cache): from SDAC."""
        today, tomorrow = date(2026, 11, 26), date(2026, 11, 27)
        clock = [500.0]
        loaded.pacer.clock = lambda: clock[0]
        stand_in.state.sdac_published_until = berlin_days(today, today)[1]
        stand_in.state.exaa_published_until = berlin_days(tomorrow, tomorrow)[1]
        window = berlin_days(today, tomorrow)
        early = await loaded.fetch_prices("DE-LU", *window, config_for(stand_in))
        assert expected("DE-LU", early[:96]) == [slot.price_pence for slot in early[:96]]
        assert expected("DE-LU", early[96:], 2) == [slot.price_pence for slot in early[96:]]
        assert "EXAA" in loaded.source_notes("DE-LU", {})["auction"]
        stand_in.state.sdac_published_until = None
        assert early == await loaded.fetch_prices("DE-LU", *window, config_for(stand_in))
        clock[0] += 31
        late = await loaded.fetch_prices("DE-LU", *window, config_for(stand_in))
        assert [s.valid_from for s in early] == [s.valid_from for s in late]
        assert expected("DE-LU", late) == [slot.price_pence for slot in late]
        assert [True] * 96 == [s.provisional for s in early[96:]]
        assert not any(s.provisional for s in late)
        assert "EXAA" not in loaded.source_notes("DE-LU", {})["auction"]
        assert 2 == len(stand_in.state.requests)

    async def test_austria_has_exaa_too_belgium_does_not(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        tomorrow = date(2026, 11, 27)
        stand_in.state.sdac_published_until = berlin_days(tomorrow, tomorrow)[0]
        window = berlin_days(tomorrow, tomorrow)
        austria = await loaded.fetch_prices("AT", *window, config_for(stand_in, region="AT"))
        assert expected("AT", austria, 2) == [slot.price_pence for slot in austria]
        with pytest.raises(ProviderNotPublishedError):
            await loaded.fetch_prices("BE", *window, config_for(stand_in, region="BE"))

    async def test_an_unpublished_tomorrow_leaves_today(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        today, tomorrow = date(2026, 11, 26), date(2026, 11, 27)
        stand_in.state.published_until = berlin_days(today, today)[1]
        slots = await loaded.fetch_prices(
            "DE-LU", *berlin_days(today, tomorrow), config_for(stand_in)
        )
        assert (96, stand_in.state.published_until) == (len(slots), slots[-1].valid_to)

    @pytest.mark.parametrize("status", [200, 400])
    async def test_nothing_published_is_not_yet(
        self, loaded: Any, stand_in: RunningFake, status: int
    ) -> None:
        """The stand-in's 999 acknowledgement (200 or 400): waiting, not an error; one try."""
        tomorrow = date(2026, 11, 27)
        stand_in.state.published_until = berlin_days(tomorrow, tomorrow)[0]
        stand_in.state.not_published_status = status
        with pytest.raises(ProviderNotPublishedError, match="No matching data found") as caught:
            await loaded.fetch_prices(
                "DE-LU", *berlin_days(tomorrow, tomorrow), config_for(stand_in)
            )
        assert (status == 400) == (caught.value.status == 400)
        assert 1 == len(stand_in.state.requests)

    async def test_a_wrong_token_is_an_auth_error(self, loaded: Any, stand_in: RunningFake) -> None:
        config = config_for(stand_in, security_token="wrong-token-123")
        with pytest.raises(ProviderAuthError, match="security_token") as caught:
            await loaded.fetch_prices(
                "DE-LU", *berlin_days(date(2026, 11, 26), date(2026, 11, 26)), config
            )
        assert "wrong-token-123" not in str(caught.value)
        assert 1 == len(stand_in.state.requests)

    async def test_an_area_the_api_does_not_know_is_refused(
        self, loaded: Any, stand_in: RunningFake
    ) -> None:
        """400 with a 999 "Delivered Area EIC ... is not valid." is an error, not "not yet"."""
        day = date(2026, 11, 26)
        with pytest.raises(ProviderFetchError, match="10YHR-HEP------M is not valid") as caught:
            await loaded.fetch_prices(
                "HR", *berlin_days(day, day), config_for(stand_in, region="HR")
            )
        assert not isinstance(caught.value, ProviderEmptyError)

    async def test_server_errors_are_retried(self, loaded: Any, stand_in: RunningFake) -> None:
        """Two 5xx, then the answer: three requests, one success."""
        stand_in.state.faults.extend([500, 503])
        day = date(2026, 11, 26)
        slots = await loaded.fetch_prices("DE-LU", *berlin_days(day, day), config_for(stand_in))
        assert (96, 3) == (len(slots), len(stand_in.state.requests))

    async def test_throttling_reaches_the_caller(self, loaded: Any, stand_in: RunningFake) -> None:
        """A 429 asking for more than the budget is raised with its Retry-After."""
        stand_in.state.faults.append(429)
        stand_in.state.retry_after = "120"
        day = date(2026, 11, 26)
        with pytest.raises(ProviderRateLimitError) as caught:
            await loaded.fetch_prices(
                "DE-LU", *berlin_days(day, day), config_for(stand_in, retry_budget_seconds=10)
            )
        assert 120 == caught.value.retry_after

    async def test_a_hang_is_a_connection_error_within_the_timeout(
        self, plugin: Any, stand_in: RunningFake
    ) -> None:
        stand_in.state.faults.append("hang")
        day = date(2026, 11, 26)
        async with aiohttp.ClientSession() as session:
            provider = plugin.EntsoeProvider()
            provider.attach(session, timeout=0.3)
            began = time.monotonic()
            with pytest.raises(ProviderConnectionError, match=r"no answer within 0\.3 s"):
                await provider.fetch_prices(
                    "DE-LU", *berlin_days(day, day), config_for(stand_in, retry_attempts=1)
                )
        assert time.monotonic() - began < 2

    async def test_garbage_is_a_data_error(self, loaded: Any, stand_in: RunningFake) -> None:
        stand_in.state.faults.append("garbage")
        day = date(2026, 11, 26)
        with pytest.raises(ProviderDataError):
            await loaded.fetch_prices("DE-LU", *berlin_days(day, day), config_for(stand_in))
        assert 1 == len(stand_in.state.requests)

    async def test_the_health_check(self, loaded: Any, stand_in: RunningFake) -> None:
        """OK with a price for now; one attempt only when the server fails."""
        assert "ok" == (await loaded.health_check("DE-LU", config_for(stand_in))).state.value
        loaded.pacer.cache_seconds = 0
        stand_in.state.faults.extend([500, 500, 500])
        health = await loaded.health_check("DE-LU", config_for(stand_in))
        assert ("error", 2) == (health.state.value, len(stand_in.state.requests))
