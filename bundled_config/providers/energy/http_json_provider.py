"""Generic HTTP / JSON: prices from any JSON API, described in the config instead of code.

A provider entry says where to ask and where the prices sit in the answer, with JMESPath
expressions (https://jmespath.org; the kit's ``compile_path``)::

    [energy.providers.nl_energyzero]
    plugin = "http_json"
    region = "NL"
    url = "https://api.energyzero.nl/v1/energyprices"
    query = { fromDate = "{start}", tillDate = "{end}", interval = "4", usageType = "1",
              inclBtw = "true" }
    items = "Prices"            # the list of entries
    start = "readingDate"       # per entry
    value = "price"             # per entry
    unit = "per_kwh"            # EUR/kWh -> c/kWh
    timezone = "Europe/Amsterdam"
    publish_time = "15:00"

- **The window.** Each fetch asks for whole market days (``timezone``, default UTC) covering
  the daemon's window. ``url``, ``query`` values and strings in ``body`` may hold
  placeholders: ``{start}`` / ``{end}`` (ISO 8601 UTC, ``2026-03-29T23:00:00Z``),
  ``{start_local}`` / ``{end_local}`` (ISO 8601 with the zone's offset), ``{start_s}``,
  ``{end_s}``, ``{start_ms}``, ``{end_ms}`` (epoch seconds / milliseconds) and ``{date}``
  (the local day, ``2026-03-29``); a datetime placeholder takes a strftime format after a
  colon (``{start:%Y%m%d%H%M}``, ``{date:%d/%m/%Y}``). With ``{date}`` anywhere there is one
  request per market day (per-day APIs), else one for the whole span. Other braces (a
  GraphQL query) are left alone.
- **Secrets.** ``${NAME}`` in a header, a query value or ``body`` is the environment variable
  ``NAME``, read at every fetch (missing: :class:`ProviderConfigError` naming the variable,
  never a value). A header whose name looks secret (``Authorization``, ``X-Api-Key``,
  ``...token...``) must take its value from the environment, and so must a query value (only
  under a name the kit masks in logs: ``...key...``, ``...token...``, ``...secret...``,
  ``...auth...``). Headers are no part of the source identity and never shown.
- **Entries.** ``items`` (default ``@``: the answer is the list) gives a list; per entry
  ``start``, ``value`` and either ``end`` or a fixed ``slot_minutes`` (neither: each slot
  lasts as long as the data's step, :func:`slots_from_starts`). ``time_format`` ``iso``
  (naive times are wall-clock times in ``timezone``, the repeated hour of a clock change
  told apart by order), ``epoch_s`` or ``epoch_ms``; times within a second of a whole
  minute are put on it (``...:01Z``, ``...:59.999Z``), others are refused.
- **Values.** ``value x scale`` is in ``unit``: ``per_mwh`` or ``per_kwh`` (major units,
  EUR/MWh, EUR/kWh) or ``minor_per_kwh`` (c/kWh, p/kWh), stored as minor units per kWh of
  ``currency``. ``null`` is a missing slot (never 0); numeric strings are accepted, with a
  decimal comma (``"116,33"``) only under ``decimal_comma = true``.
- **Not yet and garbage.** No entries (an empty list) is :class:`ProviderNotPublishedError`,
  so is an HTTP status listed in ``not_published_statuses`` (Energy-Charts' 404); an answer
  the expressions cannot read (``items`` not a list, a time that does not parse, a value
  that is no number) is refused whole (:class:`ProviderDataError`). Other statuses go through
  the kit's table (429, 5xx retried).
- **Two steps.** Where the prices sit in files an index lists (smard.de's weekly files),
  ``index_url`` (same placeholders as ``url``) is asked first (a GET with the same headers)
  and ``index_items`` (JMESPath, default ``@``) picks a list of values from its answer
  (``timestamps[-2:]``); then ``url`` is asked once per value, ``{index}`` in ``url``, a
  query value or ``body`` replaced by it. At most :data:`MAX_INDEX_VALUES` distinct values
  (more: :class:`ProviderDataError`); each a string or a whole number. The entries of all
  answers are read as one list: an entry a later answer repeats with the same end and price
  is taken once, a null one gives way to a price, two prices for one start refuse the whole
  fetch. An empty index is "not published"; so is an answer without entries, which is
  skipped while another value has entries. ``{index}`` in ``url`` or ``query`` needs
  ``index_url``, and ``index_url`` needs ``{index}`` somewhere.
- **Pacing.** Answers of a GET are reused for ``cache_seconds`` (default 300; an answer without
  entries is never kept) and requests to one host are ``request_spacing_seconds`` apart.

Loaded standalone by the daemon: imports only the standard library and providers.energy.base.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from providers.energy.base import (
    RETRY_FIELDS,
    Choice,
    ConfigFields,
    EnergyPriceSlot,
    EnergyProviderMetadata,
    Field,
    Flag,
    HttpApi,
    HttpResponse,
    Integer,
    JsonPath,
    KitProvider,
    Number,
    Pacer,
    PathExpression,
    ProviderConfigError,
    ProviderDataError,
    ProviderEmptyError,
    ProviderNotPublishedError,
    Retrier,
    Settings,
    Text,
    compile_path,
    format_local,
    format_utc,
    from_epoch,
    local_day_window,
    local_days,
    parse_json,
    per_kwh_major_to_minor,
    per_mwh_to_minor_per_kwh,
    slots_from_starts,
)

__version__ = "1.1.0"
REQUIRES_KIT = 4

PROVIDER_ID = "http_json"
#: The daemon's slot rhythm when the config fixes no ``slot_minutes`` (slots come from the
#: data; the daemon also wakes at every slot's end).
DEFAULT_RHYTHM_MINUTES = 15
UNITS = ("per_mwh", "per_kwh", "minor_per_kwh")
TIME_FORMATS = ("iso", "epoch_s", "epoch_ms")
#: Most values ``index_items`` may give (one request each): two weekly files, with room.
MAX_INDEX_VALUES = 4
#: Longest index value put into a URL.
MAX_INDEX_LENGTH = 200

#: ``{start}``, ``{date:%d/%m/%Y}``: the window placeholders, and ``{index}``: a value of the
#: index (not ``${...}``, not GraphQL's braces: only these names are replaced).
_PLACEHOLDER = re.compile(
    r"(?<!\$)\{(start|end|start_local|end_local|start_s|end_s|start_ms|end_ms|date|index)"
    r"(?::([^{}]*))?\}"
)
_KNOWN = "start end start_local end_local start_s end_s start_ms end_ms date index"
#: Something that looks like a placeholder (checked in ``url`` and ``query`` for typos).
_LOOKS_LIKE = re.compile(r"(?<!\$)\{([a-z_]+)(?::[^{}]*)?\}")
_FORMATTED = frozenset({"start", "end", "start_local", "end_local", "date"})
_ENV = re.compile(r"\$\{([^}]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: Header names whose values are secrets (so never written in the config itself).
_SECRET_HEADER = re.compile(r"auth|token|key|secret|passw|cookie|credential", re.IGNORECASE)
#: Query names the kit masks in logs and messages (energyd.providers.kit.http).
_MASKED_PARAM = re.compile(r"token|key|secret|passw|auth|signature|credential", re.IGNORECASE)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def _zone(value: str) -> str:
    """A time zone name as given, when the zone exists (``ValueError`` otherwise)."""
    try:
        ZoneInfo(value)
    except (KeyError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


@dataclass(frozen=True, kw_only=True)
class Table(Field):
    """A TOML table / JSON object (``headers``, ``query``) or any JSON value (``body``);
    what is inside is checked across fields (:func:`check_tables`)."""

    kind: str = "object"

    def convert(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(key): value[key] for key in sorted(value, key=str)}
        return value

    def expected(self) -> str:
        return self.description or "a table"

    def type_schema(self) -> dict[str, Any]:
        if self.kind == "json":
            return {"type": ["object", "array"]}
        return {"type": self.kind}


FIELDS_BY_NAME: dict[str, Field] = {
    "region": Text(
        r"[^/#+\s]{1,60}",
        max_length=60,
        example="NL",
        required=True,
        description="a label of your choosing for this feed (one MQTT topic level)",
    ),
    "url": Text(
        required=True,
        max_length=2000,
        description="http(s) URL; may hold window placeholders ({start}, {date}, ...)",
    ),
    "index_url": Text(
        max_length=2000,
        description="http(s) URL asked first for the values of {index} in url",
    ),
    "index_items": JsonPath(
        description="JMESPath to the list of values in index_url's answer (default @)"
    ),
    "method": Choice(("GET", "POST"), default="GET", normalise=str.upper),
    "headers": Table(
        secret=True,
        identity=False,
        description='request headers; "${NAME}" is the environment variable NAME',
    ),
    "query": Table(description="query parameters; values may hold placeholders and ${NAME}"),
    "body": Table(kind="json", description="JSON body of a POST (placeholders in strings)"),
    "not_published_statuses": Table(
        kind="array", description="HTTP statuses meaning 'not published yet' (e.g. [404])"
    ),
    "items": JsonPath(default="@", description="JMESPath to the list of entries"),
    "start": JsonPath(required=True, description="JMESPath to an entry's start time"),
    "end": JsonPath(description="JMESPath to an entry's end time (or give slot_minutes)"),
    "slot_minutes": Integer(1, 1440, description="fixed slot length, when entries have no end"),
    "value": JsonPath(required=True, description="JMESPath to an entry's price"),
    "time_format": Choice(TIME_FORMATS, default="iso", normalise=str.lower),
    "timezone": Text(
        default="UTC",
        normalise=_zone,
        max_length=64,
        description="market day, naive times and publish_time are in this zone",
    ),
    "unit": Choice(
        UNITS,
        required=True,
        normalise=str.lower,
        names={
            "per_mwh": "major units per MWh",
            "per_kwh": "major units per kWh",
            "minor_per_kwh": "minor units per kWh",
        },
        description="what value x scale is in",
    ),
    "scale": Number(default=1.0, description="factor applied to each value first"),
    "currency": Text(r"[A-Z]{3}", default="EUR", normalise=str.upper, example="EUR", max_length=3),
    "vat_included": Flag(identity=False, description="whether the prices include VAT (shown)"),
    "decimal_comma": Flag(default=False, description='accept "116,33" as 116.33'),
    "publish_time": Text(
        r"([01]\d|2[0-3]):[0-5]\d",
        max_length=5,
        example="13:00",
        identity=False,
        description="when the next day's prices usually appear (timezone)",
    ),
    "cache_seconds": Number(0, 86400, default=300.0, identity=False),
    "request_spacing_seconds": Number(0, 5, default=0.5, identity=False),
    **RETRY_FIELDS,
}


# -- templates: window placeholders and environment variables --------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """What the placeholders of one request stand for (``index``: a value of the index)."""

    start: datetime
    end: datetime
    day: date
    zone: ZoneInfo
    index: str | None = None

    def render(self, name: str, spec: str | None) -> str:
        if name == "index":
            return "" if self.index is None else self.index
        local = {"start_local": self.start, "end_local": self.end}
        if name in ("start", "end"):
            moment = self.start if name == "start" else self.end
            return format_utc(moment) if spec is None else moment.astimezone(UTC).strftime(spec)
        if name in local:
            moment = local[name].astimezone(self.zone)
            return format_local(moment, self.zone, "seconds") if not spec else moment.strftime(spec)
        if name == "date":
            return self.day.isoformat() if not spec else self.day.strftime(spec)
        moment = self.start if name.startswith("start") else self.end
        seconds = (moment - _EPOCH) // _SECOND
        return str(seconds * 1000 if name.endswith("_ms") else seconds)


def fill(text: str, window: Window, encode: Callable[[str], str] = str) -> str:
    """``text`` with its window placeholders replaced (each rendered value through
    ``encode``: URL-quoted inside a URL); ``{index}`` only when the window has one (else it
    stays as written: a GraphQL body may hold it)."""

    def rendered(match: re.Match[str]) -> str:
        if match.group(1) == "index" and window.index is None:
            return match.group(0)
        return encode(window.render(match.group(1), match.group(2)))

    return _PLACEHOLDER.sub(rendered, text)


def environment(text: str, where: str) -> str:
    """``text`` with each ``${NAME}`` replaced by the environment variable ``NAME``."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = os.environ.get(name)
        if found is None:
            raise ProviderConfigError(
                f"{where}: the environment variable {name} is not set", {where: f"{name} unset"}
            )
        if "\r" in found or "\n" in found:
            raise ProviderConfigError(
                f"{where}: the environment variable {name} holds a line break",
                {where: f"{name} has a line break"},
            )
        return found

    return _ENV.sub(value, text)


def fill_json(value: Any, window: Window, where: str) -> Any:
    """A JSON ``body`` with placeholders and ``${NAME}`` filled in its strings."""
    if isinstance(value, str):
        return environment(fill(value, window), where)
    if isinstance(value, Mapping):
        return {key: fill_json(item, window, where) for key, item in value.items()}
    if isinstance(value, list):
        return [fill_json(item, window, where) for item in value]
    return value


def _templates(settings: Mapping[str, Any]) -> dict[str, str]:
    """Where placeholders may be: ``url``, ``query.<name>``, ``body`` -> its text."""
    texts = {"url": str(settings.get("url") or "")}
    for name, value in (settings.get("query") or {}).items():
        texts[f"query.{name}"] = str(value)
    texts["body"] = repr(settings.get("body"))
    return texts


def _naming(settings: Mapping[str, Any], placeholder: str) -> list[str]:
    """The keys whose templates name ``placeholder``."""
    return [
        key
        for key, text in _templates(settings).items()
        if any(m.group(1) == placeholder for m in _PLACEHOLDER.finditer(text))
    ]


def uses_date(settings: Mapping[str, Any]) -> bool:
    """Whether any template names ``{date}`` (then: one request per market day)."""
    return bool(_naming(settings, "date"))


# -- the config checks across fields ----------------------------------------------------------


def _template_problem(text: str) -> str | None:
    """Why the window placeholders of ``text`` cannot be used, or ``None``."""
    for match in _LOOKS_LIKE.finditer(text):
        if _PLACEHOLDER.fullmatch(match.group(0)) is None:
            return f"unknown placeholder {match.group(0)}; known: {_KNOWN}"
    for match in _PLACEHOLDER.finditer(text):
        if match.group(2) is not None and match.group(1) not in _FORMATTED:
            return f"{{{match.group(1)}}} takes no format"
    return None


def _env_problem(text: str) -> str | None:
    for match in _ENV.finditer(text):
        if _ENV_NAME.fullmatch(match.group(1)) is None:
            return f"${{{match.group(1)}}} is not an environment variable name"
    return None


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _url_problem(url: str) -> str | None:
    """Why ``url`` (a template) is not a usable http(s) URL, or ``None``."""
    problem = _template_problem(url)
    if problem is not None:
        return problem
    if "${" in url:
        return "no ${NAME} in the URL (it is shown): put a secret in query or headers"
    sample = Window(_EPOCH, _EPOCH + timedelta(days=1), _EPOCH.date(), ZoneInfo("UTC"), "0")
    try:
        parts = urlsplit(fill(url, sample, quote))
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return "not a URL"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or not port_ok:
        return "must be an http:// or https:// URL"
    if parts.username or parts.password:
        return "no user or password in the URL: use an Authorization header"
    if parts.fragment:
        return "no #fragment"
    return None


def check_url(settings: Settings) -> dict[str, str]:
    problem = _url_problem(settings.text("url"))
    return {} if problem is None else {"url": problem}


def check_index(settings: Settings) -> dict[str, str]:
    """``index_url`` and ``{index}`` come together; ``index_items`` only with them."""
    index_url = settings.optional_text("index_url")
    naming = [key for key in _naming(settings, "index") if key != "body"]
    if index_url is None:
        errors = dict.fromkeys(naming, "{index} needs index_url (where its values come from)")
        if settings.get("index_items") is not None:
            errors["index_items"] = "only with index_url"
        return errors
    if any(m.group(1) == "index" for m in _PLACEHOLDER.finditer(index_url)):
        return {"index_url": "{index} goes in url (asked once per value), not in index_url"}
    problem = _url_problem(index_url)
    if problem is not None:
        return {"index_url": problem}
    if not _naming(settings, "index"):
        return {"index_url": "put {index} in url (or a query value): it is replaced by each value"}
    return {}


def check_headers(settings: Settings) -> dict[str, str]:
    headers = settings.get("headers")
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        return {"headers": "must be a table of name = value"}
    for name, value in headers.items():
        where = f"headers.{name}"
        if _HEADER_NAME.fullmatch(name) is None:
            return {where: "not an HTTP header name"}
        if not _scalar(value):
            return {where: "must be a string"}
        text = str(value)
        if "\r" in text or "\n" in text:
            return {where: "holds a line break"}
        problem = _env_problem(text)
        if problem is not None:
            return {where: problem}
        if _SECRET_HEADER.search(name) and not _ENV.search(text):
            return {
                where: (
                    "a secret: take it from the environment, e.g. "
                    f'{name} = "${{MY_TOKEN}}" (or "Bearer ${{MY_TOKEN}}")'
                )
            }
    return {}


def check_query(settings: Settings) -> dict[str, str]:
    query = settings.get("query")
    if query is None:
        return {}
    if not isinstance(query, Mapping):
        return {"query": "must be a table of name = value"}
    for name, value in query.items():
        where = f"query.{name}"
        if not _scalar(value):
            return {where: "must be a string or a number"}
        text = str(value)
        problem = _template_problem(text) or _env_problem(text)
        if problem is not None:
            return {where: problem}
        if _ENV.search(text) and not _MASKED_PARAM.search(name):
            return {
                where: (
                    "a value from the environment only under a name masked in logs "
                    "(...key..., ...token..., ...secret..., ...auth...); else use a header"
                )
            }
    return {}


def _json_problem(value: Any, depth: int = 0) -> str | None:
    if depth > 20:
        return "nested too deeply"
    if isinstance(value, str):
        return _env_problem(value)
    if isinstance(value, Mapping):
        for item in value.values():
            problem = _json_problem(item, depth + 1)
            if problem is not None:
                return problem
        return None
    if isinstance(value, list):
        return next((p for p in (_json_problem(i, depth + 1) for i in value) if p), None)
    if value is None or isinstance(value, bool | int):
        return None
    if isinstance(value, float) and math.isfinite(value):
        return None
    return f"{value!r} is not JSON"


def check_rest(settings: Settings) -> dict[str, str]:
    errors: dict[str, str] = {}
    body = settings.get("body")
    if body is not None:
        if settings.text("method") != "POST":
            errors["body"] = 'only with method = "POST"'
        else:
            problem = _json_problem(body)
            if problem is not None:
                errors["body"] = problem
    statuses = settings.get("not_published_statuses")
    if statuses is not None and (
        not isinstance(statuses, list)
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in statuses)
        or not all(201 <= s <= 599 for s in statuses)
    ):
        errors["not_published_statuses"] = "a list of HTTP statuses from 201 to 599, e.g. [404]"
    if settings.get("end") is not None and settings.get("slot_minutes") is not None:
        errors["slot_minutes"] = "give end or slot_minutes, not both"
    scale = settings.get("scale")
    if scale == 0:
        errors["scale"] = "must not be 0"
    return errors


FIELDS = ConfigFields(
    FIELDS_BY_NAME, checks=(check_url, check_index, check_headers, check_query, check_rest)
)


# -- reading an answer ------------------------------------------------------------------------


def minor_per_major(currency: str) -> int:
    """Minor units per major unit of ``currency`` (100; 1 for JPY, 1000 for KWD), as the
    contract's ``EnergyPriceSlot.price_major`` counts them."""
    probe = EnergyPriceSlot(_EPOCH, _EPOCH + timedelta(minutes=1), 1.0, currency)
    return round(1 / probe.price_major)


def _on_minute(moment: datetime, what: str) -> datetime:
    """``moment`` put on the nearest whole minute when within a second of it."""
    floor = moment.replace(second=0, microsecond=0)
    offset = moment - floor
    if offset <= _SECOND:
        return floor
    if offset >= timedelta(seconds=59):
        return floor + timedelta(minutes=1)
    raise ProviderDataError(f"{what}: {format_utc(moment)} is not on a whole minute")


def _local(naive: datetime, zone: ZoneInfo, after: datetime | None, what: str) -> datetime:
    """A wall-clock time of ``zone`` in UTC: of a repeated hour (clock going back) the first
    one after ``after``; a time the clock skips is refused."""
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) != naive:
        raise ProviderDataError(f"{what}: {naive.isoformat()} does not exist in {zone.key}")
    if after is not None and first <= after < second:
        return second
    return first


#: One entry read: its start, its end (``None``: from the data's step), its price (``None``:
#: missing).
Row = tuple[datetime, datetime | None, float | None]


@dataclass(frozen=True)
class Recipe:
    """How to read one config's answers."""

    items: PathExpression
    start: PathExpression
    end: PathExpression | None
    value: PathExpression
    time_format: str
    zone: ZoneInfo
    unit: str
    scale: float
    currency: str
    decimal_comma: bool
    slot: timedelta | None

    @classmethod
    def of(cls, settings: Settings) -> Recipe:
        end = settings.optional_text("end")
        minutes = settings.get("slot_minutes")
        return cls(
            items=compile_path(settings.text("items")),
            start=compile_path(settings.text("start")),
            end=None if end is None else compile_path(end),
            value=compile_path(settings.text("value")),
            time_format=settings.text("time_format"),
            zone=ZoneInfo(settings.text("timezone")),
            unit=settings.text("unit"),
            scale=settings.number("scale"),
            currency=settings.text("currency"),
            decimal_comma=settings.flag("decimal_comma"),
            slot=None if minutes is None else timedelta(minutes=int(minutes)),
        )

    def moment(self, raw: Any, after: datetime | None, what: str) -> datetime:
        """One time of an entry, aware UTC on a whole minute."""
        if self.time_format == "iso":
            if not isinstance(raw, str):
                raise ProviderDataError(f"{what}: expected an ISO 8601 string, got {raw!r:.60}")
            try:
                parsed = datetime.fromisoformat(raw.strip())
            except ValueError as exc:
                raise ProviderDataError(f"{what}: not an ISO 8601 time: {raw!r:.60}") from exc
            if parsed.tzinfo is None:
                moment = _local(parsed, self.zone, after, what)
            else:
                moment = parsed.astimezone(UTC)
        else:
            number: Any = raw
            if isinstance(raw, str):
                try:
                    number = int(raw.strip())
                except ValueError:
                    number = raw
            unit = "ms" if self.time_format == "epoch_ms" else "s"
            moment = from_epoch(number, unit, what=what)
        return _on_minute(moment, what)

    def number(self, raw: Any, what: str) -> float | None:
        """An entry's price in minor units per kWh; ``None`` for a missing one (null)."""
        if raw is None:
            return None
        if isinstance(raw, bool):
            raise ProviderDataError(f"{what}: {raw!r} is not a price")
        if isinstance(raw, int | float):
            number = float(raw)
        elif isinstance(raw, str):
            text = raw.strip()
            if "," in text:
                if not self.decimal_comma:
                    raise ProviderDataError(
                        f"{what}: {raw!r:.40} has a comma (set decimal_comma = true?)"
                    )
                text = text.replace(".", "").replace(",", ".")
            try:
                number = float(text)
            except ValueError:
                raise ProviderDataError(f"{what}: {raw!r:.40} is not a number") from None
        else:
            raise ProviderDataError(f"{what}: {raw!r:.60} is not a price")
        scaled = number * self.scale
        if not math.isfinite(scaled):
            raise ProviderDataError(f"{what}: {raw!r:.40} is not a finite price")
        minor = minor_per_major(self.currency)
        if self.unit == "per_mwh":
            return per_mwh_to_minor_per_kwh(scaled, minor)
        if self.unit == "per_kwh":
            return per_kwh_major_to_minor(scaled, minor)
        return round(scaled, 6)

    def entries(self, body: Any) -> list[Any]:
        """The list ``items`` selects (maybe empty); anything else is a data error."""
        found = self.items.search(body, "items")
        if found is None:
            raise ProviderDataError(f"items {self.items.text!r} matched nothing in the answer")
        if not isinstance(found, list):
            raise ProviderDataError(
                f"items {self.items.text!r} is a {type(found).__name__}, not a list"
            )
        return found

    def slots(self, body: Any) -> list[EnergyPriceSlot]:
        """An answer -> slots, ascending (none for an empty list); a bad entry refuses all."""
        return self.build(self.rows(body))

    def rows(self, body: Any) -> list[Row]:
        """An answer's entries read, in the answer's order; a bad entry refuses all."""
        rows: list[Row] = []
        after: datetime | None = None
        for index, entry in enumerate(self.entries(body)):
            what = f"entry {index}"
            begin = self.moment(self.start.search(entry, what), after, f"{what} start")
            after = begin
            finish = None
            if self.end is not None:
                finish = self.moment(self.end.search(entry, what), begin, f"{what} end")
                if finish <= begin:
                    raise ProviderDataError(f"{what}: end is not after start")
            rows.append((begin, finish, self.number(self.value.search(entry, what), what)))
        return rows

    def build(self, entries: Sequence[Row]) -> list[EnergyPriceSlot]:
        """Entries -> slots, ascending; entries that do not fit together refuse all."""
        rows = sorted(entries, key=lambda row: row[0])
        if self.end is None:
            return slots_from_starts(
                [row[0] for row in rows],
                [row[2] for row in rows],
                currency=self.currency,
                step=self.slot,
            )
        slots = [
            EnergyPriceSlot(begin, finish, price, self.currency)
            for begin, finish, price in rows
            if finish is not None and price is not None
        ]
        for before, following in itertools.pairwise(slots):
            if following.valid_from < before.valid_to:
                raise ProviderDataError(
                    f"entries at {format_utc(before.valid_from)} and "
                    f"{format_utc(following.valid_from)} overlap"
                )
        return slots


def merge_answers(answers: Sequence[Sequence[Row]]) -> list[Row]:
    """The entries of several answers as one list. An entry a later answer repeats (same
    start) is taken once when end and price agree, a null price gives way to a price, and
    anything else refuses all; repeats within one answer stay (and are refused as usual)."""
    merged: list[Row] = []
    seen: dict[datetime, int] = {}  # start -> position in merged, of the earlier answers
    for rows in answers:
        added: dict[datetime, int] = {}
        for row in rows:
            at = seen.get(row[0])
            if at is None:
                added.setdefault(row[0], len(merged))
                merged.append(row)
                continue
            earlier = merged[at]
            if earlier[1] != row[1]:
                raise ProviderDataError(
                    f"two answers end the entry at {format_utc(row[0])} differently"
                )
            if earlier[2] is None:
                merged[at] = row
            elif row[2] is not None and row[2] != earlier[2]:
                raise ProviderDataError(
                    f"two answers price the entry at {format_utc(row[0])} differently "
                    f"({earlier[2]:g} and {row[2]:g})"
                )
        seen.update(added)
    return merged


def index_values(found: Any, expression: str) -> list[str]:
    """What ``index_items`` found in the index answer -> the distinct values for
    ``{index}``, in order (a list of strings or whole numbers, at most MAX_INDEX_VALUES)."""
    if found is None:
        raise ProviderDataError(f"index_items {expression!r} matched nothing in the index")
    if not isinstance(found, list):
        raise ProviderDataError(
            f"index_items {expression!r} is a {type(found).__name__}, not a list"
        )
    values: list[str] = []
    for position, raw in enumerate(found):
        if isinstance(raw, float) and raw.is_integer():
            raw = int(raw)
        if isinstance(raw, int) and not isinstance(raw, bool):
            value = str(raw)
        elif isinstance(raw, str) and raw.strip() and len(raw) <= MAX_INDEX_LENGTH:
            value = raw.strip()
        else:
            raise ProviderDataError(
                f"index value {position}: {raw!r:.60} is not a string or a whole number"
            )
        if value not in values:
            values.append(value)
    if len(values) > MAX_INDEX_VALUES:
        raise ProviderDataError(
            f"index_items {expression!r} gave {len(values)} values, at most "
            f"{MAX_INDEX_VALUES} (one request each): narrow it, e.g. timestamps[-2:]"
        )
    return values


def parse_answer(body: Any, settings: Settings) -> list[EnergyPriceSlot]:
    """A decoded answer read as ``settings`` say (for tests and ``check-config``)."""
    return Recipe.of(settings).slots(body)


def parse_answers(bodies: Sequence[Any], settings: Settings) -> list[EnergyPriceSlot]:
    """The answers for the values of an index, read as one (see :func:`merge_answers`)."""
    recipe = Recipe.of(settings)
    return recipe.build(merge_answers([recipe.rows(body) for body in bodies]))


def _shown_url(url: str) -> str:
    """Scheme, host and path of ``url`` (no query): what is shown of a source."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


# -- the plugin --------------------------------------------------------------------------------


class HttpJsonProvider(KitProvider):
    """Prices from any JSON API, by URL and JMESPath expressions (see the module doc)."""

    metadata = EnergyProviderMetadata(
        provider_id=PROVIDER_ID,
        display_name="Generic HTTP / JSON",
        version=__version__,
        description=(
            "Prices from any HTTP JSON API: URL, headers (secrets from the environment), "
            "JMESPath expressions to the entries, their times and prices, unit and scale."
        ),
        author="energyd",
        currency="EUR",
        slot_minutes=DEFAULT_RHYTHM_MINUTES,
        market_timezone="UTC",
        publish_time_local=None,
        day_start_local="00:00",
        requires_api_key=False,
    )
    config_fields = FIELDS
    #: The default of ``cache_seconds`` (each feed's own setting applies).
    cache_seconds: ClassVar[float] = 300.0

    def __init__(self) -> None:
        super().__init__()
        #: (host, cache seconds, spacing) -> the pacer of the feeds asking that host so.
        self._pacers: dict[tuple[str, float, float], Pacer] = {}

    # -- what the daemon reads per config ---------------------------------------------------

    def metadata_for(self, region: str, config: Mapping[str, Any]) -> EnergyProviderMetadata:
        settings = self.settings(region, config)
        minutes = settings.get("slot_minutes")
        return dataclasses.replace(
            self.get_metadata(),
            currency=settings.text("currency"),
            slot_minutes=DEFAULT_RHYTHM_MINUTES if minutes is None else int(minutes),
            market_timezone=settings.text("timezone"),
            publish_time_local=settings.optional_text("publish_time"),
        )

    def currency_for(self, region: str, config: Mapping[str, Any]) -> str:
        return self.settings(region, config).text("currency")

    def source_notes(self, region: str, config: Mapping[str, Any]) -> dict[str, str]:
        """Where the prices come from (scheme, host and path only) and the VAT said."""
        try:
            settings = self.settings(region, config)
        except ProviderConfigError:
            return {}
        notes = {"api": _shown_url(settings.text("url"))}
        index_url = settings.optional_text("index_url")
        if index_url is not None:
            notes["index"] = _shown_url(index_url)
        vat = settings.get("vat_included")
        if vat is not None:
            notes["vat"] = "included" if vat else "excluded"
        return notes

    # -- fetching ----------------------------------------------------------------------------

    async def fetch_window(
        self, region: str, start: datetime, end: datetime, settings: Settings
    ) -> list[EnergyPriceSlot]:
        recipe = Recipe.of(settings)
        zone_name = settings.text("timezone")
        days = local_days(start, end, zone_name)
        if uses_date(settings):
            windows = [Window(*local_day_window(day, zone_name), day, recipe.zone) for day in days]
        else:
            first = local_day_window(days[0], zone_name)[0]
            last = local_day_window(days[-1], zone_name)[1]
            windows = [Window(first, last, days[0], recipe.zone)]
        slots: list[EnergyPriceSlot] = []
        empty: list[str] = []
        for window in windows:
            try:
                if settings.get("index_url") is None:
                    slots.extend(recipe.slots(await self._ask(window, settings, recipe)))
                else:
                    slots.extend(await self._indexed(window, settings, recipe))
            except ProviderEmptyError as exc:
                empty.append(str(exc))
                if len(windows) > 1:
                    day = window.day.isoformat()
                    self.log.info("provider.day_not_published", day=day, detail=str(exc))
        if not any(slot.valid_to > start and slot.valid_from < end for slot in slots):
            detail = empty[0] if empty else f"{len(slots)} slots, none in the window"
            raise ProviderNotPublishedError(
                f"{region}: no prices between {format_utc(start)} and {format_utc(end)} "
                f"yet ({detail})",
                retry_at=self._publication(days[0], settings),
            )
        return slots

    def _publication(self, day: date, settings: Settings) -> datetime | None:
        """When ``day``'s prices are expected (``publish_time`` the day before), if ahead."""
        at = settings.optional_text("publish_time")
        if at is None:
            return None
        zone = ZoneInfo(settings.text("timezone"))
        local = datetime.combine(day - timedelta(days=1), clock_time.fromisoformat(at), zone)
        expected = local.astimezone(UTC)
        return expected if expected > datetime.now(UTC) else None

    async def _indexed(
        self, window: Window, settings: Settings, recipe: Recipe
    ) -> list[EnergyPriceSlot]:
        """The index for ``window``, then one request per value, read as one answer."""
        values = await self._index(window, settings)
        answers: list[list[Row]] = []
        empty: list[str] = []
        for value in values:
            try:
                body = await self._ask(dataclasses.replace(window, index=value), settings, recipe)
            except ProviderEmptyError as exc:
                empty.append(str(exc))
                self.log.info("provider.index_not_published", index=value, detail=str(exc))
                continue
            answers.append(recipe.rows(body))
        if not answers:
            raise ProviderNotPublishedError(
                f"none of the {len(values)} index values has entries yet ({empty[0]})"
            )
        return recipe.build(merge_answers(answers))

    async def _index(self, window: Window, settings: Settings) -> list[str]:
        """The values ``index_items`` picks from the answer of ``index_url``; none: not
        published yet."""
        url = fill(settings.text("index_url"), window, lambda value: quote(value, safe=":,"))
        expression = compile_path(settings.optional_text("index_items") or "@")
        statuses = tuple(settings.get("not_published_statuses") or ())

        def values(resp: HttpResponse) -> list[str]:
            return index_values(expression.search(resp.json(), "index"), expression.text)

        def keep(resp: HttpResponse) -> bool:  # only an index with values is reused
            try:
                return bool(values(resp))
            except ProviderDataError:
                return False

        resp = await self._api(settings, url).request(
            "GET", url, headers=self._headers(settings), empty_statuses=statuses, cache_if=keep
        )
        found = values(resp)
        if not found:
            raise ProviderNotPublishedError(
                f"{resp.where}: index_items {expression.text!r} lists nothing (not yet?)"
            )
        return found

    @staticmethod
    def _headers(settings: Settings) -> dict[str, str]:
        """The request headers: the config's (``${NAME}`` filled), Accept JSON by default."""
        given = dict(settings.get("headers") or {})
        headers = (
            {} if any(n.lower() == "accept" for n in given) else {"Accept": "application/json"}
        )
        for name, value in given.items():
            headers[name] = environment(str(value), f"headers.{name}")
        return headers

    async def _ask(self, window: Window, settings: Settings, recipe: Recipe) -> Any:
        """One request for ``window`` -> the decoded answer; no entries: not published."""
        url = fill(settings.text("url"), window, lambda value: quote(value, safe=":,"))
        query = {
            name: environment(fill(str(value), window), f"query.{name}")
            for name, value in (settings.get("query") or {}).items()
        }
        headers = self._headers(settings)
        statuses = tuple(settings.get("not_published_statuses") or ())

        def keep(resp: HttpResponse) -> bool:  # only an answer with entries is reused
            try:
                return bool(recipe.entries(parse_json(resp.body, resp.where)))
            except ProviderDataError:
                return False

        api = self._api(settings, url)
        method = settings.text("method")
        body = None
        if method == "POST" and settings.get("body") is not None:
            body = fill_json(settings.get("body"), window, "body")
        resp = await api.request(
            method,
            url,
            params=query or None,
            headers=headers,
            json=body,
            empty_statuses=statuses,
            cache_if=keep,
        )
        answer = resp.json()
        if not recipe.entries(answer):
            raise ProviderNotPublishedError(
                f"{resp.where}: no entries under {recipe.items.text!r} (not published yet?)"
            )
        return answer

    def _api(self, settings: Settings, url: str) -> HttpApi:
        """An HttpApi for one fetch: one retry budget, the pacer of the host."""
        parts = urlsplit(url)
        cache = settings.number("cache_seconds")
        spacing = settings.number("request_spacing_seconds")
        key = (f"{parts.scheme}://{parts.netloc}".lower(), cache, spacing)
        pacer = self._pacers.get(key)
        if pacer is None:
            kit = self.pacer  # the plugin's own: its clock and sleep (tests move them)
            pacer = Pacer(
                spacing=spacing,
                cache_seconds=cache,
                name=PROVIDER_ID,
                clock=lambda: kit.clock(),
                sleep=lambda seconds: kit.sleep(seconds),
            )
            self._pacers[key] = pacer
        retrier = Retrier(self.policy(settings), rng=self.rng, name=PROVIDER_ID)
        return HttpApi.of(self, retry=retrier, name=PROVIDER_ID, pacer=pacer)
