"""A loopback stand-in of the ENTSO-E Transparency Platform's A44 API (aiohttp.web), for tests.

Serves ``GET /api?securityToken=...&documentType=A44&in_Domain=<EIC>&out_Domain=<EIC>
&periodStart=yyyyMMddHHmm&periodEnd=yyyyMMddHHmm`` (UTC) the way the real API answers, in the
layout of the recorded ``tests/fixtures/entsoe/A44_DE-LU_PT15M_seq1-seq2_2026-02-02_03.xml``:
a ``Publication_MarketDocument`` (namespace ``...publicationdocument:7:3``) with one
TimeSeries per CET/CEST market day and sequence, each with one Period of that whole day that
overlaps the asked interval, curveType A03 **compressed** as ENTSO-E does (a position whose
price equals the previous one is left out, trailing ones too).

- Slots: PT15M from the delivery day 2025-10-01, PT60M before, for SDAC (sequence 1); EXAA
  (sequence 2, DE-LU and AT only, listed before sequence 1 as in the recording) is PT15M.
  Clock-change days have 92 / 100 quarter hours (23 / 25 hours).
- Prices: :func:`default_price` (zone, slot start, sequence) -> EUR/MWh with 2 decimals:
  flat within each hour from 21:00 to 06:00 local (so A03 leaves positions out, the day's
  last three quarter hours included), a negative 13:00 hour, EXAA 3.25 above SDAC.
- Publication: a day is served once its end is at or before ``state.sdac_published_until``
  (sequence 1) / ``state.exaa_published_until`` (sequence 2); ``None`` = published.
  ``state.published_until = t`` sets both. When nothing is published for the interval the
  answer is the real "not yet": an ``Acknowledgement_MarketDocument`` with Reason code 999
  "No matching data found ...", with HTTP ``state.not_published_status`` (200; the real API
  has been seen answering 200 and 400).
- Refusals: a wrong ``securityToken`` -> HTTP 401 with a short HTML page (its wording is not
  recorded); an unknown EIC -> HTTP 400 with a 999 acknowledgement "Delivered Area EIC ... is
  not valid." (entsoe-py#311); other bad parameters -> HTTP 400 with a 999 acknowledgement
  saying which one is not valid.
- ``state.faults``: the next requests answer these instead: an HTTP status (429 carries
  ``Retry-After: state.retry_after``), ``"hang"`` (no answer until ``state.hang_seconds``
  pass or the server stops) or ``"garbage"`` (a truncated XML body with status 200).
- ``state.requests``: the query parameters of every request, in order.

Run it by hand: ``python -m tests.support.fake_entsoe --port 8082`` (127.0.0.1 only), then set
``base_url = "http://127.0.0.1:8082/api"`` and ``security_token = "test-token"``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import math
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from aiohttp import web

from tests.support.loopback import answer_fault, run_by_hand, serve_on_loopback

__all__ = [
    "AREAS",
    "FIXTURES",
    "STATE",
    "TOKEN",
    "FakeEntsoeState",
    "RunningFake",
    "acknowledgement",
    "day_bounds",
    "default_price",
    "main",
    "make_app",
    "publication",
    "serve",
    "step_for",
]

BERLIN = ZoneInfo("Europe/Berlin")
#: Recorded responses of the real API (see the README there).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "entsoe"
PUBLICATION_NS = "urn:iec62325.351:tc57wg16:451-3:publicationdocument:7:3"
ACKNOWLEDGEMENT_NS = "urn:iec62325.351:tc57wg16:451-1:acknowledgementdocument:7:0"
#: The token the stand-in accepts unless told otherwise.
TOKEN = "test-token"
#: First delivery day of 15-minute SDAC products.
QUARTER_HOURS_FROM = date(2025, 10, 1)
#: The areas this stand-in knows (EIC -> zone), a subset of the real list.
AREAS = {
    "10Y1001A1001A82H": "DE-LU",
    "10YAT-APG------L": "AT",
    "10YBE----------2": "BE",
    "10YNL----------L": "NL",
    "10YFR-RTE------C": "FR",
    "10YDK-1--------W": "DK1",
    "10YFI-1--------U": "FI",
    "10Y1001A1001A46L": "SE3",
    "10YPL-AREA-----S": "PL",
    "10YES-REE------0": "ES",
    "10Y1001A1001A73I": "IT-North",
    "10YCH-SWISSGRIDZ": "CH",
}
#: Zones with a second auction (EXAA, classification sequence 2).
TWO_AUCTIONS = frozenset({"DE-LU", "AT"})
_SCHEME = 'codingScheme="A01"'


def _parties(role: str) -> str:
    """The sender (ENTSO-E, A32) and receiver lines of both document kinds."""
    sender, receiver = "sender_MarketParticipant", "receiver_MarketParticipant"
    return "\n".join(
        [
            f"    <{sender}.mRID {_SCHEME}>10X1001A1001A450</{sender}.mRID>",
            f"    <{sender}.marketRole.type>A32</{sender}.marketRole.type>",
            f"    <{receiver}.mRID {_SCHEME}>10X1001A1001A450</{receiver}.mRID>",
            f"    <{receiver}.marketRole.type>{role}</{receiver}.marketRole.type>",
        ]
    )


PriceFunction = Callable[[str, datetime, int], float]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def default_price(zone: str, start: datetime, sequence: int = 1) -> float:
    """A deterministic EUR/MWh price: a daily curve, flat within the hours 21:00-06:00
    local, negative at 13:00, EXAA (sequence 2) 3.25 above SDAC; 2 decimals."""
    local = start.astimezone(BERLIN)
    base = 85 + 45 * math.sin((local.hour - 7) / 24 * 2 * math.pi) + 4 * (len(zone) % 3)
    if 6 <= local.hour < 21:
        base += 1.5 * (local.minute // 15)
    if local.hour == 13:
        base -= 110
    if sequence == 2:
        base += 3.25
    return round(base, 2)


def step_for(sequence: int, day: date) -> timedelta:
    """Resolution of a day's period: EXAA always PT15M; SDAC PT15M from 2025-10-01."""
    if sequence == 2 or day >= QUARTER_HOURS_FROM:
        return timedelta(minutes=15)
    return timedelta(hours=1)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The CET/CEST market day ``day`` in UTC (23, 24 or 25 hours)."""
    start = datetime.combine(day, time(0), BERLIN).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), BERLIN).astimezone(UTC)
    return start, end


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _mrid(*parts: object) -> str:
    """A document id (32 hex digits), the same for the same parts."""
    return hashlib.md5(repr(parts).encode(), usedforsecurity=False).hexdigest()


def _amount(value: float) -> str:
    """``100`` / ``89.5`` / ``-0.01``: as ENTSO-E prints prices (no trailing zeros)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Period:
    """One day of one sequence: ``prices[i]`` is the price of position ``i + 1``."""

    sequence: int
    start: datetime
    end: datetime
    step: timedelta
    prices: Sequence[float]


def _period_xml(period: Period, compress: bool) -> list[str]:
    minutes = period.step // timedelta(minutes=1)
    lines = [
        "        <Period>",
        "            <timeInterval>",
        f"                <start>{_stamp(period.start)}</start>",
        f"                <end>{_stamp(period.end)}</end>",
        "            </timeInterval>",
        f"            <resolution>PT{minutes}M</resolution>",
    ]
    previous: float | None = None
    for position, price in enumerate(period.prices, 1):
        if not (compress and price == previous):
            lines += [
                "            <Point>",
                f"                <position>{position}</position>",
                f"                <price.amount>{_amount(price)}</price.amount>",
                "            </Point>",
            ]
        previous = price
    return [*lines, "        </Period>"]


def publication(
    eic: str, periods: Sequence[Period], *, two_auctions: bool, compress: bool = True
) -> bytes:
    """A ``Publication_MarketDocument`` in the recorded 2026 layout (one TimeSeries each)."""
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    first = min(p.start for p in periods)
    last = max(p.end for p in periods)
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<Publication_MarketDocument xmlns="{PUBLICATION_NS}">',
        f"    <mRID>{_mrid(eic, first, last)}</mRID>",
        "    <revisionNumber>1</revisionNumber>",
        "    <type>A44</type>",
        _parties("A33"),
        f"    <createdDateTime>{created}</createdDateTime>",
        "    <period.timeInterval>",
        f"        <start>{_stamp(first)}</start>",
        f"        <end>{_stamp(last)}</end>",
        "    </period.timeInterval>",
    ]
    for number, period in enumerate(periods, 1):
        lines += [
            "    <TimeSeries>",
            f"        <mRID>{number}</mRID>",
            "        <auction.type>A01</auction.type>",
            "        <businessType>A62</businessType>",
            f'        <in_Domain.mRID codingScheme="A01">{eic}</in_Domain.mRID>',
            f'        <out_Domain.mRID codingScheme="A01">{eic}</out_Domain.mRID>',
            "        <contract_MarketAgreement.type>A01</contract_MarketAgreement.type>",
            "        <currency_Unit.name>EUR</currency_Unit.name>",
            "        <price_Measure_Unit.name>MWH</price_Measure_Unit.name>",
        ]
        if two_auctions:
            tag = "classificationSequence_AttributeInstanceComponent.position"
            lines.append(f"        <{tag}>{period.sequence}</{tag}>")
        lines.append("        <curveType>A03</curveType>")
        lines += _period_xml(period, compress)
        lines.append("    </TimeSeries>")
    lines.append("</Publication_MarketDocument>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def acknowledgement(text: str, code: str = "999") -> bytes:
    """An ``Acknowledgement_MarketDocument`` in the recorded layout, with one Reason."""
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Acknowledgement_MarketDocument xmlns="{ACKNOWLEDGEMENT_NS}">
    <mRID>{_mrid(text)[:15]}</mRID>
    <createdDateTime>{created}</createdDateTime>
{_parties("A39")}
    <received_MarketDocument.createdDateTime>{created}</received_MarketDocument.createdDateTime>
    <Reason>
        <code>{escape(code)}</code>
        <text>{escape(text)}</text>
    </Reason>
</Acknowledgement_MarketDocument>
""".encode()


def _moment(value: str) -> datetime | None:
    """``yyyyMMddHHmm`` in UTC, or ``None``."""
    if len(value) != 12 or not value.isdigit():
        return None
    try:
        return datetime.strptime(value, "%Y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass
class FakeEntsoeState:
    """What a test sees and steers: requests, faults, the publication horizons, the token."""

    requests: list[dict[str, str]] = field(default_factory=list)
    faults: deque[int | str] = field(default_factory=deque)
    retry_after: str = "30"
    hang_seconds: float = 5.0
    token: str = TOKEN
    sdac_published_until: datetime | None = None
    exaa_published_until: datetime | None = None
    not_published_status: int = 200
    compress: bool = True
    release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def published_until(self) -> datetime | None:
        """The SDAC horizon; setting it sets the EXAA horizon too."""
        return self.sdac_published_until

    @published_until.setter
    def published_until(self, value: datetime | None) -> None:
        self.sdac_published_until = value
        self.exaa_published_until = value


STATE = web.AppKey("entsoe_state", FakeEntsoeState)


def _xml(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type="text/xml", charset="utf-8")


def make_app(prices: PriceFunction | None = None) -> web.Application:
    """The stand-in API; ``prices(zone, start_utc, sequence)`` -> EUR/MWh (default
    :func:`default_price`)."""
    price_of = prices or default_price
    state = FakeEntsoeState()

    def refuse(text: str) -> web.Response:
        return _xml(acknowledgement(text), status=400)

    def periods(zone: str, start: datetime, end: datetime) -> list[Period]:
        found: list[Period] = []
        day = start.astimezone(BERLIN).date() - timedelta(days=1)
        while day_bounds(day)[0] < end:
            low, high = day_bounds(day)
            for sequence in (2, 1) if zone in TWO_AUCTIONS else (1,):
                horizon = (
                    state.exaa_published_until if sequence == 2 else (state.sdac_published_until)
                )
                if high <= start or (horizon is not None and high > horizon):
                    continue
                step = step_for(sequence, day)
                starts = [low + step * n for n in range((high - low) // step)]
                found.append(
                    Period(sequence, low, high, step, [price_of(zone, t, sequence) for t in starts])
                )
            day += timedelta(days=1)
        return found

    async def api(request: web.Request) -> web.Response:
        query = request.query
        if query.get("securityToken") != state.token:
            html = "<html><body><h1>Unauthorized</h1></body></html>"
            return web.Response(status=401, text=html, content_type="text/html")
        if query.get("documentType") != "A44":
            return refuse(f"documentType {query.get('documentType')!r} is not valid.")
        eic = query.get("in_Domain", "")
        zone = AREAS.get(eic)
        if zone is None or query.get("out_Domain") != eic:
            return refuse(f"Delivered Area EIC {eic} is not valid.")
        start = _moment(query.get("periodStart", ""))
        end = _moment(query.get("periodEnd", ""))
        if start is None or end is None or end <= start:
            return refuse("periodStart / periodEnd is not valid (yyyyMMddHHmm, UTC).")
        found = periods(zone, start, end)
        if query.get("contract_MarketAgreement.type", "A01") != "A01":
            found = []
        if not found:
            interval = f"{start:%Y-%m-%dT%H:%M}:00.000Z/{end:%Y-%m-%dT%H:%M}:00.000Z"
            text = (
                f"No matching data found for Data item ENERGY_PRICES [12.1.D] ({eic}, {eic}) "
                f"and interval {interval}."
            )
            return _xml(acknowledgement(text), status=state.not_published_status)
        body = publication(eic, found, two_auctions=zone in TWO_AUCTIONS, compress=state.compress)
        return _xml(body)

    @web.middleware
    async def record_and_inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        state.requests.append(dict(request.query))
        if state.faults:
            return await answer_fault(
                state.faults.popleft(),
                retry_after=state.retry_after,
                hang_seconds=state.hang_seconds,
                release=state.release,
                garbage=_xml(GARBAGE),
            )
        return await handler(request)

    app = web.Application(middlewares=[record_and_inject])
    app[STATE] = state
    app.router.add_get("/api", api)
    return app


#: The body of the ``"garbage"`` fault: XML cut off mid-document.
GARBAGE = b'<?xml version="1.0"?>\n<Publication_MarketDocument><TimeSeries><Per'


@dataclass
class RunningFake:
    """The stand-in served on loopback: its API URL (the plugin's ``base_url``) and state."""

    url: str
    state: FakeEntsoeState


@contextlib.asynccontextmanager
async def serve(app: web.Application | None = None) -> AsyncIterator[RunningFake]:
    """Serve ``app`` (default: ``make_app()``) on 127.0.0.1 and a free port."""
    app = app or make_app()
    state = app[STATE]
    async with serve_on_loopback(app, state.release) as url:
        yield RunningFake(f"{url}/api", state)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the stand-in on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(description="ENTSO-E A44 API stand-in on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8082, help="TCP port (default 8082)")
    parser.add_argument("--token", default=TOKEN, help=f"accepted token (default {TOKEN})")
    args = parser.parse_args(argv)
    app = make_app()
    app[STATE].token = args.token
    banner = (
        f"fake ENTSO-E API: base_url = http://127.0.0.1:{args.port}/api, "
        f"security_token = {args.token}"
    )
    run_by_hand(app, args.port, banner)


if __name__ == "__main__":
    main()
