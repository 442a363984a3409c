"""HTTP for plugins: one request path over the daemon's shared session, errors on the tree.

:class:`HttpApi` wraps the provider's session (``provider.http``) and request timeout
(``provider.timeout``); make one per fetch (``HttpApi.of(provider, base_url=..., retry=...)``)
so every request of that fetch shares one retry budget. Every request runs under
``asyncio.timeout``. What can go wrong becomes one of energyd's errors (``raise ... from``):

=====================================  =============================================
connection refused, DNS, timeout       :class:`ProviderConnectionError`
HTTP 429                               :class:`ProviderRateLimitError` (``retry_after``)
HTTP 401, 403                          :class:`ProviderAuthError`
HTTP 404                               :class:`ProviderNotFoundError`
other 4xx                              :class:`ProviderFetchError` (``status``)
5xx and other unexpected statuses      :class:`ProviderServerError` (``status``)
a status in ``empty_statuses``         :class:`ProviderNotPublishedError` ("not yet")
a status in ``server_statuses``        :class:`ProviderServerError` (``status``)
a body that is not JSON / XML / text   :class:`ProviderDataError`
=====================================  =============================================

JSON refuses ``NaN``, ``Infinity`` and numbers beyond a double; XML refuses any DOCTYPE (so
no entity tricks). Logs are structlog events with fields; URLs in logs and messages never
carry user info or the values of secret-looking query parameters (``token``, ``key``, ...).
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import aiohttp
import structlog

from energyd import strictjson
from energyd.exceptions import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderDataError,
    ProviderError,
    ProviderFetchError,
    ProviderNotFoundError,
    ProviderNotPublishedError,
    ProviderRateLimitError,
    ProviderServerError,
    RequestSpacingError,
)
from energyd.providers.contract import DEFAULT_HTTP_TIMEOUT, EnergyPriceProvider
from energyd.providers.kit.pacing import Pacer
from energyd.providers.kit.retry import Retrier, RetryPolicy

__all__ = [
    "MAX_BODY_BYTES",
    "HttpApi",
    "HttpResponse",
    "error_for_status",
    "parse_retry_after",
    "rebase_url",
    "retry_after_from_headers",
    "scrub_url",
]

log = structlog.get_logger("energyd.providers.kit.http")

#: Largest body read; a bigger one is refused as data error (no price answer is this big).
MAX_BODY_BYTES = 32 * 1024 * 1024
_SECRET_PARAM = re.compile(r"token|key|secret|passw|auth|signature|credential", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_CHARSET = re.compile(r"charset\s*=\s*\"?([\w.:-]+)", re.IGNORECASE)


# -- pure helpers ---------------------------------------------------------------------------


def scrub_url(url: str) -> str:
    """``url`` without user info and with secret-looking query values replaced by ``***``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparsable url>"
    if ":" in host:
        host = f"[{host}]"
    query = [
        (name, "***" if _SECRET_PARAM.search(name) else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit((parts.scheme, host + port, parts.path, urlencode(query, safe=":*"), ""))


def _secrets(url: str, params: Mapping[str, str] | None) -> list[str]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = [s for s in (parts.password, parts.username) if s]
    pairs = [*parse_qsl(parts.query), *(params or {}).items()]
    found += [value for name, value in pairs if _SECRET_PARAM.search(name) and value]
    return found


def _scrub_params(params: Mapping[str, str] | None) -> dict[str, str] | None:
    if not params:
        return None
    return {k: "***" if _SECRET_PARAM.search(k) else str(v) for k, v in params.items()}


def _where(method: str, url: str) -> str:
    """``GET /v1/products/``: how messages name a request (no host, no query, no secrets)."""
    try:
        path = urlsplit(url).path
    except ValueError:
        path = ""
    return f"{method} {path or '/'}"


def _scrub_text(text: str, secrets: Collection[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After``: delta-seconds or an HTTP-date -> seconds from ``now``; else ``None``."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, without saying where the sender is
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_after_from_headers(
    headers: Mapping[str, str], now: datetime | None = None
) -> float | None:
    """Seconds to wait from ``Retry-After``, else ``RateLimit-Reset`` (delta seconds), else
    ``X-RateLimit-Reset`` (delta seconds, or epoch seconds when it looks like one)."""
    found = parse_retry_after(headers.get("Retry-After"), now)
    if found is not None:
        return found
    for name in ("RateLimit-Reset", "X-RateLimit-Reset"):
        raw = headers.get(name)
        try:
            seconds = float(raw) if raw is not None else math.nan
        except ValueError:
            continue
        if not math.isfinite(seconds) or seconds < 0:
            continue
        if seconds > 1e9:  # an epoch timestamp, not a delta
            moment = now or datetime.now(UTC)
            return max(0.0, seconds - moment.timestamp())
        return seconds
    return None


def error_for_status(
    status: int,
    headers: Mapping[str, str],
    where: str,
    *,
    empty_statuses: Collection[int] = (),
    now: datetime | None = None,
    server_statuses: Collection[int] = (),
) -> ProviderFetchError | None:
    """The error an HTTP ``status`` means (``None`` for 2xx), as the module table says.

    ``server_statuses`` are failing statuses a market uses for trouble on its side (a CDN's
    403 when it blocks a burst, say): they become :class:`ProviderServerError` whatever the
    table says, so a :class:`RetryPolicy` with ``retry_statuses`` can retry them.
    """
    if status in empty_statuses:
        return ProviderNotPublishedError(
            f"{where}: HTTP {status}: not published yet", status=status
        )
    if 200 <= status < 300:
        return None
    if status in server_statuses:
        return ProviderServerError(f"{where}: HTTP {status} (counted as a server error)", status)
    if status == 429:
        wait = retry_after_from_headers(headers, now)
        hint = "" if wait is None else f", retry after {wait:g} s"
        return ProviderRateLimitError(f"{where}: HTTP 429 too many requests{hint}", wait)
    if status in (401, 403):
        return ProviderAuthError(f"{where}: HTTP {status} (access refused)", status)
    if status == 404:
        return ProviderNotFoundError(f"{where}: HTTP 404 not found", status=404)
    if 400 <= status < 500:
        return ProviderFetchError(f"{where}: HTTP {status} (request refused)", status=status)
    if status >= 500:
        return ProviderServerError(f"{where}: HTTP {status} server error", status)
    return ProviderServerError(f"{where}: unexpected HTTP {status}", status)


def rebase_url(link: str, current_url: str, base_url: str) -> str:
    """Resolve a pagination link; keep it on ``base_url``'s origin (and path prefix).

    A mirror or proxy passes the upstream's absolute links through: their path and query
    are kept, the scheme, host and port (and a path prefix of ``base_url``) are ours.
    """
    try:
        target = urlsplit(urljoin(current_url, link))
        base = urlsplit(base_url)
    except ValueError as exc:
        raise ProviderDataError(f"pagination link is not a URL: {link[:200]!r}") from exc
    if target.scheme not in ("http", "https"):
        raise ProviderDataError(f"pagination link is not an http(s) URL: {link[:200]!r}")
    if (target.scheme, target.netloc.lower()) == (base.scheme, base.netloc.lower()):
        return urlunsplit((*target[:4], ""))
    path = target.path
    prefix = base.path.rstrip("/")
    if prefix and path != prefix and not path.startswith(prefix + "/"):
        path = prefix + path
    return urlunsplit((base.scheme, base.netloc, path, target.query, ""))


class _NoDoctype(ET.TreeBuilder):
    """A tree builder that refuses a DOCTYPE (hence any entity declaration)."""

    def doctype(self, name: str, pubid: str, system: str) -> None:
        raise ValueError("a DOCTYPE is not accepted")


def parse_xml(body: bytes, where: str = "XML body") -> ET.Element:
    """Parse untrusted XML: no DOCTYPE, no entities; failures are ProviderDataError."""
    if _DOCTYPE.search(body):
        raise ProviderDataError(f"{where}: XML with a DOCTYPE or ENTITY is refused")
    parser = ET.XMLParser(target=_NoDoctype())
    try:
        parser.feed(body)
        root = parser.close()
    except ValueError as exc:  # raised by _NoDoctype
        raise ProviderDataError(f"{where}: XML refused: {exc}") from exc
    except ET.ParseError as exc:
        raise ProviderDataError(
            f"{where}: body is not well-formed XML ({len(body)} bytes)"
        ) from exc
    if not isinstance(root, ET.Element):
        raise ProviderDataError(f"{where}: XML without a root element")
    return root


def parse_json(body: bytes, where: str = "JSON body") -> Any:
    """Strict JSON (no NaN/Infinity, no out-of-range numbers); failures are ProviderDataError."""
    try:
        return strictjson.loads(body.decode("utf-8-sig"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ProviderDataError(f"{where}: body is not JSON ({len(body)} bytes)") from exc


# -- the request path -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A finished response: status, headers, the whole body, the URL asked for."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str
    method: str = "GET"

    @property
    def where(self) -> str:
        """``GET /path``, for messages."""
        return _where(self.method, self.url)

    def json(self, expect: type | tuple[type, ...] | None = None) -> Any:
        """The body as strict JSON; ``expect`` (say ``dict``) checks the top-level type."""
        data = parse_json(self.body, self.where)
        if expect is not None and not isinstance(data, expect):
            raise ProviderDataError(f"{self.where}: unexpected JSON {type(data).__name__}")
        return data

    def xml(self) -> ET.Element:
        """The body as safely parsed XML (no DOCTYPE, no entities)."""
        return parse_xml(self.body, self.where)

    def text(self, where: str = "") -> str:
        """The body decoded with its declared charset (UTF-8 when none)."""
        where = where or self.where
        match = _CHARSET.search(self.headers.get("Content-Type", ""))
        charset = match.group(1) if match else "utf-8"
        try:
            return self.body.decode(charset)
        except (LookupError, UnicodeDecodeError) as exc:
            raise ProviderDataError(f"{where}: body is not {charset} text") from exc


def _decodes(decode: Callable[[], object]) -> bool:
    """Whether ``decode()`` takes the body (a garbage answer is never reused)."""
    try:
        decode()
    except ProviderDataError:
        return False
    return True


class HttpApi:
    """Requests against one base URL over a shared session, with one :class:`Retrier`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str = "",
        timeout: float = DEFAULT_HTTP_TIMEOUT,
        retrier: Retrier | None = None,
        headers: Mapping[str, str] | None = None,
        name: str = "",
        max_body_bytes: int = MAX_BODY_BYTES,
        server_statuses: Collection[int] = (),
        pacer: Pacer | None = None,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retrier = retrier
        self.headers = dict(headers or {})
        self.name = name
        self.max_body_bytes = max_body_bytes
        #: Statuses reported as ProviderServerError (see :func:`error_for_status`).
        self.server_statuses = frozenset(server_statuses)
        #: The plugin's request spacing and answer cache (:mod:`.pacing`), shared by its feeds.
        self.pacer = pacer

    @classmethod
    def of(
        cls,
        provider: EnergyPriceProvider,
        *,
        base_url: str = "",
        retry: RetryPolicy | Retrier | None = None,
        headers: Mapping[str, str] | None = None,
        name: str = "",
        server_statuses: Collection[int] = (),
        pacer: Pacer | None = None,
    ) -> HttpApi:
        """Over ``provider.http`` with ``provider.timeout``; ``retry`` starts one budget now."""
        retrier = Retrier(retry, name=name) if isinstance(retry, RetryPolicy) else retry
        return cls(
            provider.http,
            base_url=base_url,
            timeout=provider.timeout,
            retrier=retrier,
            headers=headers,
            name=name,
            server_statuses=server_statuses,
            pacer=pacer,
        )

    def url(self, path: str) -> str:
        """``path`` on the base URL; an absolute ``http(s)://`` path is used as it is."""
        if path.startswith(("http://", "https://")) or not self.base_url:
            return path
        if not path:
            return self.base_url
        return f"{self.base_url}/{path.lstrip('/')}"

    async def request(
        self,
        method: str,
        path: str = "",
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        empty_statuses: Collection[int] = (),
        accept_statuses: Collection[int] = (),
        cache_if: Callable[[HttpResponse], bool] | None = None,
        cache_seconds: float | None = None,
        max_age: float | None = None,
    ) -> HttpResponse:
        """One request (retried by the retrier, if any) -> a 2xx :class:`HttpResponse`, or
        one with a status in ``accept_statuses`` (a 400 whose body explains it, say).
        ``cache_if`` says whether a GET answer may be reused by the plugin's
        :class:`Pacer` (default here: every one; ``get_json`` / ``get_xml`` / ``get_text``
        keep only what decodes; a "not yet" answer with status 200 should not be kept).
        ``cache_seconds``: how long this GET's answer is reused (default: the plugin's
        ``cache_seconds``; a list that rarely changes, for hours, by all feeds of the
        plugin); ``max_age``: a kept answer older than this is not used (asked again)."""
        url = self.url(path)
        merged = {**self.headers, **(headers or {})}

        pacer = self.pacer
        failed: list[ProviderError] = []

        async def attempt() -> HttpResponse:
            if pacer is not None:
                try:
                    await pacer.turn()
                except RequestSpacingError:
                    if failed:  # a retry held back: the failure that needed it is the news
                        raise failed[-1] from None
                    raise
            try:
                return await self._once(
                    method, url, params, merged, json, empty_statuses, accept_statuses
                )
            except ProviderError as exc:
                failed.append(exc)
                raise

        async def send() -> HttpResponse:
            if self.retrier is None:
                return await attempt()
            return await self.retrier.run(
                attempt,
                method=method,
                url=scrub_url(url),
                pace=None if pacer is None else pacer.retry_delay,
            )

        if pacer is None or method != "GET":  # only a GET answer is shared
            return await send()
        key = (url, tuple(sorted((params or {}).items())), tuple(sorted(merged.items())))
        return await pacer.shared(key, send, cache_if, keep_for=cache_seconds, max_age=max_age)

    async def _once(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str],
        json_body: Any,
        empty_statuses: Collection[int],
        accept_statuses: Collection[int] = (),
    ) -> HttpResponse:
        shown = scrub_url(url)
        where = _where(method, url)
        began = time.monotonic()
        try:
            async with (
                asyncio.timeout(self.timeout),
                self.session.request(
                    method, url, params=params, headers=headers, json=json_body
                ) as resp,
            ):
                status = resp.status
                reply_headers: Mapping[str, str] = resp.headers
                body = await self._read(resp, where)
        except TimeoutError as exc:
            raise ProviderConnectionError(f"{where}: no answer within {self.timeout:g} s") from exc
        except aiohttp.ClientError as exc:
            detail = _scrub_text(str(exc), _secrets(url, params)) or type(exc).__name__
            raise ProviderConnectionError(f"{where}: {detail}") from exc
        log.debug(
            "provider.http",
            provider=self.name or None,
            method=method,
            url=shown,
            params=_scrub_params(params),
            status=status,
            bytes=len(body),
            ms=round((time.monotonic() - began) * 1000, 1),
        )
        if status in accept_statuses:
            return HttpResponse(status, reply_headers, body, url, method)
        error = error_for_status(
            status,
            reply_headers,
            where,
            empty_statuses=empty_statuses,
            server_statuses=self.server_statuses,
        )
        if error is not None:
            raise error
        return HttpResponse(status, reply_headers, body, url, method)

    async def _read(self, resp: aiohttp.ClientResponse, where: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > self.max_body_bytes:
                raise ProviderDataError(f"{where}: body larger than {self.max_body_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def get(self, path: str = "", **options: Any) -> HttpResponse:
        """``request("GET", ...)``."""
        return await self.request("GET", path, **options)

    async def get_json(
        self,
        path: str = "",
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        empty_statuses: Collection[int] = (),
        expect: type | tuple[type, ...] | None = None,
        cache_if: Callable[[HttpResponse], bool] | None = None,
        cache_seconds: float | None = None,
        max_age: float | None = None,
    ) -> Any:
        """GET -> decoded JSON; ``expect`` (say ``dict``) checks the top-level type. Only an
        answer that decodes (and passes ``cache_if``) is reused by the plugin's Pacer
        (``cache_seconds``, ``max_age``: as :meth:`request`)."""
        merged = {"Accept": "application/json", **(headers or {})}

        def keep(resp: HttpResponse) -> bool:
            return _decodes(lambda: resp.json(expect)) and (cache_if is None or cache_if(resp))

        resp = await self.get(
            path,
            params=params,
            headers=merged,
            empty_statuses=empty_statuses,
            cache_if=keep,
            cache_seconds=cache_seconds,
            max_age=max_age,
        )
        return resp.json(expect)

    async def post_json(
        self,
        path: str = "",
        *,
        json: Any,
        headers: Mapping[str, str] | None = None,
        empty_statuses: Collection[int] = (),
        expect: type | tuple[type, ...] | None = None,
    ) -> Any:
        """POST a JSON body (GraphQL, say) -> decoded JSON."""
        merged = {"Accept": "application/json", **(headers or {})}
        resp = await self.request(
            "POST", path, json=json, headers=merged, empty_statuses=empty_statuses
        )
        return resp.json(expect)

    async def get_xml(
        self,
        path: str = "",
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        empty_statuses: Collection[int] = (),
        cache_if: Callable[[HttpResponse], bool] | None = None,
        cache_seconds: float | None = None,
        max_age: float | None = None,
    ) -> ET.Element:
        """GET -> the root element of a safely parsed XML document (only one that parses,
        and passes ``cache_if``, is reused by the plugin's Pacer; ``cache_seconds``,
        ``max_age``: as :meth:`request`)."""
        merged = {"Accept": "application/xml, text/xml", **(headers or {})}

        def keep(resp: HttpResponse) -> bool:
            return _decodes(resp.xml) and (cache_if is None or cache_if(resp))

        resp = await self.get(
            path,
            params=params,
            headers=merged,
            empty_statuses=empty_statuses,
            cache_if=keep,
            cache_seconds=cache_seconds,
            max_age=max_age,
        )
        return resp.xml()

    async def get_text(
        self,
        path: str = "",
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        empty_statuses: Collection[int] = (),
        cache_seconds: float | None = None,
        max_age: float | None = None,
    ) -> str:
        """GET -> the body as text (declared charset, else UTF-8; ``cache_seconds``,
        ``max_age``: as :meth:`request`)."""
        resp = await self.get(
            path,
            params=params,
            headers=headers,
            empty_statuses=empty_statuses,
            cache_if=lambda resp: _decodes(resp.text),
            cache_seconds=cache_seconds,
            max_age=max_age,
        )
        return resp.text()

    async def paginate(
        self,
        path: str = "",
        *,
        params: Mapping[str, str] | None = None,
        results_key: str = "results",
        next_key: str = "next",
        max_pages: int = 20,
        cache_seconds: float | None = None,
        max_age: float | None = None,
    ) -> list[Any]:
        """DRF-style pages: every ``results`` list, following ``next`` links (rebased onto the
        base URL, see :func:`rebase_url`) for at most ``max_pages`` pages (each page kept
        and reused as ``cache_seconds`` and ``max_age`` say: :meth:`request`)."""
        first = self.url(path)
        base = self.base_url or first
        current, query = first, params
        seen: set[str] = set()
        results: list[Any] = []
        for _ in range(max_pages):
            seen.add(current)
            where = _where("GET", current)
            body = await self.get_json(
                current, params=query, expect=dict, cache_seconds=cache_seconds, max_age=max_age
            )
            page = body.get(results_key)
            if not isinstance(page, list):
                raise ProviderDataError(f"{where}: {results_key!r} is not a list")
            results.extend(page)
            link = body.get(next_key)
            if link is None or link == "":
                return results
            if not isinstance(link, str):
                raise ProviderDataError(f"{where}: {next_key!r} is not a URL: {link!r}")
            current, query = rebase_url(link, current, base), None  # the link has the query
            if current in seen:
                raise ProviderDataError(f"{where}: {next_key!r} links loop")
        raise ProviderDataError(f"{_where('GET', first)}: more than max_pages={max_pages} pages")
